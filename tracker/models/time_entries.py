from __future__ import annotations

from django.conf import settings
from django.db import models

from tracker.models.artifacts import Artifact


class TimeEntry(models.Model):
    """Time someone spent on an artifact: who, when they started, how long, and what they did.

    Entered by people here, or imported from Jira work logs (``jira_worklog_id``).
    """

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="time_entries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_on = models.DateTimeField()
    seconds = models.PositiveIntegerField(help_text="Time spent, in seconds.")
    comment = models.TextField(blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    # NULL for entries made here: the unique constraint ignores them.
    jira_worklog_id = models.CharField(max_length=50, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["artifact", "started_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["artifact", "jira_worklog_id"], name="time_entry_jira_worklog_unique"
            ),
            models.CheckConstraint(condition=models.Q(seconds__gt=0), name="time_entry_seconds_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.seconds} s on artifact {self.artifact_id}"
