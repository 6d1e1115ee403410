"""JSON errors for the API: field-level messages, the right status, never a 500 for bad input."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tracker.services.artifacts import NON_FIELD, ArtifactValidationError

NON_FIELD_ERRORS = "non_field_errors"


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


ERROR_DESCRIPTIONS = {
    400: "Invalid input: an object mapping each faulty field to its messages.",
    401: "No valid credentials were given.",
    403: "You may read this object but not do this.",
    404: "No such object, or one you may not read.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an operation; each body is a JSON object."""
    return {
        code: OpenApiResponse(OpenApiTypes.OBJECT, description=ERROR_DESCRIPTIONS[code]) for code in codes
    }
