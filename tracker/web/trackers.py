"""A tracker's page (its artifacts, paginated, sortable, searchable) and creating a tracker."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tracker import permissions
from tracker.models import Artifact, Field, FieldOption, FieldType, Tracker
from tracker.services.history import ValueRenderer
from tracker.services.trackers import TrackerSpec, create_tracker
from tracker.web.access import project_or_404, tracker_or_404
from tracker.web.forms import TrackerCreateForm

ARTIFACTS_PER_PAGE = 50
# ?sort= keys people may use, and what they mean; anything else falls back to DEFAULT_SORT.
SORTS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "-id": ("-id",),
    "updated": ("last_updated_on", "id"),
    "-updated": ("-last_updated_on", "-id"),
}
DEFAULT_SORT = "-id"
SEARCH_MAX_LENGTH = 200


@dataclass
class ArtifactRow:
    artifact: Artifact
    status: FieldOption | None
    assignee: str


def _column(fields: list[Field], name: str, kind: str) -> Field | None:
    """The field shown as a column: the one with the usual name, else the first of that type."""
    of_kind = [f for f in fields if f.type == kind]
    return next((f for f in of_kind if f.name == name), of_kind[0] if of_kind else None)


@login_required
def tracker_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tracker = tracker_or_404(request, pk)
    fields = list(tracker.fields.filter(hidden=False).order_by("rank", "id"))
    status_field = _column(fields, "status", FieldType.SELECT)
    assignee_field = _column(fields, "assigned_to", FieldType.USER)

    sort = request.GET.get("sort", DEFAULT_SORT)
    if sort not in SORTS:
        sort = DEFAULT_SORT
    # PostgreSQL refuses NUL characters in a query: they could only come from a crafted URL.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]
    artifacts = tracker.artifacts.select_related("last_updated_by").order_by(*SORTS[sort])
    if query:
        artifacts = artifacts.filter(title__icontains=query)
    # get_page() turns a bad or out-of-range ?page= into the first or last page, never an error.
    page = Paginator(artifacts, ARTIFACTS_PER_PAGE).get_page(request.GET.get("page"))

    columns = [f for f in (status_field, assignee_field) if f is not None]
    renderer = ValueRenderer.for_values(columns, [a.current_values for a in page.object_list])
    rows = [
        ArtifactRow(
            artifact=artifact,
            status=(
                renderer.options.get(artifact.current_values.get(str(status_field.pk)))
                if status_field
                else None
            ),
            assignee=(
                renderer.text(assignee_field, artifact.current_values.get(str(assignee_field.pk)))
                if assignee_field
                else ""
            ),
        )
        for artifact in page.object_list
    ]
    return render(
        request,
        "tracker/tracker_detail.html",
        {
            "project": tracker.project,
            "tracker": tracker,
            "access": permissions.access_to(request.user, tracker.project),
            "page": page,
            "rows": rows,
            "status_field": status_field,
            "assignee_field": assignee_field,
            "sort": sort,
            "query": query,
        },
    )


@login_required
def tracker_create(request: HttpRequest, shortname: str) -> HttpResponse:
    project = project_or_404(request, shortname)
    access = permissions.access_to(request.user, project)
    access.require_admin()
    form = TrackerCreateForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        spec = TrackerSpec(
            name=data["name"],
            shortname=data["shortname"],
            description=data["description"],
            color=data["color"].lower(),
        )
        try:
            tracker: Tracker = create_tracker(project, spec)
        except IntegrityError:
            # Someone created a tracker with the same name or short name since the form was checked.
            form.add_error(None, "A tracker with this name or short name was just created; choose another.")
        else:
            messages.success(request, f"Tracker {tracker.name} created with the default fields.")
            return redirect("tracker:tracker-detail", pk=tracker.pk)
    return render(
        request,
        "tracker/tracker_create.html",
        {"project": project, "access": access, "form": form},
    )
