"""Updates from Jira over the API: asking a finished import for one, following it, cancelling it.

``POST /api/jira-imports/{id}/update/`` takes the token again (it is not kept after an import) and
answers 202 with the queued run; 409 when the import has not finished or an update is already
running; 503 when the workers' queue (Redis) cannot be reached.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from tracker import permissions
from tracker.api.errors import error_responses
from tracker.api.jira_update_serializers import (
    JiraSyncRequestSerializer,
    JiraSyncRunSerializer,
    JiraSyncScheduleSerializer,
    JiraUpdateRequestSerializer,
)
from tracker.api.views.base import JsonApiView
from tracker.api.views.jira_imports import UNAVAILABLE, readable_imports
from tracker.jira_import import schedules, update_service
from tracker.models import JiraSyncRun, JiraSyncSchedule, User

REFUSED = {
    409: OpenApiResponse(
        OpenApiTypes.OBJECT, description="The import has not finished, or an update of it is already running."
    )
}


def readable_updates(user: User) -> QuerySet[JiraSyncRun]:
    return JiraSyncRun.objects.filter(jira_import__in=permissions.readable_imports(user)).select_related(
        "jira_import", "jira_import__project", "requested_by"
    )


class JiraImportUpdate(JsonApiView):
    serializer_class = JiraSyncRunSerializer

    @extend_schema(
        summary="Update a finished Jira import with what changed in Jira since (project administrators)",
        description="Asks Jira for the issues of the import's project and issue types updated since the "
        "last run, and adds only what is new: new issues, changelog entries, comments, work logs, "
        "attachments, links and sprints; edited comments are updated in place. Changes made here are "
        "never overwritten (conflicts are listed). Follow the run at /api/jira-updates/{id}/.",
        request=JiraUpdateRequestSerializer,
        responses={
            202: OpenApiResponse(JiraSyncRunSerializer, description="The update is queued."),
            **error_responses(400, 401, 403, 404),
            **REFUSED,
            **UNAVAILABLE,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        jira_import = get_object_or_404(readable_imports(request.user), pk=pk)
        if not permissions.may_update_import(request.user, jira_import):
            raise PermissionDenied("Only the project's administrators can update an import from Jira.")
        query = JiraUpdateRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        try:
            sync_run = update_service.start_update(
                jira_import, requested_by=request.user, token=query.validated_data["token"]
            )
        except update_service.ImportUnavailable as error:
            return Response({"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        except update_service.UpdateRefused as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(sync_run).data, status=status.HTTP_202_ACCEPTED)


class JiraUpdateDetail(JsonApiView):
    serializer_class = JiraSyncRunSerializer

    @extend_schema(
        summary="An update from Jira: status, progress, counts, conflicts, issues gone from Jira",
        responses={200: JiraSyncRunSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(get_object_or_404(readable_updates(request.user), pk=pk)).data)


class JiraUpdateCancel(JsonApiView):
    serializer_class = JiraSyncRunSerializer

    @extend_schema(
        summary="Cancel a pending or running update from Jira (the requester or project administrators)",
        description="What a running update wrote before it stops is kept: it is Jira's, once each.",
        request=None,
        responses={200: JiraSyncRunSerializer, **error_responses(401, 403, 404), **REFUSED},
    )
    def post(self, request: Request, pk: int) -> Response:
        sync_run = get_object_or_404(readable_updates(request.user), pk=pk)
        if not sync_run.is_active:
            return Response(
                {"detail": f"This update has already ended ({sync_run.status})."},
                status=status.HTTP_409_CONFLICT,
            )
        try:
            update_service.cancel_update(sync_run, by=request.user)
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from None
        return Response(self.get_serializer(sync_run).data)


class JiraImportSync(JsonApiView):
    serializer_class = JiraSyncScheduleSerializer

    @extend_schema(
        summary="Keep a finished Jira import in sync every N minutes for a while (project administrators)",
        description="The only case in which the Jira token is kept after a run: encrypted, and erased when "
        "the sync stops (DELETE, the end of the period, or three failed updates in a row).",
        request=JiraSyncRequestSerializer,
        responses={201: JiraSyncScheduleSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        jira_import = get_object_or_404(readable_imports(request.user), pk=pk)
        if not permissions.may_update_import(request.user, jira_import):
            raise PermissionDenied("Only the project's administrators can keep an import in sync.")
        query = JiraSyncRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        # ValidationError (interval, days) goes to the exception handler: a 400 keyed by field.
        schedule = schedules.start_schedule(
            jira_import,
            requested_by=request.user,
            token=data["token"],
            interval_minutes=data["interval_minutes"],
            days=data["days"],
        )
        return Response(self.get_serializer(schedule).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The import's scheduled sync",
        responses={200: JiraSyncScheduleSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        jira_import = get_object_or_404(readable_imports(request.user), pk=pk)
        schedule = get_object_or_404(JiraSyncSchedule, jira_import=jira_import)
        return Response(self.get_serializer(schedule).data)

    @extend_schema(
        summary="Stop syncing and forget the token",
        request=None,
        responses={200: JiraSyncScheduleSerializer, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        jira_import = get_object_or_404(readable_imports(request.user), pk=pk)
        if not permissions.may_update_import(request.user, jira_import):
            raise PermissionDenied("Only the project's administrators can stop the sync.")
        schedule = get_object_or_404(JiraSyncSchedule, jira_import=jira_import)
        schedules.stop_schedule(schedule)
        return Response(self.get_serializer(schedule).data)
