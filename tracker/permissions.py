"""Who may read, write and administer what. Every view, API endpoint and query goes through here."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from tracker.models import Artifact, JiraImport, Membership, Project, Tracker, User

AnyUser = User | AnonymousUser


def readable_projects(user: AnyUser) -> QuerySet[Project]:
    """Public projects for any logged-in user, private ones for their members, all for site admins."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    is_member = Membership.objects.filter(project=OuterRef("pk"), user=user)
    return Project.objects.filter(Q(is_public=True) | Exists(is_member))


def trackers_being_imported() -> QuerySet[JiraImport]:
    """Ids of trackers a Jira import is still filling: nobody sees them half-built."""
    return JiraImport.objects.filter(status__in=JiraImport.ACTIVE, tracker__isnull=False).values("tracker_id")


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


def can_read_project(user: AnyUser, project: Project) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or project.is_public or role_in(user, project) is not None


def can_write_project(user: AnyUser, project: Project) -> bool:
    """Only members (or site admins) create and edit artifacts."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or role_in(user, project) is not None


def can_admin_project(user: AnyUser, project: Project) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or role_in(user, project) == Membership.Role.ADMIN


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
