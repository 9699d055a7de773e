"""A real SMTP server on loopback for tests (aiosmtpd), instead of mocking smtplib.

``serve_smtp(settings)`` (for a fixture) starts a server on 127.0.0.1 on a free port and
points Django's SMTP backend at it. The server keeps every
message it accepted (parsed), can answer with an error (``refuse_data("451 try later")``,
``refuse_recipients("550 no such user")``) and can be stopped and started again on the
same port (``stop()``/``start()``) to play a mail server that is down.
"""

import email
import socket
from collections import Counter
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.data_answer: str | None = None  # e.g. "451 try later"; None accepts
        self.rcpt_answer: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_answer:
            return self.data_answer
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message.envelope_to = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self.port = port or free_port()
        self.handler = RecordingHandler()
        self._controller: Controller | None = None

    def start(self) -> "SmtpServer":
        self._controller = Controller(self.handler, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def refuse_data(self, answer: str) -> None:
        self.handler.data_answer = answer

    def refuse_recipients(self, answer: str) -> None:
        self.handler.rcpt_answer = answer

    def accept(self) -> None:
        self.handler.data_answer = None
        self.handler.rcpt_answer = None

    def count_by_header(self, header: str = "X-Correlation-ID") -> Counter:
        return Counter(str(m[header]) for m in self.messages)


def serve_smtp(settings):
    """A real SMTP server on loopback, with Django's email backend pointed at it, for the
    length of a test. For a module's fixture::

        @pytest.fixture
        def smtp_server(settings):
            yield from serve_smtp(settings)
    """
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()
