"""Who gets an email about a changeset: one function per rule, then the removals.

Candidates: the artifact's submitter, the users in user fields flagged ``notify`` (assignee, CC; also
the ones a change just removed, so an unassigned person learns it), everyone who changed or commented
the artifact before, its watchers, and the tracker's notification list ("on creation only" entries for
the first changeset only). Removed: the author of the change (unless ``notify_own_changes``), users who
unwatched the artifact, inactive users, and anyone who may not read the artifact. One address, one email.

A plain address on the notification list gets nothing until it is confirmed (by its owner, or because a
site admin added it: tracker.services.notification_list), and users on the list only while they are
members or site admins, so no account can make the platform mail strangers. A confirmed address that
belongs to an account is treated as that account (so an unwatch, an inactive account or missing read
access still silences it); one that belongs to nobody is kept for public projects.

The number of queries does not depend on the number of recipients.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.db.models.functions import Lower

from tracker import permissions
from tracker.models import ArtifactSubscription, Field, NotificationListEntry, User
from tracker.notifications.context import NotificationContext

logger = logging.getLogger(__name__)


class Why(enum.IntEnum):
    """Why someone gets the email, strongest first: it picks the sentence at the bottom of the email."""

    OWN_CHANGE = 0
    FIELD = 1
    SUBMITTER = 2
    WATCHER = 3
    PARTICIPANT = 4
    NOTIFICATION_LIST = 5


@dataclass(frozen=True)
class Reason:
    why: Why
    field: Field | None = None

    @property
    def key(self) -> str:
        """Stable across retries: part of the Message-ID, and recipients sharing it share one email."""
        if self.why == Why.FIELD and self.field is not None:
            return f"field-{self.field.name}"
        return self.why.name.lower().replace("_", "-")

    @property
    def sentence(self) -> str:
        if self.why == Why.FIELD and self.field is not None:
            return f"You are receiving this email because you are in the field {self.field.label}."
        because = {
            Why.OWN_CHANGE: "you asked to be notified of your own changes",
            Why.SUBMITTER: "you submitted this artifact",
            Why.WATCHER: "you watch this artifact",
            Why.PARTICIPANT: "you changed or commented this artifact before",
            Why.NOTIFICATION_LIST: "you are on the notification list of this tracker",
        }[self.why]
        return f"You are receiving this email because {because}."

    def __lt__(self, other: Reason) -> bool:
        return (self.why, self.field.rank if self.field else 0) < (
            other.why,
            other.field.rank if other.field else 0,
        )


@dataclass(frozen=True)
class Recipient:
    address: str
    reason: Reason
    user: User | None = None


# The rules: each returns (user id, reason) pairs; plain addresses come from the notification list.


def submitter(context: NotificationContext) -> list[tuple[int, Reason]]:
    user_id = context.artifact.submitted_by_id
    return [(user_id, Reason(Why.SUBMITTER))] if user_id else []


def _user_ids(value: object) -> list[int]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, int)]


def notified_field_users(context: NotificationContext) -> list[tuple[int, Reason]]:
    """People named in user fields flagged ``notify``, as of this changeset, and those it removed."""
    pairs: list[tuple[int, Reason]] = []
    for field_ in context.fields:
        if field_.is_user_field and field_.notify:
            pairs += [
                (user_id, Reason(Why.FIELD, field_)) for user_id in _user_ids(context.state.get(field_.pk))
            ]
    for change in context.entry.changes:
        if change.field.is_user_field and change.field.notify:
            pairs += [(user_id, Reason(Why.FIELD, change.field)) for user_id in _user_ids(change.old)]
    return pairs


def participants(context: NotificationContext) -> list[tuple[int, Reason]]:
    """Everyone who changed or commented the artifact before this changeset."""
    return [(user_id, Reason(Why.PARTICIPANT)) for user_id in context.earlier_author_ids]


def subscriptions(context: NotificationContext) -> tuple[list[tuple[int, Reason]], set[int]]:
    """Watchers, and the users who unwatched the artifact (they are silenced whatever their role)."""
    watchers: list[tuple[int, Reason]] = []
    unwatched: set[int] = set()
    for user_id, watching in ArtifactSubscription.objects.filter(artifact=context.artifact).values_list(
        "user_id", "watching"
    ):
        if watching:
            watchers.append((user_id, Reason(Why.WATCHER)))
        else:
            unwatched.add(user_id)
    return watchers, unwatched


def notification_list(context: NotificationContext) -> tuple[list[tuple[int, Reason]], list[str]]:
    """The tracker's global list: its members and site admins, and the confirmed plain addresses."""
    entries = NotificationListEntry.objects.filter(
        Q(user__isnull=False) | Q(confirmed_at__isnull=False), tracker=context.tracker
    )
    if not context.changeset.is_creation:
        entries = entries.filter(on_creation_only=False)
    user_ids: list[int] = []
    addresses: list[str] = []
    for user_id, email in entries.values_list("user_id", "email"):
        if user_id:
            user_ids.append(user_id)
        elif email:
            addresses.append(email)
    listable = permissions.listable_among(context.project.pk, user_ids) if user_ids else set()
    users = [(user_id, Reason(Why.NOTIFICATION_LIST)) for user_id in user_ids if user_id in listable]
    return users, addresses


