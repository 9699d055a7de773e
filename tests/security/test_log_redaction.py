"""Request logs never carry a patient's name typed into a search, or a GP status token."""

import datetime as dt
import logging

from gunicorn.config import Config

from config.log_redaction import GunicornLogger, RedactRequestLines, redact

TOKEN = "Zq3r5xYk0d9v_AbCdEfGhIjKlMnOpQrStUvWxYz012"


def test_query_strings_and_status_tokens_are_cut_from_request_lines():
    assert redact('"GET /intake/patients/?q=Robin%20Quill HTTP/1.1" 200 512') == (
        '"GET /intake/patients/?[redacted] HTTP/1.1" 200 512'
    )
    assert redact(f"Not Found: /status/{TOKEN}/letters/4.pdf") == (
        "Not Found: /status/[token]/letters/4.pdf"
    )
    assert redact("import 12 checked: 40 rows, 2 invalid") == (
        "import 12 checked: 40 rows, 2 invalid"
    )


def test_the_logging_filter_rewrites_runserver_and_django_request_records():
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /intake/duplicates/?last_name=Quill&date_of_birth=1990-05-17 HTTP/1.1", 200, 9),
        None,
    )
    assert RedactRequestLines().filter(record) is True
    assert record.getMessage() == '"GET /intake/duplicates/?[redacted] HTTP/1.1" 200 9'


def test_gunicorns_access_log_has_no_query_token_referer_or_headers():
    logger = GunicornLogger(Config())

    class Response:
        status = "200 OK"
        sent = 512
        headers = [("Content-Type", "text/html")]

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/status/{TOKEN}/?x=1",
        "PATH_INFO": f"/status/{TOKEN}/",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://referrals.example/status/{TOKEN}/",
    }
    headers = [("COOKIE", "sessionid=secret"), ("AUTHORIZATION", "Bearer oms_secret")]
    atoms = logger.atoms(Response(), headers, environ, dt.timedelta(milliseconds=12))
    line = logger.cfg.access_log_format % atoms
    written = " ".join(str(v) for v in atoms.values()) + line
    assert TOKEN not in written
    assert "secret" not in written
    assert atoms["r"] == "GET /status/[token]/ HTTP/1.1"
