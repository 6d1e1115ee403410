"""A tracker's page (its artifacts, paginated, sortable, searchable) and creating a tracker."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tracker import permissions
from tracker.models import Tracker
from tracker.services.artifact_pages import page_of
from tracker.services.artifact_query import (
    DEFAULT_SORT,
    SEARCH_MAX_LENGTH,
    TrackerContext,
    chosen_columns,
    matching_artifacts,
)
from tracker.services.artifact_query_params import QueryError, parse_query
from tracker.services.saved_queries import visible_saved_queries
from tracker.services.trackers import TrackerSpec, create_tracker
from tracker.web.access import project_or_404, tracker_or_404
from tracker.web.artifact_table import filter_form, headers_for, rows_for
from tracker.web.forms import TrackerCreateForm

ARTIFACTS_PER_PAGE = 50


@login_required
def tracker_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The tracker's artifacts, filtered, searched and sorted by the URL's parameters (a GET form:
    a filtered list is a link people share and bookmark). The rules are artifact_query's."""
    tracker = tracker_or_404(request, pk)
    context = TrackerContext.of(tracker)
    errors: dict[str, list[str]] = {}
    try:
        query = parse_query(context, request.GET, request.user, lenient=True)
    except QueryError as error:
        query, errors = None, error.errors
    page = rows = None
    columns = chosen_columns(context, query.columns if query else context.default_columns())
    if query is not None:
        artifacts = matching_artifacts(request.user, context, query).select_related(
            "submitted_by", "last_updated_by"
        )
        page = page_of(artifacts, request.GET.get("page"), ARTIFACTS_PER_PAGE)
        rows, _ = rows_for(page.artifacts, columns, context)
    return render(
        request,
        "tracker/tracker_detail.html",
        {
            "project": tracker.project,
            "tracker": tracker,
            "access": permissions.access_to(request.user, tracker.project),
            "page": page,
            "rows": rows,
            "headers": headers_for(columns, query.sort if query else DEFAULT_SORT),
            "query": query,
            "errors": errors,
            "notes": query.notes if query else {},
            "sort": query.sort if query else DEFAULT_SORT,
            "text": request.GET.get("q", "")[:SEARCH_MAX_LENGTH],
            "form": filter_form(context, request.GET, query),
            "saved_queries": list(visible_saved_queries(request.user, tracker)),
            # What "Save this query" saves: the URL's parameters, less the page number.
            "current_query": _without_page(request),
        },
        # A URL with bad parameters is a bad request, shown as a page that says what is wrong.
        status=400 if errors else 200,
    )


def _without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


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
