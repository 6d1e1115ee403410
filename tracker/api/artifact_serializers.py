"""Shapes of the API's artifacts: their values on the way in (every type and bound checked before the
artifact service sees them) and on the way out, and their history's changesets."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker import permissions
from tracker.api.serializers import MAX_ID, MAX_SAFE_INTEGER, user_name
from tracker.models import Artifact, Changeset, Tracker
from tracker.plain_text import text_problem
from tracker.services.history import HistoryEntry
from tracker.services.value_rendering import ValueRenderer
from tracker.services.values import LIST_MAX_ITEMS, TEXT_MAX_LENGTH

MAX_VALUES = 500


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
    problem = text_problem(text, max_length=limit)
    if problem:
        raise ValueError(problem)


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
        return user_name(artifact.submitted_by)

    def get_last_updated_by(self, artifact: Artifact) -> str | None:
        return user_name(artifact.last_updated_by)

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
        return user_name(entry.changeset.author)
