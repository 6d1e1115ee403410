"""The Jira import over the API: the wizard's look-ups, starting, following and cancelling an import.

The look-ups are POSTs because they carry credentials, which never go in a URL. Jira's failures are
400 answers naming the field to correct (``url``, ``token``, ``jira_project_key``), like the wizard's
form; 503 when the workers' queue (Redis) cannot be reached, so no import can start.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from tracker import permissions
from tracker.api.errors import NON_FIELD_ERRORS, error_responses
from tracker.api.jira_serializers import (
    JiraCredentialsSerializer,
    JiraImportRequestSerializer,
    JiraImportSerializer,
    JiraIssueTypeSerializer,
    JiraIssueTypesRequestSerializer,
    JiraProjectSerializer,
)
from tracker.api.views.base import JsonApiView
from tracker.api.views.projects import readable_project
from tracker.jira_import import discovery, schedules, services
from tracker.jira_import.credentials import JiraCredentials
from tracker.jira_import.errors import JiraAccessError
from tracker.jira_import.url_guard import RefusedURL
from tracker.models import JiraImport, User

UNAVAILABLE = {
    503: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Imports cannot start now: the backend workers' queue (Redis) cannot be reached.",
    )
}
ALREADY_ENDED = {409: OpenApiResponse(OpenApiTypes.OBJECT, description="The import has already ended.")}


def jira_failure(error: JiraAccessError | RefusedURL) -> serializers.ValidationError:
    """A 400 naming the field to correct, with Jira's failure in words (it never holds the token)."""
    return serializers.ValidationError({error.field or NON_FIELD_ERRORS: [str(error)]})


def readable_imports(user: User) -> QuerySet[JiraImport]:
    return (
        permissions.readable_imports(user)
        .select_related("project", "requested_by")
        .prefetch_related("planned_trackers")
    )


class JiraProjectLookup(JsonApiView):
    serializer_class = JiraProjectSerializer

    @extend_schema(
        summary="The Jira projects these credentials can see (project administrators)",
        request=JiraCredentialsSerializer,
        responses={200: JiraProjectSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        permissions.require_importer(request.user)
        query = JiraCredentialsSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        try:
            found = discovery.list_projects(JiraCredentials(**query.credentials_kwargs()))
        except (JiraAccessError, RefusedURL) as error:
            raise jira_failure(error) from None
        return Response(JiraProjectSerializer(found, many=True).data)


class JiraIssueTypeLookup(JsonApiView):
    serializer_class = JiraIssueTypeSerializer

    @extend_schema(
        summary="The issue types of a Jira project (project administrators)",
        request=JiraIssueTypesRequestSerializer,
        responses={200: JiraIssueTypeSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        permissions.require_importer(request.user)
        query = JiraIssueTypesRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        try:
            found = discovery.list_issue_types(
                JiraCredentials(**query.credentials_kwargs()), query.validated_data["jira_project_key"]
            )
        except (JiraAccessError, RefusedURL) as error:
            raise jira_failure(error) from None
        return Response(JiraIssueTypeSerializer(found, many=True).data)


class ProjectJiraImports(mixins.ListModelMixin, JsonApiView):
    serializer_class = JiraImportSerializer

    def get_queryset(self) -> QuerySet[JiraImport]:
        if self.building_schema:
            return JiraImport.objects.none()
        project = readable_project(self.request, self.kwargs["pk"])
        return readable_imports(self.request.user).filter(project=project).order_by("-created_at", "-id")

    @extend_schema(
        summary="A project's Jira imports, newest first",
        responses={200: JiraImportSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Start importing a Jira project, or one issue type, into new trackers (project admins)",
        description="Give issue_type_ids (empty: every issue type) and a layout (multi: one tracker per "
        "issue type, mono: one tracker with an Issue type field), or the earlier form with one "
        "issue_type_id and the tracker's names. The import runs in a backend worker; follow it at "
        "/api/jira-imports/{id}/, which lists its trackers. Permissions are not imported.",
        request=JiraImportRequestSerializer,
        responses={
            202: OpenApiResponse(JiraImportSerializer, description="The import is queued."),
            **error_responses(400, 401, 403, 404),
            **UNAVAILABLE,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        project = readable_project(request, pk)
        if not permissions.can_admin_project(request.user, project):
            raise PermissionDenied("Only the project's administrators can import trackers from Jira.")
        query = JiraImportRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        common = {
            "project": project,
            "requested_by": request.user,
            "credentials": JiraCredentials(**query.credentials_kwargs()),
            "jira_project_key": data["jira_project_key"],
        }
        if "issue_type_id" in data:
            form = {
                "issue_type_id": data["issue_type_id"],
                "tracker_name": data["tracker_name"],
                "tracker_shortname": data["tracker_shortname"],
                "tracker_color": data["tracker_color"],
            }
        else:
            names = {
                (
                    services.MONO if data["layout"] == services.MONO else t["issue_type_id"]
                ): services.TrackerNames(t["name"], t["shortname"], t["color"])
                for t in data.get("trackers") or []
            }
            form = {
                "issue_type_ids": data["issue_type_ids"],
                "layout": data["layout"],
                "trackers": names or None,
            }
        try:
            jira_import = services.start_import(**common, **form)
        except services.ImportUnavailable as error:
            return Response({"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        except (JiraAccessError, RefusedURL) as error:
            raise jira_failure(error) from None
        if "sync_interval_minutes" in data:  # opt-in, checked by the serializer: the token is kept
            schedules.start_schedule(
                jira_import,
                requested_by=request.user,
                token=query.validated_data["token"],
                interval_minutes=data["sync_interval_minutes"],
                days=data["sync_days"],
            )
        # ValidationError (names taken) goes to the exception handler: a 400 keyed by field.
        return Response(self.get_serializer(jira_import).data, status=status.HTTP_202_ACCEPTED)


class JiraImportDetail(JsonApiView):
    serializer_class = JiraImportSerializer

    @extend_schema(
        summary="A Jira import: status, progress, outcome",
        responses={200: JiraImportSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        jira_import = get_object_or_404(readable_imports(request.user), pk=pk)
        return Response(self.get_serializer(jira_import).data)


class JiraImportCancel(JsonApiView):
    serializer_class = JiraImportSerializer

    @extend_schema(
        summary="Cancel a pending or running Jira import (the requester or project administrators)",
        description="A pending import is cancelled at once; a running one stops after the issues it is "
        "writing and removes what it wrote (``cancel_requested`` is true meanwhile).",
        request=None,
        responses={200: JiraImportSerializer, **error_responses(401, 403, 404), **ALREADY_ENDED},
    )
    def post(self, request: Request, pk: int) -> Response:
        jira_import = get_object_or_404(readable_imports(request.user), pk=pk)
        if not permissions.may_cancel_import(request.user, jira_import):
            raise PermissionDenied("Only the requester or the project's administrators can cancel an import.")
        if not jira_import.is_active:
            return Response(
                {"detail": f"This import has already ended ({jira_import.status})."},
                status=status.HTTP_409_CONFLICT,
            )
        services.cancel_import(jira_import, by=request.user)
        return Response(self.get_serializer(jira_import).data)
