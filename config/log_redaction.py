"""Keep patient data and secrets out of the request logs.

A request line carries what a page was asked for: the intake typeahead's query string is
a patient's name or date of birth as it is typed (``/intake/patients/?q=Quill``), a
report's filters name an office, and the GP status page's path *is* its secret token
(``/status/<token>/``). The application logs ids only; the request logs of runserver
(``django.server``), of Django's 4xx/5xx warnings (``django.request``) and of gunicorn
would otherwise write those words and tokens to stdout. So:

* every log record passes :class:`RedactRequestLines` (settings.LOGGING), which drops
  query strings from paths and replaces a status token with ``[token]``;
* gunicorn's access log uses :class:`GunicornLogger` (config/gunicorn.conf.py), whose
  request atoms carry the redacted path and no query string, referer or cookies.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

_STATUS_TOKEN = re.compile(r"(/status/)[^/\s?\"']+")
# A query string after a path: "/x/?q=Quill" -> "/x/?[redacted]".
_QUERY = re.compile(r"(/[^\s\"'?]*)\?[^\s\"']+")


def redact(text: str) -> str:
    return _QUERY.sub(r"\1?[redacted]", _STATUS_TOKEN.sub(r"\1[token]", text))


class RedactRequestLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class GunicornLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = redact(environ.get("PATH_INFO") or "")
        atoms.update(
            {
                "r": f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}",
                "U": path,
                "q": "",
                "f": "-",
            }
        )
        # Request headers (cookies, Authorization) and the raw environ (RAW_URI, the
        # query string) are never offered to the format either.
        return {k: v for k, v in atoms.items() if not k.endswith(("}i", "}e"))}
