"""``manage.py email_gateway``: the email gateway's LMTP server on EMAIL_GATEWAY_LISTEN (foreground)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tracker.email_gateway import config
from tracker.email_gateway.lmtp import listen_address, serve


class Command(BaseCommand):
    help = (
        "Run the email gateway's LMTP server on EMAIL_GATEWAY_LISTEN (default 127.0.0.1:8025): every "
        "message is stored and handed to the incoming_email workers. Stop it with SIGTERM."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not config.enabled():
            raise CommandError("Set EMAIL_GATEWAY_DOMAIN first: the gateway is off.", returncode=2)
        host, port = listen_address()
        try:
            serve(
                host,
                port,
                on_ready=lambda: self.stdout.write(f"Listening on {host}:{port} (LMTP).", ending="\n"),
            )
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}", returncode=1) from None
