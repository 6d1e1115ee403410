"""Shapes of the API's requests and responses.

Input serializers check every type and bound before a service sees the data, so that odd JSON (a list
where an object belongs, a nested object as a value, a 5000-digit number, a NUL character that
PostgreSQL refuses) is a 400 naming the field, never a 500. Output serializers are what the OpenAPI
schema describes, so the schema and the responses cannot drift apart.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from tracker import permissions
from tracker.models import Artifact, Changeset, Field, FieldType, Membership, Project, Tracker, User
from tracker.services.fields import RESERVED_FIELD_NAMES
from tracker.services.history import HistoryEntry, ValueRenderer
from tracker.services.projects import RESERVED_SHORTNAMES
from tracker.services.values import LIST_MAX_ITEMS, TEXT_MAX_LENGTH

# JSON numbers beyond this are not exact in JavaScript clients, and do not fit our integer columns.
MAX_SAFE_INTEGER = 2**53
MAX_ID = MAX_SAFE_INTEGER
DESCRIPTION_MAX_LENGTH = 100_000
MAX_VALUES = 500
FIELD_NAME_MAX_LENGTH = 50
MAX_FIELDS = 200


def _user_name(user: User | None) -> str | None:
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
        ]
        read_only_fields = fields

    def get_options(self, field_: Field) -> list[str]:
        return [option.label for option in field_.options.all()]


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


def _check_json_value(value: Any, depth: int = 0) -> None:
    """Raise ValueError unless ``value`` is plain JSON a field value may hold (see services.values)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"Numbers must lie between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}.")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("Numbers must be finite.")
        return
    if isinstance(value, str):
        _check_text(value, TEXT_MAX_LENGTH)
        return
    if depth >= 2:
        raise ValueError("Values nest at most a list of objects deep.")
    if isinstance(value, list):
        if len(value) > LIST_MAX_ITEMS:
            raise ValueError(f"At most {LIST_MAX_ITEMS} values are allowed.")
        for item in value:
            _check_json_value(item, depth + 1)
        return
    if isinstance(value, dict):
        if len(value) > 10:
            raise ValueError("An object value has at most 10 keys.")
        for key, item in value.items():
            _check_text(key, 50)
            _check_json_value(item, depth + 1)
        return
    raise ValueError("Unsupported value.")  # pragma: no cover - JSON has no other types


def _check_text(text: str, limit: int) -> None:
    if len(text) > limit:
        raise ValueError(f"Text has at most {limit} characters (this has {len(text)}).")
    if "\x00" in text:
        raise ValueError("Text cannot contain NUL characters.")
    if any("\ud800" <= char <= "\udfff" for char in text):
        raise ValueError("Text cannot contain lone surrogate characters.")


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "description": "Field name -> value. Users by username or email, select values by label.",
    }
)
class ValuesField(serializers.Field):
    """The ``values`` object: field names mapped to plain JSON values the artifact service checks."""

    default_error_messages = {
        "not_an_object": "Expected an object mapping field names to values, got {kind}.",
        "too_many": f"At most {MAX_VALUES} values can be given at once.",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_an_object", kind=type(data).__name__)
        if len(data) > MAX_VALUES:
            self.fail("too_many")
        errors: dict[str, list[str]] = {}
        for name, value in data.items():
            try:
                _check_text(name, 100)
            except ValueError as error:
                raise serializers.ValidationError(f"Invalid field name: {error}") from None
            try:
                _check_json_value(value)
            except ValueError as error:
                errors[name] = [str(error)]
        if errors:
            raise serializers.ValidationError(errors)
        return data

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class CommentMixin(serializers.Serializer):
    comment = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    comment_format = serializers.ChoiceField(
        choices=[Changeset.CommentFormat.TEXT, Changeset.CommentFormat.MARKDOWN],
        default=Changeset.CommentFormat.TEXT,
    )


class ArtifactCreateSerializer(CommentMixin):
    tracker = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The tracker's id.")
    values = ValuesField()

    def validate_tracker(self, tracker_id: int) -> Tracker:
        tracker = (
            permissions.readable_trackers(self.context["request"].user)
            .select_related("project")
            .filter(pk=tracker_id)
            .first()
        )
        if tracker is None:
            # The same answer whether it does not exist or is hidden: ids of private trackers stay secret.
            raise serializers.ValidationError("No tracker with this id.")
        return tracker


class ArtifactUpdateSerializer(CommentMixin):
    values = ValuesField(required=False, default=dict)


class ArtifactSerializer(serializers.ModelSerializer):
    """Needs ``fields`` (the tracker's fields by tracker id) and ``renderer`` in its context."""

    reference = serializers.CharField(read_only=True)
    submitted_by = serializers.SerializerMethodField()
    last_updated_by = serializers.SerializerMethodField()
    values = serializers.SerializerMethodField()

    class Meta:
        model = Artifact
        fields = [
            "id",
            "reference",
            "tracker",
            "title",
            "submitted_by",
            "submitted_on",
            "last_updated_by",
            "last_updated_on",
            "values",
        ]
        read_only_fields = fields

    def get_submitted_by(self, artifact: Artifact) -> str | None:
        return _user_name(artifact.submitted_by)

    def get_last_updated_by(self, artifact: Artifact) -> str | None:
        return _user_name(artifact.last_updated_by)

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {},
            "description": "Field name -> current value (usernames for users, labels for select values).",
        }
    )
    def get_values(self, artifact: Artifact) -> dict[str, Any]:
        renderer: ValueRenderer = self.context["renderer"]
        stored = artifact.current_values
        return {
            field_.name: renderer.api(field_, stored.get(str(field_.pk)))
            for field_ in self.context["fields"][artifact.tracker_id]
        }


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField(source="field.name")
    label = serializers.CharField(source="field.label")
    old = serializers.SerializerMethodField()
    new = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.ANY)
    def get_old(self, change: Any) -> Any:
        return self.context["renderer"].api(change.field, change.old)

    @extend_schema_field(OpenApiTypes.ANY)
    def get_new(self, change: Any) -> Any:
        return self.context["renderer"].api(change.field, change.new)


class ChangesetSerializer(serializers.Serializer):
    """One entry of an artifact's history (a :class:`HistoryEntry`)."""

    id = serializers.IntegerField(source="changeset.id")
    author = serializers.SerializerMethodField(
        help_text="The author's username. For a person an import brought without an account here, the "
        "username of the inactive placeholder account standing for them: use author_name to show them."
    )
    author_name = serializers.CharField(
        help_text="The name to show: the account's name, or for imported people without an account here "
        'their name in the source marked as such, e.g. "Carol Diaz (Jira)".'
    )
    submitted_on = serializers.DateTimeField(source="changeset.submitted_on")
    is_creation = serializers.BooleanField(source="changeset.is_creation")
    comment = serializers.CharField(source="changeset.comment")
    comment_format = serializers.CharField(source="changeset.comment_format")
    comment_html = serializers.CharField(help_text="The comment as sanitized HTML.")
    changes = FieldChangeSerializer(many=True)

    def get_author(self, entry: HistoryEntry) -> str | None:
        return _user_name(entry.changeset.author)
