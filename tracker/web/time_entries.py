"""Adding one's own time entry from an artifact's page (the list and its total are on the page)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tracker import permissions
from tracker.services.time_entries import InvalidTimeEntry, add_time_entry, parse_duration
from tracker.web.access import artifact_or_404


class TimeEntryForm(forms.Form):
    spent = forms.CharField(label="Time spent", max_length=50, help_text='Like "1h 30m", "45m" or "2d".')
    started_on = forms.DateTimeField(label="Started", required=False, help_text="Empty: now.")
    comment = forms.CharField(label="Work done", required=False, max_length=5000, widget=forms.Textarea)


@login_required
@require_POST
def time_entry_add(request: HttpRequest, pk: int) -> HttpResponse:
    artifact = artifact_or_404(request, pk)
    permissions.access_to(request.user, artifact.tracker.project).require_write()
    form = TimeEntryForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(artifact)
    try:
        add_time_entry(
            artifact,
            user=request.user,
            seconds=parse_duration(form.cleaned_data["spent"]),
            started_on=form.cleaned_data["started_on"],
            comment=form.cleaned_data["comment"],
        )
    except InvalidTimeEntry as error:
        messages.error(request, " ".join(error.errors.values()))
    else:
        messages.success(request, "Time entry added.")
    return redirect(artifact)
