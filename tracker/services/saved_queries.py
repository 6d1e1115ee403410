"""Saved queries of the artifact list: a name for the page's URL parameters, private or for the project.

A saved query holds parameters, never results: whoever opens it runs it with their own permissions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from tracker import permissions
from tracker.models import SavedQuery, Tracker, User
from tracker.plain_text import text_problem
from tracker.services.artifact_query import TrackerContext
from tracker.services.artifact_query_params import PARAMETERS, QueryError, parse_query

NAME_MAX_LENGTH = 100


def _kept(name: str) -> bool:
    return name in PARAMETERS or name.startswith("field_")


def visible_saved_queries(user: User, tracker: Tracker) -> QuerySet[SavedQuery]:
    """The user's own queries of the tracker and those shared with its project, if they may read it."""
    if not permissions.readable_trackers(user).filter(pk=tracker.pk).exists():
        return SavedQuery.objects.none()
    return SavedQuery.objects.filter(Q(owner=user) | Q(shared=True), tracker=tracker).select_related("owner")


def save_query(
    user: User, tracker: Tracker, *, name: str, params: Mapping[str, Any], shared: bool
) -> SavedQuery:
    """Save (or replace the user's query of that name); QueryError for a bad name or parameters."""
    access = permissions.access_to(user, tracker.project)
    if not access.can_read:
        raise QueryError({"name": ["You cannot read this tracker."]})
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise QueryError({"name": [f"Give the query a name of 1 to {NAME_MAX_LENGTH} characters."]})
    problem = text_problem(name, max_length=NAME_MAX_LENGTH)
    if problem:
        raise QueryError({"name": [problem]})
    if shared and not access.can_write:
        raise QueryError({"shared": ["Only the project's members can share a query with the project."]})
    getlist = getattr(params, "getlist", None)
    pairs = [
        (key, value)
        for key in sorted(params)
        if _kept(key)
        for value in (getlist(key) if getlist else [params[key]])
        if str(value).strip()
    ]
    parse_query(TrackerContext.of(tracker), params, user)  # raises QueryError
    query_string = urlencode(pairs)
    if len(query_string) > 2000:
        raise QueryError({"name": ["This query is too long to be saved."]})
    saved, _ = SavedQuery.objects.update_or_create(
        tracker=tracker, owner=user, name=name, defaults={"query_string": query_string, "shared": shared}
    )
    return saved


def delete_query(user: User, saved_id: int) -> Tracker | None:
    """Delete one of the user's own queries; None when there is no such query of theirs."""
    saved = SavedQuery.objects.filter(pk=saved_id, owner=user).select_related("tracker").first()
    if saved is None:
        return None
    saved.delete()
    return saved.tracker
