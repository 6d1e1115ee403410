"""A tracker's global notification list: users by username, plain addresses once confirmed.

A plain address is a stranger until its owner says otherwise: it gets one confirmation email, written
by us with nothing a project administrator typed in it (no project or tracker name, no text), and
receives notifications only after its owner opened the link and confirmed. At most one confirmation
email goes to an address in :data:`CONFIRMATION_INTERVAL`, whatever the tracker, so adding and removing
an address again and again cannot flood it. Site administrators' additions are confirmed at once.

Users are named by username only, and only the project's members and site admins may be listed: an
email address typed here is always a plain address, so this form tells nothing about who has an
account.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tracker import permissions
from tracker.models import NotificationListEntry, Tracker, User

logger = logging.getLogger(__name__)

CONFIRMATION_INTERVAL = dt.timedelta(hours=24)
CONFIRMATION_VALIDITY = dt.timedelta(days=7)
SIGNING_SALT = "tracker.notification-list.confirm"


class NotificationListError(Exception):
    """A change refused for a reason the administrator can fix; the message says how."""


@dataclass(frozen=True)
class Added:
    entry: NotificationListEntry
    message: str


def add_entry(tracker: Tracker, identifier: str, *, added_by: User, on_creation_only: bool = False) -> Added:
    """Add a member (by username) or a plain email address; says what happens next."""
    identifier = identifier.strip()
    if "@" in identifier:
        return _add_address(tracker, identifier, added_by=added_by, on_creation_only=on_creation_only)
    user = User.objects.active_named(identifier)
    if user is None:
        raise NotificationListError(
            f"No active user is named {identifier!r}; give a member's username or an email address."
        )
    if user.pk not in permissions.listable_among(tracker.project_id, [user.pk]):
        raise NotificationListError(
            f"{user.display_name} is not a member of this project: add them as a member first (or they "
            "can watch the artifacts they care about)."
        )
    if tracker.notification_list.filter(user=user).exists():
        raise NotificationListError(f"{user.display_name} is already on the notification list.")
    entry = _save(NotificationListEntry(tracker=tracker, user=user, on_creation_only=on_creation_only))
    return Added(entry, f"{user.display_name} added to the notification list.")


def _add_address(tracker: Tracker, address: str, *, added_by: User, on_creation_only: bool) -> Added:
    try:
        validate_email(address)
    except ValidationError:
        raise NotificationListError(f"{address!r} is not an email address.") from None
    if tracker.notification_list.filter(email__iexact=address).exists():
        raise NotificationListError(f"{address} is already on the notification list.")
    entry = NotificationListEntry(tracker=tracker, email=address, on_creation_only=on_creation_only)
    if not permissions.address_needs_confirmation(added_by):
        entry.confirmed_at = timezone.now()
        return Added(_save(entry), f"{address} added to the notification list.")
    _save(entry)
    return Added(entry, send_confirmation(entry))


def _save(entry: NotificationListEntry) -> NotificationListEntry:
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise NotificationListError(f"{entry} is already on the notification list.") from None
    return entry


def remove_entry(entry: NotificationListEntry) -> None:
    entry.delete()


# Confirmation ------------------------------------------------------------------------------------


def next_confirmation_at(address: str) -> dt.datetime | None:
    """When a confirmation email may go to ``address`` again (None: now)."""
    last = (
        NotificationListEntry.objects.filter(email__iexact=address, confirmation_sent_at__isnull=False)
        .order_by("-confirmation_sent_at")
        .values_list("confirmation_sent_at", flat=True)
        .first()
    )
    if last is None or last + CONFIRMATION_INTERVAL <= timezone.now():
        return None
    return last + CONFIRMATION_INTERVAL


def send_confirmation(entry: NotificationListEntry) -> str:
    """Email the address its confirmation link, unless one went to it lately; says which happened."""
    if entry.is_confirmed:
        return f"{entry.email} is confirmed already."
    later = next_confirmation_at(entry.email)
    if later is not None:
        return (
            f"{entry.email} is on the list, waiting for its owner's confirmation. A confirmation email "
            f"was sent to this address less than 24 hours ago; you can send one again after "
            f"{later:%Y-%m-%d %H:%M} UTC."
        )
    message = EmailMessage(
        subject="Confirm that you want notifications from Tuleap",
        body=render_to_string(
            "emails/address-confirmation.txt",
            {
                "address": entry.email,
                "site": urlsplit(settings.SITE_URL).hostname or settings.SITE_URL,
                "url": f"{settings.SITE_URL}{reverse('tracker:notification-confirm', args=[_token(entry)])}",
                "days": CONFIRMATION_VALIDITY.days,
            },
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[entry.email],
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    try:
        message.send()
    except OSError as error:  # smtplib's errors are OSErrors, as are refused connections
        logger.warning("Confirmation email to a notification list address failed: %s", error)
        return (
            f"{entry.email} is on the list, but its confirmation email could not be sent ({error}); "
            "send it again from this page."
        )
    NotificationListEntry.objects.filter(pk=entry.pk).update(confirmation_sent_at=timezone.now())
    return (
        f"{entry.email} is on the list. It gets no notification until its owner confirms, through the "
        "link we have just emailed to it."
    )


def _token(entry: NotificationListEntry) -> str:
    return signing.dumps({"entry": entry.pk, "email": entry.email.lower()}, salt=SIGNING_SALT)


def entry_for_token(token: str) -> NotificationListEntry | None:
    """The entry a confirmation link names, while the link is valid and the entry is still listed."""
    try:
        data = signing.loads(token, salt=SIGNING_SALT, max_age=CONFIRMATION_VALIDITY)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    entry = (
        NotificationListEntry.objects.select_related("tracker__project")
        .filter(pk=data.get("entry"), user__isnull=True)
        .first()
    )
    if entry is None or entry.email.lower() != data.get("email"):
        return None
    return entry


def confirm(entry: NotificationListEntry) -> None:
    if entry.confirmed_at is None:
        entry.confirmed_at = timezone.now()
        entry.save(update_fields=["confirmed_at"])
