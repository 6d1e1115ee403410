"""The Jira import engine: one run of one import, a whole Jira project into new trackers with their history.

:meth:`Importer.run` puts the other modules to work, in order:

1. connects, and reads the project, its issue types, statuses and priorities, and the site's
   fields (:mod:`.discovery`);
2. reads every chosen issue once (:mod:`.survey`): the fields of their edit metadata, the fields
   that hold a value (and on how many issues), their sprints, how many they are;
3. plans each tracker's fields (:mod:`.mapping`: create metadata, edit metadata and carried fields)
   and creates the trackers (:mod:`.runs`): one per issue type, or one for all of them, and one for
   the sprints; or finds them when the run resumes an interrupted one;
4. streams the issues page by page (``JIRA_IMPORT_PAGE_SIZE``), never holding the whole project: a
   thread fetches the next page (:mod:`.fetch`: search, remaining history, comments and work logs,
   attachment files) while the current one is replayed into planned changesets (:mod:`.replay`) and
   written per tracker in one transaction (:mod:`tracker.services.bulk_import`), with the record of
   which artifact each Jira issue, changelog entry, comment, work log and attachment became;
5. turns the links to imported issues (in any of the import's trackers, or in an earlier import
   from the same Jira site) and to sprints into artifact links;
6. between pages, records its progress (:mod:`.runs`), which stops the run on a cancel request, and
   quietly when another run has taken the import over.

An issue already imported (``Artifact.jira_issue_id``, unique per tracker) is skipped, so a job retried
after its worker was killed carries on where the last committed page ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from tracker.jira_import import discovery, records, survey
from tracker.jira_import.client import JiraClient, connect
from tracker.jira_import.credentials import JiraCredentials
from tracker.jira_import.discovery import JiraFieldInfo
from tracker.jira_import.errors import JiraAccessError, JiraResponseError
from tracker.jira_import.fetch import (
    SHAPE_ERRORS,
    FetchedPage,
    Fetcher,
    approximate_count,
    unexpected_shape,
)
from tracker.jira_import.field_values import Binding
from tracker.jira_import.jira_fields import SPRINT
from tracker.jira_import.mapping import SPRINT_FIELDS, FieldPlan, SkippedField, link_role, plan_fields
from tracker.jira_import.options import Options
from tracker.jira_import.people import People
from tracker.jira_import.prefetch import Prefetcher
from tracker.jira_import.replay import Replay
from tracker.jira_import.runs import ImportRun
from tracker.jira_import.sprints import SprintInfo, board_sprints, planned_sprints
from tracker.jira_import.tracker_runs import TrackerRun, issue_type_of, named_field, search_fields
from tracker.models import (
    Field,
    FieldType,
    JiraImport,
    JiraImportTracker,
    Tracker,
)
from tracker.services import bulk_import, imported_links
from tracker.services.bulk_import import (
    ImportedArtifact,
    ImportWriter,
    InvalidImportedValue,
)
from tracker.services.trackers import TrackerSpec

logger = logging.getLogger("tracker.jira_import")

Progress = Callable[[int, int], None]


class Importer:
    """One run of one import; :meth:`run` raises JiraAccessError, RefusedURL, ImportFailed, ImportStopped."""

    def __init__(
        self,
        import_run: ImportRun,
        credentials: JiraCredentials,
        progress: Progress | None = None,
        client: JiraClient | None = None,
    ) -> None:
        self.import_run = import_run
        self.jira_import = import_run.jira_import
        self.credentials = credentials
        self.progress = progress
        self.client = client
        self.skipped: list[dict[str, Any]] = list(self.jira_import.skipped or [])
        self.people = People(None, self.jira_import.user_report or None)
        self.done = 0
        self.total = 0
        self.notes: list[str] = []

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> list[Tracker]:
        ji = self.jira_import
        if self.client is None:
            self.client = connect(self.credentials)
        client = self.client
        import_id = ji.pk
        # A cancel reaches a request in flight (a slow page, a long download) within about a second.
        client.cancel_probe = lambda: JiraImport.objects.filter(pk=import_id, cancel_requested=True).exists()
        self.people.client = client
        self.people.site = client.base_url.lower()
        self.import_run.record_flavor(client.flavor)
        key = discovery.check_project_key(ji.jira_project_key)
        project = discovery.project(client, key)
        available = {t.id: t for t in discovery.issue_types(client, key)}
        chosen = [str(t["id"]) for t in ji.issue_types or []] or [ji.issue_type_id]
        missing = [type_id for type_id in chosen if type_id not in available]
        if missing:
            raise JiraAccessError(
                f"The Jira project {key} has no issue type with id {', '.join(missing)} any more.",
                field="issue_type_id",
            )
        self.import_run.record_names(
            str(project.get("name") or key), ", ".join(available[t].name for t in chosen)
        )
        site_fields = discovery.site_fields(client)
        names = {fid: info.name for fid, info in site_fields.items()}
        sprint_fields = {fid for fid, info in site_fields.items() if link_role(info) == SPRINT}
        where = self._where(client, f'project = "{key}" AND issuetype in ({", ".join(chosen)})')
        self.checkpoint()
        carried = survey.survey(
            client, where, key, sprint_fields=sprint_fields.__contains__, progress=self._surveyed
        )
        self.total = carried.total
        statuses = discovery.statuses_by_type(client, key)
        priorities = discovery.priorities(client)
        rows = list(JiraImportTracker.objects.filter(jira_import=ji).order_by("rank", "id"))
        runs: dict[str, TrackerRun] = {}
        for row in rows:
            if row.role != JiraImportTracker.Role.ISSUES:
                continue
            type_ids = [str(t) for t in row.issue_type_ids] or chosen
            part = carried.of(type_ids)
            fields = self._fields(client, key, type_ids, part, site_fields)
            plan = plan_fields(
                fields,
                [s for type_id in type_ids for s in statuses.get(type_id, [])],
                carried=part.carried,
                priorities=priorities,
                issue_types=[(t, available[t].name) for t in type_ids] if len(type_ids) > 1 else None,
            )
            self._note_skipped(plan.skipped)
            tracker = row.tracker or self.import_run.create_tracker(
                row, self._spec(row, plan.plans, site=client)
            )
            bindings = self._bind(tracker, plan.plans)
            replay = Replay(
                bindings, self.people, client.browse_url, link_fields=plan.link_fields, field_names=names
            )
            run = TrackerRun(
                row, tracker, bindings, replay, ImportWriter(tracker, [b.field for b in bindings])
            )
            for type_id in type_ids:
                runs[type_id] = run
        sprint_tracker = self._sprints(client, key, rows, carried.sprints)
        link_fields = {fid for run in runs.values() for fid in run.replay.link_fields}
        fetcher = Fetcher(
            client,
            import_id=ji.pk,
            folder=lambda issue: runs[issue_type_of(issue)].tracker.pk,
            fields=search_fields(
                [b for run in runs.values() for b in run.bindings], link_fields | {"worklog"}
            ),
        )
        trackers = list({run.tracker.pk: run.tracker for run in runs.values()}.values())
        fetcher.kept = self._kept_attachments(trackers)
        already = self._already(trackers)
        if not self.total and client.is_cloud:
            self.total = approximate_count(client, where)
        self.checkpoint()
        with Prefetcher(fetcher, where, key, already) as pages:
            for page in pages:
                if page.total is not None:
                    self.total = max(self.total, page.total)
                self._import_page(page, runs)
                self.checkpoint()
        targets = records.link_targets(self.jira_import, client.base_url.lower(), sprint_tracker)
        for run in {run.tracker.pk: run for run in runs.values()}.values():
            if run.links is not None:
                self._resolve_links(run, targets)
        self._after_pages(client, where)
        self.checkpoint()
        return trackers + ([sprint_tracker] if sprint_tracker else [])

    # -- what an update run does differently (tracker.jira_import.update) -------------------------

    def _where(self, client: JiraClient, where: str) -> str:
        """The search of the issues to bring: all of them for an import."""
        return where

    def _already(self, trackers: list[Tracker]) -> set[str]:
        """Issues an interrupted run imported already (a resumed job skips them)."""
        return {source for tracker in trackers for source in imported_links.imported_ids(tracker)}

    def _kept_attachments(self, trackers: list[Tracker]) -> dict[str, set[str]]:
        """Jira issue id -> the attachment ids already here (not downloaded again): none for an import."""
        return {}

    def _resolve_links(self, run: TrackerRun, targets: dict[str, int]) -> None:
        assert run.links is not None
        imported_links.resolve_links(run.tracker, run.links, targets)

    def _after_pages(self, client: JiraClient, where: str) -> None:
        """Once every page is in (an update reports the issues Jira no longer has)."""

    def _surveyed(self, read: int) -> None:
        self.total = read
        self.checkpoint()

    def checkpoint(self) -> None:
        """Record progress; stop if cancelled, or if another run owns the import now."""
        total = max(self.total, self.done)
        self.import_run.checkpoint(
            done=self.done, total=total, skipped=self.skipped, user_report=self.people.report()
        )
        if self.progress is not None:
            self.progress(self.done, total)

    def _note_skipped(self, skipped: list[SkippedField]) -> None:
        for entry in skipped:
            item = entry.as_dict()
            if item not in self.skipped:
                self.skipped.append(item)

    # -- the trackers -----------------------------------------------------------------------------

    def _fields(
        self,
        client: JiraClient,
        key: str,
        type_ids: list[str],
        part: survey.TypeSurvey,
        site_fields: dict[str, JiraFieldInfo],
    ) -> list[JiraFieldInfo]:
        """Create metadata, then edit metadata, then every field that holds a value: their union."""
        found: dict[str, JiraFieldInfo] = {}
        for type_id in type_ids:
            try:
                created = discovery.create_fields(client, key, type_id)
            except JiraAccessError as error:
                # No Create Issues permission, or a site without create metadata: the edit metadata
                # and the values still say which fields the issues have.
                if error.status not in (403, 404) and not (
                    error.status is None and error.field == "issue_type_id"
                ):
                    raise
                created = []
            for info in created:
                found.setdefault(info.id, named_field(info, site_fields))
        for field_id, info in part.editmeta.items():
            found.setdefault(field_id, named_field(info, site_fields))
        for field_id in part.carried:
            if field_id not in found:
                found[field_id] = site_fields.get(field_id) or JiraFieldInfo(field_id, field_id, {})
        return list(found.values())

    def _spec(self, row: JiraImportTracker, plans: list[FieldPlan], *, site: JiraClient) -> TrackerSpec:
        ji = self.jira_import
        return TrackerSpec(
            name=row.name,
            shortname=row.shortname,
            color=row.color,
            description=(
                f"Imported from the Jira project {ji.jira_project_key} at {site.base_url}. "
                "Jira permissions are not imported."
            ),
            fields=[plan.spec() for plan in plans],
        )

    def _bind(self, tracker: Tracker, plans: list[FieldPlan]) -> list[Binding]:
        fields = {f.name: f for f in Field.objects.filter(tracker=tracker)}
        bindings = []
        for plan in plans:
            field_ = fields.get(plan.name)
            if field_ is None or field_.type != plan.type:
                # Jira's configuration changed between an interrupted run and this one.
                self._note_skipped([SkippedField(plan.label, "added in Jira while the import was running")])
                continue
            choice = plan.type in (FieldType.SELECT, FieldType.MULTI_SELECT)
            bindings.append(Binding(plan, field_, Options(field_, plan.options) if choice else None))
        return bindings

    # -- sprints ----------------------------------------------------------------------------------

    def _sprints(
        self, client: JiraClient, key: str, rows: list[JiraImportTracker], named: dict[str, SprintInfo]
    ) -> Tracker | None:
        """The Sprints tracker and its artifacts: what the issues name, completed by the boards' sprints."""
        row = next((r for r in rows if r.role == JiraImportTracker.Role.SPRINTS), None)
        if row is None or not named:
            return None  # the imported issues have no sprint: no Sprints tracker
        found = {sprint_id: sprint for sprint_id, sprint in named.items()}
        boards, refused = board_sprints(client, key)
        if refused and refused not in self.notes:
            self.notes.append(refused)
            self.import_run.record_notes(self.notes)
        for sprint in boards:
            if sprint.id in found:
                found[sprint.id].merge(sprint)
            else:
                found[sprint.id] = sprint
        if not found:
            return None
        tracker = row.tracker or self.import_run.create_tracker(
            row,
            TrackerSpec(
                name=row.name,
                shortname=row.shortname,
                color=row.color,
                description=f"The sprints of the Jira project {key}, imported with its issues.",
                fields=SPRINT_FIELDS,
            ),
        )
        fields = {f.name: f for f in Field.objects.filter(tracker=tracker)}
        already = set(imported_links.imported_ids(tracker))
        importer = self.people.importer
        planned = planned_sprints(
            found.values(), fields, already, author_id=importer.pk, default_when=self.jira_import.created_at
        )
        if planned:
            self._write([(ImportWriter(tracker, list(fields.values())), planned)], site=None)
        return tracker

    # -- one page ---------------------------------------------------------------------------------

    def _import_page(self, page: FetchedPage, runs: dict[str, TrackerRun]) -> None:
        try:
            planned: dict[int, list[tuple[ImportedArtifact, Any]]] = {}
            for fetched in page.issues:
                self._note_skipped(fetched.skipped)
                run = runs.get(issue_type_of(fetched.issue))
                key = str(fetched.issue.get("key", "?"))
                if run is None:  # its type changed to one not imported between the search and now
                    self._note_skipped([SkippedField(key, "its issue type is not one of those imported")])
                    continue
                try:
                    planned.setdefault(run.tracker.pk, []).append((run.replay.plan(fetched), fetched))
                except SHAPE_ERRORS as error:
                    raise unexpected_shape(self.jira_import.pk, key, error) from None
            by_tracker = {run.tracker.pk: run for run in runs.values()}
            site = self.client.base_url.lower() if self.client else ""
            batches = []
            for tracker_id, pairs in planned.items():
                run = by_tracker[tracker_id]
                # The files' authors are matched last: the page's histories may have looked them up.
                for artifact, fetched in pairs:
                    artifact.attachments = run.replay.attachments(fetched)
                batches.append((run.writer, [artifact for artifact, _ in pairs]))
            self._write(batches, site=site)  # the page, all its trackers, in one transaction
        except BaseException:
            page.discard_files()  # the page's rows are rolled back: its files go too
            raise
        self.done += page.size

    def _write(self, batches: list[tuple[ImportWriter, list[ImportedArtifact]]], *, site: str | None) -> None:
        """Write the artifacts and, for issues, the record of what each became (same transaction)."""
        try:
            with transaction.atomic():
                rows = bulk_import.write_batches(batches)
                if site is not None:
                    planned = [imported for _, batch in batches for imported in batch if batch]
                    records.record(self.jira_import, site, planned, rows)
        except IntegrityError:
            self.import_run.check_owner()  # RunSuperseded: the run that took over wrote these issues
            raise
        except InvalidImportedValue as error:
            logger.error(
                "Jira import %s: issue %s has a value that does not fit the field %s",
                self.jira_import.pk,
                error.reference,
                error.field.name,
            )
            raise JiraResponseError(
                f"Jira sent the issue {error.reference} with a value that does not fit the field "
                f"{error.field.label} ({error.problem}); the import stopped."
            ) from None
