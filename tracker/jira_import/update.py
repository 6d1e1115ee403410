"""An update from Jira: what changed in the project since the last run, brought in once.

:class:`Updater` is the import engine (:class:`~tracker.jira_import.importer.Importer`) run on a
finished import's trackers, with four differences:

1. the search asks only for the issues updated since the previous run started, less a safety
   margin (``JIRA_SYNC_MARGIN_MINUTES``), in the Jira user's time zone (see :func:`since_clause`);
2. an issue not imported yet becomes an artifact with its whole history, as the import makes it; an
   issue imported before is replayed the same way (pure, :mod:`.replay`), and only what has no record
   yet (changelog entries, comments, work logs, attachments, by Jira id: :mod:`.records`) is added
   to its artifact, in its place in time (:mod:`tracker.services.bulk_update`); a comment whose
   ``updated`` is newer than recorded is rewritten in place, with a note saying so;
3. a field changed both here (a changeset made here since the previous run) and in Jira is a
   conflict: both changesets stay, the latest is the current value, and the run lists it;
4. once the pages are in, the import's issues that Jira no longer has in the project are reported
   (deleted, moved, or of a type not imported any more), never deleted here.

Each page is written in one transaction with its records and the run's counts
(:meth:`~tracker.jira_import.sync_runs.SyncRun.add_page`), so a job retried after its worker was
killed rewrites the pages it had done as no-ops and ends with the same result.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from tracker.jira_import import records
from tracker.jira_import.client import JiraClient
from tracker.jira_import.credentials import JiraCredentials
from tracker.jira_import.errors import JiraAccessError, JiraResponseError
from tracker.jira_import.fetch import SHAPE_ERRORS, FetchedIssue, FetchedPage, search_pages, unexpected_shape
from tracker.jira_import.importer import Importer, Progress
from tracker.jira_import.mapping import SkippedField
from tracker.jira_import.sprints import SprintInfo
from tracker.jira_import.sync_runs import SyncRun, previous_start
from tracker.jira_import.tracker_runs import TrackerRun, issue_type_of
from tracker.models import Attachment, ChangesetValue, JiraImportTracker, Tracker
from tracker.services import bulk_import, imported_links
from tracker.services.bulk_import import ImportedArtifact, InvalidImportedValue
from tracker.services.bulk_update import Addition, CommentEdit, add_to_artifacts, edit_comments

logger = logging.getLogger("tracker.jira_import")

# Jira reads the date of ``updated >= "yyyy/MM/dd HH:mm"`` to the minute and in the time zone of the
# user who searches (Atlassian's JQL reference for date fields, as our fake Jira implements it in
# tests/support/fake_jira/jql.py ``parse_date``; Atlassian's page itself was not in the reference
# store I could search, where "Using Dates and Date Operators with Jira JQL", testmanagement.com 2023,
# gives the same formats, and Atlassian's JiraVelocityUtils javadoc the per-user zone). When the
# account's zone cannot be read, the date is given in UTC less 12 hours: read in any zone (UTC-12 to
# UTC+14), it is never later than meant.
WIDEST_OFFSET = dt.timedelta(hours=12)
MISSING_LOOKUPS = 200  # issues gone from the search asked for by id, to say deleted or moved


def since_clause(client: JiraClient, since: dt.datetime) -> str:
    """``updated >= "..."`` for the issues Jira changed at ``since`` or later, as Jira will read it."""
    zone: dt.tzinfo | None = None
    try:
        me = client.get_json("myself", what="reading the Jira account's time zone")
        name = me.get("timeZone") if isinstance(me, dict) else None
        zone = ZoneInfo(name) if isinstance(name, str) and name else None
    except (JiraAccessError, ZoneInfoNotFoundError, ValueError):
        zone = None
    moment = (since - WIDEST_OFFSET).astimezone(dt.UTC) if zone is None else since.astimezone(zone)
    # Minute precision: the seconds are dropped, which can only ask for more.
    return f'updated >= "{moment:%Y/%m/%d %H:%M}"'


class Updater(Importer):
    """One update run of a finished import (``sync``: the run's hold on its row)."""

    def __init__(
        self,
        sync: SyncRun,
        credentials: JiraCredentials,
        progress: Progress | None = None,
        client: JiraClient | None = None,
    ) -> None:
        super().__init__(sync, credentials, progress, client)  # type: ignore[arg-type]
        self.sync = sync
        self.skipped = list(sync.sync_run.skipped or [])
        self.notes = list(sync.sync_run.notes or [])
        # Changes made here after this moment, on fields Jira changed too, are conflicts.
        self.local_since = previous_start(self.jira_import, before=sync.sync_run)
        self.touched: dict[int, set[int]] = {}  # tracker id -> artifacts whose links to resolve
        self.base_where = ""

    # -- the hooks of the engine --------------------------------------------------------------------

    def _where(self, client: JiraClient, where: str) -> str:
        self.base_where = where
        since = self.sync.sync_run.since
        return f"{where} AND {since_clause(client, since)}" if since else where

    def _already(self, trackers: list[Tracker]) -> set[str]:
        return set()  # every updated issue is read; what it brings is sorted out by its records

    def _kept_attachments(self, trackers: list[Tracker]) -> dict[str, set[str]]:
        kept: dict[str, set[str]] = {}
        rows = (
            Attachment.objects.filter(artifact__tracker__in=trackers)
            .exclude(jira_attachment_id="")
            .values_list("artifact__jira_issue_id", "jira_attachment_id")
        )
        for issue_id, attachment_id in rows.iterator():
            kept.setdefault(issue_id, set()).add(attachment_id)
        return kept

    def _sprints(
        self, client: JiraClient, key: str, rows: list[JiraImportTracker], named: dict[str, SprintInfo]
    ) -> Tracker | None:
        found = super()._sprints(client, key, rows, named)
        if found is None:  # no updated issue names a sprint: the links still resolve to the old ones
            row = next((r for r in rows if r.role == JiraImportTracker.Role.SPRINTS), None)
            found = row.tracker if row is not None else None
        return found

    def _resolve_links(self, run: TrackerRun, targets: dict[str, int]) -> None:
        # With the artifacts the pages of a killed run changed: rewriting them was a no-op here.
        touched = self.touched.get(run.tracker.pk, set()) | set(self.sync.changed_so_far())
        if touched and run.links is not None:
            imported_links.resolve_links(run.tracker, run.links, targets, artifact_ids=touched)

    def _after_pages(self, client: JiraClient, where: str) -> None:
        self.sync.record_missing(self._missing(client))

    # -- one page ---------------------------------------------------------------------------------

    def _import_page(self, page: FetchedPage, runs: dict[str, TrackerRun]) -> None:
        try:
            self._update_page(page, runs)
        except BaseException:
            page.discard_files()  # the page's rows are rolled back: its files go too
            raise
        self.done += page.size

    def _update_page(self, page: FetchedPage, runs: dict[str, TrackerRun]) -> None:
        by_tracker = {run.tracker.pk: run for run in runs.values()}
        known = records.known_artifacts(
            self.jira_import, [str(f.issue.get("id", ""))[:50] for f in page.issues]
        )
        fresh: dict[int, list[tuple[ImportedArtifact, FetchedIssue]]] = {}
        old: list[tuple[TrackerRun, Any, ImportedArtifact, FetchedIssue]] = []
        for fetched in page.issues:
            self._note_skipped(fetched.skipped)
            key = str(fetched.issue.get("key", "?"))
            artifact = known.get(str(fetched.issue.get("id", ""))[:50])
            run = by_tracker.get(artifact.tracker_id) if artifact else runs.get(issue_type_of(fetched.issue))
            if run is None:
                self._note_skipped([SkippedField(key, "its issue type is not one of those imported")])
                continue
            try:
                planned = run.replay.plan(fetched)
            except SHAPE_ERRORS as error:
                raise unexpected_shape(self.jira_import.pk, key, error) from None
            if artifact is None:
                fresh.setdefault(run.tracker.pk, []).append((planned, fetched))
            else:
                old.append((run, artifact, planned, fetched))
        for run_id, pairs in fresh.items():
            for planned, fetched in pairs:
                planned.attachments = by_tracker[run_id].replay.attachments(fetched)
        for run, _, planned, fetched in old:
            planned.attachments = run.replay.attachments(fetched)
        site = self.client.base_url.lower() if self.client else ""
        try:
            with transaction.atomic():
                counts = {"new_issues": 0, "updated_issues": 0, "new_changesets": 0, "conflicts": 0}
                changed: dict[int, int] = {}  # artifact id -> its changeset to notify about
                batches = [
                    (by_tracker[run_id].writer, [p for p, _ in pairs]) for run_id, pairs in fresh.items()
                ]
                rows = bulk_import.write_batches(batches)
                planned_new = [p for _, batch in batches for p in batch]
                records.record(self.jira_import, site, planned_new, rows)
                for planned, row in zip(planned_new, rows, strict=True):
                    self.touched.setdefault(row.tracker_id, set()).add(row.pk)
                    changed[row.pk] = _latest(planned.changesets)
                counts["new_issues"] = len(rows)
                counts["new_changesets"] = sum(len(p.changesets) for p in planned_new)
                conflicts = self._add_news(old, counts, changed)
                counts["conflicts"] = len(conflicts)
                self.sync.add_page(counts, conflicts, changed)
        except IntegrityError:
            self.sync.check_owner()  # RunSuperseded: the run that took over wrote these issues
            raise
        except InvalidImportedValue as error:
            raise JiraResponseError(
                f"Jira sent the issue {error.reference} with a value that does not fit the field "
                f"{error.field.label} ({error.problem}); the update stopped."
            ) from None

    def _add_news(
        self,
        old: list[tuple[TrackerRun, Any, ImportedArtifact, FetchedIssue]],
        counts: dict[str, int],
        changed: dict[int, int],
    ) -> list[dict[str, Any]]:
        """Add to the known issues' artifacts what they lack; the conflicts this made."""
        if not old:
            return []
        items = records.known_items([artifact.pk for _, artifact, _, _ in old])
        local = self._local_changes(items)
        by_writer: dict[int, tuple[TrackerRun, list[Addition]]] = {}
        edits: list[tuple[int, str, CommentEdit, dt.datetime]] = []
        conflicts: list[dict[str, Any]] = []
        for run, artifact, planned, _ in old:
            known = items[artifact.pk]
            news = ImportedArtifact(
                planned.source_id,
                planned.reference,
                [
                    c
                    for c in planned.changesets
                    if not c.is_creation and c.source and c.source[1] and c.source not in known
                ],
                attachments=[
                    a for a in planned.attachments if ("attachment", a.jira_attachment_id) not in known
                ],
                time_entries=[e for e in planned.time_entries if ("worklog", e.jira_worklog_id) not in known],
            )
            for c in planned.changesets:
                if not c.source or c.source[0] != "comment" or c.source not in known or not c.source_updated:
                    continue
                changeset_id, recorded = known[c.source]
                if changeset_id and (recorded is None or c.source_updated > recorded):
                    note = f"(Edited in Jira on {c.source_updated:%Y-%m-%d %H:%M} UTC.)"
                    edits.append(
                        (
                            artifact.pk,
                            c.source[1],
                            CommentEdit(changeset_id, c.comment, c.comment_format, note),
                            c.source_updated,
                        )
                    )
            if news.changesets or news.attachments or news.time_entries:
                by_writer.setdefault(run.tracker.pk, (run, []))[1].append(Addition(artifact, news))
                conflicts += self._conflicts(artifact, news, local.get(artifact.pk, {}))
        updated = {artifact_id for artifact_id, _, _, _ in edits}
        for run, additions in by_writer.values():
            add_to_artifacts(run.writer, additions)
            for addition in additions:
                counts["new_changesets"] += len(addition.imported.changesets)
                updated.add(addition.artifact.pk)
                if addition.imported.changesets:
                    changed[addition.artifact.pk] = _latest(addition.imported.changesets)
                if run.links is not None and any(run.links in c.values for c in addition.imported.changesets):
                    self.touched.setdefault(run.tracker.pk, set()).add(addition.artifact.pk)
        records.record_additions(
            [(a.artifact.pk, a.imported) for _, additions in by_writer.values() for a in additions]
        )
        edit_comments([edit for _, _, edit, _ in edits])
        for artifact_id, jira_id, _, when in edits:
            records.record_comment_edit(artifact_id, jira_id, when)
        for artifact_id, _, edit, _ in edits:
            changed.setdefault(artifact_id, edit.changeset_id)
        counts["updated_issues"] = len(updated)
        return conflicts

    def _local_changes(self, items: dict[int, records.Known]) -> dict[int, dict[int, dt.datetime]]:
        """artifact id -> {field id: when it was last changed here} since the previous run."""
        imported = {changeset for known in items.values() for changeset, _ in known.values() if changeset}
        rows = ChangesetValue.objects.filter(
            changeset__artifact_id__in=list(items),
            changeset__is_creation=False,
            changeset__submitted_on__gte=self.local_since,
        ).values_list("changeset_id", "changeset__artifact_id", "field_id", "changeset__submitted_on")
        local: dict[int, dict[int, dt.datetime]] = {}
        for changeset_id, artifact_id, field_id, when in rows:
            if changeset_id in imported:
                continue
            fields = local.setdefault(artifact_id, {})
            fields[field_id] = max(when, fields.get(field_id, when))
        return local

    def _conflicts(
        self, artifact: Any, news: ImportedArtifact, local: dict[int, dt.datetime]
    ) -> list[dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for changeset in news.changesets:
            for field_ in changeset.values:
                here = local.get(field_.pk)
                if here is None:
                    continue
                kept = "jira" if changeset.submitted_on > here else "here"
                found[field_.pk] = {
                    "artifact": artifact.pk,
                    "key": news.reference,
                    "url": f"{settings.SITE_URL}{reverse('tracker:artifact-detail', args=[artifact.pk])}",
                    "field": field_.label,
                    "here": here.isoformat(),
                    "jira": changeset.submitted_on.isoformat(),
                    "kept": kept,
                }
        return list(found.values())

    # -- what Jira no longer has ----------------------------------------------------------------------

    def _missing(self, client: JiraClient) -> list[dict[str, Any]]:
        """The import's issues the project's search no longer finds, and why (deleted or moved)."""
        present: set[str] = set()
        for issues, _ in search_pages(
            client,
            self.base_where,
            fields=["id"],
            expand="",
            what=f"listing the issues of {self.jira_import.jira_project_key}",
            page_size=1000,
        ):
            present |= {str(issue.get("id", "")) for issue in issues}
        gone = [
            (issue_id, key, artifact_id)
            for issue_id, key, artifact_id in records.issues_of(self.jira_import)
            if issue_id not in present
        ]
        missing = []
        for n, (issue_id, key, artifact_id) in enumerate(gone):
            reason = "no longer in the Jira project"
            if n < MISSING_LOOKUPS:
                reason = self._why_missing(client, issue_id)
            missing.append({"key": key, "artifact": artifact_id, "reason": reason})
        return missing

    def _why_missing(self, client: JiraClient, issue_id: str) -> str:
        try:
            issue = client.get_json(
                f"issue/{issue_id}",
                {"fields": "project,issuetype"},
                what="looking for an issue gone from the search",
            )
        except JiraAccessError as error:
            if error.status in (403, 404):
                return "deleted in Jira (or no longer visible to this Jira account)"
            raise
        fields = issue.get("fields") if isinstance(issue, dict) else None
        project = (fields or {}).get("project") or {}
        if str(project.get("key") or "") != self.jira_import.jira_project_key:
            return f"moved in Jira to {issue.get('key')} ({project.get('key')})"
        return "its Jira issue type is no longer one of those imported"


def _latest(changesets: list[Any]) -> int:
    """The stored id of the latest of the planned changesets just written (what its email is about)."""
    latest = max(changesets, key=lambda c: (c.submitted_on, c.stored_pk or 0))
    assert latest.stored_pk is not None
    return latest.stored_pk
