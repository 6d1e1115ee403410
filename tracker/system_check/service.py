"""Run every check inside a SYSTEM_CHECK event, whatever is broken, and report what was found."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from tracker.models import SystemEvent
from tracker.monitoring import metrics
from tracker.system_check import (
    configuration,
    failed_notifications,
    housekeeping,
    imports,
    inbound_emails,
    pending_notifications,
    redis_health,
    redis_sentinel,
    workers,
)
from tracker.system_check.base import CheckContext, Finding, Level

logger = logging.getLogger("tracker.system_check")

DATABASE = "database"


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[CheckContext], list[Finding]]


# Redis comes before the checks that use it, so its finding explains why they skipped.
CHECKS: tuple[Check, ...] = (
    Check(configuration.NAME, configuration.run),
    Check(redis_health.NAME, redis_health.run),
    Check(redis_sentinel.NAME, redis_sentinel.run),
    Check(pending_notifications.NAME, pending_notifications.run),
    Check(failed_notifications.NAME, failed_notifications.run),
    Check(workers.NAME, workers.run),
    Check(imports.NAME, imports.run),
    Check(inbound_emails.NAME, inbound_emails.run),
    Check(housekeeping.NAME, housekeeping.run),
)

EXIT_CODES = {SystemEvent.Status.DONE: 0, SystemEvent.Status.WARNING: 1, SystemEvent.Status.ERROR: 2}


@dataclass
class SystemCheckReport:
    """The outcome of one run; ``event`` is None when the database could not record it."""

    event: SystemEvent | None
    status: SystemEvent.Status
    findings: list[Finding]
    started_at: datetime
    ended_at: datetime

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def requeued(self) -> int | None:
        counts = [f.details["requeued"] for f in self.findings if "requeued" in f.details]
        return sum(counts) if counts else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event.pk if self.event else None,
            "type": SystemEvent.Type.SYSTEM_CHECK.value,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "requeued": self.requeued,
            "findings": [finding.as_dict() for finding in self.findings],
        }

    def as_text(self) -> str:
        recorded = f"#{self.event.pk}" if self.event else "(not recorded: the database cannot be reached)"
        header = f"System check {recorded} at {timezone.localtime(self.started_at):%Y-%m-%d %H:%M:%S %Z}: "
        lines = [header + self.status.value]
        lines += [finding.log_line for finding in self.findings]
        return "\n".join(lines) + "\n"


def run_system_check(
    *, requeue: bool = False, redis_url: str | None = None, checks: Sequence[Check] = CHECKS
) -> SystemCheckReport:
    """Create a SYSTEM_CHECK event, run every check, store the findings, end it DONE/WARNING/ERROR.

    Never raises for a broken dependency: a database or Redis that cannot be reached becomes an
    ERROR finding, and a check that crashes becomes one too, so the remaining checks still run.
    """
    started_at = timezone.now()
    findings: list[Finding] = []
    event, previous_check_at = None, None
    try:
        event = SystemEvent.objects.create(
            type=SystemEvent.Type.SYSTEM_CHECK,
            parameters={"requeue": requeue},
            status=SystemEvent.Status.RUNNING,
            started_at=started_at,
        )
        previous_check_at = previous_check_time(event)
    except DatabaseError as error:
        findings.append(database_unreachable(error))
    context = CheckContext(
        now=started_at,
        redis_url=redis_url or settings.REDIS_URL,
        requeue=requeue,
        previous_check_at=previous_check_at,
    )
    try:
        for check in checks:
            findings += run_one(check, context, database_known_down=event is None)
    finally:
        context.close()
    report = SystemCheckReport(
        event=event,
        status=worst_status(findings),
        findings=findings,
        started_at=started_at,
        ended_at=timezone.now(),
    )
    if event is not None:
        close_event(report)
    return report


def previous_check_time(event: SystemEvent) -> datetime | None:
    return (
        SystemEvent.objects.filter(type=SystemEvent.Type.SYSTEM_CHECK, created_at__lte=event.created_at)
        .exclude(pk=event.pk)
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )


def run_one(check: Check, context: CheckContext, *, database_known_down: bool) -> list[Finding]:
    try:
        return check.run(context)
    except DatabaseError as error:
        if database_known_down:
            return [Finding(check.name, Level.INFO, "Skipped: the database cannot be reached.")]
        return [database_unreachable(error, check.name)]
    except redis.RedisError as error:
        return [
            Finding(
                check.name,
                Level.ERROR,
                f"Redis failed during the check ({type(error).__name__}: {error}).",
            )
        ]
    except Exception as error:
        # A bug in a check must not hide what the others find; the traceback goes to the log.
        logger.exception("System check %s crashed", check.name)
        return [
            Finding(
                check.name,
                Level.ERROR,
                f"The check crashed ({type(error).__name__}: {error}); the traceback is in the log.",
            )
        ]


def database_unreachable(error: DatabaseError, check: str = DATABASE) -> Finding:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return Finding(
        check,
        Level.ERROR,
        f"The database cannot be reached ({first_line}); check DATABASE_URL and the database server.",
    )


def worst_status(findings: list[Finding]) -> SystemEvent.Status:
    worst = max((finding.level.rank for finding in findings), default=Level.INFO.rank)
    if worst >= Level.ERROR.rank:
        return SystemEvent.Status.ERROR
    if worst >= Level.WARNING.rank:
        return SystemEvent.Status.WARNING
    return SystemEvent.Status.DONE


def close_event(report: SystemCheckReport) -> None:
    """End the event with the report's status, and count it in ``tuleap_system_events_total``."""
    event = report.event
    assert event is not None
    event.status = report.status
    event.ended_at = report.ended_at
    event.findings = [finding.as_dict() for finding in report.findings]
    event.log = "\n".join(finding.log_line for finding in report.findings)
    try:
        event.save(update_fields=["status", "ended_at", "findings", "log"])
    except DatabaseError as error:
        # The database went away during the run: say so in the printed report at least.
        report.findings.append(database_unreachable(error))
        report.status = SystemEvent.Status.ERROR
        return
    # The one place an event ends; counted only once that has committed (a rolled-back end did not happen).
    transaction.on_commit(functools.partial(metrics.record_system_event, str(event.status)))
