"""What each Jira issue became: the records an import keeps, and the link targets they give.

Each imported issue is recorded by Jira site and issue id (:class:`~tracker.models.JiraIssueRecord`),
and each changelog entry, comment, work log and attachment by its Jira id
(:class:`~tracker.models.JiraImportedItem`), in the transaction that writes them. Links are resolved
through these records: the import's own issues in any of its trackers, and those of earlier imports
from the same Jira site.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tracker.models import Artifact, JiraImport, JiraImportedItem, JiraIssueRecord, Tracker
from tracker.services import bulk_import, imported_links
from tracker.services.bulk_import import ImportedArtifact


def record(jira_import: JiraImport, site: str, planned: list[ImportedArtifact], rows: list[Artifact]) -> None:
    """The records of a batch of issues just written (``rows``, in the order of ``planned``)."""
    bulk_import.insert_rows(
        JiraIssueRecord,
        ("jira_site", "jira_issue_id", "jira_issue_key", "artifact", "jira_import"),
        [
            (site, imported.source_id, imported.reference, row.pk, jira_import.pk)
            for imported, row in zip(planned, rows, strict=True)
        ],
    )
    items = [item for imported, row in zip(planned, rows, strict=True) for item in _items(row.pk, imported)]
    bulk_import.insert_rows(
        JiraImportedItem, ("artifact", "kind", "jira_id", "changeset", "jira_updated"), items
    )


def link_targets(jira_import: JiraImport, site: str, sprints: Tracker | None) -> dict[str, int]:
    """Jira issue id or key (or "sprint-<id>") -> artifact id: this import's issues and sprints, and
    the issues earlier imports brought from the same Jira site (this import's win)."""
    targets: dict[str, int] = {}
    earlier = JiraIssueRecord.objects.filter(jira_site=site).exclude(jira_import=jira_import).order_by("pk")
    own = JiraIssueRecord.objects.filter(jira_import=jira_import)
    for records in (earlier, own):
        for issue_id, issue_key, artifact_id in records.values_list(
            "jira_issue_id", "jira_issue_key", "artifact_id"
        ):
            targets[issue_id] = targets[issue_key] = artifact_id
    if sprints is not None:
        targets.update(imported_links.imported_ids(sprints))
    return targets


def _items(artifact_id: int, imported: ImportedArtifact) -> list[tuple[Any, ...]]:
    """The item records of what was just written of one issue (its new changesets, work logs, files)."""
    items = []
    seen: set[tuple[str, str]] = set()
    for changeset in imported.changesets:
        if changeset.source and changeset.source[1] and changeset.source not in seen:
            seen.add(changeset.source)
            kind, jira_id = changeset.source
            items.append((artifact_id, kind, jira_id, changeset.stored_pk, changeset.source_updated))
    items += [
        (artifact_id, "worklog", entry.jira_worklog_id, None, entry.updated)
        for entry in imported.time_entries
    ]
    items += [(artifact_id, "attachment", a.jira_attachment_id, None, None) for a in imported.attachments]
    return items


def record_additions(additions: list[tuple[int, ImportedArtifact]]) -> None:
    """The item records of what an update added to existing artifacts (artifact id, what was added)."""
    rows = [item for artifact_id, imported in additions for item in _items(artifact_id, imported)]
    bulk_import.insert_rows(
        JiraImportedItem, ("artifact", "kind", "jira_id", "changeset", "jira_updated"), rows
    )


def record_comment_edit(artifact_id: int, jira_id: str, updated: dt.datetime) -> None:
    JiraImportedItem.objects.filter(
        artifact_id=artifact_id, kind=JiraImportedItem.Kind.COMMENT, jira_id=jira_id
    ).update(jira_updated=updated)


def known_artifacts(jira_import: JiraImport, issue_ids: list[str]) -> dict[str, Artifact]:
    """Jira issue id -> the artifact the import (or an earlier update of it) made of it."""
    records = JiraIssueRecord.objects.filter(jira_import=jira_import, jira_issue_id__in=issue_ids)
    return {r.jira_issue_id: r.artifact for r in records.select_related("artifact")}


Known = dict[tuple[str, str], tuple[int | None, "dt.datetime | None"]]


def known_items(artifact_ids: list[int]) -> dict[int, Known]:
    """artifact id -> {(kind, Jira id): (changeset id, when Jira last changed it)}: what is here."""
    found: dict[int, Known] = {pk: {} for pk in artifact_ids}
    rows = JiraImportedItem.objects.filter(artifact_id__in=artifact_ids).values_list(
        "artifact_id", "kind", "jira_id", "changeset_id", "jira_updated"
    )
    for artifact_id, kind, jira_id, changeset_id, updated in rows.iterator():
        found[artifact_id][(kind, jira_id)] = (changeset_id, updated)
    return found


def issues_of(jira_import: JiraImport) -> list[tuple[str, str, int]]:
    """(Jira issue id, key, artifact id) of every issue the import brought."""
    return list(
        JiraIssueRecord.objects.filter(jira_import=jira_import)
        .order_by("pk")
        .values_list("jira_issue_id", "jira_issue_key", "artifact_id")
    )
