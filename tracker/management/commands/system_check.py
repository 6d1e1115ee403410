from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tracker.system_check.service import run_system_check


class Command(BaseCommand):
    help = (
        "Check pending and failed notifications, workers, Redis and imports; record a SYSTEM_CHECK "
        "event. Exit status: 0 all is well, 1 warning, 2 error. Run it every 30 minutes."
    )
    # Django's own checks would stop the run on a configuration error; this command reports them
    # as findings instead (the configuration check), and must always end with a report.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--requeue",
            action="store_true",
            help="Enqueue the pending notifications again (nobody gets an email twice).",
        )
        parser.add_argument(
            "--format", choices=["text", "json"], default="text", help="json: the same report for scripts."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = run_system_check(requeue=options["requeue"])
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(report.as_text(), ending="")
        if report.exit_code:
            raise SystemExit(report.exit_code)
