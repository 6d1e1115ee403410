"""Everything one notification needs about its changeset, loaded once with a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import prefetch_related_objects

from tracker.models import Artifact, Changeset, Field, Project, Tracker
from tracker.services.history import HistoryEntry, entries_for, tracker_fields
from tracker.services.history_queries import earlier_authors, values_before


@dataclass
class NotificationContext:
    changeset: Changeset
    fields: list[Field]
    # This changeset's entry: its author, comment and old -> new changes. The email shows it alone.
    entry: HistoryEntry
    # Field id -> stored value right after this changeset (a late email tells the state then).
    state: dict[int, Any] = field(default_factory=dict)
    # Who changed or commented the artifact before this changeset.
    earlier_author_ids: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, changeset: Changeset, known: dict[int, list[Field]] | None = None) -> NotificationContext:
        """``changeset`` with its artifact, tracker and project already selected (records.claim does).

        A fixed number of queries whatever the history's length: the earlier authors are one aggregated
        query, the state before the changeset one query over the fields (none for the first changeset).
        ``known``: tracker id -> its fields, filled here, for a job sending several changesets (a field
        added meanwhile shows from its next job on).
        """
        artifact = changeset.artifact
        if known is None:
            fields = tracker_fields(artifact.tracker)
        else:
            fields = known.get(artifact.tracker_id) or known.setdefault(
                artifact.tracker_id, tracker_fields(artifact.tracker)
            )
        prefetch_related_objects([changeset], "author", "values")
        authors_before = earlier_authors(changeset)
        field_ids = [f.pk for f in fields]
        # Nothing before the first changeset (a creation, most emails): the state query is skipped.
        state = values_before(changeset, field_ids) if authors_before else dict.fromkeys(field_ids)
        (entry,) = entries_for(artifact, [changeset], fields, before=state)
        for value in changeset.values.all():
            state[value.field_id] = value.value
        return cls(
            changeset=changeset,
            fields=fields,
            entry=entry,
            state=state,
            earlier_author_ids={author for author in authors_before if author is not None},
        )

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
    def title(self) -> str:
        """The title as of this changeset (the artifact may have been renamed since)."""
        for field_ in self.fields:
            if field_.is_title:
                value = self.state.get(field_.pk)
                return str(value) if value else self.artifact.title
        return self.artifact.title
