"""JSON errors for the API: field-level messages, the right status, never a 500 for bad input."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tracker.services.artifacts import ArtifactValidationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ArtifactValidationError):
        return Response({"values": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
