"""Fetching what a request names, through tracker.permissions: unreadable things do not exist (404).

What the user may do once found is ``permissions.access_to(request.user, project)``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from tracker import permissions
from tracker.models import Artifact, Project, Tracker


def project_or_404(request: HttpRequest, shortname: str) -> Project:
    return get_object_or_404(permissions.readable_projects(request.user), shortname=shortname)


def tracker_or_404(request: HttpRequest, pk: int) -> Tracker:
    return get_object_or_404(permissions.readable_trackers(request.user).select_related("project"), pk=pk)


def artifact_or_404(request: HttpRequest, pk: int) -> Artifact:
    return get_object_or_404(
        permissions.readable_artifacts(request.user).select_related(
            "tracker__project", "submitted_by", "last_updated_by"
        ),
        pk=pk,
    )


def require_staff(request: HttpRequest) -> None:
    if not (request.user.is_active and request.user.is_staff):
        raise PermissionDenied("Only site administrators can see this page.")
