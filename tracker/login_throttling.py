"""Login throttling with django-axes: what a locked-out login gets, and whose address a login comes from.

After ``LOGIN_FAILURE_LIMIT`` failed logins for one username, or from one address, further logins of
that username or from that address are refused for ``LOGIN_COOLOFF_MINUTES``, the right password
included (axes' backend refuses before any password is checked). The web login, the admin's login and
the API's token login (``POST /api/auth/token/``) all go through ``authenticate()``, so all three count.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from tracker.api.errors import is_api

STATUS = 429


def lockout_message() -> str:
    minutes = settings.LOGIN_COOLOFF_MINUTES
    return (
        f"Too many failed logins for this account or from your address: logging in is refused for "
        f"{minutes} minute{'s' if minutes != 1 else ''}, even with the right password. Try again later."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: JSON under /api/, the login page with the reason elsewhere."""
    message = lockout_message()
    if is_api(request):
        response: HttpResponse = JsonResponse({"detail": message}, status=STATUS)
    else:
        username = (credentials or {}).get("username") or request.POST.get("username", "")
        form = AuthenticationForm(request, initial={"username": username[:150]})
        response = render(
            request,
            "registration/login.html",
            {"form": form, "lockout": message, "next": request.POST.get("next", "")},
            status=STATUS,
        )
    response["Retry-After"] = str(settings.LOGIN_COOLOFF_MINUTES * 60)
    return response


def client_address(request: HttpRequest) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address of whoever sent the request.

    Behind ``TRUSTED_PROXIES`` reverse proxies that each append their peer's address to
    X-Forwarded-For, the client is the entry that many places from its right end; what lies left of
    it was written by the client and proves nothing. With no trusted proxy, X-Forwarded-For is ignored
    (anyone could send one to escape the per-address lockout).
    """
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.TRUSTED_PROXIES
    if not hops:
        return remote
    forwarded = [item.strip() for item in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [item for item in forwarded if item]
    if len(forwarded) < hops:
        return remote
    return forwarded[-hops]
