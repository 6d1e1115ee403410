"""The signed-in user's own preferences."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tracker.web.forms import PreferencesForm


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST if request.method == "POST" else None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        # Only this column: a whole-row save could undo a concurrent change (last_login, password).
        form.save(commit=False).save(update_fields=["notify_own_changes"])
        messages.success(request, "Preferences saved.")
        return redirect("tracker:preferences")
    return render(request, "tracker/preferences.html", {"form": form})
