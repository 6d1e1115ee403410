"""JSON errors for the API: field-level messages, the right status, never a 500 for bad input.

Every answer under ``/api/`` is JSON, also those Django makes itself (an unknown URL, a CSRF failure, a
request too large, an unexpected error): the handlers below are the project's ``handler400`` to
``handler500`` and its CSRF failure view, and answer HTML everywhere else.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tracker.api.parsers import max_body_size, too_large_message
from tracker.services.artifacts import NON_FIELD, ArtifactValidationError

NON_FIELD_ERRORS = "non_field_errors"
API_PREFIX = "/api/"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ArtifactValidationError):
        errors = dict(exc.errors)
        body: dict[str, Any] = {}
        general = errors.pop(NON_FIELD, None)
        comment = errors.pop("comment", None)
        if comment:
            body["comment"] = comment
        if errors:
            body["values"] = errors
        if general:
            body[NON_FIELD_ERRORS] = general
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        # A model or service check that raised Django's own ValidationError: still the client's fault.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": too_large_message(max_body_size())}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError) and isinstance(response.data, list):
        # Every error body is an object, so clients (and the schema) need to handle one shape only.
        response.data = {NON_FIELD_ERRORS: response.data}
    return response


# Exempt, as it changes nothing: a PATCH to a mistyped URL is a 404, not a CSRF failure page.
@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any /api/ URL that matches no endpoint: a JSON 404 rather than the site's HTML page."""
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig) and is_api(request):
        return JsonResponse(
            {"detail": too_large_message(max_body_size())}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=status.HTTP_403_FORBIDDEN
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django has logged the traceback (django.request); the client gets no detail of it.
    if is_api(request):
        return JsonResponse(
            {"detail": "Server error: the administrators can find the cause in the log."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if is_api(request):
        return JsonResponse(
            {"detail": f"CSRF check failed: {reason} Send a token (Authorization: Token ...) instead."},
            status=status.HTTP_403_FORBIDDEN,
        )
    return csrf.csrf_failure(request, reason)


ERROR_DESCRIPTIONS = {
    400: "Invalid input: an object mapping each faulty field to its messages.",
    401: "No valid credentials were given.",
    403: "You may read this object but not do this.",
    404: "No such object, or one you may not read.",
    413: "The request body is too large.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an operation; each body is a JSON object."""
    return {
        code: OpenApiResponse(OpenApiTypes.OBJECT, description=ERROR_DESCRIPTIONS[code]) for code in codes
    }
