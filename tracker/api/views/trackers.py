from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from tracker import permissions
from tracker.api.artifact_filters import DESCRIPTION, PARAMETERS_SCHEMA, filtered_artifacts
from tracker.api.artifact_serializers import ArtifactSerializer
from tracker.api.errors import error_responses
from tracker.api.serializers import TrackerCreateSerializer, TrackerSerializer
from tracker.api.views.base import JsonApiView
from tracker.api.views.projects import readable_project
from tracker.models import Artifact, Tracker
from tracker.services.artifact_query import TrackerContext
from tracker.services.trackers import DEFAULT_FIELDS, FieldSpec, TrackerSpec, create_tracker
from tracker.services.value_rendering import ValueRenderer


def with_fields(trackers: QuerySet[Tracker]) -> QuerySet[Tracker]:
    return trackers.prefetch_related("fields__options")


def field_spec(definition: dict[str, Any]) -> FieldSpec:
    return FieldSpec(**{**definition, "options": tuple(definition["options"])})


class ProjectTrackers(mixins.ListModelMixin, JsonApiView):
    serializer_class = TrackerSerializer

    def get_queryset(self) -> QuerySet[Tracker]:
        if self.building_schema:
            return Tracker.objects.none()
        project = readable_project(self.request, self.kwargs["pk"])
        return with_fields(permissions.visible_trackers(project).order_by("name", "id"))

    @extend_schema(
        summary="A project's trackers", responses={200: TrackerSerializer, **error_responses(401, 404)}
    )
    def get(self, request: Request, pk: int) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Create a tracker (project administrators)",
        request=TrackerCreateSerializer,
        responses={201: TrackerSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        project = readable_project(request, pk)
        if not permissions.can_admin_project(request.user, project):
            raise PermissionDenied("Only the project's administrators can create trackers.")
        serializer = TrackerCreateSerializer(data=request.data, context={"project": project})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        definitions = data.get("fields")
        spec = TrackerSpec(
            name=data["name"],
            shortname=data["shortname"],
            description=data["description"],
            color=data["color"],
            fields=[field_spec(d) for d in definitions] if definitions else DEFAULT_FIELDS,
        )
        try:
            with transaction.atomic():
                tracker = create_tracker(project, spec)
        except IntegrityError:
            # A concurrent request created a tracker with the same name or shortname.
            raise serializers.ValidationError(
                {"shortname": ["This project already has a tracker with this name or shortname."]}
            ) from None
        tracker = with_fields(Tracker.objects.filter(pk=tracker.pk)).get()
        return Response(self.get_serializer(tracker).data, status=status.HTTP_201_CREATED)


class TrackerDetail(JsonApiView):
    serializer_class = TrackerSerializer

    @extend_schema(
        summary="A tracker and its fields", responses={200: TrackerSerializer, **error_responses(401, 404)}
    )
    def get(self, request: Request, pk: int) -> Response:
        tracker = get_object_or_404(with_fields(permissions.readable_trackers(request.user)), pk=pk)
        return Response(self.get_serializer(tracker).data)


class TrackerArtifacts(mixins.ListModelMixin, JsonApiView):
    """A page of artifacts in a bounded number of queries, however many artifacts and values."""

    serializer_class = ArtifactSerializer

    def get_queryset(self) -> QuerySet[Artifact]:
        if self.building_schema:
            return Artifact.objects.none()
        self.tracker = get_object_or_404(
            permissions.readable_trackers(self.request.user), pk=self.kwargs["pk"]
        )
        self.query_context = TrackerContext.of(self.tracker)
        return filtered_artifacts(self.request, self.query_context).select_related(
            "tracker", "submitted_by", "last_updated_by"
        )

    @extend_schema(
        summary="A tracker's artifacts, filtered and sorted (newest first by default)",
        description=DESCRIPTION,
        parameters=PARAMETERS_SCHEMA,
        responses={200: ArtifactSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        artifacts = self.get_queryset()
        page = self.paginate_queryset(artifacts)
        fields = self.query_context.fields
        renderer = ValueRenderer.for_values(fields, [artifact.current_values for artifact in page])
        context = {**self.get_serializer_context(), "fields": {self.tracker.pk: fields}, "renderer": renderer}
        return self.get_paginated_response(ArtifactSerializer(page, many=True, context=context).data)
