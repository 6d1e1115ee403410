"""Managing a project's members from its members page: a project always keeps an administrator."""

from __future__ import annotations

from django.db import transaction

from tracker.models import Membership, Project, User
from tracker.services.fields import find_user


class MembershipError(Exception):
    """A membership change refused for a reason the administrator can fix; the message says how."""


LAST_ADMIN_MESSAGE = (
    "{user} is the last administrator of this project: make someone else an administrator first."
)


def add_member(project: Project, identifier: str, *, role: str = Membership.Role.MEMBER) -> Membership:
    """Add the user named by ``identifier`` (username or email address)."""
    user = find_user(identifier)
    if user is None:
        raise MembershipError(f"No active user has the username or email address {identifier.strip()!r}.")
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            project=project, user=user, defaults={"role": role}
        )
    if not created:
        raise MembershipError(f"{user.display_name} is already a member of this project.")
    return membership


def _other_admins_exist(project: Project, user: User) -> bool:
    # Lock the administrators' rows: two admins demoting each other at once must not both succeed.
    admins = (
        Membership.objects.select_for_update()
        .filter(project=project, role=Membership.Role.ADMIN)
        .values_list("user_id", flat=True)
    )
    return any(user_id != user.pk for user_id in admins)


@transaction.atomic
def change_role(project: Project, user: User, role: str) -> Membership:
    membership = Membership.objects.select_for_update().get(project=project, user=user)
    if (
        membership.role == Membership.Role.ADMIN
        and role != Membership.Role.ADMIN
        and not _other_admins_exist(project, user)
    ):
        raise MembershipError(LAST_ADMIN_MESSAGE.format(user=user.display_name))
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(project: Project, user: User) -> None:
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        return
    if membership.role == Membership.Role.ADMIN and not _other_admins_exist(project, user):
        raise MembershipError(LAST_ADMIN_MESSAGE.format(user=user.display_name))
    membership.delete()
