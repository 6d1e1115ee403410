"""Sending the emails of one changeset: claim the record, find the recipients, send, record, end.

The same function runs in the request (inline projects, or when Redis is unreachable) and in the
worker job (async projects). What happens on a problem:

- the changeset or its record is gone (the artifact was deleted): log it, nothing to do;
- someone else holds the record: leave it to them (a job schedules a look once their lease ends);
- a transient problem (mail server down or slow, a 4xx answer, a database hiccup, the job timeout):
  a job raises :class:`RetryLater` so RQ tries again, and on its last attempt the record ends failed;
  the request hands the record back pending for ``manage.py system_check --requeue``;
- a permanent problem (a 5xx answer to the whole email): the record ends failed with the answer;
- one address refused for good (5xx to its RCPT): skipped and logged, the others are delivered.

Never twice: every address the mail server accepted is journaled in Redis at once (worker jobs) and
written to NotificationDelivery once per group; a later attempt skips both.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from rq.timeouts import JobTimeoutException

from tracker import queues
from tracker.models import NotificationRecord
from tracker.monitoring import metrics
from tracker.notifications import emails, records
from tracker.notifications.context import NotificationContext
from tracker.notifications.mailer import DeliveryError, MailSession
from tracker.notifications.recipients import recipients_for

logger = logging.getLogger("tracker.notifications.Notifier")

Mode = NotificationRecord.Mode
TRANSIENT_ERRORS = (DeliveryError, OperationalError, InterfaceError, JobTimeoutException)


class RetryLater(Exception):
    """A transient problem: the worker job raises it so RQ runs the job again after a pause."""


@dataclass
class Outcome:
    """``state``: done, failed, deferred (left for later), missing, ended (already) or busy."""

    state: str
    recipients: int = 0
    sent: int = 0
    claim: records.Claim | None = None

    def __str__(self) -> str:
        return f"{self.state}, {self.sent} of {self.recipients} recipients sent"


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, DeliveryError):
        return not error.permanent
    return isinstance(error, TRANSIENT_ERRORS)


def _describe(error: BaseException) -> str:
    return str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"


def notify(changeset_id: int, *, mode: str, token: str, last_attempt: bool = True) -> Outcome:
    """Send the changeset's emails to every recipient who has not had them yet."""
    started = time.perf_counter()
    mode = str(mode)  # a plain "inline"/"async" for the logs and the metrics labels
    logger.debug("Start notification: changeset %s, mode %s", changeset_id, mode)
    outcome = Outcome("missing")
    try:
        outcome = _notify(changeset_id, mode=mode, token=token, last_attempt=last_attempt)
        return outcome
    finally:
        logger.debug(
            "End notification: changeset %s, mode %s, %s recipients, %s sent, %s, %d ms",
            changeset_id,
            mode,
            outcome.recipients,
            outcome.sent,
            outcome.state,
            (time.perf_counter() - started) * 1000,
        )


def _notify(changeset_id: int, *, mode: str, token: str, last_attempt: bool) -> Outcome:
    claim = records.claim(changeset_id, token)
    if claim.state == "missing":
        logger.warning(
            "Notification for changeset %s skipped: the changeset or its artifact no longer exists.",
            changeset_id,
        )
        return Outcome("missing", claim=claim)
    if claim.state != "claimed":
        logger.info(
            "Notification for changeset %s not sent here: the record is %s.", changeset_id, claim.state
        )
        return Outcome(claim.state, claim=claim)
    record = claim.record
    assert record is not None
    outcome = Outcome("done", claim=claim)
    try:
        _send(record, mode, outcome)
    except Exception as error:
        return _give_up_or_retry(record, mode, outcome, error, last_attempt=last_attempt)
    return outcome


def _send(record: NotificationRecord, mode: str, outcome: Outcome) -> None:
    context = NotificationContext.load(record.changeset)
    recipients = recipients_for(context)
    outcome.recipients = len(recipients)
    journal = records.DeliveryJournal(
        record.changeset_id, queues.queue_client(settings.NOTIFICATIONS_QUEUE) if mode == Mode.ASYNC else None
    )
    delivered: set[str] = set()
    if record.attempts > 1:
        # An earlier attempt may have sent some (the first one has nothing to look up).
        delivered = records.delivered_addresses(record.changeset_id)
        journaled = journal.addresses() - delivered
        if journaled:
            # Accepted by the mail server during an attempt that died before writing them down.
            records.record_deliveries(record.changeset_id, journaled)
            delivered |= journaled
    todo = [recipient for recipient in recipients if recipient.address.lower() not in delivered]
    problems: list[str] = []
    deferred: list[str] = []
    unrecorded: list[str] = []
    messages = emails.build_messages(context, todo)
    if messages:
        with MailSession() as session:
            for index, group in enumerate(messages):
                # The last group's addresses are recorded with the end of the record: one commit less.
                last = index == len(messages) - 1
                accepted = _send_group(session, group, mode, journal, problems, deferred, record, last)
                outcome.sent += len(accepted)
                unrecorded = accepted if last else []
    if deferred:
        records.record_deliveries(record.changeset_id, unrecorded)
        raise DeliveryError("; ".join(deferred))
    records.finish(record, recipient_count=len(recipients), note="; ".join(problems), deliveries=unrecorded)
    # The database has every address now. (An attempt that stops before this keeps its journal.)
    journal.clear()


def _send_group(
    session: MailSession,
    group: emails.GroupMessage,
    mode: str,
    journal: records.DeliveryJournal,
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
    try:
        for address in group.addresses:
            try:
                session.send(prepared, address)
            except DeliveryError as error:
                metrics.record_email_failed(mode, str(error))
                if not error.recipient_only:
                    raise  # the server or the connection: the others would fail the same way
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
                continue
            journal.add(address)
            accepted.append(address)
        completed = True
    finally:
        if accepted:
            if not last or not completed:
                records.record_deliveries(record.changeset_id, accepted)
            # Once per group: the metrics store writes to Redis, too slow to do it per address.
            metrics.record_emails_sent(mode, len(accepted))
    return accepted


def _give_up_or_retry(
    record: NotificationRecord, mode: str, outcome: Outcome, error: Exception, *, last_attempt: bool
) -> Outcome:
    description = _describe(error)
    try:
        if not _is_transient(error):
            # A permanent refusal, or a bug: trying again would fail the same way.
            logger.error(
                "Notification for changeset %s failed: %s", record.changeset_id, description, exc_info=error
            )
            records.fail(record, description, recipient_count=outcome.recipients)
            outcome.state = "failed"
            return outcome
        if mode == Mode.INLINE and last_attempt:
            logger.error(
                "Notification for changeset %s could not be sent in the request (%s); it stays pending "
                "for `manage.py system_check --requeue`.",
                record.changeset_id,
                description,
            )
            records.release(record, description)
            outcome.state = "deferred"
            return outcome
        if last_attempt:
            logger.error(
                "Notification for changeset %s failed after %s attempts: %s",
                record.changeset_id,
                record.attempts,
                description,
            )
            records.fail(record, description, recipient_count=outcome.recipients)
            raise RetryLater(description) from error
        logger.warning("Notification for changeset %s will be retried: %s", record.changeset_id, description)
        records.note_error(record, description)
    except DatabaseError:
        # The database itself is the problem: the record cannot say more, the retry will.
        logger.exception("Notification for changeset %s: cannot record the error", record.changeset_id)
    raise RetryLater(description) from error