def author_wants_own_changes(context: NotificationContext) -> list[tuple[int, Reason]]:
    author = context.changeset.author
    if author is not None and author.notify_own_changes:
        return [(author.pk, Reason(Why.OWN_CHANGE))]
    return []


# Putting it together --------------------------------------------------------------------------------


def _strongest(pairs: Iterable[tuple[int, Reason]]) -> dict[int, Reason]:
    reasons: dict[int, Reason] = {}
    for user_id, reason in pairs:
        if user_id not in reasons or reason < reasons[user_id]:
            reasons[user_id] = reason
    return reasons


def recipients_for(context: NotificationContext) -> list[Recipient]:
    """Everybody to notify about this changeset, each address once."""
    watchers, unwatched = subscriptions(context)
    listed_users, listed_addresses = notification_list(context)
    reasons = _strongest(
        [
            *notified_field_users(context),
            *submitter(context),
            *watchers,
            *participants(context),
            *listed_users,
        ]
    )
    author_id = context.changeset.author_id
    if author_id in reasons:
        del reasons[author_id]
    # Own changes come last so they override: the author asked for them, whatever their other roles.
    reasons.update(author_wants_own_changes(context))

    plain: dict[str, str] = {}
    if listed_addresses:
        # A listed address that belongs to an account is that account, with all its removals.
        lowered = {address.lower(): address for address in listed_addresses}
        owners = dict(
            User.objects.annotate(lower_email=Lower("email"))
            .filter(lower_email__in=list(lowered))
            .values_list("lower_email", "pk")
        )
        for lower, address in lowered.items():
            owner = owners.get(lower)
            if owner is None:
                plain[lower] = address
            elif owner != author_id:
                reasons.setdefault(owner, Reason(Why.NOTIFICATION_LIST))

    for user_id in unwatched:
        reasons.pop(user_id, None)
    users = list(User.objects.filter(pk__in=list(reasons), is_active=True).exclude(email=""))
    readers = permissions.readers_among(context.project, users)

    recipients: dict[str, Recipient] = {}
    for user in sorted(readers, key=lambda user: (reasons[user.pk], user.pk)):
        recipients.setdefault(user.email.lower(), Recipient(user.email, reasons[user.pk], user))
    if context.project.is_public:
        for lower, address in plain.items():
            recipients.setdefault(lower, Recipient(address, Reason(Why.NOTIFICATION_LIST)))
    elif plain:
        # An address with no account here cannot read a private project: it gets nothing from it.
        logger.info(
            "Changeset %s: %d address(es) of the notification list skipped: no account may read project %s.",
            context.changeset.pk,
            len(plain),
            context.project.shortname,
        )
    return list(recipients.values())
