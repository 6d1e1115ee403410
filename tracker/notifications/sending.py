"""The steps of one sending attempt that a record's job and a batch's job share.

Which recipients are still to do after an earlier attempt (``still_to_send``), the author's hourly limit
(``within_author_limit``), sending the message groups with every accepted address journaled at once and
written down once per group (``send_groups``), and ending an attempt that left addresses for later
(``raise_if_held``). ``notifier`` (a record) and ``fanout`` (a batch) call them with their own rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from tracker.models import NotificationRecord
from tracker.monitoring import metrics
from tracker.notifications import emails, records
from tracker.notifications.connection_pool import HeldConnections, JobConnections
from tracker.notifications.journal import DeliveryJournal
from tracker.notifications.mailer import DeliveryError
from tracker.notifications.recipients import Recipient

logger = logging.getLogger("tracker.notifications.Notifier")


class Throttled(Exception):
    """The author's hourly limit: the rest of the recipients wait until ``until``."""

    def __init__(self, held: int, until: dt.datetime, used: int) -> None:
        super().__init__(f"{held} emails held until {until:%H:%M} UTC (NOTIFICATION_AUTHOR_MAX_PER_HOUR)")
        self.held, self.until, self.used = held, until, used


@dataclass
class Outcome:
    """``state``: done, failed, retry (waits for its next attempt), missing, ended (already), busy,
    held (an earlier changeset of the artifact is still being sent) or split (handed to batches)."""

    state: str
    recipients: int = 0
    sent: int = 0
    claim: records.Claim | None = None
    next_attempt_at: dt.datetime | None = None

    def __str__(self) -> str:
        text = f"{self.state}, {self.sent} of {self.recipients} recipients sent"
        if self.next_attempt_at is not None:
            text += f", next attempt at {self.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
        return text


def still_to_send(
    changeset_id: int, recipients: list[Recipient], journal: DeliveryJournal, *, retried: bool
) -> list[Recipient]:
    """The recipients an earlier attempt did not reach (a first attempt has nothing to look up).

    Reached: written down in NotificationDelivery, or journaled in Redis by an attempt that died before
    writing them down (written down here).
    """
    if not retried:
        return list(recipients)
    delivered = records.delivered_addresses(changeset_id)
    journaled = journal.addresses() - delivered
    if journaled:
        records.record_deliveries(changeset_id, journaled)
        delivered |= journaled
    return [recipient for recipient in recipients if recipient.address.lower() not in delivered]


@dataclass
class Sent:
    """What ``send_groups`` leaves to the end of the attempt."""

    problems: list[str]  # addresses refused for good, skipped
    deferred: list[str]  # addresses refused for now: the attempt must be retried for them
    unrecorded: list[str]  # the last group's accepted addresses, recorded with the end of the attempt


def send_groups(
    record: NotificationRecord,
    messages: list[emails.GroupMessage],
    mode: str,
    journal: DeliveryJournal,
    outcome: Outcome,
    held: HeldConnections | None = None,
) -> Sent:
    """Send each group's copies (counted in ``outcome.sent`` as they go), a record's or a batch's."""
    sent = Sent([], [], [])
    if not messages:
        return sent
    with held.use() if held is not None else JobConnections() as session:
        for index, group in enumerate(messages):
            # The last group's addresses are recorded with the end of the attempt: one commit less.
            last = index == len(messages) - 1
            accepted = _send_group(session, group, mode, journal, sent.problems, sent.deferred, record, last)
            outcome.sent += len(accepted)
            sent.unrecorded = accepted if last else []
    return sent


def raise_if_held(record: NotificationRecord, sent: Sent, throttled: Throttled | None) -> None:
    """Addresses deferred, or held by the author's limit: what was sent is recorded, then the attempt
    ends with the error that schedules the next one."""
    if not sent.deferred and throttled is None:
        return
    records.record_deliveries(record.changeset_id, sent.unrecorded)
    if sent.deferred:
        error = DeliveryError("; ".join(sent.deferred), reason="recipient", recipient_only=True)
        error.counted = True  # type: ignore[attr-defined]  # each address was counted already
        raise error
    raise throttled  # type: ignore[misc]


def _send_group(
    session: JobConnections,
    group: emails.GroupMessage,
    mode: str,
    journal: DeliveryJournal,
    problems: list[str],
    deferred: list[str],
    record: NotificationRecord,
    last: bool,
) -> list[str]:
    """One copy per recipient of the group; returns the accepted addresses.

    They are written to the database in one INSERT at the end of the group, or by the caller with the
    end of the record for the last group; whatever happens in between, each is journaled right away.
    """
    prepared = session.prepare(group.message)
    accepted: list[str] = []
    completed = False

    def took(address: str) -> None:  # the moment the server took it (in a sending thread, maybe)
        journal.add(address)
        accepted.append(address)

    try:
        # Over up to NOTIFICATION_SMTP_CONNECTIONS connections; every copy taken has been through
        # took() when the block ends, even when it ends with an error (connection_pool.py).
        with session.deliver(prepared, group.addresses, group.reply_to, took) as refusals:
            for address, error in refusals:
                metrics.record_email_failed(error.reason)
                error.counted = True  # type: ignore[attr-defined]
                if not error.recipient_only:
                    raise error  # the server or the connection: the others would fail the same way
                if error.permanent:
                    logger.warning(
                        "Notification for changeset %s: %s refused for good (%s); skipped.",
                        record.changeset_id,
                        address,
                        error,
                    )
                    problems.append(f"{address} refused: {error}")
                else:
                    deferred.append(f"{address} deferred: {error}")
        completed = True
    finally:
        if accepted:
            if not last or not completed:
                records.record_deliveries(record.changeset_id, accepted)
            # Once per group: the metrics store writes to Redis, too slow to do it per address.
            metrics.record_emails_sent(mode, len(accepted))
    return accepted


def within_author_limit(
    record: NotificationRecord, todo: list[Recipient]
) -> tuple[list[Recipient], Throttled | None]:
    """The recipients the author's hourly limit leaves room for now, and what holds the others."""
    limit = settings.NOTIFICATION_AUTHOR_MAX_PER_HOUR
    if not limit or not todo:
        return todo, None
    now = timezone.now()
    window = now.replace(minute=0, second=0, microsecond=0)
    used = records.sent_by_author_since(record.changeset.author_id, window)
    room = max(limit - used, 0)
    if len(todo) <= room:
        return todo, None
    held = Throttled(len(todo) - room, window + dt.timedelta(hours=1), used)
    return todo[:room], held
