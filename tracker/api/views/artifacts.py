from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tracker import permissions
from tracker.api import idempotency
from tracker.api.artifact_serializers import (
    ArtifactCreateSerializer,
    ArtifactSerializer,
    ArtifactUpdateSerializer,
    ChangesetSerializer,
)
from tracker.api.errors import error_responses
from tracker.api.pagination import ChangesetCursorPagination
from tracker.api.views.base import JsonApiView
from tracker.models import Artifact, Changeset, Project
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.history import entries_for, tracker_fields
from tracker.services.history_pages import consecutive, only_comments, with_previous_values
from tracker.services.value_rendering import ValueRenderer


def readable_artifact(request: Request, pk: int) -> Artifact:
    """The artifact, or a 404 when it does not exist or the user may not read its project."""
    artifacts = permissions.readable_artifacts(request.user).select_related(
        "tracker__project", "submitted_by", "last_updated_by"
    )
    return get_object_or_404(artifacts, pk=pk)


def require_write(request: Request, project: Project) -> None:
    if not permissions.can_write_project(request.user, project):
        raise PermissionDenied("Only the project's members can create and edit its artifacts.")


class ArtifactResponseMixin(JsonApiView):
    def artifact_body(self, artifact: Artifact) -> dict:
        fields = tracker_fields(artifact.tracker)
        context = {
            **self.get_serializer_context(),
            "fields": {artifact.tracker_id: fields},
            "renderer": ValueRenderer.for_values(fields, [artifact.current_values]),
        }
        return dict(ArtifactSerializer(artifact, context=context).data)

    def artifact_response(self, artifact: Artifact, *, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(self.artifact_body(artifact), status=status_code)


class ArtifactCreate(ArtifactResponseMixin):
    serializer_class = ArtifactCreateSerializer

    @extend_schema(
        summary="Create an artifact (project members)",
        request=ArtifactCreateSerializer,
        parameters=[idempotency.PARAMETER],
        responses={201: ArtifactSerializer, **error_responses(400, 401, 403), **idempotency.RESPONSES},
    )
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tracker = data["tracker"]
        require_write(request, tracker.project)

        def perform() -> idempotency.Answer:
            changeset = create_artifact(
                tracker,
                author=request.user,
                values=data["values"],
                comment=data["comment"],
                comment_format=data["comment_format"],
            )
            # Built before the commit (idempotency.run holds the transaction): nothing fails after it.
            artifact = readable_artifact(request, changeset.artifact_id)
            return status.HTTP_201_CREATED, self.artifact_body(artifact), artifact.pk

        return idempotency.run(request, perform)


class ArtifactDetail(ArtifactResponseMixin):
    serializer_class = ArtifactSerializer
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(
        summary="An artifact and its current values",
        responses={200: ArtifactSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return self.artifact_response(readable_artifact(request, pk))

    @extend_schema(
        summary="Change values and/or comment (project members); adds a changeset",
        request=ArtifactUpdateSerializer,
        parameters=[idempotency.PARAMETER],
        responses={200: ArtifactSerializer, **error_responses(400, 401, 403, 404), **idempotency.RESPONSES},
    )
    def patch(self, request: Request, pk: int) -> Response:
        artifact = readable_artifact(request, pk)
        require_write(request, artifact.tracker.project)
        serializer = ArtifactUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def perform() -> idempotency.Answer:
            update_artifact(
                artifact,
                author=request.user,
                values=data["values"],
                comment=data["comment"],
                comment_format=data["comment_format"],
            )
            # Built before the commit (idempotency.run holds the transaction): nothing fails after it.
            return status.HTTP_200_OK, self.artifact_body(readable_artifact(request, pk)), pk

        return idempotency.run(request, perform)


COMMENTS_ONLY = OpenApiParameter(
    "comments_only",
    OpenApiTypes.BOOL,
    description="Only the changesets with a comment (their changes still show old -> new).",
)


class ArtifactChangesets(JsonApiView):
    serializer_class = ChangesetSerializer
    pagination_class = ChangesetCursorPagination

    @extend_schema(
        summary="An artifact's history, oldest first, by pages (cursor)",
        parameters=[COMMENTS_ONLY],
        responses={200: ChangesetSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        artifact = readable_artifact(request, pk)
        fields = tracker_fields(artifact.tracker)
        changesets = Changeset.objects.filter(artifact=artifact)
        if _flag(request, "comments_only"):
            changesets = with_previous_values(only_comments(changesets))
        else:
            changesets = consecutive(changesets)
        page = self.paginate_queryset(changesets)
        entries = entries_for(artifact, page, fields)
        changes = [change for entry in entries for change in entry.changes]
        renderer = ValueRenderer.for_values(
            fields,
            [{str(change.field.pk): change.old} for change in changes]
            + [{str(change.field.pk): change.new} for change in changes],
        )
        context = {**self.get_serializer_context(), "renderer": renderer}
        return self.get_paginated_response(ChangesetSerializer(entries, many=True, context=context).data)


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "").strip().lower()
    if raw in {"", "0", "false", "no"}:
        return False
    if raw in {"1", "true", "yes"}:
        return True
    raise ValidationError({name: ["Use 1 or 0 (true or false)."]})
