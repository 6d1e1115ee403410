"""An artifact's time entries over the API: the list (with the total) and adding one's own."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from tracker.api.errors import error_responses
from tracker.api.views.artifacts import readable_artifact
from tracker.api.views.base import JsonApiView
from tracker.models import TimeEntry
from tracker.services.time_entries import MAX_SECONDS, InvalidTimeEntry, add_time_entry, time_sheet
from tracker.services.value_rendering import person_name


class TimeEntrySerializer(serializers.ModelSerializer):
    user = serializers.SerializerMethodField(help_text="The username of who logged it (null: unknown).")
    user_name = serializers.SerializerMethodField(
        help_text='The name to show; people imported without an account here are e.g. "Carol Diaz (Jira)".'
    )

    class Meta:
        model = TimeEntry
        fields = ["id", "user", "user_name", "started_on", "seconds", "comment", "created_on"]
        read_only_fields = fields

    def get_user(self, entry: TimeEntry) -> str | None:
        return entry.user.username if entry.user else None

    def get_user_name(self, entry: TimeEntry) -> str:
        return person_name(entry.user) if entry.user else ""


class TimeEntryListSerializer(serializers.Serializer):
    total_seconds = serializers.IntegerField()
    entries = TimeEntrySerializer(many=True)


class TimeEntryCreateSerializer(serializers.Serializer):
    seconds = serializers.IntegerField(min_value=1, max_value=MAX_SECONDS)
    started_on = serializers.DateTimeField(required=False, help_text="When the work started; default: now.")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ArtifactTimeEntries(JsonApiView):
    serializer_class = TimeEntrySerializer

    @extend_schema(
        summary="An artifact's time entries, oldest first, and their total",
        responses={200: TimeEntryListSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        sheet = time_sheet(readable_artifact(request, pk))
        return Response(
            {
                "total_seconds": sheet.total_seconds,
                "entries": TimeEntrySerializer(sheet.entries, many=True).data,
            }
        )

    @extend_schema(
        summary="Log time spent on an artifact (the project's members, for themselves)",
        request=TimeEntryCreateSerializer,
        responses={201: TimeEntrySerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        artifact = readable_artifact(request, pk)
        query = TimeEntryCreateSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        try:
            entry = add_time_entry(artifact, user=request.user, **query.validated_data)
        except DjangoPermissionDenied:
            raise PermissionDenied("Only the project's members can log time on its artifacts.") from None
        except InvalidTimeEntry as error:
            raise serializers.ValidationError(
                {key: [message] for key, message in error.errors.items()}
            ) from None
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
