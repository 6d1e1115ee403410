"""Hiding, deleting, renaming, ordering and colouring fields and select values (project admins only).

Every action posts and redirects (post/redirect/get); a refusal comes back as a message on the page
the administrator was on. Deleting asks first, like removing a member (tracker/confirm_removal.html).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tracker import permissions
from tracker.models import FieldOption, Tracker
from tracker.services import fields as field_admin
from tracker.web.tracker_admin import _admin_field


def _admin_option(request: HttpRequest, pk: int) -> FieldOption:
    option = get_object_or_404(
        FieldOption.objects.filter(
            field__tracker__in=permissions.readable_trackers(request.user)
        ).select_related("field__tracker__project"),
        pk=pk,
    )
    permissions.access_to(request.user, option.field.tracker.project).require_admin()
    return option


def _confirm(
    request: HttpRequest,
    tracker: Tracker,
    *,
    here: str,
    question: str,
    consequence: str,
    cancel_url: str,
    refused: bool,
    hide_url: str,
) -> HttpResponse:
    return render(
        request,
        "tracker/confirm_removal.html",
        {
            "project": tracker.project,
            "tracker": tracker,
            "here": here,
            "question": question,
            "consequence": consequence,
            "cancel_url": cancel_url,
            "confirm_label": "Delete",
            "refused": refused,
            "hide_url": hide_url if refused else "",
        },
    )


@login_required
@require_POST
def field_hide(request: HttpRequest, pk: int) -> HttpResponse:
    field_, _ = _admin_field(request, pk)
    hidden = request.POST.get("hidden") == "1"
    try:
        field_admin.set_field_hidden(field_, hidden=hidden)
    except field_admin.TrackerAdminError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Field {field_.label} {'hidden' if hidden else 'shown again'}.")
    return redirect("tracker:tracker-admin", pk=field_.tracker_id)


@login_required
@require_http_methods(["GET", "POST"])
def field_delete(request: HttpRequest, pk: int) -> HttpResponse:
    field_, _ = _admin_field(request, pk)
    admin_url = reverse("tracker:tracker-admin", args=[field_.tracker_id])
    if request.method == "GET":
        used = field_admin.field_is_used(field_)
        return _confirm(
            request,
            field_.tracker,
            here=f"Delete field {field_.label}",
            question=f"Delete the field {field_.label}?",
            consequence=(
                "Artifacts' history holds values of this field, so it cannot be deleted: hide it instead."
                if used
                else "No artifact has a value in it; it will be gone for good."
            ),
            cancel_url=admin_url,
            refused=used,
            hide_url=reverse("tracker:field-hide", args=[field_.pk]),
        )
    try:
        field_admin.delete_field(field_)
    except field_admin.TrackerAdminError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Field {field_.label} deleted.")
    return redirect(admin_url)


@login_required
@require_POST
def option_update(request: HttpRequest, pk: int) -> HttpResponse:
    option = _admin_option(request, pk)
    try:
        field_admin.update_option(
            option,
            label=request.POST.get("label", ""),
            is_closed=request.POST.get("is_closed") == "on",
            color=request.POST.get("color", ""),
        )
    except field_admin.TrackerAdminError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Value {option.label} saved.")
    return redirect("tracker:field-edit", pk=option.field_id)


@login_required
@require_POST
def option_move(request: HttpRequest, pk: int) -> HttpResponse:
    option = _admin_option(request, pk)
    field_admin.move_option(option, up=request.POST.get("direction") == "up")
    return redirect("tracker:field-edit", pk=option.field_id)


@login_required
@require_POST
def option_hide(request: HttpRequest, pk: int) -> HttpResponse:
    option = _admin_option(request, pk)
    hidden = request.POST.get("hidden") == "1"
    field_admin.set_option_hidden(option, hidden=hidden)
    messages.success(request, f"Value {option.label} {'hidden' if hidden else 'offered again'}.")
    return redirect("tracker:field-edit", pk=option.field_id)


@login_required
@require_http_methods(["GET", "POST"])
def option_delete(request: HttpRequest, pk: int) -> HttpResponse:
    option = _admin_option(request, pk)
    field_url = reverse("tracker:field-edit", args=[option.field_id])
    if request.method == "GET":
        used = field_admin.option_is_used(option)
        return _confirm(
            request,
            option.field.tracker,
            here=f"Delete value {option.label}",
            question=f"Delete the value {option.label} of {option.field.label}?",
            consequence=(
                "Artifacts have or had this value, so it cannot be deleted: hide it instead."
                if used
                else "No artifact ever had this value; it will be gone for good."
            ),
            cancel_url=field_url,
            refused=used,
            hide_url=reverse("tracker:option-hide", args=[option.pk]),
        )
    try:
        field_admin.delete_option(option)
    except field_admin.TrackerAdminError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Value {option.label} deleted.")
    return redirect(field_url)
