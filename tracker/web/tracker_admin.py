"""Tracker administration for project administrators: fields, their values and order, notifications."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tracker import permissions
from tracker.models import Field, NotificationListEntry, Tracker
from tracker.models.trackers import OPTION_COLORS
from tracker.services import fields as field_admin
from tracker.services import notification_list
from tracker.web.access import tracker_or_404
from tracker.web.forms import (
    FieldCreateForm,
    FieldEditForm,
    FieldOptionForm,
    NotificationEntryForm,
)


def _admin_tracker(request: HttpRequest, pk: int) -> tuple[Tracker, permissions.ProjectAccess]:
    tracker = tracker_or_404(request, pk)
    access = permissions.access_to(request.user, tracker.project)
    access.require_admin()
    return tracker, access


def _admin_field(request: HttpRequest, pk: int) -> tuple[Field, permissions.ProjectAccess]:
    field_ = get_object_or_404(
        Field.objects.filter(tracker__in=permissions.readable_trackers(request.user)).select_related(
            "tracker__project"
        ),
        pk=pk,
    )
    access = permissions.access_to(request.user, field_.tracker.project)
    access.require_admin()
    return field_, access


def _render_admin(
    request: HttpRequest,
    tracker: Tracker,
    access: permissions.ProjectAccess,
    *,
    field_form: FieldCreateForm | None = None,
    notification_form: NotificationEntryForm | None = None,
) -> HttpResponse:
    return render(
        request,
        "tracker/tracker_admin.html",
        {
            "project": tracker.project,
            "tracker": tracker,
            "access": access,
            "fields": tracker.fields.annotate(option_count=Count("options")).order_by("rank", "id"),
            "notification_list": tracker.notification_list.select_related("user").order_by(
                "email", "user__username"
            ),
            "field_form": field_form or FieldCreateForm(),
            "notification_form": notification_form or NotificationEntryForm(project=tracker.project),
            "gateway_domain": settings.EMAIL_GATEWAY_DOMAIN,
        },
    )


@login_required
def tracker_admin(request: HttpRequest, pk: int) -> HttpResponse:
    tracker, access = _admin_tracker(request, pk)
    return _render_admin(request, tracker, access)


# The "Add a value" form shares the field page with the field's own form: ids of its own, so that
# its "New value" label does not point at the field's Label box.
OPTION_IDS = "id_option_%s"

# The forms that re-render their page on an error post to URLs of their own; such a URL answers GET
# (a reload, a bookmarked address after the error) with the page the form is on, never a 405.
GET_OR_POST = require_http_methods(["GET", "POST"])


@login_required
@GET_OR_POST
def field_create(request: HttpRequest, pk: int) -> HttpResponse:
    tracker, access = _admin_tracker(request, pk)
    if request.method == "GET":
        return redirect("tracker:tracker-admin", pk=tracker.pk)
    form = FieldCreateForm(request.POST)
    if form.is_valid():
        try:
            field_ = field_admin.add_field(tracker, **form.cleaned_data)
        except field_admin.TrackerAdminError as error:
            form.add_error("name", str(error))
        else:
            messages.success(request, f"Field {field_.label} added.")
            if field_.is_choice_field:
                return redirect("tracker:field-edit", pk=field_.pk)
            return redirect("tracker:tracker-admin", pk=tracker.pk)
    return _render_admin(request, tracker, access, field_form=form)


@login_required
def field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    field_, access = _admin_field(request, pk)
    form = FieldEditForm(request.POST if request.method == "POST" else None, field_=field_)
    if request.method == "POST" and form.is_valid():
        try:
            field_admin.update_field(
                field_,
                label=form.cleaned_data["label"],
                required=form.cleaned_data["required"],
                help_text=form.cleaned_data["help_text"],
                notify=form.cleaned_data.get("notify", False),
                default_option_id=form.cleaned_data.get("default_option"),
            )
        except field_admin.TrackerAdminError as error:
            form.add_error("default_option", str(error))
        else:
            messages.success(request, f"Field {field_.label} saved.")
            return redirect("tracker:tracker-admin", pk=field_.tracker_id)
    return _render_field(request, field_, access, form=form)


def _render_field(
    request: HttpRequest,
    field_: Field,
    access: permissions.ProjectAccess,
    *,
    form: FieldEditForm | None = None,
    option_form: FieldOptionForm | None = None,
) -> HttpResponse:
    return render(
        request,
        "tracker/field_edit.html",
        {
            "project": field_.tracker.project,
            "tracker": field_.tracker,
            "field": field_,
            "access": access,
            "form": form or FieldEditForm(field_=field_),
            "options": field_.options.all() if field_.is_choice_field else [],
            "option_form": option_form or FieldOptionForm(auto_id=OPTION_IDS),
            "colors": list(OPTION_COLORS.items()),
        },
    )


@login_required
@require_POST
def field_move(request: HttpRequest, pk: int) -> HttpResponse:
    field_, _ = _admin_field(request, pk)
    field_admin.move_field(field_, up=request.POST.get("direction") == "up")
    return redirect("tracker:tracker-admin", pk=field_.tracker_id)


@login_required
@GET_OR_POST
def option_create(request: HttpRequest, pk: int) -> HttpResponse:
    field_, access = _admin_field(request, pk)
    if request.method == "GET":
        return redirect("tracker:field-edit", pk=field_.pk)
    form = FieldOptionForm(request.POST, auto_id=OPTION_IDS)
    if form.is_valid():
        try:
            option = field_admin.add_option(
                field_, label=form.cleaned_data["label"], is_closed=form.cleaned_data["is_closed"]
            )
        except field_admin.TrackerAdminError as error:
            form.add_error("label", str(error))
        else:
            messages.success(request, f"Value {option.label} added to {field_.label}.")
            return redirect("tracker:field-edit", pk=field_.pk)
    return _render_field(request, field_, access, option_form=form)


@login_required
@GET_OR_POST
def notification_add(request: HttpRequest, pk: int) -> HttpResponse:
    tracker, access = _admin_tracker(request, pk)
    if request.method == "GET":
        return redirect("tracker:tracker-admin", pk=tracker.pk)
    form = NotificationEntryForm(request.POST, project=tracker.project)
    if form.is_valid():
        try:
            added = notification_list.add_entry(
                tracker,
                form.cleaned_data["identifier"],
                added_by=request.user,
                on_creation_only=form.cleaned_data["on_creation_only"],
            )
        except notification_list.NotificationListError as error:
            form.add_error("identifier", str(error))
        else:
            messages.success(request, added.message)
            return redirect("tracker:tracker-admin", pk=tracker.pk)
    return _render_admin(request, tracker, access, notification_form=form)


def _admin_entry(request: HttpRequest, pk: int) -> NotificationListEntry:
    entry = get_object_or_404(
        NotificationListEntry.objects.filter(
            tracker__in=permissions.readable_trackers(request.user)
        ).select_related("tracker__project", "user"),
        pk=pk,
    )
    permissions.access_to(request.user, entry.tracker.project).require_admin()
    return entry


@login_required
@GET_OR_POST
def notification_remove(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _admin_entry(request, pk)
    if request.method == "GET":  # the list's "Remove" asks first; the form below posts here
        return render(
            request,
            "tracker/confirm_removal.html",
            {
                "project": entry.tracker.project,
                "tracker": entry.tracker,
                "here": "Remove from the notification list",
                "question": f"Remove {entry} from the notification list of {entry.tracker.name}?",
                "consequence": f"{entry} will no longer get an email for every change of this tracker.",
                "cancel_url": reverse("tracker:tracker-admin", args=[entry.tracker_id]),
            },
        )
    notification_list.remove_entry(entry)
    messages.success(request, f"{entry} removed from the notification list.")
    return redirect("tracker:tracker-admin", pk=entry.tracker_id)


@login_required
@require_POST
def notification_send_confirmation(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _admin_entry(request, pk)
    messages.info(request, notification_list.send_confirmation(entry))
    return redirect("tracker:tracker-admin", pk=entry.tracker_id)
