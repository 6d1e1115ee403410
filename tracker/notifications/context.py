"""Everything one notification needs about its changeset, loaded once with a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracker.models import Artifact, Changeset, Field, Project, Tracker
from tracker.services.history import HistoryEntry, history, tracker_fields


@dataclass
class NotificationContext:
    changeset: Changeset
    fields: list[Field]
    # The artifact's history up to and including this changeset (a late email tells the state then).
    entries: list[HistoryEntry]
    # Field id -> stored value right after this changeset.
    state: dict[int, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, changeset: Changeset) -> NotificationContext:
        """``changeset`` with its artifact, tracker and project already selected (records.claim does)."""
        fields = tracker_fields(changeset.artifact.tracker)
        entries = history(changeset.artifact, fields, up_to=changeset)
        state: dict[int, Any] = {}
        for entry in entries:
            for change in entry.changes:
                state[change.field.pk] = change.new
        return cls(changeset=changeset, fields=fields, entries=entries, state=state)

    @property
    def artifact(self) -> Artifact:
        return self.changeset.artifact

    @property
    def tracker(self) -> Tracker:
        return self.changeset.artifact.tracker

    @property
    def project(self) -> Project:
        return self.changeset.artifact.tracker.project

    @property
    def entry(self) -> HistoryEntry:
        """This changeset's entry: its author, comment and old -> new changes."""
        return self.entries[-1]

    @property
    def earlier_entries(self) -> list[HistoryEntry]:
        return self.entries[:-1]

    @property
    def title(self) -> str:
        """The title as of this changeset (the artifact may have been renamed since)."""
        for field_ in self.fields:
            if field_.is_title:
                value = self.state.get(field_.pk)
                return str(value) if value else self.artifact.title
        return self.artifact.title
