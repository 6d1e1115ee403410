"""Creating projects and managing their members."""

from __future__ import annotations

from django.db import transaction

from tracker.models import Membership, Project, User

# Words the site's own URLs use after /projects/ (the web's /projects/new/): no project may be named so.
RESERVED_SHORTNAMES = frozenset({"new"})


@transaction.atomic
def create_project(
    *, shortname: str, name: str, creator: User | None, description: str = "", is_public: bool = True
) -> Project:
    """Create a project; its creator becomes its first administrator."""
    project = Project.objects.create(
        shortname=shortname, name=name, description=description, is_public=is_public
    )
    if creator is not None:
        Membership.objects.create(project=project, user=creator, role=Membership.Role.ADMIN)
    return project


def set_member(project: Project, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


def remove_member(project: Project, user: User) -> None:
    Membership.objects.filter(project=project, user=user).delete()
