from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from tracker import permissions
from tracker.api.errors import error_responses
from tracker.api.serializers import MembershipRequestSerializer, MembershipSerializer, ProjectSerializer
from tracker.api.views.base import JsonApiView
from tracker.models import Membership, Project, User
from tracker.services.memberships import MembershipError, add_member, change_role, user_named
from tracker.services.projects import create_project


def projects_for(user: User) -> QuerySet[Project]:
    """The projects the user may read, each with the user's ``role`` in it (or None)."""
    role = Membership.objects.filter(project=OuterRef("pk"), user_id=user.pk).values("role")[:1]
    return permissions.readable_projects(user).annotate(role=Subquery(role)).order_by("name", "id")


def readable_project(request: Request, pk: int) -> Project:
    """The project, or a 404 when it does not exist or the user may not read it."""
    return get_object_or_404(projects_for(request.user), pk=pk)


class ProjectList(mixins.ListModelMixin, JsonApiView):
    serializer_class = ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        if self.building_schema:
            return Project.objects.none()
        return projects_for(self.request.user)

    @extend_schema(
        summary="List the projects you may read",
        responses={200: ProjectSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Create a project; you become its administrator",
        responses={201: ProjectSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        if not permissions.may_create_project(request.user):
            raise PermissionDenied("Only site administrators create projects here (PROJECT_CREATORS=staff).")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                project = create_project(creator=request.user, **serializer.validated_data)
        except IntegrityError:
            # Another project took the shortname between the check and the insert.
            raise serializers.ValidationError(
                {"shortname": ["A project with this shortname exists."]}
            ) from None
        project.role = Membership.Role.ADMIN
        return Response(self.get_serializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(JsonApiView):
    serializer_class = ProjectSerializer

    @extend_schema(summary="A project", responses={200: ProjectSerializer, **error_responses(401, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(readable_project(request, pk)).data)


class ProjectMembers(mixins.ListModelMixin, JsonApiView):
    serializer_class = MembershipSerializer

    def get_queryset(self) -> QuerySet[Membership]:
        if self.building_schema:
            return Membership.objects.none()
        project = readable_project(self.request, self.kwargs["pk"])
        return Membership.objects.filter(project=project).select_related("user").order_by("user__username")

    @extend_schema(
        summary="A project's members", responses={200: MembershipSerializer, **error_responses(401, 404)}
    )
    def get(self, request: Request, pk: int) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Add a member or change their role (project administrators)",
        request=MembershipRequestSerializer,
        responses={
            200: OpenApiResponse(MembershipSerializer, description="The member's role was changed."),
            201: OpenApiResponse(MembershipSerializer, description="The user was added."),
            **error_responses(400, 401, 403, 404),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        project = readable_project(request, pk)
        if not permissions.can_admin_project(request.user, project):
            raise PermissionDenied("Only the project's administrators can manage its members.")
        serializer = MembershipRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identifier, role = serializer.validated_data["user"], serializer.validated_data["role"]
        try:
            user = user_named(identifier)
        except MembershipError as error:
            raise serializers.ValidationError({"user": [str(error)]}) from None
        already_member = Membership.objects.filter(project=project, user=user).exists()
        try:
            if already_member:
                membership = change_role(project, user, role)
            else:
                membership = add_member(project, identifier, role=role)
        except MembershipError as error:
            # Demoting the last administrator, or a concurrent request added the same user.
            raise serializers.ValidationError({"role" if already_member else "user": [str(error)]}) from None
        return Response(
            self.get_serializer(membership).data,
            status=status.HTTP_200_OK if already_member else status.HTTP_201_CREATED,
        )
