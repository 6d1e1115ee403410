"""The signed-in user's profile: name and email, password, notification preferences.

One page, three forms, each posting to its own address. A form with errors is shown again on the
page (200), a saved one redirects back to it (post/redirect/get); each address also answers GET
with the page, so reloading after an error never gives a 405.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tracker.models import User
from tracker.services import accounts
from tracker.web.forms import PreferencesForm


class ProfileForm(forms.Form):
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        required=False,  # an account without one (made by an import) may still change its name
        help_text="A new address is used once you open the confirmation link we email to it.",
    )


def _profile_page(request: HttpRequest, **bound: Any) -> HttpResponse:
    user = request.user
    context = {
        "profile_form": ProfileForm(
            initial={"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
        ),
        "password_form": PasswordChangeForm(user),
        "preferences_form": PreferencesForm(instance=user),
        **bound,
    }
    return render(request, "tracker/profile.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _profile_page(request)
    user: User = request.user  # type: ignore[assignment]
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, profile_form=form)
    data = form.cleaned_data
    accounts.change_name(user, first_name=data["first_name"], last_name=data["last_name"])
    try:
        outcome = accounts.request_email_change(user, data["email"])
    except accounts.AccountError as error:
        form.add_error("email", str(error))
        messages.success(request, "Name saved.")
        return _profile_page(request, profile_form=form)
    messages.success(request, "Name saved.")
    if outcome:
        messages.info(request, outcome)
    return redirect("tracker:profile")


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _profile_page(request)
    # Django's form: checks the old password, then AUTH_PASSWORD_VALIDATORS (ours included) on the new.
    form = PasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _profile_page(request, password_form=form)
    form.save()
    # Changing the password logs out every other session; this one stays signed in.
    update_session_auth_hash(request, form.user)
    messages.success(request, "Password changed.")
    return redirect("tracker:profile")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _profile_page(request)
    form = PreferencesForm(request.POST, instance=request.user)
    if not form.is_valid():
        return _profile_page(request, preferences_form=form)
    # Only these columns: a whole-row save could undo a concurrent change (last_login, password).
    form.save(commit=False).save(update_fields=list(PreferencesForm.Meta.fields))
    messages.success(request, "Preferences saved.")
    return redirect("tracker:profile")


@login_required
@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the confirmation email. GET only asks: mail scanners open links on their own."""
    change = accounts.change_for_token(token, request.user)  # type: ignore[arg-type]
    if change is None:
        return render(
            request,
            "tracker/email_confirm.html",
            {"change": None, "days": accounts.EMAIL_CHANGE_VALIDITY.days},
            status=404,
        )
    if request.method == "POST":
        try:
            accounts.confirm_email_change(change)
        except accounts.AccountError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Your email address is now {change.address}.")
        return redirect("tracker:profile")
    return render(request, "tracker/email_confirm.html", {"change": change})
