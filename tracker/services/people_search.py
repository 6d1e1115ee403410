"""The people pickers' search: whom a form of a project may name, matched on what the asker typed.

Who may be named is decided in :mod:`tracker.permissions` (user fields and notification lists: the
project's active members and site admins) or, for the member form, is every active account that is not
a member yet. That last set is the whole site, so the search must not become a directory: it matches
the *start* of a username or a name only (never an email address: members are added by username so
that an address tells nothing about who has an account, see :mod:`tracker.services.memberships`),
wants at least :data:`MIN_QUERY_LENGTH` characters and answers at most :data:`MAX_RESULTS` people.
No answer carries an email address, whatever the purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat

from tracker import permissions
from tracker.models import Project, User

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 150
MAX_RESULTS = 20


class Purpose(StrEnum):
    """The form a picker fills; it decides who may be named and who may ask."""

    ASSIGNEE = "assignee"
    CC = "cc"
    MEMBER = "member"
    NOTIFICATION_LIST = "notification_list"

    @property
    def needs_admin(self) -> bool:
        """Members and notification lists are managed by the project's administrators; user fields are
        filled by whoever may edit artifacts (members)."""
        return self in (Purpose.MEMBER, Purpose.NOTIFICATION_LIST)


class PeopleSearchError(ValueError):
    """A search that cannot be run as asked; the message says what to send instead."""


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    label: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "label": self.label}


def parse_purpose(text: str) -> Purpose:
    try:
        return Purpose(text)
    except ValueError:
        choices = ", ".join(purpose.value for purpose in Purpose)
        raise PeopleSearchError(f"Unknown purpose {text!r}: use one of {choices}.") from None


def clean_query(text: str) -> str:
    query = text.strip()
    if len(query) < MIN_QUERY_LENGTH:
        raise PeopleSearchError(f"Type at least {MIN_QUERY_LENGTH} characters of a name or username.")
    if len(query) > MAX_QUERY_LENGTH:
        raise PeopleSearchError(f"Type at most {MAX_QUERY_LENGTH} characters.")
    return query


def candidates(project: Project, purpose: Purpose) -> QuerySet[User]:
    """Everyone the form may name, before matching."""
    if purpose == Purpose.MEMBER:
        # Members already in are refused by the form (add_member): offering them would only mislead.
        return User.objects.filter(is_active=True).exclude(memberships__project=project)
    return permissions.nameable_people(project.pk)


def search_people(project: Project, purpose: Purpose, query: str) -> list[Person]:
    """Up to MAX_RESULTS people of :func:`candidates` whose username, first or last name, or full name
    starts with ``query`` (any case). One query.

    The email address is matched for the notification list only: its pickers are project
    administrators, who see their members' addresses on the members page anyway, and the list takes
    addresses too. A member filling a CC field does not see addresses, so typing one finds nobody."""
    query = clean_query(query)
    matches = (
        Q(username__istartswith=query)
        | Q(first_name__istartswith=query)
        | Q(last_name__istartswith=query)
        | Q(full_name__istartswith=query)
    )
    if purpose == Purpose.NOTIFICATION_LIST:
        matches |= Q(email__istartswith=query)
    people = (
        candidates(project, purpose)
        .annotate(full_name=Concat("first_name", Value(" "), "last_name"))
        .filter(matches)
        .only("pk", "username", "first_name", "last_name")
        .order_by("username")[:MAX_RESULTS]
    )
    return [Person(id=user.pk, username=user.username, label=user.display_name) for user in people]
