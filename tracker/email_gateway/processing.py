"""The worker's job: one inbound email becomes a comment, a new artifact, or a recorded reason why not.

In order: claim the row (``inbound.claim``); read the message; ignore what a machine sent
(``safety``); refuse a sender over EMAIL_GATEWAY_SENDER_MAX_PER_HOUR or, with
EMAIL_GATEWAY_REQUIRE_AUTH, one our server could not authenticate; then route by address:

- ``reply+<token>@domain``: the token names a user and an artifact; the message must come from that
  user's address, the user must be active and still allowed to comment (``permissions``); the new text
  (``parsing.new_text``) becomes a comment, the attachments go to the artifact's file field;
- ``<tracker>@domain`` on a tracker that accepts email: a member's message becomes an artifact.

Both go through the artifact service, so the others are notified as for any change. A rejection gets
one short answer per sender and hour (``answers``); an ignored message never gets one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tracker import permissions
from tracker.email_gateway import answers, config, inbound, safety, tokens
from tracker.email_gateway.parsing import Parsed, UnreadableMessage, new_text, parse
from tracker.models import Artifact, Changeset, FieldType, InboundEmail, Tracker, User
from tracker.services.artifacts import ArtifactValidationError, create_artifact, update_artifact

logger = logging.getLogger("tracker.email_gateway.processing")

Status = InboundEmail.Status


@dataclass
class Outcome:
    status: str
    reason: str = ""
    changeset: Changeset | None = None
    # Rejections only: whether the sender deserves our short explanation.
    answer: bool = True
    notes: list[str] = field(default_factory=list)


class Rejected(Exception):
    def __init__(self, reason: str, *, answer: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.answer = answer


def process(inbound_id: int, job_id: str) -> str:
    """Process the record unless another job holds it or it ended; returns its status now.

    A database error is raised (the record is released and handed to a new job by the sweep).
    """
    record = inbound.claim(inbound_id, job_id)
    if record is None:
        return "taken"
    parsed: Parsed | None = None
    try:
        parsed = _read(record)
        outcome = _decide(record, parsed)
    except Rejected as rejection:
        outcome = Outcome(Status.REJECTED, rejection.reason, answer=rejection.answer)
    except Exception:
        inbound.release(record)
        raise
    answered = False
    if outcome.status == Status.REJECTED and outcome.answer:
        address = parsed.from_address if parsed is not None else ""
        answered = answers.answer_rejection(parsed, address, outcome.reason)
    reason = "; ".join([outcome.reason, *outcome.notes]).strip("; ")
    inbound.finish(record, outcome.status, reason, changeset=outcome.changeset, answered=answered)
    log = logger.info if outcome.status == Status.PROCESSED else logger.warning
    log("Inbound email %s %s%s", record.pk, outcome.status, f": {reason}" if reason else "")
    return outcome.status


def _read(record: InboundEmail) -> Parsed:
    try:
        parsed = parse(bytes(record.raw))
    except UnreadableMessage as error:
        raise Rejected(str(error), answer=False) from None
    record.from_address = parsed.from_address
    record.message_id = parsed.message_id
    record.subject = parsed.subject
    return parsed


def _decide(record: InboundEmail, parsed: Parsed) -> Outcome:
    ignored = safety.ignore_reason(parsed, record)
    if ignored is not None:
        return Outcome(Status.IGNORED, ignored)
    if record.size > settings.EMAIL_GATEWAY_MAX_SIZE:
        raise Rejected(
            f"The message is too large ({record.size} bytes; the limit is "
            f"{settings.EMAIL_GATEWAY_MAX_SIZE} bytes). Attach large files on the artifact's page instead."
        )
    _check_rate(record)
    if settings.EMAIL_GATEWAY_REQUIRE_AUTH and not safety.authenticated(parsed):
        raise Rejected(
            "Our mail server could not confirm that the message comes from your address (no DKIM or SPF "
            "pass); write from your usual mail server."
        )
    for address in _destinations(record, parsed):
        token = tokens.token_of(address)
        if token is not None:
            return _reply(parsed, token)
        tracker = _tracker_for(address)
        if tracker is not None:
            return _create(parsed, tracker)
    raise Rejected("This address does not take messages; reply to a notification to add a comment.")


def _destinations(record: InboundEmail, parsed: Parsed) -> list[str]:
    found = [record.envelope_to] if record.envelope_to else []
    return [address for address in [*found, *parsed.recipients()] if config.is_ours(address)]


def _check_rate(record: InboundEmail) -> None:
    limit = settings.EMAIL_GATEWAY_SENDER_MAX_PER_HOUR
    if not limit or not record.from_address:
        return
    since = timezone.now() - dt.timedelta(hours=1)
    recent = (
        InboundEmail.objects.filter(from_address=record.from_address, received_at__gte=since)
        .exclude(pk=record.pk)
        .count()
    )
    if recent >= limit:
        raise Rejected(
            f"Too many messages from your address in the last hour ({recent}; the limit is {limit}); "
            "try again later."
        )


def _sender(parsed: Parsed) -> User | None:
    users = list(User.objects.filter(email__iexact=parsed.from_address, is_active=True)[:2])
    return users[0] if len(users) == 1 else None


def _uploads(tracker: Tracker, parsed: Parsed, notes: list[str]) -> dict[str, list[SimpleUploadedFile]]:
    if not parsed.attachments:
        return {}
    file_field = tracker.fields.filter(type=FieldType.FILES).order_by("rank", "pk").first()
    if file_field is None:
        notes.append(f"{len(parsed.attachments)} attachment(s) dropped: the tracker has no file field")
        return {}
    files = []
    for item in parsed.attachments:
        if len(item.data) > settings.ATTACHMENT_MAX_SIZE:
            notes.append(f"{item.filename} dropped: larger than ATTACHMENT_MAX_SIZE")
            continue
        files.append(SimpleUploadedFile(item.filename, item.data, item.content_type))
    return {file_field.name: files} if files else {}


def _reply(parsed: Parsed, token: str) -> Outcome:
    try:
        named = tokens.read_token(token)
    except tokens.BadToken:
        raise Rejected(
            "The reply address is not valid: reply to a notification without editing it."
        ) from None
    user = User.objects.filter(pk=named.user_id).first()
    artifact = Artifact.objects.select_related("tracker__project").filter(pk=named.artifact_id).first()
    if user is None or artifact is None:
        raise Rejected("The artifact or the account this reply address names no longer exists.")
    if user.email.strip().lower() != parsed.from_address:
        raise Rejected(
            "This reply address belongs to another account: reply from the address the notification "
            "was sent to."
        )
    if not user.is_active or not permissions.may_comment_by_email(user, artifact):
        raise Rejected("You may no longer comment on this artifact.")
    text = new_text(parsed.text)
    notes: list[str] = []
    uploads = _uploads(artifact.tracker, parsed, notes)
    if not text and not uploads:
        raise Rejected("The reply holds no new text above the quoted notification.")
    try:
        changeset = update_artifact(artifact, author=user, comment=text, uploads=uploads)
    except ArtifactValidationError as error:
        raise Rejected(f"The comment could not be added: {error}") from None
    return Outcome(Status.PROCESSED, f"comment on {artifact.reference}", changeset, notes=notes)


def _tracker_for(address: str) -> Tracker | None:
    local = address.strip("<> ").rpartition("@")[0].lower()
    if not local:
        return None
    named = Tracker.objects.select_related("project").filter(accepts_email=True)
    found = list(named.filter(email_local_part=local)[:2]) or list(
        named.filter(email_local_part="", shortname__iexact=local)[:2]
    )
    return found[0] if len(found) == 1 else None


def _create(parsed: Parsed, tracker: Tracker) -> Outcome:
    user = _sender(parsed)
    if user is None or not permissions.may_create_by_email(user, tracker):
        raise Rejected("Only members of the tracker's project may create artifacts by email.")
    title_field = tracker.fields.filter(is_title=True).first()
    text_field = (
        tracker.fields.filter(type=FieldType.TEXT, name="description").first()
        or tracker.fields.filter(type=FieldType.TEXT).order_by("rank", "pk").first()
    )
    if title_field is None:
        raise Rejected("This tracker has no title field; create its artifacts on the site.")
    values: dict[str, object] = {title_field.name: parsed.subject or "(no subject)"}
    description = new_text(parsed.text)
    notes: list[str] = []
    if description and text_field is not None:
        values[text_field.name] = description
    uploads = _uploads(tracker, parsed, notes)
    try:
        changeset = create_artifact(tracker, author=user, values=values, uploads=uploads)
    except ArtifactValidationError as error:
        raise Rejected(f"The artifact could not be created: {error}") from None
    return Outcome(Status.PROCESSED, f"created {changeset.artifact.reference}", changeset, notes=notes)
