"""The API artifact list's query parameters: the web page's filters (tracker.services.artifact_query),
described for the OpenAPI schema, and a 400 naming each bad parameter."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from tracker.models import Artifact
from tracker.services.artifact_query import TrackerContext, matching_artifacts
from tracker.services.artifact_query_params import FIELD_PARAMETER, PARAMETERS, QueryError, parse_query

# Parameters a client may repeat (?status=1&status=2); the others are given once.
REPEATABLE = {"status", "assignee", "submitter"}
DATES = {"submitted_after", "submitted_before", "updated_after", "updated_before"}
# Page display only: the API returns every value of each artifact.
PAGE_ONLY = {"columns"}


def _parameter(name: str, description: str) -> OpenApiParameter:
    if name in REPEATABLE:
        return OpenApiParameter(name, OpenApiTypes.STR, many=True, explode=True, description=description)
    kind = OpenApiTypes.DATE if name in DATES else OpenApiTypes.STR
    if name == "state":
        return OpenApiParameter(name, kind, enum=["open", "closed"], description=description)
    return OpenApiParameter(name, kind, description=description)


PARAMETERS_SCHEMA = [_parameter(name, text) for name, text in PARAMETERS.items() if name not in PAGE_ONLY]
DESCRIPTION = (
    "The filters of the tracker's web page, as query parameters; each bad parameter is named in a 400. "
    f"Besides those listed: {FIELD_PARAMETER}"
)


def filtered_artifacts(request: Request, context: TrackerContext) -> QuerySet[Artifact]:
    """The tracker's readable artifacts matching the request's parameters, or a 400."""
    try:
        query = parse_query(context, request.query_params, request.user)
    except QueryError as error:
        raise ValidationError(error.errors) from None
    return matching_artifacts(request.user, context, query)
