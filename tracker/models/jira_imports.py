from __future__ import annotations

from django.conf import settings
from django.db import models

from tracker.models.artifacts import Artifact, Changeset
from tracker.models.projects import Project
from tracker.models.trackers import Tracker


class JiraImport(models.Model):
    """A request to create trackers from a Jira project, carried out by a backend worker.

    One import covers the whole run: every chosen issue type, in one tracker per issue type
    (``Layout.MULTI``) or all in one tracker with an issue type field (``Layout.MONO``), plus a
    Sprints tracker when the issues have sprints. The trackers it creates are its
    :class:`JiraImportTracker` rows, whose names are reserved while the import is active. The
    ``tracker_*`` and ``issue_type_*`` columns describe the first of them (the whole import's label
    in lists and emails). The encrypted token is erased when the import ends, whatever the outcome.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Flavor(models.TextChoices):
        CLOUD = "cloud", "Jira Cloud"
        SERVER = "server", "Jira Server / Data Center"

    class Layout(models.TextChoices):
        MULTI = "multi", "One tracker per issue type"
        MONO = "mono", "One tracker with an issue type field"

    ACTIVE = (Status.PENDING, Status.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jira_imports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    jira_url = models.URLField(max_length=500)
    flavor = models.CharField(max_length=10, choices=Flavor.choices, blank=True)
    # Empty username: the token is a personal access token sent as a Bearer token (Server / DC).
    username = models.CharField(max_length=255, blank=True)
    token_encrypted = models.TextField(blank=True, help_text="Fernet-encrypted; erased when the import ends.")
    jira_project_key = models.CharField(max_length=100)
    jira_project_name = models.CharField(max_length=255, blank=True)
    issue_type_id = models.CharField(max_length=50)
    issue_type_name = models.CharField(max_length=255)
    # Every chosen issue type: [{"id": "10001", "name": "Task"}, ...] (the first is issue_type_*).
    issue_types = models.JSONField(default=list, blank=True)
    layout = models.CharField(max_length=5, choices=Layout.choices, default=Layout.MULTI)
    tracker_name = models.CharField(max_length=100)
    tracker_shortname = models.SlugField(max_length=25)
    tracker_color = models.CharField(max_length=7, default="#1f77b4")
    tracker = models.ForeignKey(Tracker, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    cancel_requested = models.BooleanField(default=False)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # {"issues": n, "changesets": n, "comments": n, "attachments": n, "links": n}
    counts = models.JSONField(default=dict, blank=True)
    # [{"field": "Epic Link", "reason": "...", "issues": 17}]: every field that had a value and was not
    # imported, with how many issues carried one; also attachments over the limit (no "issues" count).
    skipped = models.JSONField(default=list, blank=True)
    # {"matched": [...], "email_hidden": [...], "no_account": [...]}
    user_report = models.JSONField(default=dict, blank=True)
    # What the report says besides skipped fields, such as "the agile API answered 403".
    notes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    job_id = models.CharField(max_length=100, blank=True)
    # Which run of the engine owns the import: a retried job takes over, and a run that finds another
    # token here (its worker was presumed dead) stops without touching what the new run writes.
    run_token = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="jira_import_status_created")]

    def __str__(self) -> str:
        return f"Jira import of {self.jira_project_key} into {self.project.shortname} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class JiraImportTracker(models.Model):
    """A tracker an import creates: its names (reserved while the import is active) and, once
    created, the tracker. ``issue_type_ids`` are the Jira issue types it holds (several for the
    mono-tracker layout, none for the Sprints tracker)."""

    class Role(models.TextChoices):
        ISSUES = "issues", "Issues"
        SPRINTS = "sprints", "Sprints"

    jira_import = models.ForeignKey(JiraImport, on_delete=models.CASCADE, related_name="planned_trackers")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ISSUES)
    issue_type_ids = models.JSONField(default=list, blank=True)
    name = models.CharField(max_length=100)
    shortname = models.SlugField(max_length=25)
    color = models.CharField(max_length=7, default="#1f77b4")
    tracker = models.ForeignKey(Tracker, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # True while the import is pending or running: the names are taken (set by tracker.jira_import.runs).
    active = models.BooleanField(default=True)
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["jira_import", "rank", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "shortname"],
                condition=models.Q(active=True),
                name="jira_import_tracker_active_shortname_unique",
            ),
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=models.Q(active=True),
                name="jira_import_tracker_active_name_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.shortname}) of Jira import {self.jira_import_id}"


class JiraIssueRecord(models.Model):
    """Which artifact a Jira issue became: (site, issue id) -> artifact, kept after the import.

    A later import from the same site resolves its links into earlier imports through it, and an
    update from Jira finds what it imported before.
    """

    jira_site = models.CharField(max_length=500, help_text="The Jira base URL, lower-cased, no slash.")
    jira_issue_id = models.CharField(max_length=50)
    jira_issue_key = models.CharField(max_length=100)
    artifact = models.OneToOneField(Artifact, on_delete=models.CASCADE, related_name="jira_record")
    jira_import = models.ForeignKey(
        JiraImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="issue_records"
    )

    class Meta:
        indexes = [models.Index(fields=["jira_site", "jira_issue_id"], name="jira_issue_record_site_id")]

    def __str__(self) -> str:
        return f"{self.jira_issue_key} at {self.jira_site} -> artifact {self.artifact_id}"


class JiraImportedItem(models.Model):
    """One changelog entry, comment, work log or attachment of a Jira issue that was imported, by its
    Jira id: what an update from Jira must not import twice."""

    class Kind(models.TextChoices):
        CHANGELOG = "changelog", "Changelog entry"
        COMMENT = "comment", "Comment"
        WORKLOG = "worklog", "Work log"
        ATTACHMENT = "attachment", "Attachment"

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="jira_items")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    jira_id = models.CharField(max_length=50)
    jira_updated = models.DateTimeField(
        null=True, blank=True, help_text="When Jira last changed it (comments and work logs can be edited)."
    )
    changeset = models.ForeignKey(
        Changeset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["artifact", "kind", "jira_id"], name="jira_imported_item_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.jira_id} of artifact {self.artifact_id}"


class JiraPerson(models.Model):
    """A Jira user with no account here, and the placeholder account that stands for them.

    The placeholder is inactive, has no email and cannot log in; it keeps their display name, so
    history, user values and emails name them "<display name> (Jira)". One per Jira site and user.
    """

    jira_site = models.CharField(max_length=500)
    reference = models.CharField(max_length=255, help_text="accountId on Cloud, the user key on Server.")
    display_name = models.CharField(max_length=255)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jira_person"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["jira_site", "reference"], name="jira_person_unique")]

    def __str__(self) -> str:
        return f"{self.display_name} (Jira, {self.jira_site})"
