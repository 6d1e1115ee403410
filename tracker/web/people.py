"""The people pickers' endpoint: ``GET /people/?project=<id>&purpose=<form>&q=<prefix>``, JSON.

Asked by ``tracker/static/tracker/js/pickers.js`` while someone types in a user field, the member form
or the notification-list form. It answers only whom that form may name (the search and its limits are
in :mod:`tracker.services.people_search`); the forms' own validation stays the authority.

Each account may ask :data:`SEARCHES_PER_MINUTE` times a minute (DRF's user throttle, counted in the
Django cache): enough for someone typing, too few to list a site's accounts prefix by prefix.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rest_framework.throttling import UserRateThrottle

from tracker import permissions
from tracker.plain_numbers import is_plain_number
from tracker.services.people_search import PeopleSearchError, parse_purpose, search_people

SEARCHES_PER_MINUTE = 60


class PeopleSearchThrottle(UserRateThrottle):
    """Per account (its id), in its own cache keys: the API's throttles, if any, count apart."""

    scope = "people_search"
    # Set here rather than in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]: DRF reads those once, at import.
    rate = f"{SEARCHES_PER_MINUTE}/min"


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _too_many(wait: float | None) -> JsonResponse:
    seconds = max(1, round(wait or 60))
    response = _error(
        f"Too many searches (at most {SEARCHES_PER_MINUTE} a minute): try again in {seconds} s.", 429
    )
    response["Retry-After"] = str(seconds)
    return response


@never_cache  # personal data: no shared cache keeps it
@require_GET
@login_required
def people_search(request: HttpRequest) -> JsonResponse:
    # Before anything else: bad requests and other projects' 404s count too (they also tell things).
    throttle = PeopleSearchThrottle()
    if not throttle.allow_request(request, None):
        return _too_many(throttle.wait())
    project_id = request.GET.get("project", "")
    if not is_plain_number(project_id):
        return _error("Give the project's id: ?project=<id>.", 400)
    try:
        purpose = parse_purpose(request.GET.get("purpose", ""))
    except PeopleSearchError as error:
        return _error(str(error), 400)
    # A project the asker may not read is one that does not exist, as everywhere else (404).
    project = permissions.readable_projects(request.user).filter(pk=int(project_id)).first()
    if project is None:
        return _error("No such project.", 404)
    access = permissions.access_to(request.user, project)
    if not (access.can_admin if purpose.needs_admin else access.can_write):
        return _error("You may not fill this form in this project.", 403)
    try:
        people = search_people(project, purpose, request.GET.get("q", ""))
    except PeopleSearchError as error:
        return _error(str(error), 400)
    return JsonResponse({"results": [person.as_json() for person in people]})
