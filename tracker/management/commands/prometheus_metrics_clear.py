"""``manage.py prometheus_metrics_clear``: empty the counters and histograms stored in Redis.

Gauges are computed at each scrape and need no clearing. Prometheus sees the counters restart
from zero, as after a process restart, which its ``rate()`` and ``increase()`` handle.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracker.monitoring import store
from tracker.redaction import redact_url


class Command(BaseCommand):
    help = "Empty the Prometheus counters and histograms stored in Redis by every process."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = store.clear()
        if deleted is None:
            raise CommandError(
                f"Redis at {redact_url(settings.REDIS_URL)} cannot be reached; nothing was cleared. "
                "Check REDIS_URL and that Redis runs, then try again."
            )
        self.stdout.write(f"Cleared the stored metrics ({deleted} Redis keys).")
