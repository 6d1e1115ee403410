"""The tracker's models, one module per concern; import them from here."""

from tracker.models.accounts import User
from tracker.models.artifacts import Artifact, ArtifactSubscription, Attachment, Changeset, ChangesetValue
from tracker.models.idempotency import IdempotencyKey
from tracker.models.inbound_emails import GatewaySender, InboundEmail
from tracker.models.jira_imports import (
    JiraImport,
    JiraImportedItem,
    JiraImportTracker,
    JiraIssueRecord,
    JiraPerson,
)
from tracker.models.jira_sync import JiraSyncRun, JiraSyncSchedule
from tracker.models.notification_batches import NotificationBatch
from tracker.models.notifications import NotificationDelivery, NotificationRecord
from tracker.models.projects import Membership, Project
from tracker.models.saved_queries import SavedQuery
from tracker.models.system_events import SystemEvent
from tracker.models.time_entries import TimeEntry
from tracker.models.trackers import Field, FieldOption, FieldType, NotificationListEntry, Tracker

__all__ = [
    "Artifact",
    "ArtifactSubscription",
    "Attachment",
    "Changeset",
    "ChangesetValue",
    "Field",
    "FieldOption",
    "FieldType",
    "GatewaySender",
    "IdempotencyKey",
    "InboundEmail",
    "JiraImport",
    "JiraImportTracker",
    "JiraImportedItem",
    "JiraIssueRecord",
    "JiraPerson",
    "JiraSyncRun",
    "JiraSyncSchedule",
    "Membership",
    "NotificationBatch",
    "NotificationDelivery",
    "NotificationListEntry",
    "NotificationRecord",
    "Project",
    "SavedQuery",
    "SystemEvent",
    "TimeEntry",
    "Tracker",
    "User",
]
