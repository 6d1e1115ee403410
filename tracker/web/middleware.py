"""Requests no view should see: refused with a 400 before the rest of the middleware reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

from tracker.plain_numbers import is_plain_number


def reject_malformed_content_length(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A ``Content-Length`` that is not a number is a 400 (RFC 9110 §8.6: one or more ASCII digits).

    Why here: django-prometheus's ``PrometheusAfterMiddleware`` calls ``int()`` on the header, so
    "abc" or "²" was a 500 under ``make run`` (runserver passes the header on; gunicorn refuses such a
    request itself). Django's handler400 answers, in JSON under /api/.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH")
        # Django's own test client and some servers send an empty value for "no body".
        if declared and not is_plain_number(declared.strip(), max_digits=30):
            raise BadRequest("The Content-Length header is not a number.")
        return get_response(request)

    return middleware
