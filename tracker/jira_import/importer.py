"""The Jira import engine: one run of one import, one Jira issue type into a new tracker with its history.

:meth:`Importer.run` puts the other modules to work, in order:

1. connects, and reads the project, the issue type, its fields and statuses (:mod:`.discovery`);
2. plans the tracker's fields (:mod:`.mapping`) and creates the tracker (:mod:`.runs`), or finds it
   when the run resumes an interrupted one;
3. streams the issues page by page (``JIRA_IMPORT_PAGE_SIZE``), never holding the whole project: a
   thread fetches the next page (:mod:`.fetch`: search, remaining history and comments, attachment
   files) while the current one is replayed into planned changesets (:mod:`.replay`) and written in
   one transaction (:mod:`tracker.services.bulk_import`);
4. turns the links between imported issues into artifact links (their target may come later);
5. between pages, records its progress (:mod:`.runs`), which stops the run on a cancel request, and
   quietly when another run has taken the import over.

An issue already imported (``Artifact.jira_issue_id``, unique per tracker) is skipped, so a job retried
after its worker was killed carries on where the last committed page ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import IntegrityError

from tracker.jira_import import discovery
from tracker.jira_import.client import JiraClient, JiraCredentials, JiraResponseError, connect
from tracker.jira_import.fetch import SHAPE_ERRORS, FetchedPage, Fetcher, Prefetcher, unexpected_shape
from tracker.jira_import.mapping import LINKS, SEARCHED_SYSTEM_FIELDS, FieldPlan, SkippedField, plan_fields
from tracker.jira_import.options import Options
from tracker.jira_import.people import People
from tracker.jira_import.replay import Binding, Replay
from tracker.jira_import.runs import ImportRun
from tracker.models import Field, FieldType, JiraImport, Tracker
from tracker.services import bulk_import
from tracker.services.bulk_import import ImportedArtifact, ImportWriter, InvalidImportedValue
from tracker.services.trackers import TrackerSpec

logger = logging.getLogger("tracker.jira_import")

Progress = Callable[[int, int], None]


def search_fields(bindings: list[Binding]) -> list[str]:
    """What the search asks of every issue: the mapped fields and those the engine reads anyway."""
    return sorted(SEARCHED_SYSTEM_FIELDS | {b.plan.jira_id for b in bindings if b.plan.jira_id})


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
        self.skipped: list[dict[str, str]] = list(self.jira_import.skipped or [])
        self.people = People(None, self.jira_import.user_report or None)
        self.tracker: Tracker | None = self.jira_import.tracker
        self.done = 0
        self.total = 0

    def run(self) -> Tracker:
        ji = self.jira_import
        if self.client is None:
            self.client = connect(self.credentials)
        client = self.client
        import_id = ji.pk
        # A cancel reaches a request in flight (a slow page, a long download) within about a second.
        client.cancel_probe = lambda: JiraImport.objects.filter(pk=import_id, cancel_requested=True).exists()
        self.people.client = client
        self.import_run.record_flavor(client.flavor)
        key = discovery.check_project_key(ji.jira_project_key)
        project = discovery.project(client, key)
        issue_type = discovery.issue_type(client, key, ji.issue_type_id)
        self.import_run.record_names(str(project.get("name") or key), issue_type.name)
        fields = discovery.create_fields(client, key, issue_type.id)
        statuses = discovery.statuses(client, key, issue_type.id)
        plans, skipped = plan_fields(fields, statuses)
        self._note_skipped(skipped)
        tracker = self.tracker = self._tracker(plans)
        bindings = self._bind(tracker, plans)
        replay = Replay(bindings, self.people, client.browse_url)
        writer = ImportWriter(tracker, [b.field for b in bindings])
        fetcher = Fetcher(client, import_id=ji.pk, tracker_id=tracker.pk, fields=search_fields(bindings))
        # Issues an interrupted run imported already (a resumed job skips them).
        already = set(bulk_import.imported_ids(tracker))
        if client.is_cloud:  # Cloud's search gives no total; Server's first page does
            self.total = fetcher.approximate_count(key, issue_type.id)
        self.checkpoint()
        with Prefetcher(fetcher, key, issue_type.id, already) as pages:
            for page in pages:
                if page.total is not None:
                    self.total = page.total
                self._import_page(page, replay, writer)
                self.checkpoint()
        links = next((b for b in bindings if b.plan.name == LINKS), None)
        if links is not None:
            bulk_import.resolve_links(tracker, links.field)
        self.checkpoint()
        return tracker

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

    # -- the tracker ------------------------------------------------------------------------------

    def _tracker(self, plans: list[FieldPlan]) -> Tracker:
        if self.tracker is not None:
            return self.tracker  # a resumed run: the tracker and its fields are there
        ji = self.jira_import
        site = self.client.base_url if self.client else ji.jira_url
        return self.import_run.create_tracker(
            TrackerSpec(
                name=ji.tracker_name,
                shortname=ji.tracker_shortname,
                color=ji.tracker_color,
                description=(
                    f"Imported from the Jira project {ji.jira_project_key} ({ji.issue_type_name}) at "
                    f"{site}. Jira permissions are not imported."
                ),
                fields=[plan.spec() for plan in plans],
            )
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

    # -- one page ---------------------------------------------------------------------------------

    def _import_page(self, page: FetchedPage, replay: Replay, writer: ImportWriter) -> None:
        try:
            planned: list[ImportedArtifact] = []
            for fetched in page.issues:
                self._note_skipped(fetched.skipped)
                try:
                    planned.append(replay.plan(fetched))
                except SHAPE_ERRORS as error:
                    key = str(fetched.issue.get("key", "?"))
                    raise unexpected_shape(self.jira_import.pk, key, error) from None
            # The files' authors are matched last: the page's histories may have looked them up.
            for artifact, fetched in zip(planned, page.issues, strict=True):
                artifact.attachments = replay.attachments(fetched)
            self._write(writer, planned)
        except BaseException:
            page.discard_files()  # the page's rows are rolled back: its files go too
            raise
        self.done += page.size

    def _write(self, writer: ImportWriter, planned: list[ImportedArtifact]) -> None:
        try:
            writer.write(planned)
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
