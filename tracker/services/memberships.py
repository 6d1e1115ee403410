"""Managing a project's members from its members page: a project always keeps an administrator.

Members are named by username only. An email address is refused with the same answer whether or not an
account has it: answering "added" for one and "unknown" for the other would tell anyone who may add
members (any account: it creates a project and administers it) who has an account here.
"""

from __future__ import annotations

from django.db import transaction

from tracker.models import Membership, Project, User


class MembershipError(Exception):
    """A membership change refused for a reason the administrator can fix; the message says how."""


LAST_ADMIN_MESSAGE = (
    "{user} is the last administrator of this project: make someone else an administrator first."
)


BY_USERNAME_ONLY = (
    "Add people by their username; an email address is not accepted here, so that it tells nothing "
    "about who has an account."
)


def user_named(username: str) -> User:
    """The active user with this username, or MembershipError (the same for any email address)."""
    username = username.strip()
    if "@" in username:
        raise MembershipError(BY_USERNAME_ONLY)
    user = User.objects.active_named(username)
    if user is None:
        raise MembershipError(f"No active user is named {username!r}.")
    return user


def add_member(project: Project, username: str, *, role: str = Membership.Role.MEMBER) -> Membership:
    """Add the user named ``username``."""
    user = user_named(username)
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
