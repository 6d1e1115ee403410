"""An update run of a finished Jira import: what changed in Jira since, brought in without duplicates."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tracker.models.jira_imports import JiraImport

UP_TO_DATE = "Already up to date: nothing changed in Jira since the last update."


class JiraSyncRun(models.Model):
    """One "Update from Jira" of a finished import, asked for by someone (or by the schedule).

    Its life is :mod:`tracker.jira_import.sync_runs` (create, claim, page, finish), like an import's
    is :mod:`tracker.jira_import.runs`; at most one is pending or running per import. The token it
    runs with is encrypted here while it is active and erased when it ends, whatever the outcome.
    ``counts``, ``conflicts`` and ``changed`` grow in the transaction of each page the run writes, so
    a run retried after its worker was killed ends with the same figures as one never interrupted.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.PENDING, Status.RUNNING)

    jira_import = models.ForeignKey(JiraImport, on_delete=models.CASCADE, related_name="sync_runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scheduled = models.BooleanField(default=False, help_text="Started by the scheduled sync.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    cancel_requested = models.BooleanField(default=False)
    token_encrypted = models.TextField(blank=True, help_text="Fernet-encrypted; erased when the run ends.")
    run_token = models.CharField(max_length=32, blank=True)
    job_id = models.CharField(max_length=100, blank=True)
    # What the run asked Jira for: the issues updated since this moment (the previous run's start
    # less the safety margin); set when the run is first claimed, kept by a retried job.
    since = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # {"new_issues": n, "updated_issues": n, "new_changesets": n, "conflicts": n}
    counts = models.JSONField(default=dict, blank=True)
    # [{"artifact": id, "key": "DEMO-3", "field": "Priority", "here": iso, "jira": iso, "kept": "jira"}]
    conflicts = models.JSONField(default=list, blank=True)
    # [{"key": "DEMO-9", "artifact": id, "reason": "deleted in Jira"}]: reported, never deleted here.
    missing = models.JSONField(default=list, blank=True)
    # {artifact id: changeset id}: the artifacts this run changed, each with the changeset its one
    # notification is about (the latest the run wrote), sent when the run ends.
    changed = models.JSONField(default=dict, blank=True)
    skipped = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True)
    message = models.TextField(
        blank=True, help_text="The outcome in words: an error, or 'Already up to date.'"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["jira_import"],
                condition=models.Q(status__in=["pending", "running"]),
                name="jira_sync_run_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"update {self.pk} of Jira import {self.jira_import_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def brought_nothing(self) -> bool:
        return not any((self.counts or {}).values())

    @property
    def up_to_date(self) -> bool:
        """Done, and nothing new: no change brought, no issue newly gone from Jira."""
        return self.status == self.Status.DONE and self.message == UP_TO_DATE


class JiraSyncSchedule(models.Model):
    """An import kept in sync with Jira every ``interval_minutes`` until ``expires_at`` (opt-in).

    The only place a Jira token is kept after a run: encrypted, erased when the schedule stops (asked
    for, expired, or after three failures in a row). Its life is :mod:`tracker.jira_import.schedules`.
    """

    jira_import = models.OneToOneField(JiraImport, on_delete=models.CASCADE, related_name="sync_schedule")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    interval_minutes = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    next_run_at = models.DateTimeField()
    token_encrypted = models.TextField(blank=True, help_text="Fernet-encrypted; erased when syncing stops.")
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    stopped_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["active", "next_run_at"], name="jira_sync_schedule_due")]

    def __str__(self) -> str:
        return f"sync of Jira import {self.jira_import_id} every {self.interval_minutes} min"
