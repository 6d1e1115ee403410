"""``manage.py import_jira``: import a Jira project (or one issue type) into new trackers, from a terminal.

Credentials come from the environment only, never from arguments (which ``ps`` shows to everyone):
``JIRA_USERNAME`` (an email on Jira Cloud, a user name on Server; absent means a Bearer personal access
token) and ``JIRA_TOKEN``. One ``--issue-type`` keeps the single-type form (one tracker, named after
the project and the type unless ``--tracker-name``); several, or ``--all-issue-types``, import the
whole project: one tracker per issue type, or one for all with ``--mono-tracker``. The progress bar is
rich's (rate and time left, across every issue type).
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from tracker.jira_import import discovery, runs, schedules, services, update_service
from tracker.jira_import.credentials import JiraCredentials
from tracker.jira_import.emails import update_counts
from tracker.jira_import.errors import JiraAccessError
from tracker.jira_import.url_guard import RefusedURL
from tracker.models import JiraImport, JiraSyncRun, Project, User


class ProgressBar:
    """rich's progress bar on stderr: issues done / total across all issue types, rate and time left.

    On a terminal it is redrawn in place; otherwise (a log file) rich prints it when it ends.
    """

    def __init__(self, label: str, stream: OutputWrapper) -> None:
        console = Console(file=stream, width=100, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("issues"),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task(label, total=None, rate="")
        self.started = time.monotonic()
        self.progress.start()

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.progress.update(self.task, completed=done, total=total or None, rate=f"{done / elapsed:.1f}/s")

    def close(self) -> None:
        self.progress.stop()


class Command(BaseCommand):
    help = (
        "Import the issues of one type of a Jira project into a new tracker, with their history, comments, "
        "attachments and links. Credentials come from JIRA_USERNAME (absent: a Bearer token) and JIRA_TOKEN."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--update",
            type=int,
            metavar="IMPORT_ID",
            help="Bring the finished import IMPORT_ID up to date with what changed in Jira since its last "
            "run (the other options are not used; the token comes from JIRA_TOKEN as for an import).",
        )
        parser.add_argument("--url", help="The Jira site, such as https://example.atlassian.net")
        parser.add_argument("--project", help="The Jira project key, such as DEMO.")
        parser.add_argument(
            "--issue-type",
            action="append",
            default=[],
            help="An issue type's name (or id), such as Bug; repeat it for several. One alone keeps the "
            "single-type form (one tracker named after the project and the type).",
        )
        parser.add_argument(
            "--all-issue-types", action="store_true", help="Import every issue type of the project."
        )
        parser.add_argument(
            "--mono-tracker",
            action="store_true",
            help="One tracker for all the issue types (with an Issue type field) instead of one per type.",
        )
        parser.add_argument("--into", help="The short name of the project to create the tracker in.")
        parser.add_argument("--tracker-name", default="", help="The new tracker's name (default: from Jira).")
        parser.add_argument("--tracker-shortname", default="", help="Its short name (default: from Jira).")
        parser.add_argument(
            "--sync-every",
            type=int,
            metavar="MINUTES",
            help="Once imported, keep the trackers in sync with Jira every MINUTES (15 or more), with "
            "--sync-days; the token is then kept, encrypted, until the sync stops.",
        )
        parser.add_argument("--sync-days", type=int, metavar="DAYS", help="How long to sync (at most 90).")
        parser.add_argument(
            "--as",
            dest="as_user",
            default="",
            help="Import as this user (a project admin), who gets the email.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        token = os.environ.get("JIRA_TOKEN", "")
        if not token:
            raise CommandError(
                "Set JIRA_TOKEN (an API token, personal access token or password) and, unless it is a "
                "Bearer token, JIRA_USERNAME in the environment; credentials are never read from arguments."
            )
        if options["update"] is not None:
            update_from_jira(self, options["update"], token, os.environ.get("JIRA_USERNAME"))
            return
        missing = [f"--{name}" for name in ("url", "project", "into") if not options[name]]
        if missing:
            raise CommandError(f"An import needs {', '.join(missing)} (or --update IMPORT_ID).")
        credentials = JiraCredentials(options["url"], os.environ.get("JIRA_USERNAME", ""), token)
        project = Project.objects.filter(shortname=options["into"]).first()
        if project is None:
            raise CommandError(f"No project with the short name {options['into']!r}.")
        requester = None
        if options["as_user"]:
            requester = User.objects.filter(username=options["as_user"], is_active=True).first()
            if requester is None:
                raise CommandError(f"No active user named {options['as_user']!r}.")
        try:
            jira_import = self._create(credentials, project, requester, options)
        except (JiraAccessError, RefusedURL) as error:
            raise CommandError(str(error)) from None
        except PermissionDenied as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            messages = [f"{field}: {' '.join(problems)}" for field, problems in error.message_dict.items()]
            raise CommandError("\n".join(messages)) from None
        planned = ", ".join(
            f"{t.name} ({t.shortname})" for t in jira_import.planned_trackers.filter(role="issues")
        )
        if (options["sync_every"] is None) != (options["sync_days"] is None):
            raise CommandError("Give both --sync-every and --sync-days to keep the import in sync.")
        if options["sync_every"] is not None:
            try:
                schedule = schedules.start_schedule(
                    jira_import,
                    requested_by=requester,
                    token=token,
                    interval_minutes=options["sync_every"],
                    days=options["sync_days"],
                )
            except ValidationError as error:
                runs.withdraw(jira_import)
                raise CommandError(" ".join(error.messages)) from None
            self.stdout.write(
                f"Import #{jira_import.pk} will be synced with Jira every {schedule.interval_minutes} "
                f"minutes until {schedule.expires_at:%Y-%m-%d %H:%M} UTC (the token is kept, encrypted, "
                "until then)."
            )
        plural = "s" if "," in planned else ""
        what = f"the {jira_import.issue_type_name} issues of {jira_import.jira_project_key}"
        self.stdout.write(
            f"Import #{jira_import.pk}: {what} into the tracker{plural} {planned} of {project.shortname}."
        )
        bar = ProgressBar(f"Importing {jira_import.jira_project_key}", self.stderr)
        try:
            jira_import = services.run_import(jira_import, progress=bar)
        except KeyboardInterrupt:
            services.cancel_import(jira_import, by=None)
            jira_import = services.run_import(JiraImport.objects.get(pk=jira_import.pk))
            raise CommandError("Interrupted: the import was cancelled and nothing of it was kept.") from None
        finally:
            bar.close()
        if jira_import.status != JiraImport.Status.DONE:
            raise CommandError(f"The import {jira_import.status}: {jira_import.error}")
        counts = jira_import.counts
        trackers = ", ".join(
            f"#{t.tracker_id} {t.name}" for t in jira_import.planned_trackers.exclude(tracker=None)
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: import #{jira_import.pk}, tracker #{jira_import.tracker_id} with "
                + f"{counts.get('issues', 0)} issues, {counts.get('changesets', 0)} changesets, "
                + f"{counts.get('comments', 0)} comments, "
                f"{counts.get('attachments', 0)} attachments, {counts.get('links', 0)} links, "
                f"{counts.get('sprints', 0)} sprints, {counts.get('time_entries', 0)} time entries "
                f"(trackers: {trackers})."
            )
        )
        for item in jira_import.skipped:
            count = f" ({item['issues']} issues)" if item.get("issues") else ""
            self.stdout.write(f"Not imported: {item['field']}: {item['reason']}{count}")
        if not jira_import.skipped:
            self.stdout.write("Every field was imported.")
        for note in jira_import.notes:
            self.stdout.write(f"Note: {note}")
        self.stdout.write("Permissions are not imported: the tracker has the project's permissions.")

    def _create(
        self, credentials: JiraCredentials, project: Project, requester: User | None, options: dict[str, Any]
    ) -> JiraImport:
        wanted = [name.strip() for name in options["issue_type"] if name.strip()]
        key = discovery.check_project_key(options["project"])
        if not wanted and not options["all_issue_types"]:
            raise CommandError(
                "Name the issue types to import (--issue-type NAME, repeatable) or --all-issue-types."
            )
        types = discovery.list_issue_types(credentials, key)
        chosen = []
        for name in wanted:
            found = next((t for t in types if name.casefold() in (t.name.casefold(), t.id)), None)
            if found is None:
                names = ", ".join(t.name for t in types) or "none"
                raise CommandError(f"The Jira project {key} has no issue type {name!r}; it has: {names}.")
            chosen.append(found)
        if options["all_issue_types"] or len(chosen) > 1 or options["mono_tracker"]:
            names = (
                {services.MONO: services.TrackerNames(options["tracker_name"], options["tracker_shortname"])}
                if options["mono_tracker"] and options["tracker_name"] and options["tracker_shortname"]
                else None
            )
            return services.create_import(
                project=project,
                requested_by=requester,
                credentials=credentials,
                jira_project_key=key,
                issue_type_ids=[] if options["all_issue_types"] else [t.id for t in chosen],
                layout=services.MONO if options["mono_tracker"] else services.MULTI,
                trackers=names,
            )
        found = chosen[0]
        info = discovery.project_info(credentials, key)
        name, shortname = services.suggested_names(info.name, key, found.name)
        return services.create_import(
            project=project,
            requested_by=requester,
            credentials=credentials,
            jira_project_key=key,
            issue_type_id=found.id,
            tracker_name=options["tracker_name"] or name,
            tracker_shortname=options["tracker_shortname"] or shortname,
        )


def update_from_jira(command: BaseCommand, import_id: int, token: str, username: str | None) -> None:
    """``--update IMPORT_ID``: run an update of the import in this process, with its report."""
    jira_import = JiraImport.objects.select_related("project").filter(pk=import_id).first()
    if jira_import is None:
        raise CommandError(f"No Jira import #{import_id}.")
    if username is not None and username.strip() != jira_import.username:
        raise CommandError(
            f"The import #{import_id} was made as {jira_import.username or 'a Bearer token'}; update it "
            "with that account's token (JIRA_USERNAME, when set, must be the same)."
        )
    try:
        sync_run = update_service.create_update(jira_import, requested_by=None, token=token)
    except (PermissionDenied, update_service.UpdateRefused) as error:
        raise CommandError(str(error)) from None
    command.stdout.write(
        f"Updating import #{jira_import.pk} ({jira_import.jira_project_key} at {jira_import.jira_url}) "
        "from Jira."
    )
    bar = ProgressBar(f"Updating {jira_import.jira_project_key}", command.stderr)
    try:
        sync_run = update_service.run_update(sync_run, progress=bar)
    except KeyboardInterrupt:
        update_service.cancel_update(sync_run, by=None)
        raise CommandError(
            f"Interrupted: the update of import #{jira_import.pk} stopped; what it brought is kept."
        ) from None
    finally:
        bar.close()
    if sync_run.status != JiraSyncRun.Status.DONE:
        raise CommandError(f"The update of import #{jira_import.pk} {sync_run.status}: {sync_run.message}")
    if sync_run.up_to_date:
        command.stdout.write(
            command.style.SUCCESS(
                f"Done: import #{jira_import.pk} is {sync_run.message[0].lower()}{sync_run.message[1:]}"
            )
        )
        return
    counts = ", ".join(f"{count} {label.lower()}" for label, count in update_counts(sync_run))
    command.stdout.write(command.style.SUCCESS(f"Done: import #{jira_import.pk} updated: {counts}."))
    for conflict in sync_run.conflicts:
        kept = "Jira's change" if conflict["kept"] == "jira" else "the change made here"
        command.stdout.write(
            f"Conflict: {conflict['key']}, {conflict['field']}: kept {kept} ({conflict['url']})"
        )
    for gone in sync_run.missing:
        command.stdout.write(f"No longer in Jira: {gone['key']}: {gone['reason']} (kept here)")
