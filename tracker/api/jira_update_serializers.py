"""Shapes of an update from Jira over the API: asking for one (the token, write-only), and its state."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from tracker.jira_import.credentials import TOKEN_MAX_LENGTH, validate_header_safe
from tracker.models import JiraSyncRun, JiraSyncSchedule


class JiraUpdateRequestSerializer(serializers.Serializer):
    token = serializers.CharField(
        max_length=TOKEN_MAX_LENGTH,
        write_only=True,
        help_text="The Jira API token, personal access token or password of the import's account, again: "
        "it is not kept after an import. Never returned.",
    )

    def validate_token(self, value: str) -> str:
        try:
            validate_header_safe(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return value


class UpdateCountsSerializer(serializers.Serializer):
    new_issues = serializers.IntegerField()
    updated_issues = serializers.IntegerField()
    new_changesets = serializers.IntegerField()
    conflicts = serializers.IntegerField()


class ConflictSerializer(serializers.Serializer):
    artifact = serializers.IntegerField()
    key = serializers.CharField(help_text="The Jira key of the issue.")
    url = serializers.CharField(help_text="The artifact's page.")
    field = serializers.CharField()
    here = serializers.CharField(help_text="When the field was last changed here (ISO 8601).")
    jira = serializers.CharField(help_text="When Jira changed it (ISO 8601).")
    kept = serializers.ChoiceField(
        ["here", "jira"], help_text="Whose change is the current value (the latest)."
    )


class MissingSerializer(serializers.Serializer):
    key = serializers.CharField()
    artifact = serializers.IntegerField()
    reason = serializers.CharField()


class JiraSyncRunSerializer(serializers.ModelSerializer):
    """One update from Jira: status, progress, what it brought, conflicts and issues gone from Jira."""

    import_id = serializers.IntegerField(source="jira_import_id", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    active = serializers.BooleanField(source="is_active", read_only=True)
    up_to_date = serializers.BooleanField(read_only=True)
    counts = UpdateCountsSerializer(read_only=True)
    conflicts = ConflictSerializer(many=True, read_only=True)
    missing = MissingSerializer(many=True, read_only=True)

    class Meta:
        model = JiraSyncRun
        fields = [
            "id",
            "import_id",
            "status",
            "active",
            "scheduled",
            "cancel_requested",
            "requested_by",
            "since",
            "progress_done",
            "progress_total",
            "counts",
            "conflicts",
            "missing",
            "up_to_date",
            "message",
            "created_at",
            "started_at",
            "ended_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: JiraSyncRun) -> dict[str, Any]:
        counts = instance.counts if isinstance(instance.counts, dict) else {}
        instance.counts = {key: int(counts.get(key) or 0) for key in UpdateCountsSerializer().fields}
        return super().to_representation(instance)


class JiraSyncRequestSerializer(JiraUpdateRequestSerializer):
    interval_minutes = serializers.IntegerField(help_text="Minutes between two updates: 15 or more.")
    days = serializers.IntegerField(help_text="How long to keep in sync: 1 to 90 days.")


class JiraSyncScheduleSerializer(serializers.ModelSerializer):
    """A scheduled sync; the token it keeps (encrypted) is never returned."""

    import_id = serializers.IntegerField(source="jira_import_id", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    token_kept = serializers.SerializerMethodField(help_text="Whether the Jira token is kept (while active).")

    class Meta:
        model = JiraSyncSchedule
        fields = [
            "import_id",
            "active",
            "interval_minutes",
            "expires_at",
            "next_run_at",
            "consecutive_failures",
            "stopped_reason",
            "token_kept",
            "requested_by",
            "created_at",
            "stopped_at",
        ]
        read_only_fields = fields

    def get_token_kept(self, schedule: JiraSyncSchedule) -> bool:
        return bool(schedule.token_encrypted)
