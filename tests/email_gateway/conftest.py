"""Fixtures of the email gateway tests: the notification tests' SMTP sink and workers, the gateway on."""

from __future__ import annotations

import socket
import subprocess
import sys
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.notifications.conftest import (  # noqa: F401 - fixtures, shared with the notification tests
    async_all,
    fast_password_hashing,
    forget_redis_failures,
    inline,
    saving,
    smtp,
    start_supervisor,
    start_worker,
    worker_env,
)
from tests.support.redis_server import free_port
from tests.support.smtp import Received
from tests.support.workers import ManagedProcess, wait_until
from tracker.models import InboundEmail

DOMAIN = "tracker.example.org"


@pytest.fixture(autouse=True)
def spool_dir(settings, tmp_path: Path) -> Path:
    """A spool of the test's own (EMAIL_GATEWAY_SPOOL_DIR), here and in the processes it starts."""
    directory = tmp_path / "spool"
    settings.EMAIL_GATEWAY_SPOOL_DIR = str(directory)
    return directory


@pytest.fixture
def gateway(settings) -> str:
    """The email gateway on, at DOMAIN."""
    settings.EMAIL_GATEWAY_DOMAIN = DOMAIN
    return DOMAIN


def reply_to(received: Received) -> str:
    address = received.message["Reply-To"]
    assert address, "the notification carries no Reply-To"
    return str(address)


def build_reply(
    notification: Received, *, sender: str, text: str, style: str = "gmail", **headers: str
) -> bytes:
    """A reply to ``notification`` the way a mail client writes one, quoting the original."""
    original = notification.message
    quoted_body = original.get_body(("plain",)).get_content()
    quoted = "\n".join(f"> {line}" for line in quoted_body.splitlines())
    if style == "gmail":
        body = f"{text}\n\nOn Wed, Dec 2, 2026 at 10:00 AM Tuleap <noreply@localhost> wrote:\n\n{quoted}\n"
    elif style == "outlook":
        body = (
            f"{text}\n\n________________________________\nFrom: Tuleap <noreply@localhost>\n"
            f"Sent: Wednesday, December 2, 2026 10:00\nTo: {sender}\nSubject: {original['Subject']}\n\n"
            f"{quoted_body}\n"
        )
    elif style == "plain":
        body = f"{text}\n\n{quoted}\n"
    else:
        raise ValueError(style)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = reply_to(notification)
    message["Subject"] = f"Re: {original['Subject']}"
    message["Message-ID"] = make_msgid(domain="mail.example.com")
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = original["Message-ID"]
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


@pytest.fixture
def gateway_env(worker_env: dict[str, str], spool_dir: Path) -> dict[str, str]:  # noqa: F811 - the fixture
    """Worker and receive_email processes: the gateway on; their comments notify inline (to the sink)."""
    return {
        **worker_env,
        "EMAIL_GATEWAY_DOMAIN": DOMAIN,
        "ASYNC_EMAILS": "",
        "EMAIL_GATEWAY_SPOOL_DIR": str(spool_dir),
    }


@pytest.fixture
def pipe(manage_py: list[str], gateway_env: dict[str, str]):
    """Pipe a message into ``manage.py receive_email`` as a mail server does; its completed process."""

    def run(raw: bytes, *, recipient: str = "", sender: str = "", **env: str) -> subprocess.CompletedProcess:
        arguments = ["receive_email"]
        if recipient:
            arguments += ["--recipient", recipient]
        if sender:
            arguments += ["--sender", sender]
        return subprocess.run(
            [*manage_py, *arguments], input=raw, env={**gateway_env, **env}, capture_output=True, timeout=60
        )

    return run


@pytest.fixture
def fast_pipe(gateway_env: dict[str, str], tmp_path: Path):
    """Pipe a message into ``python -I -m tracker.email_gateway.pipe``, as the README's Postfix example
    runs it: from another directory than the project's; extra ``python_options`` (``-X importtime``)."""

    def run(
        raw: bytes, *, recipient: str = "", sender: str = "", python_options: tuple[str, ...] = (), **env: str
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-I",
                *python_options,
                "-m",
                "tracker.email_gateway.pipe",
                "--sender",
                sender,
                "--recipient",
                recipient,
            ],
            input=raw,
            env={**gateway_env, **env},
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )

    return run


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def lmtp_server(manage_py: list[str], gateway_env: dict[str, str], tmp_path: Path):
    """``manage.py email_gateway`` (the LMTP server, and the spool's reader); its port."""
    port = free_port()
    process = ManagedProcess(
        manage_py,
        ["email_gateway"],
        {**gateway_env, "EMAIL_GATEWAY_LISTEN": f"127.0.0.1:{port}"},
        tmp_path / "lmtp.out",
    )
    assert wait_until(lambda: answers(port), 30), process.output()
    yield port
    process.terminate(timeout=20)


@pytest.fixture
def gateway_worker(start_worker, gateway: str):  # noqa: F811 - the fixture
    """One real worker on the incoming_email queue."""
    return start_worker("incoming_email", EMAIL_GATEWAY_DOMAIN=DOMAIN, ASYNC_EMAILS="")


def wait_for_records(count: int, timeout: float = 60) -> list[InboundEmail]:
    """Wait until ``count`` inbound records have ended; the records, oldest first."""

    def ended() -> bool:
        return InboundEmail.objects.exclude(status=InboundEmail.Status.RECEIVED).count() >= count

    assert wait_until(ended, timeout), list(InboundEmail.objects.values("pk", "status", "reason"))
    return list(InboundEmail.objects.order_by("pk"))
