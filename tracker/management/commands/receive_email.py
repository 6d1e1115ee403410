"""``manage.py receive_email``: one message on standard input, as a mail server's pipe delivers it.

Exit status (sysexits, what Postfix and Exim understand): 0 once the message is stored, whatever
becomes of it later (processing happens in a worker); 75 (EX_TEMPFAIL) when it could not be stored,
so the mail server keeps it and tries again.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tracker.email_gateway.receive import receive
from tracker.models import InboundEmail

EX_OK = 0
EX_TEMPFAIL = 75

logger = logging.getLogger("tracker.email_gateway.receive")


class Command(BaseCommand):
    help = (
        "Store one email read on standard input for the email gateway's workers (exit 0), or exit 75 "
        "(temporary failure) when it cannot be stored. Postfix: pipe ... argv=manage.py receive_email "
        "--sender ${sender} --recipient ${original_recipient}."
    )
    # The mail server waits on us: no system checks (they may touch the database), no migrations check.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sender", default="", help="The envelope sender (Postfix: ${sender}).")
        parser.add_argument("--recipient", default="", help="The envelope recipient (${original_recipient}).")

    def handle(self, *args: Any, **options: Any) -> None:
        # One byte more than the limit is enough to know it is too large; the rest is not read.
        raw = sys.stdin.buffer.read(settings.EMAIL_GATEWAY_MAX_SIZE + 1)
        try:
            record = receive(
                raw,
                via=InboundEmail.Via.PIPE,
                envelope_from=options["sender"],
                envelope_to=options["recipient"],
            )
        except Exception as error:  # the database: down, locked, misconfigured
            # The message is not lost: the mail server keeps it and tries again.
            sys.stderr.write(
                f"receive_email: could not store the message ({type(error).__name__}); try again later.\n"
            )
            logger.error("Inbound email not stored: %s: %s", type(error).__name__, error)
            raise SystemExit(EX_TEMPFAIL) from None
        if options["verbosity"] > 1:
            self.stdout.write(f"Stored inbound email {record.pk}.")
