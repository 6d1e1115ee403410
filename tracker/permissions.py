"""Who may read, write and administer what. Every view, API endpoint and query goes through here.

The rules, each written once:

- reading: public projects for every active logged-in user, private ones for their members, all for
  site admins (staff); trackers a Jira import is still filling are hidden from everyone;
- writing (creating and editing artifacts): members and site admins;
- administering (trackers, fields, members, notification lists): project admins and site admins;
- naming someone in a user field: the project's active members and site admins, plus whoever the
  artifact already names (so an email address cannot be used to find out who has an account);
- notification lists: users who are members or site admins; plain addresses once their owner
  confirmed them, or at once when a site admin adds them (nobody can make the platform mail strangers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet

from tracker.models import Artifact, JiraImport, JiraImportTracker, Membership, Project, Tracker, User

AnyUser = User | AnonymousUser


def readable_projects(user: AnyUser) -> QuerySet[Project]:
    """Public projects for any logged-in user, private ones for their members, all for site admins."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    is_member = Membership.objects.filter(project=OuterRef("pk"), user=user)
    return Project.objects.filter(Q(is_public=True) | Exists(is_member))


def trackers_being_imported() -> QuerySet[Tracker]:
    """Trackers a Jira import is still filling (each of its trackers): nobody sees them half-built."""
    return Tracker.objects.filter(
        Q(pk__in=JiraImport.objects.filter(status__in=JiraImport.ACTIVE).values("tracker_id"))
        | Q(
            pk__in=JiraImportTracker.objects.filter(jira_import__status__in=JiraImport.ACTIVE).values(
                "tracker_id"
            )
        )
    ).values("pk")


def visible_trackers(project: Project) -> QuerySet[Tracker]:
    """A project's trackers, less those still being imported (the import's page shows its progress)."""
    return project.trackers.exclude(pk__in=trackers_being_imported())


def readable_trackers(user: AnyUser) -> QuerySet[Tracker]:
    return Tracker.objects.filter(project__in=readable_projects(user)).exclude(
        pk__in=trackers_being_imported()
    )


def readable_artifacts(user: AnyUser) -> QuerySet[Artifact]:
    return Artifact.objects.filter(tracker__project__in=readable_projects(user)).exclude(
        tracker__in=trackers_being_imported()
    )


def role_in(user: AnyUser, project: Project) -> str | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


@dataclass(frozen=True)
class ProjectAccess:
    """What a user may do in one project, computed with a single query."""

    can_read: bool
    can_write: bool
    can_admin: bool

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied("Only members of this project can create and edit artifacts.")

    def require_admin(self) -> None:
        if not self.can_admin:
            raise PermissionDenied("Only administrators of this project can do this.")


NO_ACCESS = ProjectAccess(can_read=False, can_write=False, can_admin=False)


def access_to(user: AnyUser, project: Project) -> ProjectAccess:
    if not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    if user.is_staff:
        return ProjectAccess(can_read=True, can_write=True, can_admin=True)
    role = role_in(user, project)
    return ProjectAccess(
        can_read=project.is_public or role is not None,
        can_write=role is not None,
        can_admin=role == Membership.Role.ADMIN,
    )


def can_read_project(user: AnyUser, project: Project) -> bool:
    return access_to(user, project).can_read


def can_write_project(user: AnyUser, project: Project) -> bool:
    """Only members (or site admins) create and edit artifacts."""
    return access_to(user, project).can_write


def can_admin_project(user: AnyUser, project: Project) -> bool:
    return access_to(user, project).can_admin


def may_create_project(user: AnyUser) -> bool:
    """PROJECT_CREATORS: every account, or site admins only; the web page and the API ask here."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_staff or settings.PROJECT_CREATORS == "everyone"


def _nameable(project_id: int) -> Q:
    return Q(memberships__project_id=project_id) | Q(is_staff=True)


def nameable_users(project: Project, *, also: Iterable[User] = ()) -> list[User]:
    """Whom a user field of the project may name, for pickers: active members and site admins (by
    username), then the people the artifact already names (``also``)."""
    people = {
        user.pk: user
        for user in User.objects.filter(_nameable(project.pk), is_active=True).distinct().order_by("username")
    }
    for user in also:
        people.setdefault(user.pk, user)
    return list(people.values())


def nameable_people(project_id: int) -> QuerySet[User]:
    """The active people a user field (or a notification list) of the project may name, as a queryset
    for the people pickers' search: the rule of :func:`nameable_users`, without ``also``."""
    return User.objects.filter(_nameable(project_id), is_active=True).distinct()


def nameable_among(
    project_id: int, user_ids: Iterable[int], *, already_named: Iterable[int] = ()
) -> set[int]:
    """Which of ``user_ids`` a user field of the project may name (one query): the same rule as
    :func:`nameable_users`, for the artifact service's validation."""
    ids = set(user_ids)
    if not ids:
        return set()
    allowed = set(
        User.objects.filter(_nameable(project_id), pk__in=ids).distinct().values_list("pk", flat=True)
    )
    return allowed | (ids & set(already_named))


