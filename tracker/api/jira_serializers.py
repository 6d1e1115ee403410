"""Shapes of the Jira import's API: the wizard's look-ups, starting an import, and an import's state.

The token is write-only: no response carries it, nor the Jira user name it goes with.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker import permissions
from tracker.api.jira_update_serializers import JiraSyncRunSerializer
from tracker.jira_import.credentials import TOKEN_MAX_LENGTH, validate_header_safe
from tracker.jira_import.discovery import ISSUE_TYPE_ID, PROJECT_KEY
from tracker.jira_import.schedules import MAX_DAYS, MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES
from tracker.models import JiraImport


def _header_safe(value: str) -> str:
    try:
        validate_header_safe(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None
    return value


# Requests -------------------------------------------------------------------------------------------


class JiraCredentialsSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=500, help_text="The Jira site's address (http or https), such as the Cloud site's URL."
    )
    username = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        default="",
        help_text="Jira Cloud: the account's email address (with an API token). Jira Server / Data Center: "
        "the user name (with the password), or empty with a personal access token.",
    )
    token = serializers.CharField(
        max_length=TOKEN_MAX_LENGTH,
        write_only=True,
        help_text="API token, personal access token or password. Never returned.",
    )

    def validate_username(self, value: str) -> str:
        return _header_safe(value)

    def validate_token(self, value: str) -> str:
        return _header_safe(value)

    def credentials_kwargs(self) -> dict[str, str]:
        data = self.validated_data
        return {"url": data["url"].strip(), "username": data["username"].strip(), "token": data["token"]}


class JiraProjectKeyMixin(serializers.Serializer):
    jira_project_key = serializers.CharField(
        max_length=100, help_text="The Jira project's key, such as DEMO."
    )

    def validate_jira_project_key(self, key: str) -> str:
        if not PROJECT_KEY.fullmatch(key.strip()):
            raise serializers.ValidationError("A Jira project key is letters, digits and _, like DEMO.")
        return key.strip().upper()


class JiraIssueTypesRequestSerializer(JiraProjectKeyMixin, JiraCredentialsSerializer):
    pass


class TrackerNamesSerializer(serializers.Serializer):
    issue_type_id = serializers.CharField(
        max_length=20, required=False, default="", help_text="Which issue type's tracker (multi layout)."
    )
    name = serializers.CharField(max_length=100)
    shortname = serializers.SlugField(max_length=25)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", max_length=7, required=False, default="#1f77b4")


class JiraImportRequestSerializer(JiraProjectKeyMixin, JiraCredentialsSerializer):
    """Either one issue type (``issue_type_id`` with the tracker's names, the earlier form) or a whole
    project: ``issue_type_ids`` (empty: every issue type) and ``layout``, names optional."""

    issue_type_id = serializers.CharField(
        max_length=20,
        required=False,
        help_text="One Jira issue type to import, into one tracker named below.",
    )
    issue_type_ids = serializers.ListField(
        child=serializers.CharField(max_length=20),
        required=False,
        max_length=100,
        help_text="The Jira issue types to import (empty list: all of them).",
    )
    layout = serializers.ChoiceField(
        choices=JiraImport.Layout.choices,
        required=False,
        default=JiraImport.Layout.MULTI,
        help_text="multi: one tracker per issue type; mono: one tracker with an Issue type field.",
    )
    trackers = TrackerNamesSerializer(
        many=True, required=False, help_text="Names of the trackers (default: Jira's issue type names)."
    )
    tracker_name = serializers.CharField(max_length=100, required=False, default="")
    tracker_shortname = serializers.SlugField(
        max_length=25,
        required=False,
        default="",
        allow_blank=True,
        help_text="Used in references such as bug #42.",
    )
    tracker_color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}$", max_length=7, required=False, default="#1f77b4"
    )

    sync_interval_minutes = serializers.IntegerField(
        required=False,
        min_value=MIN_INTERVAL_MINUTES,
        max_value=MAX_INTERVAL_MINUTES,
        help_text="Keep the trackers in sync with Jira every this many minutes once imported (opt-in: "
        "the token is then kept, encrypted, until the sync stops). With sync_days.",
    )
    sync_days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        help_text="How long to keep in sync (at most 90 days).",
    )

    def validate_issue_type_id(self, value: str) -> str:
        if not ISSUE_TYPE_ID.fullmatch(value.strip()):
            raise serializers.ValidationError("A Jira issue type id is a number, like 10002.")
        return value.strip()

    def validate_issue_type_ids(self, values: list[str]) -> list[str]:
        if any(not ISSUE_TYPE_ID.fullmatch(v.strip()) for v in values):
            raise serializers.ValidationError("Jira issue type ids are numbers, like 10002.")
        return [v.strip() for v in values]

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        single, several = "issue_type_id" in data, "issue_type_ids" in data
        if single == several:
            raise serializers.ValidationError(
                {"issue_type_ids": ["Give issue_type_ids (a list, empty for all), or one issue_type_id."]}
            )
        if single and not (data.get("tracker_name") and data.get("tracker_shortname")):
            raise serializers.ValidationError(
                {
                    "tracker_name": [
                        "With one issue_type_id, name the tracker (tracker_name, tracker_shortname)."
                    ]
                }
            )
        if ("sync_interval_minutes" in data) != ("sync_days" in data):
            raise serializers.ValidationError(
                {"sync_days": ["Give both sync_interval_minutes and sync_days to keep the import in sync."]}
            )
        return data


# Responses ------------------------------------------------------------------------------------------


class JiraProjectSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    id = serializers.CharField(read_only=True)


class JiraIssueTypeSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    subtask = serializers.BooleanField(read_only=True)


class CountsSerializer(serializers.Serializer):
    issues = serializers.IntegerField(read_only=True)
    changesets = serializers.IntegerField(read_only=True)
    comments = serializers.IntegerField(read_only=True)
    attachments = serializers.IntegerField(read_only=True)
    links = serializers.IntegerField(read_only=True)
    sprints = serializers.IntegerField(read_only=True)
    time_entries = serializers.IntegerField(read_only=True)
    time_spent_seconds = serializers.IntegerField(read_only=True)


class SkippedSerializer(serializers.Serializer):
    field = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)
    issues = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="How many issues carried a value (null: not a field)."
    )


class ImportTrackerSerializer(serializers.Serializer):
    tracker = serializers.IntegerField(read_only=True, allow_null=True, help_text="Null until it is created.")
    name = serializers.CharField(read_only=True)
    shortname = serializers.CharField(read_only=True)
    role = serializers.CharField(read_only=True, help_text="issues or sprints")
    issue_type_ids = serializers.ListField(child=serializers.CharField(), read_only=True)


class MatchedUserSerializer(serializers.Serializer):
    jira = serializers.CharField(read_only=True, help_text="The Jira user's display name.")
    user = serializers.CharField(read_only=True, help_text="The username of the account here.")


class UnmatchedUserSerializer(serializers.Serializer):
    jira = serializers.CharField(read_only=True, help_text="The Jira user's display name.")
    email = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="Their email address in Jira; shown only to the requester and project administrators.",
    )


class UserReportSerializer(serializers.Serializer):
    matched = MatchedUserSerializer(many=True, read_only=True)
    email_hidden = serializers.ListField(child=serializers.CharField(), read_only=True)
    no_account = UnmatchedUserSerializer(many=True, read_only=True)


COUNT_KEYS = ("issues", "changesets", "comments", "attachments", "links", "sprints", "time_entries")
COUNT_KEYS += ("time_spent_seconds",)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class JiraImportSerializer(serializers.ModelSerializer):
    """An import's state. Counts, skipped fields and the user report come from the engine's JSON columns,
    normalized here so that every answer has the documented shape."""

    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    active = serializers.BooleanField(source="is_active", read_only=True)
    counts = serializers.SerializerMethodField()
    skipped = serializers.SerializerMethodField()
    all_fields_imported = serializers.SerializerMethodField(
        help_text="True only when the import is done and nothing with a value was left out."
    )
    trackers = serializers.SerializerMethodField()
    user_report = serializers.SerializerMethodField()
    last_update = serializers.SerializerMethodField(help_text="The latest update from Jira, if any.")

    class Meta:
        model = JiraImport
        fields = [
            "id",
            "project",
            "status",
            "active",
            "cancel_requested",
            "progress_done",
            "progress_total",
            "tracker",
            "tracker_name",
            "tracker_shortname",
            "tracker_color",
            "jira_url",
            "flavor",
            "jira_project_key",
            "jira_project_name",
            "issue_type_id",
            "issue_type_name",
            "issue_types",
            "layout",
            "trackers",
            "requested_by",
            "error",
            "counts",
            "skipped",
            "all_fields_imported",
            "notes",
            "user_report",
            "last_update",
            "created_at",
            "started_at",
            "ended_at",
        ]
        read_only_fields = fields

    @extend_schema_field(JiraSyncRunSerializer(allow_null=True))
    def get_last_update(self, jira_import: JiraImport) -> dict[str, Any] | None:
        runs = list(jira_import.sync_runs.all()[:1])
        return JiraSyncRunSerializer(runs[0]).data if runs else None

    @extend_schema_field(CountsSerializer)
    def get_counts(self, jira_import: JiraImport) -> dict[str, int]:
        counts = jira_import.counts if isinstance(jira_import.counts, dict) else {}
        return {key: _int(counts.get(key)) for key in COUNT_KEYS}

    @extend_schema_field(SkippedSerializer(many=True))
    def get_skipped(self, jira_import: JiraImport) -> list[dict[str, str]]:
        items = jira_import.skipped if isinstance(jira_import.skipped, list) else []
        return [
            {
                "field": _text(item.get("field")),
                "reason": _text(item.get("reason")),
                "issues": item["issues"] if isinstance(item.get("issues"), int) else None,
            }
            for item in items
            if isinstance(item, dict)
        ]

    def get_all_fields_imported(self, jira_import: JiraImport) -> bool:
        return jira_import.status == JiraImport.Status.DONE and not jira_import.skipped

    @extend_schema_field(ImportTrackerSerializer(many=True))
    def get_trackers(self, jira_import: JiraImport) -> list[dict[str, Any]]:
        return [
            {
                "tracker": t.tracker_id,
                "name": t.name,
                "shortname": t.shortname,
                "role": t.role,
                "issue_type_ids": [str(i) for i in t.issue_type_ids],
            }
            for t in jira_import.planned_trackers.all()
        ]

    @extend_schema_field(UserReportSerializer)
    def get_user_report(self, jira_import: JiraImport) -> dict[str, Any]:
        report = jira_import.user_report if isinstance(jira_import.user_report, dict) else {}
        show_emails = self._may_see_emails(jira_import)

        def entries(key: str) -> list[dict[str, Any]]:
            value = report.get(key)
            return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []

        hidden = report.get("email_hidden")
        return {
            "matched": [
                {"jira": _text(e.get("jira")), "user": _text(e.get("user"))} for e in entries("matched")
            ],
            "email_hidden": [_text(name) for name in hidden] if isinstance(hidden, list) else [],
            "no_account": [
                {
                    "jira": _text(e.get("jira")),
                    "email": (_text(e.get("email")) or None) if show_emails else None,
                }
                for e in entries("no_account")
            ],
        }

    def _may_see_emails(self, jira_import: JiraImport) -> bool:
        # Asked once per project and requester: a list of imports does not query for each.
        known: dict[tuple[int, int | None], bool] = self.context.setdefault("may_see_emails", {})
        key = (jira_import.project_id, jira_import.requested_by_id)
        if key not in known:
            known[key] = permissions.may_see_import_emails(self.context["request"].user, jira_import)
        return known[key]
