"""Artifacts: creating one, its page (values, edit form, latest history), watching it, its attachments."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tracker import permissions
from tracker.models import Attachment, Changeset, Field, Tracker
from tracker.plain_numbers import plain_number
from tracker.services.artifacts import (
    ArtifactValidationError,
    NothingToSave,
    create_artifact,
    update_artifact,
)
from tracker.services.history import artifact_view
from tracker.services.history_pages import history_window
from tracker.services.references import backlinks, linked_page
from tracker.services.subscriptions import is_watching, set_watching
from tracker.services.thumbnails import attachment_items
from tracker.services.time_entries import time_sheet
from tracker.web.access import artifact_or_404, tracker_or_404
from tracker.web.artifact_forms import ArtifactForm

CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


def tracker_fields(tracker: Tracker) -> list[Field]:
    """The tracker's fields in form order, with their options (two queries in all)."""
    return list(tracker.fields.prefetch_related("options").order_by("rank", "id"))


def shown(fields: list[Field]) -> list[Field]:
    """The fields forms and the current values show: not the hidden ones (history keeps those)."""
    return [f for f in fields if not f.hidden]


@login_required
def artifact_create(request: HttpRequest, pk: int) -> HttpResponse:
    tracker = tracker_or_404(request, pk)
    access = permissions.access_to(request.user, tracker.project)
    access.require_write()
    fields = shown(tracker_fields(tracker))
    form = ArtifactForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        tracker_fields=fields,
        people=permissions.nameable_users(tracker.project),
        preview_url=reverse("tracker:markdown-preview", args=[tracker.pk]),
    )
    if request.method == "POST" and form.is_valid():
        try:
            changeset = create_artifact(
                tracker, author=request.user, values=form.values_for_creation(), uploads=form.uploads()
            )
        except ArtifactValidationError as error:
            form.add_service_errors(error.errors)
        else:
            messages.success(request, f"{changeset.artifact.reference} created.")
            return redirect(changeset.artifact)
    if request.method == "POST":  # not saved: an error above, or the form's own
        form.note_dropped_files()
    return render(
        request,
        "tracker/artifact_create.html",
        {"project": tracker.project, "tracker": tracker, "access": access, "form": form},
    )


@login_required
def artifact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    artifact = artifact_or_404(request, pk)
    tracker = artifact.tracker
    access = permissions.access_to(request.user, tracker.project)
    if request.method == "POST":
        access.require_write()
    fields = tracker_fields(tracker)
    current = artifact_view(artifact, fields, reader=request.user)
    attachments = list(artifact.attachments.all())
    form = None
    if access.can_write:
        form = ArtifactForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            tracker_fields=shown(fields),
            people=permissions.nameable_users(tracker.project, also=current.renderer.users.values()),
            current_values=artifact.current_values,
            attachments=attachments,
            with_comment=True,
            rich_text=current.renderer.rich_text,  # an imported artifact: its text is HTML
            comment_format=request.session.get(COMMENT_FORMAT_SESSION_KEY, Changeset.CommentFormat.TEXT),
            preview_url=reverse("tracker:markdown-preview", args=[tracker.pk]),
        )
        if request.method == "POST" and form.is_valid():
            remember_comment_format(request, form.cleaned_data["comment_format"])
            try:
                update_artifact(
                    artifact,
                    author=request.user,
                    values=form.values_for_update(artifact.current_values),
                    comment=form.cleaned_data["comment"],
                    comment_format=form.cleaned_data["comment_format"] or Changeset.CommentFormat.TEXT,
                    uploads=form.uploads(),
                )
            except NothingToSave:
                # Shown where the person looks after pressing the button (the top of the page), and
                # nothing they typed is lost: they typed nothing.
                messages.info(request, NothingToSave.MESSAGE)
                return redirect(artifact)
            except ArtifactValidationError as error:
                form.add_service_errors(error.errors)
            else:
                messages.success(request, "Changes saved.")
                return redirect(artifact)
        if request.method == "POST":
            form.note_dropped_files()
    history = history_window(
        artifact,
        fields,
        before=_positive_int(request.GET.get("before")),
        newest_first=_newest_first(request),
        reader=request.user,
    )
    return render(
        request,
        "tracker/artifact_detail.html",
        {
            "project": tracker.project,
            "tracker": tracker,
            "artifact": artifact,
            "access": access,
            # References (`bug #42`) become links for what this reader may read: after the stored HTML.
            "current": linked_page(
                request.user, [row for row in current.current() if not row[0].hidden], history.entries
            ),
            "rich_text": current.renderer.rich_text,
            "closed_fields": current.closed_field_ids(),
            "option_colors": current.option_colors(),
            "attachments": attachments,
            "attachment_items": attachment_items(attachments),  # with thumbnails for images
            "history": history,
            "backlinks": backlinks(request.user, artifact),
            "time_sheet": time_sheet(artifact),
            "watching": bool(is_watching(artifact, request.user)),
            "form": form,
        },
    )


COMMENT_FORMAT_SESSION_KEY = "comment_format"


def remember_comment_format(request: HttpRequest, chosen: str) -> None:
    """The comment format the person sent becomes the one their next comment form starts with.

    Kept in the session, like the history's order: a reading preference of this browser, no column
    to migrate. Remembered even when the save fails, since the form shown again keeps the choice.
    """
    if chosen in Changeset.CommentFormat.values and chosen != Changeset.CommentFormat.HTML:
        request.session[COMMENT_FORMAT_SESSION_KEY] = chosen


HISTORY_ORDERS = {"newest": True, "oldest": False}


def _newest_first(request: HttpRequest) -> bool:
    """The reader's order of the history: ``?order=newest|oldest``, remembered in their session.

    Oldest first unless asked: the history reads as a conversation ending at the edit form.
    """
    asked = request.GET.get("order")
    if asked in HISTORY_ORDERS:
        request.session["history_order"] = asked
        return HISTORY_ORDERS[asked]
    return HISTORY_ORDERS.get(request.session.get("history_order", "oldest"), False)


def _positive_int(raw: str | None) -> int | None:
    return plain_number(raw) or None  # 0 is no id


@login_required
@require_POST
def artifact_watch(request: HttpRequest, pk: int) -> HttpResponse:
    artifact = artifact_or_404(request, pk)
    watching = request.POST.get("watch") == "1"
    set_watching(artifact, request.user, watching=watching)
    if watching:
        messages.success(request, "You are watching this artifact: you will get an email about each change.")
    else:
        messages.success(request, "You no longer get emails about this artifact.")
    return redirect(artifact)


def safe_filename(name: str) -> str:
    """A name that cannot escape a folder or break the Content-Disposition header."""
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c != '"').strip(" .")
    return name[:200] or "attachment"


@login_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    attachment = get_object_or_404(
        Attachment.objects.filter(artifact__in=permissions.readable_artifacts(request.user)), pk=pk
    )
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("This file is missing from the server.") from None
    content_type = attachment.content_type if CONTENT_TYPE.match(attachment.content_type) else ""
    return FileResponse(
        handle,
        as_attachment=True,
        filename=safe_filename(attachment.filename),
        content_type=content_type or "application/octet-stream",
    )