def listable_among(project_id: int, user_ids: Iterable[int]) -> set[int]:
    """Which of ``user_ids`` may be on a notification list of the project: its members and site admins
    (one query). Anyone else would get mail that a project administrator wrote for them."""
    return nameable_among(project_id, user_ids)


def address_needs_confirmation(user: AnyUser) -> bool:
    """A plain address put on a notification list waits for its owner's confirmation, unless a site
    administrator (who runs the platform) adds it."""
    return not (user.is_authenticated and user.is_active and user.is_staff)


def readers_among(project: Project, users: list[User]) -> list[User]:
    """The given users who may read the project (one query whatever their number)."""
    if project.is_public:
        return [user for user in users if user.is_active]
    member_ids = set(
        Membership.objects.filter(project=project, user__in=[user.pk for user in users]).values_list(
            "user_id", flat=True
        )
    )
    return [user for user in users if user.is_active and (user.is_staff or user.pk in member_ids)]


def artifacts_readable_by_all(users: list[User], artifact_ids: Iterable[int]) -> set[int]:
    """Which of ``artifact_ids`` every one of ``users`` may read (two queries whatever their number):
    the same rule as :func:`readable_artifacts`, for an email that a group of people reads."""
    ids = set(artifact_ids)
    if not ids or not users or any(not user.is_active for user in users):
        return set()
    rows = list(
        Artifact.objects.filter(pk__in=ids)
        .exclude(tracker__in=trackers_being_imported())
        .values_list("pk", "tracker__project_id", "tracker__project__is_public")
    )
    others = {user.pk for user in users if not user.is_staff}
    private = {project_id for _, project_id, is_public in rows if not is_public}
    members: dict[int, set[int]] = {}
    if others and private:
        for project_id, user_id in Membership.objects.filter(
            project_id__in=private, user_id__in=others
        ).values_list("project_id", "user_id"):
            members.setdefault(project_id, set()).add(user_id)
    return {pk for pk, project_id, is_public in rows if is_public or others <= members.get(project_id, set())}


# Jira imports


def _requested(user: AnyUser, jira_import: JiraImport) -> bool:
    return user.is_authenticated and user.pk == jira_import.requested_by_id


def readable_imports(user: AnyUser) -> QuerySet[JiraImport]:
    """The imports of the projects the user may read: their pages, their progress, the API."""
    return JiraImport.objects.filter(project__in=readable_projects(user))


def may_cancel_import(user: AnyUser | None, jira_import: JiraImport) -> bool:
    """The requester or a project administrator; ``None`` is the system (``manage.py import_jira``)."""
    return user is None or _requested(user, jira_import) or can_admin_project(user, jira_import.project)


def may_see_import_emails(user: AnyUser, jira_import: JiraImport) -> bool:
    """The user report names Jira users' email addresses: only for the requester and the project's
    administrators, the people who run imports."""
    return _requested(user, jira_import) or can_admin_project(user, jira_import.project)


def may_import_anywhere(user: AnyUser) -> bool:
    """Site admins and administrators of some project: the Jira look-ups reach out to other servers."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or Membership.objects.filter(user_id=user.pk, role=Membership.Role.ADMIN).exists()


def require_importer(user: AnyUser) -> None:
    """Raise PermissionDenied unless :func:`may_import_anywhere`."""
    if not may_import_anywhere(user):
        raise PermissionDenied("Only project administrators can import from Jira.")


# The email gateway


def may_comment_by_email(user: AnyUser, artifact: Artifact) -> bool:
    """A reply by email adds a comment: the same rule as the artifact page's form (read and write)."""
    if not readable_artifacts(user).filter(pk=artifact.pk).exists():
        return False
    return can_write_project(user, artifact.tracker.project)


def may_create_by_email(user: AnyUser, tracker: Tracker) -> bool:
    """A message to a tracker's address creates an artifact: members (and site admins) of its project,
    and only while the tracker accepts email and is not still being imported."""
    if not tracker.accepts_email or not readable_trackers(user).filter(pk=tracker.pk).exists():
        return False
    return can_write_project(user, tracker.project)


def may_set_email_creation(user: AnyUser, tracker: Tracker) -> bool:
    """Turning create-by-email on or off: the tracker's project administrators (and site admins)."""
    return can_admin_project(user, tracker.project)


def may_update_import(user: AnyUser | None, jira_import: JiraImport) -> bool:
    """Updating an import from Jira writes into its trackers as an import does: the project's
    administrators, as for starting one; ``None`` is the system (the command, the schedule)."""
    return user is None or can_admin_project(user, jira_import.project)


def may_cancel_update(user: AnyUser | None, jira_import: JiraImport, requested_by_id: int | None) -> bool:
    """The update's requester or a project administrator (as for cancelling an import)."""
    if user is None or can_admin_project(user, jira_import.project):
        return True
    return user.is_authenticated and user.pk == requested_by_id
