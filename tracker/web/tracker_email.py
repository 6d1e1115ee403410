"""Create by email, on the tracker's administration page: a project admin turns it on or off."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tracker import permissions
from tracker.services.trackers import EmailAddressTaken, set_email_creation
from tracker.web.access import tracker_or_404


class EmailCreationForm(forms.Form):
    accepts_email = forms.BooleanField(required=False, label="Members may create artifacts by email")
    email_local_part = forms.CharField(
        required=False,
        max_length=64,
        label="Address (before the @)",
        help_text="Empty: the tracker's short name.",
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "Use letters, digits, '.', '-' or '_'.")],
    )


@login_required
@require_POST
def email_creation(request: HttpRequest, pk: int) -> HttpResponse:
    tracker = tracker_or_404(request, pk)
    if not permissions.may_set_email_creation(request.user, tracker):
        raise PermissionDenied("Only administrators of this project can do this.")
    form = EmailCreationForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return redirect("tracker:tracker-admin", pk=tracker.pk)
    try:
        set_email_creation(
            tracker,
            enabled=form.cleaned_data["accepts_email"],
            local_part=form.cleaned_data["email_local_part"],
        )
    except EmailAddressTaken as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, "Create by email is on." if tracker.accepts_email else "Create by email is off."
        )
    return redirect("tracker:tracker-admin", pk=tracker.pk)
