"""Pages for site administrators only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracker.models import SystemEvent
from tracker.web.access import require_staff

SYSTEM_EVENTS_SHOWN = 100


@login_required
def system_events(request: HttpRequest) -> HttpResponse:
    require_staff(request)
    events = SystemEvent.objects.order_by("-created_at", "-id")[:SYSTEM_EVENTS_SHOWN]
    return render(request, "tracker/system_events.html", {"events": events, "limit": SYSTEM_EVENTS_SHOWN})
