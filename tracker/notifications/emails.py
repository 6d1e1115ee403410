"""Building the notification emails: one message per group of recipients who see the same content.

Recipients with the same reason (``recipients.Reason.key``) read the same email, so it is rendered (and
serialized) once for the group; each recipient then gets a copy with their own address in ``To:``
(``mailer.MailSession``), so nobody sees the others' addresses.

Threading: every email of an artifact refers (``In-Reply-To``/``References``) to the artifact's thread
root ``<tuleap.artifact-N@host>``; the creation emails start the thread and carry only ``References``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formataddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe

from tracker.email_gateway import config as gateway
from tracker.email_gateway import tokens
from tracker.models import Changeset
from tracker.notifications.context import NotificationContext
from tracker.notifications.recipients import Reason, Recipient
from tracker.permissions import artifacts_readable_by_all
from tracker.services.references import link_targets, links_as_read_by


@dataclass
class GroupMessage:
    reason: Reason
    recipients: list[Recipient]
    message: EmailMultiAlternatives
    # Address -> its own Reply-To (the email gateway's signed reply address), added to its copy only.
    reply_to: dict[str, str] = field(default_factory=dict)

    @property
    def addresses(self) -> list[str]:
        return [recipient.address for recipient in self.recipients]


def mail_domain() -> str:
    """The right-hand side of our Message-IDs and List-Id: the site's host name."""
    return urlsplit(settings.SITE_URL).hostname or str(DNS_NAME)


def thread_root_id(artifact_id: int) -> str:
    return f"<tuleap.artifact-{artifact_id}@{mail_domain()}>"


def message_id(changeset_id: int, reason: Reason) -> str:
    """Stable per changeset and recipient group: a retried job sends the very same Message-ID."""
    return f"<tuleap.changeset-{changeset_id}.{reason.key}@{mail_domain()}>"


def _one_line(text: str) -> str:
    return " ".join(text.split())  # no line breaks in a header


def subject(context: NotificationContext) -> str:
    return f"[{context.tracker.shortname} #{context.artifact.pk}] {_one_line(context.title)}"


def _comment_text(context: NotificationContext) -> str:
    changeset = context.changeset
    if changeset.comment_format == Changeset.CommentFormat.HTML:
        return strip_tags(context.entry.comment_html).strip()
    return changeset.comment


def _common(context: NotificationContext) -> dict[str, Any]:
    """What every group's email shows, computed once per changeset."""
    entry = context.entry
    return {
        "subject": subject(context),
        "is_creation": context.changeset.is_creation,
        "reference": f"{context.tracker.shortname} #{context.artifact.pk}",
        "title": context.title,
        "author_name": entry.author_name,
        "submitted_on": context.changeset.submitted_on,
        "values": [(change.field.label, change.new_text) for change in entry.changes if change.new_text],
        "changes": entry.changes,
        "comment_text": _comment_text(context),
        # Rendered and sanitized when stored (tracker.services.rendering): safe in the HTML part as is.
        "comment_html": mark_safe(entry.comment_html),  # noqa: S308
        "url": f"{settings.SITE_URL}{context.artifact.get_absolute_url()}",
        "project_name": context.project.name,
        "tracker_name": context.tracker.name,
    }


def headers(context: NotificationContext, reason: Reason) -> dict[str, str]:
    domain = mail_domain()
    tracker, project, artifact = context.tracker, context.project, context.artifact
    root = thread_root_id(artifact.pk)
    result = {
        "Message-ID": message_id(context.changeset.pk, reason),
        "References": root,
        "List-Id": formataddr(
            (
                _one_line(f"{tracker.name} ({project.name})"),
                f"{tracker.shortname}.{project.shortname}.{domain}",
            )
        ),
        "Auto-Submitted": "auto-generated",
        # Exchange and friends: no out-of-office replies to a notification.
        "X-Auto-Response-Suppress": "All",
        "X-Tuleap-Project": project.shortname,
        "X-Tuleap-Tracker": tracker.shortname,
        "X-Tuleap-Artifact-Id": str(artifact.pk),
        "X-Tuleap-Changeset-Id": str(context.changeset.pk),
        "X-Tuleap-Reason": reason.key,
    }
    if not context.changeset.is_creation:
        result["In-Reply-To"] = root
    return result


def group_by_reason(recipients: list[Recipient]) -> dict[Reason, list[Recipient]]:
    groups: dict[Reason, list[Recipient]] = {}
    for recipient in sorted(recipients, key=lambda recipient: recipient.reason):
        groups.setdefault(recipient.reason, []).append(recipient)
    return groups


def _groups(recipients: list[Recipient]) -> list[tuple[Reason, list[Recipient], bool]]:
    """The groups by reason, each split in two when some of its readers want plain text only
    (``User.plain_text_emails``): they get the text part alone, the others text and HTML."""
    result = []
    for reason, members in group_by_reason(recipients).items():
        rich: list[Recipient] = []
        plain: list[Recipient] = []
        for member in members:
            wants_text = member.user is not None and member.user.plain_text_emails
            (plain if wants_text else rich).append(member)
        result += [(reason, part, part is plain) for part in (rich, plain) if part]
    return result


def reply_addresses(context: NotificationContext, recipients: list[Recipient]) -> dict[str, str]:
    """With the email gateway on, each account's own signed reply address (plain addresses get none)."""
    if not gateway.enabled():
        return {}
    return {
        recipient.address: tokens.reply_address(recipient.user.pk, context.artifact.pk)
        for recipient in recipients
        if recipient.user is not None
    }


def _links_for(context: NotificationContext, members: list[Recipient]) -> dict[str, Any]:
    """The changes and values as this group may read them: a linked artifact is named only when
    every recipient may read it (plain addresses: only this project's). Nothing when no link changed."""
    targets = link_targets(context.entry.changes)
    if not targets:
        return {}
    users = [member.user for member in members if member.user is not None]
    plain_addresses = len(users) < len(members)
    readable = artifacts_readable_by_all(users, targets) if users else targets
    changes = links_as_read_by(
        context.fields,
        context.entry.changes,
        readable,
        project_id=context.project.pk if plain_addresses else None,
    )
    return {
        "changes": changes,
        "values": [(change.field.label, change.new_text) for change in changes if change.new_text],
    }


def build_messages(context: NotificationContext, recipients: list[Recipient]) -> list[GroupMessage]:
    """One email per group of recipients sharing a reason, templates rendered once per group."""
    if not recipients:
        return []
    common = _common(context)
    messages = []
    for reason, members, plain_text in _groups(recipients):
        reply_to = reply_addresses(context, members)
        # The sentence only where every reader of this email can reply (a plain address cannot).
        can_reply = bool(reply_to) and len(reply_to) == len(members)
        template_context = {
            **common,
            **_links_for(context, members),
            "reason": reason.sentence,
            "can_reply": can_reply,
        }
        message = EmailMultiAlternatives(
            subject=common["subject"],
            body=render_to_string("emails/artifact-body.txt", template_context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            headers=headers(context, reason),
        )
        if not plain_text:
            message.attach_alternative(
                render_to_string("emails/artifact-body.html", template_context), "text/html"
            )
        messages.append(GroupMessage(reason, members, message, reply_to))
    return messages
