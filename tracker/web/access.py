"""Fetching what a request names, through tracker.permissions: unreadable things do not exist (404)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from tracker import permissions
from tracker.models import Artifact, Membership, Project, Tracker


@dataclass(frozen=True)
class Access:
    """What the current user may do in one project, computed with a single query."""

    can_write: bool
    can_admin: bool

    @classmethod
    def to(cls, request: HttpRequest, project: Project) -> Access:
        user = request.user
        if user.is_staff and user.is_active:
            return cls(can_write=True, can_admin=True)
        role = permissions.role_in(user, project)
        return cls(can_write=role is not None, can_admin=role == Membership.Role.ADMIN)

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied("Only members of this project can create and edit artifacts.")

    def require_admin(self) -> None:
        if not self.can_admin:
            raise PermissionDenied("Only administrators of this project can do this.")


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
