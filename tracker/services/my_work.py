"""A person's work across the projects they may read: assigned to them, submitted by them, watched."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from tracker import permissions
from tracker.models import Artifact, Field, FieldType, User
from tracker.services.query_expressions import FieldIsOneOf

MY_WORK_LIMIT = 50


@dataclass
class MyWork:
    assigned: list[Artifact]
    submitted: list[Artifact]
    watched: list[Artifact]


def _assignee_fields(user: User) -> dict[int, int]:
    """tracker id -> its assignee field id (the one named assigned_to, else its first user field), for
    the trackers the user may read (one query)."""
    chosen: dict[int, Field] = {}
    fields = Field.objects.filter(
        tracker__in=permissions.readable_trackers(user), type=FieldType.USER
    ).order_by("tracker_id", "rank", "id")
    for field_ in fields:
        current = chosen.get(field_.tracker_id)
        if current is None or (field_.name == "assigned_to" and current.name != "assigned_to"):
            chosen[field_.tracker_id] = field_
    return {tracker_id: field_.pk for tracker_id, field_ in chosen.items()}


def _latest(artifacts: QuerySet[Artifact], limit: int) -> list[Artifact]:
    return list(
        artifacts.select_related("tracker__project", "last_updated_by").order_by("-last_updated_on", "-id")[
            :limit
        ]
    )


def my_work(user: User, *, limit: int = MY_WORK_LIMIT) -> MyWork:
    """The latest ``limit`` of each list, most recently updated first, never an unreadable artifact."""
    readable = permissions.readable_artifacts(user)
    assigned_to_me = Q(pk__in=[])
    for tracker_id, field_id in _assignee_fields(user).items():
        assigned_to_me |= Q(tracker_id=tracker_id) & Q(FieldIsOneOf(field_id, [user.pk]))
    watched = readable.filter(subscriptions__user=user, subscriptions__watching=True)
    return MyWork(
        assigned=_latest(readable.filter(assigned_to_me), limit),
        submitted=_latest(readable.filter(submitted_by=user), limit),
        watched=_latest(watched, limit),
    )
