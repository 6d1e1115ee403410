"""The Markdown preview: ``POST /trackers/<id>/preview/`` with ``text``, answered as JSON ``{"html": ...}``.

Asked by ``tracker/static/tracker/js/markdown_preview.js`` when someone opens the "Preview" tab of a
Markdown textarea (a comment, an imported artifact's text field). The text goes through the very
renderer, budget and sanitizer that store comments (:func:`tracker.services.rendering.render_comment`),
so the preview is what will be saved, a note included when the text is past the budget.

Only people who may write in the tracker's project get an answer, as only they see the form: a tracker
they may not read does not exist (404), one they may only read answers 403. A POST, so Django's CSRF
middleware requires the form's token (the script sends it in ``X-CSRFToken``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from tracker import permissions
from tracker.services.rendering import MARKDOWN, render_comment
from tracker.services.values import TEXT_MAX_LENGTH


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@never_cache  # what someone is writing: no shared cache keeps it
@login_required
@require_POST
def markdown_preview(request: HttpRequest, pk: int) -> JsonResponse:
    tracker = permissions.readable_trackers(request.user).select_related("project").filter(pk=pk).first()
    if tracker is None:
        raise Http404("No such tracker.")
    if not permissions.access_to(request.user, tracker.project).can_write:
        return _error(f"Only members of {tracker.project.name} can write here.", 403)
    text = request.POST.get("text", "").replace("\r\n", "\n")
    if len(text) > TEXT_MAX_LENGTH:
        return _error(f"Enter at most {TEXT_MAX_LENGTH} characters (this has {len(text)}).", 400)
    return JsonResponse({"html": render_comment(text, MARKDOWN)})
