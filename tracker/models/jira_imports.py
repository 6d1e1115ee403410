from __future__ import annotations

from django.conf import settings
from django.db import models

from tracker.models.projects import Project
from tracker.models.trackers import Tracker


class JiraImport(models.Model):
    """A request to create a tracker from a Jira project, carried out by a backend worker.

    The tracker's name and short name are reserved while the import is active (see the partial unique
    constraints); the encrypted token is erased when the import ends, whatever the outcome.
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
    # [{"field": "Epic Link", "reason": "unsupported type com.pyxis..."}], also attachments over the limit.
    skipped = models.JSONField(default=list, blank=True)
    # {"matched": [...], "email_hidden": [...], "no_account": [...]}
    user_report = models.JSONField(default=dict, blank=True)
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
        constraints = [
            models.UniqueConstraint(
                fields=["project", "tracker_shortname"],
                condition=models.Q(status__in=["pending", "running"]),
                name="jira_import_active_shortname_unique",
            ),
            models.UniqueConstraint(
                fields=["project", "tracker_name"],
                condition=models.Q(status__in=["pending", "running"]),
                name="jira_import_active_name_unique",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="jira_import_status_created")]

    def __str__(self) -> str:
        return f"Jira import of {self.jira_project_key} into {self.project.shortname} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
