"""Saving and deleting a query of the tracker page (POST, then back to the list: post/redirect/get)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from tracker.services.artifact_query_params import QueryError
from tracker.services.saved_queries import delete_query, save_query
from tracker.web.access import tracker_or_404


@login_required
@require_POST
def saved_query_create(request: HttpRequest, pk: int) -> HttpResponse:
    tracker = tracker_or_404(request, pk)
    params = QueryDict(request.POST.get("query", "")[:4000])
    list_url = reverse("tracker:tracker-detail", args=[tracker.pk])
    try:
        saved = save_query(
            request.user,
            tracker,
            name=request.POST.get("name", ""),
            params=params,
            shared=request.POST.get("shared") == "1",
        )
    except QueryError as error:
        for messages_ in error.errors.values():
            for message in messages_:
                messages.error(request, f"The query was not saved: {message}")
        return redirect(f"{list_url}?{params.urlencode()}")
    messages.success(request, f"Query “{saved.name}” saved.")
    return redirect(f"{list_url}?{saved.query_string}")


@login_required
@require_POST
def saved_query_delete(request: HttpRequest, pk: int) -> HttpResponse:
    tracker = delete_query(request.user, pk)
    if tracker is None:
        raise Http404("No such saved query of yours.")
    messages.success(request, "Saved query deleted.")
    return redirect("tracker:tracker-detail", pk=tracker.pk)
