"""What each Jira issue became: the records an import keeps, and the link targets they give.

Each imported issue is recorded by Jira site and issue id (:class:`~tracker.models.JiraIssueRecord`),
and each changelog entry, comment, work log and attachment by its Jira id
(:class:`~tracker.models.JiraImportedItem`), in the transaction that writes them. Links are resolved
through these records: the import's own issues in any of its trackers, and those of earlier imports
from the same Jira site.
"""

from __future__ import annotations

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
    items = []
    for imported, row in zip(planned, rows, strict=True):
        seen: set[tuple[str, str]] = set()
        for changeset in imported.changesets:
            if changeset.source and changeset.source[1] and changeset.source not in seen:
                seen.add(changeset.source)
                kind, jira_id = changeset.source
                items.append((row.pk, kind, jira_id, changeset.stored_pk, changeset.source_updated))
        items += [
            (row.pk, "worklog", entry.jira_worklog_id, None, entry.updated) for entry in imported.time_entries
        ]
        items += [(row.pk, "attachment", a.jira_attachment_id, None, None) for a in imported.attachments]
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
