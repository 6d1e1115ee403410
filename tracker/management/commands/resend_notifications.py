"""``manage.py resend_notifications [--failed] [--since DATE] [--changeset ID ...]``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from tracker.notifications import resend


def moment(text: str) -> dt.datetime:
    """``2026-11-30`` (midnight, server time) or ``2026-11-30T14:00`` / ``2026-11-30 14:00:00``."""
    parsed = parse_datetime(text)
    if parsed is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(text)
        parsed = dt.datetime.combine(day, dt.time())
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


class Command(BaseCommand):
    help = (
        "Send again the notifications that ended: --failed (those that ended failed), optionally --since "
        "DATE (ended since then), or --changeset ID (that changeset's, failed or done; repeatable). "
        "Every address already delivered is skipped: nobody gets a second copy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--failed", action="store_true", help="The notifications that ended failed.")
        parser.add_argument("--since", help="Only those that ended since DATE (YYYY-MM-DD[THH:MM]).")
        parser.add_argument(
            "--changeset", type=int, action="append", default=[], help="This changeset's notification."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["failed"] and not options["changeset"]:
            raise CommandError("Say which notifications to send again: --failed, --changeset ID, or both.")
        since = None
        if options["since"]:
            try:
                since = moment(options["since"])
            except ValueError:
                raise CommandError(
                    f"--since {options['since']!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM."
                ) from None
        chosen = resend.selection(failed=options["failed"], since=since, changeset_ids=options["changeset"])
        result = resend.resend(chosen, by="manage.py resend_notifications")
        if not result.count:
            self.stdout.write("No ended notification matches; nothing to send.")
            return
        shown = ", ".join(map(str, result.changeset_ids[:20])) + (" ..." if result.count > 20 else "")
        self.stdout.write(f"Re-opened {result.count} notifications (changesets {shown}).")
        if result.queued == result.count:
            self.stdout.write("Handed to the backend workers; addresses already delivered are skipped.")
        else:
            self.stdout.write(
                f"{result.count - result.queued} could not be queued (Redis): the recovery sweep of "
                "`manage.py backend_workers` sends them once Redis answers."
            )
