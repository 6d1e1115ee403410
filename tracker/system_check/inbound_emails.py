"""Check: the email gateway's inbound records: waiting too long for a worker, and rejected ones.

Pending: still ``received`` NOTIFICATION_PENDING_THRESHOLD seconds after arriving (no worker on the
incoming_email queue, or the recovery sweep is not running). Rejected since the previous check: listed
as information with the last reason (a rejection is a sender's problem, not the platform's, unless
they pile up). Spooled: messages the fast pipe (``tracker.email_gateway.pipe``) wrote to
EMAIL_GATEWAY_SPOOL_DIR that nobody stored for a few minutes (no LMTP process and no sweep running).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from tracker.email_gateway import spool
from tracker.models import InboundEmail
from tracker.system_check.base import CheckContext, Finding, Level, humanize_duration

NAME = "inbound_emails"
# A reader stores the spool every second (LMTP process) or every NOTIFICATION_SWEEP_INTERVAL (the sweep).
SPOOL_WAIT_WARNING = 300


def spool_waiting(context: CheckContext) -> list[Finding]:
    try:
        count, oldest = spool.oldest(Path(settings.EMAIL_GATEWAY_SPOOL_DIR))
    except OSError as error:  # a missing spool is empty (spool.oldest); this is permissions, say
        return [
            Finding(
                NAME,
                Level.WARNING,
                f"The email gateway's spool {settings.EMAIL_GATEWAY_SPOOL_DIR} cannot be read "
                f"({error.strerror or type(error).__name__}): run the check as the user of the pipe.",
                {"error": error.strerror or type(error).__name__},
            )
        ]
    if oldest is None:
        return []
    age = dt.timedelta(seconds=max(0.0, context.now.timestamp() - oldest))
    if age.total_seconds() < max(SPOOL_WAIT_WARNING, 3 * settings.NOTIFICATION_SWEEP_INTERVAL):
        return []
    return [
        Finding(
            NAME,
            Level.WARNING,
            f"{count} spooled emails in {settings.EMAIL_GATEWAY_SPOOL_DIR} are waiting to be stored, the "
            f"oldest for {humanize_duration(age)}: nothing reads the spool on this host. Run the LMTP "
            f"process (manage.py email_gateway) or the workers' supervisor (manage.py backend_workers "
            f"start) here, with the same EMAIL_GATEWAY_SPOOL_DIR as the pipe.",
            {"count": count, "oldest_age_seconds": int(age.total_seconds())},
        )
    ]


def run(context: CheckContext) -> list[Finding]:
    findings: list[Finding] = spool_waiting(context)
    threshold = context.now - dt.timedelta(seconds=settings.NOTIFICATION_PENDING_THRESHOLD)
    pending = InboundEmail.objects.filter(status=InboundEmail.Status.RECEIVED, received_at__lt=threshold)
    count = pending.count()
    if count:
        oldest = pending.order_by("received_at").values_list("received_at", flat=True).first()
        assert oldest is not None
        findings.append(
            Finding(
                NAME,
                Level.WARNING,
                f"{count} inbound emails are waiting for a worker, the oldest for "
                f"{humanize_duration(context.now - oldest)}: check the incoming_email workers "
                f"(manage.py backend_workers status; EMAIL_GATEWAY_DOMAIN must be set where they run) and "
                f"their log file ({settings.WORKER_LOG}).",
                {"count": count, "oldest_age_seconds": int((context.now - oldest).total_seconds())},
            )
        )
    rejected = InboundEmail.objects.filter(status=InboundEmail.Status.REJECTED)
    if context.previous_check_at is not None:
        rejected = rejected.filter(processed_at__gte=context.previous_check_at)
        since = f"since the last check ({timezone.localtime(context.previous_check_at):%Y-%m-%d %H:%M %Z})"
    else:
        since = f"in the last {settings.EMAIL_GATEWAY_RETENTION_DAYS} days (no earlier check)"
    rejected_count = rejected.count()
    if rejected_count:
        last = rejected.order_by("-processed_at", "-id").first()
        assert last is not None
        findings.append(
            Finding(
                NAME,
                Level.INFO,
                f"{rejected_count} inbound emails were rejected {since}; the last one, from "
                f"{last.from_address or 'an unknown sender'}: {last.reason} (Django admin: Inbound emails).",
                {"count": rejected_count, "last_reason": last.reason},
            )
        )
    return findings
