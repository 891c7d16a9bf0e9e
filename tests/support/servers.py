"""Real receivers on loopback for the notify tests: an SMTP sink and an HTTP receiver."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    """One message as the SMTP server got it."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes

    def text(self) -> str:
        """The plain-text part."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def html(self) -> str:
        """The HTML part."""
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())


class _MailHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.sink.lock:
            self.sink.mails.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw)
            )
        return "250 Message accepted for delivery"


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message (optionally with AUTH)."""

    def __init__(self, port: int | None = None, login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.mails: list[ReceivedMail] = []
        self.logins: list[str] = []
        self.lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if login is not None:
            kwargs.update(authenticator=self._authenticator(login), auth_require_tls=False)
        self._kwargs = kwargs
        self._controller: Controller | None = None

    def _authenticator(self, login: tuple[str, str]) -> Any:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            if ok:
                self.logins.append(data.login.decode())
            return AuthResult(success=ok)

        return check

    def start(self) -> SmtpSink:
        """Start serving (returns once the server answers)."""
        # Made here, not in __init__: a Controller owns an event loop from its creation.
        self._controller = Controller(
            _MailHandler(self), hostname="127.0.0.1", port=self.port, **self._kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the server's own event loop."""
        if self._controller is None:
            return
        self._controller.stop()
        if not self._controller.loop.is_closed():
            self._controller.loop.close()
        self._controller = None

    def count(self) -> int:
        """How many messages arrived so far."""
        with self.lock:
            return len(self.mails)


@dataclass
class ReceivedRequest:
    """One HTTP request as the receiver got it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """A threaded HTTP server on 127.0.0.1 that records requests and answers from a script.

    ``statuses`` is consumed one per request; when it is empty every answer is 200.
    """

    statuses: list[int] = field(default_factory=list)
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append(
                        ReceivedRequest("POST", self.path, dict(self.headers), body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL of the receiver."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpReceiver:
        """Start serving in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def received(self) -> list[ReceivedRequest]:
        """A snapshot of the requests so far."""
        with self.lock:
            return list(self.requests)

    def accepted(self) -> list[ReceivedRequest]:
        """Requests that were answered 2xx."""
        return [r for r in self.received() if 200 <= r.answered < 300]


def running(*servers: Any) -> Iterator[None]:
    """Start servers, yield, stop them (for fixtures)."""
    started = [server.start() for server in servers]
    try:
        yield
    finally:
        for server in started:
            server.stop()
