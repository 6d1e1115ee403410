"""Shapes of the API's requests and responses.

Input serializers check every type and bound before a service sees the data, so that odd JSON (a list
where an object belongs, a nested object as a value, a 5000-digit number, a NUL character that
PostgreSQL refuses) is a 400 naming the field, never a 500. Output serializers are what the OpenAPI
schema describes, so the schema and the responses cannot drift apart. Users, projects, members and
trackers are here; artifacts, their values and their history in :mod:`tracker.api.artifact_serializers`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from tracker.models import Field, FieldType, Membership, Project, Tracker, User
from tracker.services.fields import RESERVED_FIELD_NAMES
from tracker.services.projects import RESERVED_SHORTNAMES
from tracker.services.values import LIST_MAX_ITEMS

# JSON numbers beyond this are not exact in JavaScript clients, and do not fit our integer columns.
MAX_SAFE_INTEGER = 2**53
MAX_ID = MAX_SAFE_INTEGER
DESCRIPTION_MAX_LENGTH = 100_000
FIELD_NAME_MAX_LENGTH = 50
MAX_FIELDS = 200


def user_name(user: User | None) -> str | None:
    return user.username if user is not None else None


# Users ---------------------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    """A person; the email address only for site administrators and the person themselves."""

    username = serializers.CharField(read_only=True)
    name = serializers.SerializerMethodField()
    email = serializers.CharField(
        read_only=True, allow_null=True, help_text="Shown only to site administrators and to the user."
    )

    class Meta:
        model = User
        fields = ["id", "username", "name", "email"]

    def get_name(self, user: User) -> str:
        return user.get_full_name()

    def to_representation(self, user: User) -> dict[str, Any]:
        data = super().to_representation(user)
        viewer = self.context["request"].user
        if not (viewer.is_staff or viewer.pk == user.pk):
            data["email"] = None
        return data


class UserCreateSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    class Meta:
        model = User
        fields = ["username", "email", "password", "first_name", "last_name"]

    def validate_email(self, email: str) -> str:
        if User.objects.filter(email__iexact=email).exists():
            raise serializers.ValidationError("A user with this email address already exists.")
        return email

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(**{key: value for key, value in attrs.items() if key != "password"})
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs

    def create(self, validated_data: dict[str, Any]) -> User:
        try:
            with transaction.atomic():
                return User.objects.create_user(**validated_data)
        except IntegrityError:
            # Someone took the username or email between our check and the insert.
            raise serializers.ValidationError(
                {"username": ["A user with this username or email address already exists."]}
            ) from None


# Projects and members ------------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this project, if you are a member.")
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True, default=""
    )

    class Meta:
        model = Project
        fields = ["id", "shortname", "name", "description", "is_public", "created_on", "role"]
        read_only_fields = ["id", "created_on", "role"]
        extra_kwargs = {
            "shortname": {
                "validators": [
                    UniqueValidator(Project.objects.all(), message="A project with this shortname exists.")
                ]
            },
        }

    @extend_schema_field(serializers.ChoiceField(choices=Membership.Role.choices, allow_null=True))
    def get_role(self, project: Project) -> str | None:
        return getattr(project, "role", None)

    def validate_shortname(self, shortname: str) -> str:
        if shortname.lower() in RESERVED_SHORTNAMES:
            raise serializers.ValidationError("This shortname is reserved; choose another.")
        return shortname


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role"]
        read_only_fields = fields


class MembershipRequestSerializer(serializers.Serializer):
    user = serializers.CharField(
        max_length=254, help_text="A username (email addresses are refused: they would reveal accounts)."
    )
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


# Trackers ------------------------------------------------------------------------------------------


class FieldSerializer(serializers.ModelSerializer):
    options = serializers.SerializerMethodField()
    hidden_options = serializers.SerializerMethodField()
    default = serializers.SerializerMethodField(
        help_text="Select fields: the value a new artifact created without one gets; null: none."
    )

    class Meta:
        model = Field
        fields = [
            "id",
            "name",
            "label",
            "type",
            "required",
            "help_text",
            "rank",
            "notify",
            "is_title",
            "options",
            "default",
            "hidden",
            "hidden_options",
        ]
        read_only_fields = fields

    def get_options(self, field_: Field) -> list[str]:
        return [option.label for option in field_.options.all()]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_hidden_options(self, field_: Field) -> list[str]:
        """The values no longer offered for new values (still valid where an artifact has them)."""
        return [option.label for option in field_.options.all() if option.hidden]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_default(self, field_: Field) -> str | None:
        """Select fields: the value a new artifact created without one gets (null: none)."""
        return next((o.label for o in field_.options.all() if o.pk == field_.default_option_id), None)


class TrackerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tracker
        fields = ["id", "project", "name", "shortname", "description", "color", "created_on"]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        # "fields" is also the name of the serializer's own attribute: add it here, not as a class attribute.
        fields = super().get_fields()
        fields["fields"] = FieldSerializer(many=True, read_only=True)
        return fields


class FieldDefinitionSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=FIELD_NAME_MAX_LENGTH)
    label = serializers.CharField(max_length=100, required=False, help_text="Defaults to the name.")
    type = serializers.ChoiceField(choices=FieldType.choices)
    required = serializers.BooleanField(default=False)
    help_text = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    notify = serializers.BooleanField(default=False, help_text="User fields only.")
    is_title = serializers.BooleanField(default=False)
    options = serializers.ListField(
        child=serializers.CharField(max_length=255),
        max_length=LIST_MAX_ITEMS,
        required=False,
        default=list,
        help_text="The labels of a select or multi-select field's values.",
    )

    def validate_name(self, name: str) -> str:
        if name in RESERVED_FIELD_NAMES:
            raise serializers.ValidationError(
                f"{name!r} is reserved by the artifact form; choose another name."
            )
        return name

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["type"]
        options = attrs["options"]
        if options and kind not in (FieldType.SELECT, FieldType.MULTI_SELECT):
            raise serializers.ValidationError(
                {"options": ["Only select and multi-select fields have options."]}
            )
        folded = [label.casefold() for label in options]
        if len(set(folded)) != len(folded):
            raise serializers.ValidationError({"options": ["Each option label must be unique."]})
        if attrs["notify"] and kind not in (FieldType.USER, FieldType.USERS):
            raise serializers.ValidationError(
                {"notify": ["Only user fields can notify the people they name."]}
            )
        if attrs["is_title"] and kind != FieldType.STRING:
            raise serializers.ValidationError({"is_title": ["The title field must be a string field."]})
        attrs.setdefault("label", attrs["name"])
        return attrs


class TrackerCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    shortname = serializers.SlugField(max_length=25, help_text="Used in references such as bug #42.")
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", max_length=7, required=False, default="#1f77b4")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["fields"] = FieldDefinitionSerializer(
            many=True,
            required=False,
            max_length=MAX_FIELDS,
            help_text="Leave out for the default fields: title, description, status, assigned_to, cc.",
        )
        return fields

    def validate_name(self, name: str) -> str:
        if Tracker.objects.filter(project=self.context["project"], name=name).exists():
            raise serializers.ValidationError("This project already has a tracker with this name.")
        return name

    def validate_shortname(self, shortname: str) -> str:
        if Tracker.objects.filter(project=self.context["project"], shortname=shortname).exists():
            raise serializers.ValidationError("This project already has a tracker with this shortname.")
        return shortname

    def validate_fields(self, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not fields:
            raise serializers.ValidationError("Give at least a title field, or leave the list out.")
        names = [definition["name"] for definition in fields]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise serializers.ValidationError(f"Field names must be unique: {', '.join(duplicates)}.")
        titles = [definition for definition in fields if definition["is_title"]]
        if len(titles) != 1:
            raise serializers.ValidationError('Mark exactly one string field with "is_title": true.')
        return fields


# Artifacts -----------------------------------------------------------------------------------------
