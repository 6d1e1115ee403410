"""``manage.py import_jira``: import a Jira issue type into a new tracker, synchronously, from a terminal.

Credentials come from the environment only, never from arguments (which ``ps`` shows to everyone):
``JIRA_USERNAME`` (an email on Jira Cloud, a user name on Server; absent means a Bearer personal access
token) and ``JIRA_TOKEN``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from tracker.jira_import import discovery, services
from tracker.jira_import.client import JiraAccessError, JiraCredentials
from tracker.jira_import.url_guard import RefusedURL
from tracker.models import JiraImport, Project, User

BAR_WIDTH = 30


class ProgressBar:
    """``Importing DEMO  [#######.......]  12/25 issues`` on one line of stderr, rewritten in place.

    On a terminal the line is rewritten in place; otherwise (a log file) a line every two seconds.
    """

    def __init__(self, label: str, stream: OutputWrapper) -> None:
        self.label = label
        self.stream = stream
        self.last = 0.0
        self.shown: tuple[int, int] | None = None
        self.interactive = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if (done, total) == self.shown:
            return
        if self.interactive or now - self.last >= 2 or (total and done >= total):
            self.last, self.shown = now, (done, total)
            filled = int(BAR_WIDTH * done / total) if total else 0
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            end = "\r" if self.interactive else "\n"
            self.stream.write(f"{self.label}  [{bar}]  {done}/{total or '?'} issues{end}", ending="")
            self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("", ending="\n")


class Command(BaseCommand):
    help = (
        "Import the issues of one type of a Jira project into a new tracker, with their history, comments, "
        "attachments and links. Credentials come from JIRA_USERNAME (absent: a Bearer token) and JIRA_TOKEN."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", required=True, help="The Jira site, such as https://example.atlassian.net"
        )
        parser.add_argument("--project", required=True, help="The Jira project key, such as DEMO.")
        parser.add_argument("--issue-type", required=True, help="The issue type's name (or id), such as Bug.")
        parser.add_argument(
            "--into", required=True, help="The short name of the project to create the tracker in."
        )
        parser.add_argument("--tracker-name", default="", help="The new tracker's name (default: from Jira).")
        parser.add_argument("--tracker-shortname", default="", help="Its short name (default: from Jira).")
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
        self.stdout.write(
            f"Importing the {jira_import.issue_type_name} issues of {jira_import.jira_project_key} into the "
            f"tracker {jira_import.tracker_name} ({jira_import.tracker_shortname}) of {project.shortname}."
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
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: tracker #{jira_import.tracker_id} with {counts.get('issues', 0)} issues, "
                f"{counts.get('changesets', 0)} changesets, {counts.get('comments', 0)} comments, "
                f"{counts.get('attachments', 0)} attachments, {counts.get('links', 0)} links."
            )
        )
        for item in jira_import.skipped:
            self.stdout.write(f"Not imported: {item['field']}: {item['reason']}")
        self.stdout.write("Permissions are not imported: the tracker has the project's permissions.")

    def _create(
        self, credentials: JiraCredentials, project: Project, requester: User | None, options: dict[str, Any]
    ) -> JiraImport:
        wanted = options["issue_type"].strip()
        key = discovery.check_project_key(options["project"])
        types = discovery.list_issue_types(credentials, key)
        found = next((t for t in types if wanted.casefold() in (t.name.casefold(), t.id)), None)
        if found is None:
            names = ", ".join(t.name for t in types) or "none"
            raise CommandError(f"The Jira project {key} has no issue type {wanted!r}; it has: {names}.")
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
