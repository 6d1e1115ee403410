"""``GET /metrics``: the Prometheus exposition for the whole platform, behind basic auth."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from tracker.monitoring.auth import REALM, has_valid_credentials, log_once, metrics_secret, secret_problem
from tracker.monitoring.collectors import scrape

PLAIN_TEXT = "text/plain; charset=utf-8"


def _closed(problem: str) -> HttpResponse:
    log_once(logging.WARNING, problem)
    response = HttpResponse(f"{problem}\n", status=503, content_type=PLAIN_TEXT)
    # Django logs every 5xx answer at ERROR (django.utils.log.log_response skips a response marked as
    # logged already): without this, each scrape of an unconfigured /metrics would be an error line.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    secret = metrics_secret()
    problem = secret_problem(secret)
    if problem or secret is None:
        return _closed(problem or "/metrics is disabled.")
    if not has_valid_credentials(request, secret):
        response = HttpResponse(
            "Authentication required: user 'metrics' and the metrics secret.\n",
            status=401,
            content_type=PLAIN_TEXT,
        )
        response["WWW-Authenticate"] = f'Basic realm="{REALM}"'
        return response
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
