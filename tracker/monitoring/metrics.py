"""The platform's counters and histograms, and the ``record_*`` functions the rest of the code calls.

Every ``record_*`` function is safe to call anywhere: it never raises, whatever happens to Redis
or to the metrics code itself, because a metric must never break the work it measures.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec

from tracker.monitoring import store
from tracker.monitoring.store import StoredCounter, StoredHistogram

logger = logging.getLogger(__name__)

QUEUE_EVENT_STATUSES = ("enqueued", "dequeued", "requeued", "discarded", "timedout", "done", "failed")
QUEUE_DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0, 120.0)

QUEUE_EVENTS = StoredCounter(
    "tuleap_queue_events",
    "Backend worker queue events by queue, topic (the job function) and status: enqueued; dequeued "
    "(taken by a worker); requeued (retried after a failure); discarded (taken from the queue but "
    "dropped unrun because its job data had expired or been deleted); timedout (ran past its "
    "timeout, also counted as requeued or failed); done; failed (no retry left).",
    ("queue", "topic", "status"),
    initial=(),
)
QUEUE_EVENT_DURATION = StoredHistogram(
    "tuleap_queue_events_duration_seconds",
    "Time from a job's enqueue to its successful end, by queue and topic.",
    ("queue", "topic"),
    QUEUE_DURATION_BUCKETS,
)
MAILS = StoredCounter(
    "tuleap_mails",
    "Emails handed to the mail server, by mode: inline (in the request) or async (by a backend worker).",
    ("mode",),
    initial=(("inline",), ("async",)),
)
MAIL_FAILURE_REASONS = ("connect", "timeout", "temporary", "permanent", "recipient")
MAIL_FAILURES = StoredCounter(
    "tuleap_mail_failures",
    "Email delivery attempts that failed, by reason: connect (the mail server refused or dropped the "
    "connection), timeout, temporary (4xx to the message), permanent (5xx to it), recipient (one address "
    "refused).",
    ("reason",),
    initial=tuple((reason,) for reason in MAIL_FAILURE_REASONS),
)
NOTIFICATIONS_THROTTLED = StoredCounter(
    "tuleap_notifications_throttled",
    "Notification attempts held back because their author reached NOTIFICATION_AUTHOR_MAX_PER_HOUR.",
)
RECOVERY_REASONS = ("lost_job", "abandoned", "retry_due", "mail_server_back")
NOTIFICATIONS_RECOVERED = StoredCounter(
    "tuleap_notifications_recovered",
    "Notification records the recovery sweep handed to a new job, by reason: lost_job (Redis lost it), "
    "abandoned (its sender died), retry_due (its scheduled retry was lost), mail_server_back (woken early "
    "because the mail server answers again).",
    ("reason",),
    initial=tuple((reason,) for reason in RECOVERY_REASONS),
)
ARTIFACTS = StoredCounter(
    "tuleap_tracker_artifacts",
    "Artifacts saved since the metrics were cleared, by type: created or updated.",
    ("type",),
    initial=(("created",), ("updated",)),
)
CHANGESETS = StoredCounter(
    "tuleap_tracker_artifact_changesets", "Artifact changesets stored since the metrics were cleared."
)
SYSTEM_EVENTS = StoredCounter(
    "tuleap_system_events",
    "System events that ended, by final status (DONE, WARNING, ERROR).",
    ("status",),
    initial=(("DONE",), ("WARNING",), ("ERROR",)),
)
JIRA_IMPORTS = StoredCounter(
    "tuleap_jira_imports",
    "Jira imports that ended, by status (no sample until the first import has run).",
    ("status",),
    initial=(),
)
JIRA_UPDATES = StoredCounter(
    "tuleap_jira_updates",
    "Updates from Jira (asked for or scheduled) that ended, by status (no sample until the first has run).",
    ("status",),
    initial=(),
)
INBOUND_EMAIL_STATUSES = ("received", "processed", "rejected", "ignored")
INBOUND_EMAILS = StoredCounter(
    "tuleap_inbound_emails",
    "Messages the email gateway stored (received), then ended: processed, rejected or ignored.",
    ("status",),
    initial=tuple((status,) for status in INBOUND_EMAIL_STATUSES),
)

STORED_METRICS: tuple[StoredCounter | StoredHistogram, ...] = (
    QUEUE_EVENTS,
    QUEUE_EVENT_DURATION,
    MAILS,
    MAIL_FAILURES,
    NOTIFICATIONS_THROTTLED,
    NOTIFICATIONS_RECOVERED,
    ARTIFACTS,
    CHANGESETS,
    SYSTEM_EVENTS,
    JIRA_IMPORTS,
    JIRA_UPDATES,
    INBOUND_EMAILS,
)

P = ParamSpec("P")
_reported: set[str] = set()


def never_raises(function: Callable[P, None]) -> Callable[P, None]:
    """Swallow (and report once per process) any error of a recording function."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            function(*args, **kwargs)
        except Exception:
            if function.__name__ not in _reported:
                _reported.add(function.__name__)
                logger.exception("Metrics: %s failed; the work it measures goes on.", function.__name__)

    return wrapper


@never_raises
def record_artifact_saved(*, created: bool) -> None:
    store.apply(ARTIFACTS.updates(type="created" if created else "updated") + CHANGESETS.updates())


@never_raises
def record_emails_sent(mode: str, count: int) -> None:
    if count:
        store.apply(MAILS.updates(count, mode=mode))


@never_raises
def record_email_failed(reason: str) -> None:
    """A delivery attempt that failed, for one of MAIL_FAILURE_REASONS (the message is in the logs)."""
    store.apply(MAIL_FAILURES.updates(reason=reason if reason in MAIL_FAILURE_REASONS else "temporary"))


@never_raises
def record_notification_throttled() -> None:
    store.apply(NOTIFICATIONS_THROTTLED.updates())


@never_raises
def record_notifications_recovered(reason: str, count: int) -> None:
    if count:
        store.apply(NOTIFICATIONS_RECOVERED.updates(count, reason=reason))


@never_raises
def record_queue_event(queue: str, topic: str, status: str) -> None:
    store.apply(QUEUE_EVENTS.updates(queue=queue, topic=topic, status=status))


@never_raises
def record_job_done(queue: str, topic: str, seconds: float | None) -> None:
    updates = QUEUE_EVENTS.updates(queue=queue, topic=topic, status="done")
    if seconds is not None:
        updates += QUEUE_EVENT_DURATION.updates(max(seconds, 0.0), queue=queue, topic=topic)
    store.apply(updates)


@never_raises
def record_system_event(status: str) -> None:
    """Count a system event that ended with ``status`` (DONE, WARNING or ERROR)."""
    store.apply(SYSTEM_EVENTS.updates(status=status))


@never_raises
def record_jira_import(status: str) -> None:
    """Count a Jira import that ended with ``status`` (for example done or failed)."""
    store.apply(JIRA_IMPORTS.updates(status=status))


@never_raises
def record_jira_update(status: str) -> None:
    """Count an update from Jira that ended with ``status`` (done, failed or cancelled)."""
    store.apply(JIRA_UPDATES.updates(status=status))


@never_raises
def record_inbound_email(status: str) -> None:
    """Count an inbound email stored (``received``) or ended (processed, rejected, ignored)."""
    store.apply(INBOUND_EMAILS.updates(status=status))
