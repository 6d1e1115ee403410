"""The page a confirmation email links to: the address's owner confirms or refuses its notifications.

No login: the owner of an address may have no account. The link (signed, valid 7 days) is the proof
that they read the email; GET only shows the question, as mail scanners open links on their own.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from tracker.services import notification_list


@require_http_methods(["GET", "POST"])
def confirm_address(request: HttpRequest, token: str) -> HttpResponse:
    entry = notification_list.entry_for_token(token)
    outcome = ""
    if entry is not None and request.method == "POST":
        if request.POST.get("answer") == "confirm":
            notification_list.confirm(entry)
            outcome = "confirmed"
        elif request.POST.get("answer") == "remove":
            notification_list.remove_entry(entry)
            outcome = "removed"
    return render(
        request,
        "tracker/notification_confirm.html",
        {"entry": entry, "outcome": outcome, "days": notification_list.CONFIRMATION_VALIDITY.days},
        status=200 if entry is not None else 404,
    )
