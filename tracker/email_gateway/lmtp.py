"""The LMTP server of ``manage.py email_gateway``, for mail servers without a pipe (aiosmtpd's LMTP).

It accepts, stores and enqueues exactly as ``receive_email`` does (``receive.receive``), one record per
recipient: LMTP answers each recipient on its own after the data, so a message the database could not
store is refused for now (451, the mail server tries again) and never lost. Recipients outside
EMAIL_GATEWAY_DOMAIN are refused at RCPT; a message over EMAIL_GATEWAY_MAX_SIZE is refused at DATA
(552) by aiosmtpd itself.

Beside it, about every SPOOL_POLL_INTERVAL, the process stores what the fast pipe
(``tracker.email_gateway.pipe``) spooled (``ingest.ingest_spool``), on the same thread as the LMTP
stores (one database connection, SQLite's single writer in mind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

from aiosmtpd.lmtp import LMTP
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from tracker.email_gateway import config, ingest
from tracker.email_gateway.receive import receive
from tracker.models import InboundEmail

logger = logging.getLogger("tracker.email_gateway.lmtp")

SPOOL_POLL_INTERVAL = 1.0


def listen_address() -> tuple[str, int]:
    host, _, port = settings.EMAIL_GATEWAY_LISTEN.rpartition(":")
    return host.strip("[]"), int(port)


def _store(raw: bytes, envelope_from: str, recipients: list[str]) -> list[str]:
    """One record per recipient; each one's LMTP answer."""
    close_old_connections()
    answers = []
    for recipient in recipients:
        try:
            receive(raw, via=InboundEmail.Via.LMTP, envelope_from=envelope_from, envelope_to=recipient)
            answers.append("250 2.0.0 OK stored")
        except Exception as error:  # the database: the mail server keeps the message and retries
            logger.error("Inbound email for %s not stored: %s: %s", recipient, type(error).__name__, error)
            answers.append("451 4.3.0 Cannot store the message now; try again later")
    return answers


def _ingest_spool() -> None:
    close_old_connections()
    try:
        ingest.ingest_spool()
    except Exception:  # never stop the LMTP server over the spool; the next round tries again
        logger.exception("Email gateway: storing the spool failed.")


async def poll_spool(stop: asyncio.Event) -> None:
    """Store the spool about every SPOOL_POLL_INTERVAL until ``stop`` is set."""
    store = sync_to_async(_ingest_spool, thread_sensitive=True)
    while not stop.is_set():
        await store()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SPOOL_POLL_INTERVAL)


class Handler:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if not config.is_ours(address):
            return "550 5.1.1 Not an address of this tracker"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        store = sync_to_async(_store, thread_sensitive=True)
        answers = await store(bytes(raw), envelope.mail_from or "", list(envelope.rcpt_tos))
        return "\r\n".join(answers)


def serve(host: str, port: int, *, on_ready: Callable[[], None] | None = None) -> None:
    """Run the LMTP server until SIGTERM or SIGINT."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        server = await loop.create_server(
            lambda: LMTP(
                Handler(),
                data_size_limit=settings.EMAIL_GATEWAY_MAX_SIZE,
                decode_data=False,
                hostname=config.domain() or None,
            ),
            host=host,
            port=port,
        )
        logger.warning("Email gateway: LMTP server listening on %s:%s.", host, port)
        poller = asyncio.create_task(poll_spool(stop))
        if on_ready is not None:
            on_ready()
        async with server:
            await stop.wait()
            await poller
        logger.warning("Email gateway: LMTP server stopped.")

    asyncio.run(main())
