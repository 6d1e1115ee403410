"""Projects: the list of readable projects, creating one, a project's page, and its members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tracker import permissions
from tracker.models import Membership, User
from tracker.services import memberships
from tracker.services.projects import create_project
from tracker.web.access import project_or_404
from tracker.web.forms import MemberAddForm, MemberRoleForm, ProjectCreateForm


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = (
        permissions.readable_projects(request.user)
        .annotate(tracker_count=Count("trackers", distinct=True))
        .order_by("name")
    )
    return render(
        request,
        "tracker/project_list.html",
        {"projects": projects, "may_create": permissions.may_create_project(request.user)},
    )


@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    if not permissions.may_create_project(request.user):
        raise PermissionDenied("Only site administrators create projects here (PROJECT_CREATORS=staff).")
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            project = create_project(
                shortname=data["shortname"],
                name=data["name"],
                description=data["description"],
                is_public=data["is_public"],
                creator=request.user,
            )
        except IntegrityError:
            # Someone took the short name between the form's check and the insert.
            form.add_error("shortname", "A project with this short name was just created; choose another.")
        else:
            messages.success(request, f"Project {project.name} created; you are its administrator.")
            return redirect("tracker:project-detail", shortname=project.shortname)
    return render(request, "tracker/project_create.html", {"form": form, "here": "New project"})


@login_required
def project_detail(request: HttpRequest, shortname: str) -> HttpResponse:
    project = project_or_404(request, shortname)
    trackers = (
        permissions.visible_trackers(project).annotate(artifact_count=Count("artifacts")).order_by("name")
    )
    members = project.memberships.select_related("user").order_by("role", "user__username")
    return render(
        request,
        "tracker/project_detail.html",
        {
            "project": project,
            "access": permissions.access_to(request.user, project),
            "trackers": trackers,
            "members": members,
        },
    )


@login_required
def project_members(request: HttpRequest, shortname: str) -> HttpResponse:
    project = project_or_404(request, shortname)
    access = permissions.access_to(request.user, project)
    access.require_admin()
    form = MemberAddForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            membership = memberships.add_member(
                project, form.cleaned_data["identifier"], role=form.cleaned_data["role"]
            )
        except memberships.MembershipError as error:
            form.add_error("identifier", str(error))
        else:
            messages.success(request, f"{membership.user.display_name} is now a member of {project.name}.")
            return redirect("tracker:project-members", shortname=project.shortname)
    members = project.memberships.select_related("user").order_by("role", "user__username")
    return render(
        request,
        "tracker/project_members.html",
        {
            "project": project,
            "access": access,
            "members": members,
            "form": form,
            "roles": Membership.Role.choices,
        },
    )


def _member_or_404(
    request: HttpRequest, shortname: str, user_id: int
) -> tuple[permissions.ProjectAccess, Membership]:
    project = project_or_404(request, shortname)
    access = permissions.access_to(request.user, project)
    access.require_admin()
    membership = get_object_or_404(
        Membership.objects.select_related("user", "project"), project=project, user_id=user_id
    )
    return access, membership


@login_required
@require_POST
def member_role(request: HttpRequest, shortname: str, user_id: int) -> HttpResponse:
    _, membership = _member_or_404(request, shortname, user_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: member or administrator.")
    else:
        try:
            memberships.change_role(membership.project, membership.user, form.cleaned_data["role"])
        except memberships.MembershipError as error:
            messages.error(request, str(error))
        else:
            role = Membership.Role(form.cleaned_data["role"]).label.lower()
            messages.success(request, f"{membership.user.display_name}'s role is now {role}.")
    return redirect("tracker:project-members", shortname=shortname)


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, shortname: str, user_id: int) -> HttpResponse:
    _, membership = _member_or_404(request, shortname, user_id)
    user: User = membership.user
    project = membership.project
    if request.method == "GET":  # the list's "Remove" asks first; the form below posts here
        return render(
            request,
            "tracker/confirm_removal.html",
            {
                "project": project,
                "here": "Remove a member",
                "question": f"Remove {user.display_name} from {project.name}?",
                "consequence": (
                    f"{user.display_name} will no longer edit its artifacts"
                    + ("" if project.is_public else " nor read them")
                    + "; what they wrote stays in the history."
                ),
                "cancel_url": reverse("tracker:project-members", args=[project.shortname]),
            },
        )
    try:
        memberships.remove_member(membership.project, user)
    except memberships.MembershipError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{user.display_name} is no longer a member of {membership.project.name}.")
    return redirect("tracker:project-members", shortname=shortname)
