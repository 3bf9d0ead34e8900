"""A real SMTP server for the e-mail tests: aiosmtpd on a free loopback port, in its own
thread, keeping every message it receives (parsed) with its envelope. It can be stopped
and started again on the same port, to play a mail server that goes down and comes back,
and told to refuse recipients."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """One message as it arrived: SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        """The subject as a mail program shows it. Python folds a long one onto the next
        line straight after "Subject:", which leaves a space in front when parsed back."""
        return str(self.message["Subject"]).strip()

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "no text/plain part"
        return str(part.get_content()).replace("\r\n", "\n")  # as sent over SMTP: CRLF


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpSink:
    """A local SMTP server. ``messages`` holds what arrived, oldest first."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._handler = _Handler()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        return self._handler.received

    def refuse(self, address: str) -> None:
        """Answer 550 to RCPT TO for ``address``."""
        self._handler.refuse.add(address.lower())

    def start(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            controller = Controller(self._handler, hostname=self.host, port=self.port)
            try:
                controller.start()
            except (OSError, RuntimeError):  # the port is still closing from a stop
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            self._controller = controller
            return

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        """Messages whose envelope was addressed to ``address``."""
        return [r for r in self.messages if address in r.rcpt_tos]


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
