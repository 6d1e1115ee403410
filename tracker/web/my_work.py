"""The "My work" page: what is assigned to me, what I submitted, what I watch, in every project I read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracker.services.my_work import MY_WORK_LIMIT, my_work


@login_required
def my_work_page(request: HttpRequest) -> HttpResponse:
    work = my_work(request.user)
    sections = [
        ("assigned", "Assigned to me", work.assigned),
        ("submitted", "Submitted by me", work.submitted),
        ("watched", "Watched", work.watched),
    ]
    return render(request, "tracker/my_work.html", {"sections": sections, "limit": MY_WORK_LIMIT})
