from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from tracker.models.trackers import Field, Tracker


class Artifact(models.Model):
    """An issue, task or bug. Its history is the list of its changesets; nothing rewrites them.

    ``current_values`` (field id -> stored value) and ``title`` are a snapshot of the latest value of
    each field, kept by the artifact service in the same transaction as the changeset, so that lists
    and pages read one row instead of replaying the history.
    """

    tracker = models.ForeignKey(Tracker, on_delete=models.CASCADE, related_name="artifacts")
    title = models.CharField(max_length=255, blank=True, db_index=True)
    current_values = models.JSONField(default=dict)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_on = models.DateTimeField()
    last_updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_updated_on = models.DateTimeField()
    # Set by the Jira import: re-running an interrupted import never creates the same issue twice.
    # NULL, not "", for artifacts made here: the unique constraint must ignore them.
    jira_issue_id = models.CharField(max_length=50, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tracker", "-last_updated_on"], name="artifact_tracker_updated"),
            # The artifact list's sorts within a tracker (tracker.services.artifact_query), the id
            # breaking ties: a page reads the index's first rows, whatever the tracker's size.
            models.Index(fields=["tracker", "id"], name="artifact_tracker_id"),
            models.Index(fields=["tracker", "last_updated_on", "id"], name="artifact_tracker_updated_id"),
            models.Index(fields=["tracker", "submitted_on", "id"], name="artifact_tracker_submitted_id"),
            models.Index(fields=["tracker", "title", "id"], name="artifact_tracker_title_id"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tracker", "jira_issue_id"], name="artifact_jira_issue_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tracker.shortname} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("tracker:artifact-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"{self.tracker.shortname} #{self.pk}"


class Changeset(models.Model):
    """One creation or update of an artifact: who, when, an optional comment, and the changed values."""

    class CommentFormat(models.TextChoices):
        TEXT = "text", "Plain text"
        MARKDOWN = "markdown", "Markdown"
        HTML = "html", "HTML (sanitized)"

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="changesets")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="changesets"
    )
    # The name the author had elsewhere, kept when no account here matches them (the Jira import).
    imported_author_name = models.CharField(max_length=255, blank=True)
    submitted_on = models.DateTimeField(db_index=True)
    is_creation = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    comment_format = models.CharField(
        max_length=10, choices=CommentFormat.choices, default=CommentFormat.TEXT
    )
    # The comment as safe HTML, rendered once when the changeset is stored
    # (tracker.services.rendering.render_comment): pages, the API and emails read it as is.
    comment_html = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["artifact", "submitted_on", "id"]
        indexes = [
            # History order within an artifact: a page of it, "the latest value of a field before this
            # changeset" and "how many are older" are ranges of this index, whatever the history's length.
            models.Index(fields=["artifact", "submitted_on", "id"], name="changeset_artifact_history"),
        ]

    def __str__(self) -> str:
        return f"changeset {self.pk} of artifact {self.artifact_id}"


class ChangesetValue(models.Model):
    """The new value of one field in one changeset (only changed fields are stored)."""

    changeset = models.ForeignKey(Changeset, on_delete=models.CASCADE, related_name="values")
    field = models.ForeignKey(Field, on_delete=models.CASCADE, related_name="+")
    value = models.JSONField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["changeset", "field"], name="changeset_value_unique")]

    def __str__(self) -> str:
        return f"{self.field_id}={self.value!r} in changeset {self.changeset_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.artifact.tracker_id}/{instance.artifact_id}/{filename}"


class Attachment(models.Model):
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    submitted_on = models.DateTimeField()
    jira_attachment_id = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["artifact", "id"]

    def __str__(self) -> str:
        return self.filename


class ArtifactSubscription(models.Model):
    """A user's explicit choice to watch (``watching=True``) or unwatch an artifact."""

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    watching = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["artifact", "user"], name="subscription_unique")]

    def __str__(self) -> str:
        return f"{self.user} {'watches' if self.watching else 'unwatched'} artifact {self.artifact_id}"
