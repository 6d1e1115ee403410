"""A real SMTP server (aiosmtpd) for the tests and the benchmark, in a thread of the calling process.

It records what it accepts (envelope and message), and can be made slow (a pause in each RCPT, the
way a relay checks each address), refuse some addresses, answer every transaction with an error, be
stopped (connection refused) and started again on the same port.
"""

from __future__ import annotations

import asyncio
import email
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.redis_server import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    # Who sent it (the client's address and port: one per connection) and when, for failure messages.
    peer: object = None
    at: float = 0.0

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=default_policy)  # type: ignore[return-value]

    def part(self, content_type: str) -> str:
        body = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert body is not None, f"no {content_type} part"
        return body.get_content()


@dataclass
class Behaviour:
    rcpt_delay: float = 0.0
    # address (lower case) -> SMTP answer for its RCPT, e.g. "550 5.1.1 No such user"
    refuse: dict[str, str] = field(default_factory=dict)
    # An answer to every MAIL FROM (e.g. "451 4.3.0 Try again later"); None accepts.
    mail_answer: str | None = None
    # Once this many emails were accepted, every RCPT waits until hold_after is set back to None:
    # a sender caught in the middle of an email, deterministically. ``holding`` is set meanwhile.
    hold_after: int | None = None
    holding: threading.Event = field(default_factory=threading.Event)


class Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: Any
    ) -> Any:
        self.server.connections += 1  # smtplib greets once per connection
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        answer = self.server.behaviour.mail_answer
        if answer:
            return answer
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        behaviour = self.server.behaviour
        if behaviour.rcpt_delay:
            await asyncio.sleep(behaviour.rcpt_delay)
        while behaviour.hold_after is not None and len(self.server.received) >= behaviour.hold_after:
            behaviour.holding.set()
            await asyncio.sleep(0.05)
        answer = behaviour.refuse.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.server.record(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.content),
                peer=session.peer,
                at=time.time(),
            )
        )
        return "250 Message accepted for delivery"


class SMTPServer:
    """``with SMTPServer() as smtp: ...``; ``smtp.port`` is where to send."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.behaviour = Behaviour()
        self.connections = 0
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self.start()

    # Control ----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(Handler(self), hostname=self.host, port=self.port, ready_timeout=10)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: clients get "connection refused" until :meth:`start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SMTPServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings(self) -> dict[str, Any]:
        """Django settings that send to this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_TIMEOUT": 10,
        }

    def env(self) -> dict[str, str]:
        """Environment for a ``manage.py`` subprocess that sends to this server."""
        return {"EMAIL_HOST": self.host, "EMAIL_PORT": str(self.port), "EMAIL_TIMEOUT": "10"}

    # What arrived ------------------------------------------------------------------------------------

    def record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self.connections = 0

    def deliveries(self, predicate: Callable[[Received], bool] | None = None) -> Counter[tuple[str, str]]:
        """How many times each (X-Tuleap-Changeset-Id, address) pair arrived."""
        pairs: Counter[tuple[str, str]] = Counter()
        for item in self.received:
            if predicate is not None and not predicate(item):
                continue
            changeset = item.message["X-Tuleap-Changeset-Id"] or ""
            for address in item.rcpt_tos:
                pairs[(str(changeset), address.lower())] += 1
        return pairs

    def addresses(self) -> list[str]:
        """Every envelope recipient of every accepted email, in arrival order (duplicates kept)."""
        return [address.lower() for item in self.received for address in item.rcpt_tos]

    def wait_for(self, condition: Callable[[SMTPServer], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return True
            time.sleep(0.05)
        return condition(self)

    def wait_for_addresses(self, count: int, timeout: float = 30.0) -> bool:
        return self.wait_for(lambda server: len(server.addresses()) >= count, timeout)


def smtp_for(settings: Any) -> Iterator[SMTPServer]:
    """A server the project's email settings point at, for a fixture to ``yield from``.

    ``settings`` is pytest-django's fixture: the email settings go back to what they were afterwards.
    """
    with SMTPServer() as server:
        for name, value in server.settings().items():
            setattr(settings, name, value)
        yield server
