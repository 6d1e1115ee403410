"""A user's own account: their name, and a new email address once its owner has confirmed it.

An account's address receives every notification and is how the Jira import recognises people, so a
new one is used only after a link sent to it has been opened (the same signed-link pattern as the
notification list's confirmation, :mod:`tracker.services.notification_list`). Emails are unique
whatever their case; an address that belongs to another account gets a note instead of a link, and
the page says the same thing in both cases, so the form cannot tell who has an account.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from tracker.models import User

logger = logging.getLogger(__name__)

EMAIL_CHANGE_VALIDITY = dt.timedelta(days=2)
# One confirmation email per account in this interval: a signed-in user cannot use us to flood an
# address. The cache is per process (LocMemCache), which bounds the rate well enough for this purpose.
EMAIL_CHANGE_INTERVAL = dt.timedelta(minutes=1)
SIGNING_SALT = "tracker.account.email-change"


class AccountError(Exception):
    """A change refused for a reason the user can fix; the message says how."""


def change_name(user: User, *, first_name: str, last_name: str) -> None:
    user.first_name, user.last_name = first_name.strip(), last_name.strip()
    # Only these columns: a whole-row save could undo a concurrent change (last_login, password).
    user.save(update_fields=["first_name", "last_name"])


def _address_taken(address: str, user: User) -> bool:
    return User.objects.filter(email__iexact=address).exclude(pk=user.pk).exists()


def request_email_change(user: User, address: str) -> str:
    """Email ``address`` a confirmation link (or, if another account has it, a note); says what next."""
    address = address.strip()
    if not address and user.email:
        raise AccountError("Your account needs an email address: your notifications go to it.")
    if address.lower() == user.email.lower():
        if address != user.email:  # the same mailbox written differently: nothing to prove
            User.objects.filter(pk=user.pk).update(email=address)
            user.email = address
            return "Email address saved."
        return ""
    if not cache.add(f"tracker:email-change:{user.pk}", 1, EMAIL_CHANGE_INTERVAL.total_seconds()):
        raise AccountError(
            "A confirmation email was sent for your account less than a minute ago; "
            "wait a minute before asking for another one."
        )
    taken = _address_taken(address, user)
    template = "emails/email-change-taken.txt" if taken else "emails/email-change.txt"
    message = EmailMessage(
        subject="Confirm your new email address for Tuleap",
        body=render_to_string(
            template,
            {
                "address": address,
                "site": urlsplit(settings.SITE_URL).hostname or settings.SITE_URL,
                "url": ""
                if taken
                else f"{settings.SITE_URL}{reverse('tracker:email-confirm', args=[_token(user, address)])}",
                "days": EMAIL_CHANGE_VALIDITY.days,
            },
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    try:
        # Bounded by EMAIL_TIMEOUT (Django's SMTP backend passes it to smtplib.SMTP as its timeout).
        message.send()
    except OSError as error:  # smtplib's errors are OSErrors, as are refused connections
        cache.delete(f"tracker:email-change:{user.pk}")
        logger.warning("Email change confirmation could not be sent: %s", error)
        raise AccountError(
            "The confirmation email could not be sent; your address is unchanged. Try again later."
        ) from None
    return (
        f"We have emailed a confirmation link to {address}. Your address changes once you open it "
        f"(within {EMAIL_CHANGE_VALIDITY.days} days); until then we keep using {user.email or 'none'}."
    )


def _token(user: User, address: str) -> str:
    # The current address is in the token: once the address changes, older links stop working.
    return signing.dumps({"user": user.pk, "email": address, "was": user.email.lower()}, salt=SIGNING_SALT)


@dataclass(frozen=True)
class EmailChange:
    user: User
    address: str


def change_for_token(token: str, user: User) -> EmailChange | None:
    """The change a confirmation link asks for, while it is valid and for this user's account."""
    try:
        data = signing.loads(token, salt=SIGNING_SALT, max_age=EMAIL_CHANGE_VALIDITY)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("user") != user.pk:
        return None
    if data.get("was") != user.email.lower() or not isinstance(data.get("email"), str):
        return None
    return EmailChange(user, data["email"])


def confirm_email_change(change: EmailChange) -> None:
    user, address = change.user, change.address
    taken = AccountError(f"{address} is used by another account now; your address is unchanged.")
    if _address_taken(address, user):
        raise taken
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(email=address)
    except IntegrityError:  # another account took it between the check and the update
        raise taken from None
    user.email = address
