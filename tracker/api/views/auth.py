"""The API's login: a username and password exchanged for the account's token."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from tracker.api.errors import error_responses
from tracker.api.views.base import JsonApiView


class TokenLoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class TokenLogin(JsonApiView):
    """Throttled like the web login (django-axes counts each failure; tracker/login_throttling.py)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    serializer_class = TokenLoginSerializer

    @extend_schema(
        summary="Exchange a username and password for your API token",
        request=TokenLoginSerializer,
        responses={
            200: inline_serializer("TokenLoginResponse", {"token": serializers.CharField()}),
            **error_responses(400),
            429: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Too many failed logins for this username or from this address: wait.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = TokenLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The Django request, not DRF's wrapper: django-axes marks a lockout on it for its middleware.
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise serializers.ValidationError({"non_field_errors": ["Wrong username or password."]})
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
