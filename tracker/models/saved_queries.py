from __future__ import annotations

from django.conf import settings
from django.db import models

from tracker.models.trackers import Tracker


class SavedQuery(models.Model):
    """A named artifact list query (the tracker page's URL parameters), private or for the project.

    It stores parameters, never results: each reader runs it with their own permissions
    (tracker.services.artifact_query starts from what they may read).
    """

    tracker = models.ForeignKey(Tracker, on_delete=models.CASCADE, related_name="saved_queries")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queries"
    )
    name = models.CharField(max_length=100)
    query_string = models.CharField(max_length=2000, blank=True)
    shared = models.BooleanField(default=False, help_text="Shown to everyone who may read the tracker.")
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tracker", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tracker", "owner", "name"], name="saved_query_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name
