"""The Jira import engine: one Jira issue type into a new tracker, with its whole history.

How an issue becomes an artifact
    The first changeset is the issue as it was created: dated ``created``, authored by its creator, each
    field holding its first changelog ``from`` value, or its current value when it never changed. Jira
    only gives the current values and the changelog, so the engine starts from the current values and
    undoes the changelog newest first; that also rebuilds multi-valued fields, whose changelog adds or
    removes one value per item. Then comes one changeset per changelog entry (its author, date and
    changed values) and one per comment, merged in date order. Attachments are downloaded into the
    file storage; links between imported issues become artifact links in a second pass at the end
    (their target may come later), links elsewhere stay as the Jira key and URL.

How it is written
    Page by page (``JIRA_IMPORT_PAGE_SIZE`` issues), never holding the whole project: a thread fetches
    the next page (search, remaining history and comments, attachment files) while the current one is
    planned and written in one transaction of ``bulk_create`` for artifacts, attachments, changesets
    and values. No per-save path runs, so no signal, notification or metric fires per row.
    ``Artifact.current_values`` and ``title`` hold what the artifact service would have stored (the
    representations of ``tracker.services.values``).

Interruptions
    An issue already imported (``Artifact.jira_issue_id``, unique per tracker) is skipped, so a job
    retried after its worker was killed carries on where the last committed page ended. Between pages
    the engine records its progress, stops on a cancel request, and stops quietly when another run has
    taken the import over (``JiraImport.run_token``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import queue
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils.html import escape, linebreaks
from django.utils.text import get_valid_filename

from tracker.jira_import import discovery
from tracker.jira_import.client import (
    JiraAccessError,
    JiraClient,
    JiraCredentials,
    JiraResponseError,
    connect,
)
from tracker.jira_import.mapping import (
    ATTACHMENTS,
    CHANGELOG_ALIASES,
    LINKS,
    RESOLUTION_DATE,
    FieldPlan,
    SkippedField,
    plan_fields,
)
from tracker.jira_import.people import People, Person
from tracker.models import (
    Artifact,
    Attachment,
    Changeset,
    ChangesetValue,
    Field,
    FieldOption,
    FieldType,
    JiraImport,
    Tracker,
)
from tracker.services.history import sanitize_html
from tracker.services.trackers import TrackerSpec, create_tracker
from tracker.services.values import LIST_MAX_ITEMS, STRING_MAX_LENGTH, TEXT_MAX_LENGTH

logger = logging.getLogger("tracker.jira_import")

Progress = Callable[[int, int], None]

# Bounds on one issue: Jira content is untrusted, and a real issue has far less than this.
MAX_HISTORIES = 10_000
MAX_COMMENTS = 10_000
MAX_LINKS = LIST_MAX_ITEMS
CHANGELOG_PAGE = 100
COMMENT_PAGE = 100
# Fields asked for in the search besides the mapped ones.
BASE_FIELDS = (
    "summary",
    "issuetype",
    "status",
    "resolution",
    "resolutiondate",
    "created",
    "updated",
    "creator",
    "reporter",
    "attachment",
    "issuelinks",
    "subtasks",
    "parent",
    "comment",
)
PARENT_OF = "parent of"
SUBTASK_OF = "sub-task of"


class ImportStopped(Exception):
    """The run ends early without failing."""


class ImportCancelled(ImportStopped):
    """Someone asked to cancel: the run removes what it wrote."""


class RunSuperseded(ImportStopped):
    """Another run owns the import now (a retried job, or the system check cancelled it)."""


class ImportFailed(Exception):
    """The import cannot go on for a reason on our side; the message is for the user."""


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Jira's timestamps (``2024-01-02T09:00:00.000+0000``, ``2024-02-21 14:30:00.0``) as aware UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value.strip())
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def _date(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _split(value: Any, separator: str = ",") -> list[str]:
    if value is None:
        return []
    text = str(value).strip().strip("[]")
    return [part.strip() for part in text.split(separator) if part.strip()]


def _one_line(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    if len(text) > STRING_MAX_LENGTH:
        text = text[: STRING_MAX_LENGTH - 1] + "…"
    return text or None


def _storage_name(filename: str) -> str:
    try:
        return get_valid_filename(filename)[-100:]
    except SuspiciousFileOperation:  # nothing usable left, such as ".."
        return "attachment"


@dataclass(frozen=True)
class JiraFiles:
    """A files value still naming Jira attachment ids; the writer turns it into attachment ids."""

    ids: tuple[str, ...]


@dataclass(frozen=True)
class TextValue:
    """A rich text as Jira wrote it (wiki markup), made HTML when stored."""

    raw: str


class Options:
    """A select field's options, found by Jira id or label; values Jira did not announce are added."""

    def __init__(self, field_: Field, announced: list[tuple[str, str]]) -> None:
        self.field = field_
        self.by_label: dict[str, int] = {}
        self.next_rank = 0
        for option in FieldOption.objects.filter(field=field_).order_by("rank", "id"):
            self.by_label.setdefault(option.label.casefold(), option.pk)
            self.next_rank = max(self.next_rank, option.rank + 1)
        self.by_jira_id: dict[str, int] = {}
        for jira_id, label in announced:
            pk = self.by_label.get(label.casefold())
            if jira_id and pk is not None:
                self.by_jira_id[jira_id] = pk

    def resolve(self, jira_id: Any, label: Any) -> int | None:
        if jira_id is not None and str(jira_id) in self.by_jira_id:
            return self.by_jira_id[str(jira_id)]
        text = " ".join(str(label).split())[:255] if label is not None else ""
        if not text:
            return None
        pk = self.by_label.get(text.casefold())
        if pk is None:
            # A value gone from Jira's configuration (an archived version, a deleted option) that the
            # history still names. Created outside the page's transaction: a rolled-back page must not
            # leave this cache pointing at a row that no longer exists.
            option, _ = FieldOption.objects.get_or_create(
                field=self.field, label=text, defaults={"rank": self.next_rank}
            )
            self.next_rank += 1
            pk = self.by_label[text.casefold()] = option.pk
        if jira_id is not None:
            self.by_jira_id[str(jira_id)] = pk
        return pk


@dataclass(eq=False)
class Binding:
    """A tracker field and how the engine reads its Jira values."""

    plan: FieldPlan
    field: Field
    options: Options | None = None

    @property
    def kind(self) -> str:
        return self.plan.kind


@dataclass
class ChangesetPlan:
    when: dt.datetime
    person: Person | None
    values: dict[Binding, Any] = field(default_factory=dict)
    comment: str = ""
    comment_format: str = Changeset.CommentFormat.TEXT
    is_creation: bool = False


@dataclass
class AttachmentPlan:
    jira_id: str
    name: str  # in the file storage
    filename: str
    size: int
    content_type: str
    author: dict[str, Any] | None  # as Jira gave it; matched to a person by the main thread
    when: dt.datetime


@dataclass
class FetchedIssue:
    """An issue with everything the network gives for it: full history and comments, files downloaded."""

    issue: dict[str, Any]
    histories: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    attachments: list[AttachmentPlan]
    skipped: list[SkippedField]


@dataclass
class FetchedPage:
    issues: list[FetchedIssue]
    size: int  # issues the search page held, the already imported ones included

    def discard_files(self) -> None:
        for fetched in self.issues:
            for attachment in fetched.attachments:
                default_storage.delete(attachment.name)


@dataclass
class IssuePlan:
    jira_id: str
    key: str
    changesets: list[ChangesetPlan]
    attachments: list[AttachmentPlan]
    final: dict[Binding, Any]
    title: str


# Kinds whose changelog adds or removes one value per item, instead of giving the whole value.
ITEMIZED = {"named_items", "attachments"}
# Kinds the changelog never changes (the always-created metadata).
FIXED = {"key", "url", "creator", "created", "updated", "links", "resolution"}


class Prefetcher:
    """Fetches one page ahead in a thread: the search page, each issue's remaining history and comments,
    its attachments' bytes. The network and the database work overlap instead of adding up.

    The thread never touches the database (a test's transaction or another connection would not see
    the same rows); it skips the issues of ``already``, read once by the caller. At most one fetched
    page waits in the queue, so the import still never holds more than two pages.
    """

    DONE = object()

    def __init__(self, importer: Importer, key: str, issue_type_id: str, already: set[str]) -> None:
        self.importer = importer
        self.key = key
        self.issue_type_id = issue_type_id
        self.already = already
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._work, name=f"jira-import-{key}", daemon=True)

    def __enter__(self) -> Iterator[FetchedPage]:
        self.thread.start()
        return self._pages()

    def __exit__(self, *exc: object) -> None:
        # Stop the thread and remove the files of a page fetched but never written.
        self.stop.set()
        while self.thread.is_alive() or not self.queue.empty():
            try:
                item = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, FetchedPage):
                item.discard_files()
        self.thread.join()

    def _pages(self) -> Iterator[FetchedPage]:
        while True:
            item = self.queue.get()
            if item is self.DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        if isinstance(item, FetchedPage):
            item.discard_files()
        return False

    def _work(self) -> None:
        try:
            for issues in self.importer._search(self.key, self.issue_type_id):
                page = FetchedPage([], len(issues))
                for issue in issues:
                    if self.stop.is_set():
                        page.discard_files()
                        return
                    if str(issue.get("id", ""))[:50] not in self.already:
                        page.issues.append(self.importer._fetch(issue))
                if not self._put(page):
                    return
            self._put(self.DONE)
        except BaseException as error:  # handed to the main thread, which raises it
            self._put(error)


class Importer:
    """One run of one import; :meth:`run` raises JiraAccessError, RefusedURL, ImportFailed, ImportStopped."""

    def __init__(
        self,
        jira_import: JiraImport,
        credentials: JiraCredentials,
        run_token: str,
        progress: Progress | None = None,
        client: JiraClient | None = None,
    ) -> None:
        self.jira_import = jira_import
        self.credentials = credentials
        self.run_token = run_token
        self.progress = progress
        self.client = client
        self.skipped: list[dict[str, str]] = list(jira_import.skipped or [])
        self.people = People(None, jira_import.user_report or None)
        self.bindings: list[Binding] = []
        self.tracker: Tracker | None = jira_import.tracker
        self.done = 0
        self.total = 0

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> Tracker:
        ji = self.jira_import
        if self.client is None:
            self.client = connect(self.credentials)
        client = self.client
        self.people.client = client
        JiraImport.objects.filter(pk=ji.pk, run_token=self.run_token).update(flavor=client.flavor)
        key = discovery.check_project_key(ji.jira_project_key)
        project = discovery.project(client, key)
        issue_type = discovery.issue_type(client, key, ji.issue_type_id)
        ji.jira_project_name = str(project.get("name") or key)[:255]
        ji.issue_type_name = issue_type.name[:255]
        JiraImport.objects.filter(pk=ji.pk, run_token=self.run_token).update(
            jira_project_name=ji.jira_project_name, issue_type_name=ji.issue_type_name
        )
        fields = discovery.create_fields(client, key, issue_type.id)
        statuses = discovery.statuses(client, key, issue_type.id)
        plans, skipped = plan_fields(fields, statuses)
        self._note_skipped(skipped)
        self.tracker = self._tracker(plans)
        self._bind(plans)
        # Issues an interrupted run imported already (a resumed job skips them).
        already = set(
            Artifact.objects.filter(tracker=self.tracker)
            .exclude(jira_issue_id=None)
            .values_list("jira_issue_id", flat=True)
        )
        if client.is_cloud:  # Cloud's search gives no total; Server's first page does
            self.total = self._approximate_count(f'project = "{key}" AND issuetype = {issue_type.id}')
        self.checkpoint()
        with Prefetcher(self, key, issue_type.id, already) as pages:
            for page in pages:
                self._import_page(page)
                self.checkpoint()
        self._link_pass()
        self.checkpoint()
        return self.tracker

    def checkpoint(self) -> None:
        """Record progress; stop if cancelled, or if another run owns the import now."""
        total = max(self.total, self.done)
        updated = JiraImport.objects.filter(
            pk=self.jira_import.pk, run_token=self.run_token, cancel_requested=False
        ).update(
            progress_done=self.done,
            progress_total=total,
            skipped=self.skipped,
            user_report=self.people.report(),
        )
        if not updated:
            row = (
                JiraImport.objects.filter(pk=self.jira_import.pk)
                .values("run_token", "cancel_requested")
                .first()
            )
            if row is None or row["run_token"] != self.run_token:
                raise RunSuperseded
            raise ImportCancelled
        if self.progress is not None:
            self.progress(self.done, total)

    def _note_skipped(self, skipped: list[SkippedField]) -> None:
        for entry in skipped:
            item = entry.as_dict()
            if item not in self.skipped:
                self.skipped.append(item)

    # -- the tracker ------------------------------------------------------------------------------

    def _tracker(self, plans: list[FieldPlan]) -> Tracker:
        ji = self.jira_import
        if self.tracker is not None:
            return self.tracker  # a resumed run: the tracker and its fields are there
        spec = TrackerSpec(
            name=ji.tracker_name,
            shortname=ji.tracker_shortname,
            color=ji.tracker_color,
            description=(
                f"Imported from the Jira project {ji.jira_project_key} ({ji.issue_type_name}) at "
                f"{self.client.base_url if self.client else ji.jira_url}. Jira permissions are not imported."
            ),
            fields=[plan.spec() for plan in plans],
        )
        try:
            with transaction.atomic():
                tracker = create_tracker(ji.project, spec)
                owned = JiraImport.objects.filter(pk=ji.pk, run_token=self.run_token).update(tracker=tracker)
                if not owned:
                    raise RunSuperseded
        except IntegrityError:
            raise ImportFailed(
                f"A tracker named {ji.tracker_name!r} or with the short name {ji.tracker_shortname!r} "
                "already exists in the project; start the import again with other names."
            ) from None
        ji.tracker = tracker
        return tracker

    def _bind(self, plans: list[FieldPlan]) -> None:
        assert self.tracker is not None
        fields = {f.name: f for f in Field.objects.filter(tracker=self.tracker)}
        self.bindings = []
        for plan in plans:
            field_ = fields.get(plan.name)
            if field_ is None or field_.type != plan.type:
                # Jira's configuration changed between an interrupted run and this one.
                self._note_skipped([SkippedField(plan.label, "added in Jira while the import was running")])
                continue
            options = (
                Options(field_, plan.options)
                if plan.type in (FieldType.SELECT, FieldType.MULTI_SELECT)
                else None
            )
            self.bindings.append(Binding(plan, field_, options))
        self.by_name = {b.plan.name: b for b in self.bindings}
        self.by_jira_id = {b.plan.jira_id: b for b in self.bindings if b.plan.jira_id}
        self.by_custom_name = {
            b.plan.label: b for b in self.bindings if b.plan.jira_id.startswith("customfield_")
        }
        self.title = next(b for b in self.bindings if b.field.is_title)
        self.search_fields = sorted(
            set(BASE_FIELDS) | {b.plan.jira_id for b in self.bindings if b.plan.jira_id}
        )

    # -- reading Jira -----------------------------------------------------------------------------

    def _search(self, key: str, issue_type_id: str) -> Iterator[list[dict[str, Any]]]:
        client = self.client
        assert client is not None
        where = f'project = "{key}" AND issuetype = {issue_type_id}'
        params: dict[str, Any] = {
            "jql": f"{where} ORDER BY created ASC, key ASC",
            "fields": ",".join(self.search_fields),
            "expand": "changelog,renderedFields",
            "maxResults": settings.JIRA_IMPORT_PAGE_SIZE,
        }
        what = f"searching the issues of {key}"
        if client.is_cloud:
            token: str | None = None
            while True:
                if token:
                    params["nextPageToken"] = token
                page = client.get_json("search/jql", params, what=what)
                yield self._issues_of(page, what)
                token = page.get("nextPageToken")
                if not token or page.get("isLast") is True:
                    return
        start = 0
        while True:
            params["startAt"] = start
            page = client.get_json("search", params, what=what)
            issues = self._issues_of(page, what)
            total = page.get("total")
            if isinstance(total, int):
                self.total = total
            yield issues
            start += len(issues)
            if not issues or (isinstance(total, int) and start >= total):
                return

    def _issues_of(self, page: Any, what: str) -> list[dict[str, Any]]:
        issues = page.get("issues") if isinstance(page, dict) else None
        if not isinstance(issues, list) or not all(isinstance(i, dict) for i in issues):
            raise JiraResponseError(f"Jira answered in an unexpected shape when {what}; the import stopped.")
        return issues

    def _approximate_count(self, jql: str) -> int:
        assert self.client is not None
        try:
            answer = self.client.post_json(
                "search/approximate-count", {"jql": jql}, what="counting the issues"
            )
        except JiraAccessError as error:
            if error.status in (401, 403):
                raise
            return 0  # only for the progress bar: the import goes on without a total
        count = answer.get("count") if isinstance(answer, dict) else None
        return count if isinstance(count, int) and count >= 0 else 0

    def _histories(
        self, issue: dict[str, Any], key: str, skipped: list[SkippedField]
    ) -> list[dict[str, Any]]:
        client = self.client
        assert client is not None
        changelog = issue.get("changelog") or {}
        histories = list(changelog.get("histories") or [])
        total = changelog.get("total")
        if isinstance(total, int) and total > len(histories):
            what = f"reading the history of {key}"
            if client.is_cloud:
                # Cloud embeds only the most recent 40 entries; the changelog endpoint pages them all.
                histories, start = [], 0
                while start < min(total, MAX_HISTORIES):
                    page = client.get_json(
                        f"issue/{key}/changelog", {"startAt": start, "maxResults": CHANGELOG_PAGE}, what=what
                    )
                    values = page.get("values") or []
                    histories += values
                    start += len(values)
                    if not values or page.get("isLast") is True:
                        break
            else:
                # Server has no changelog endpoint, but the issue itself embeds every entry.
                full = client.get_json(
                    f"issue/{key}", {"expand": "changelog", "fields": "summary"}, what=what
                )
                histories = list((full.get("changelog") or {}).get("histories") or [])
        if len(histories) > MAX_HISTORIES:
            skipped.append(
                SkippedField("History", f"{key} has more than {MAX_HISTORIES} changes; the oldest are kept")
            )
            histories = histories[:MAX_HISTORIES]
        dated = [(parse_timestamp(h.get("created")), h) for h in histories]
        dated = [(when, h) for when, h in dated if when is not None]
        dated.sort(
            key=lambda pair: (pair[0], int(pair[1]["id"]) if str(pair[1].get("id", "")).isdigit() else 0)
        )
        return [h | {"_when": when} for when, h in dated]

    def _fetch(self, issue: dict[str, Any]) -> FetchedIssue:
        """Everything of the issue that takes the network (run by the prefetch thread)."""
        key = str(issue.get("key", "?"))[:100]
        try:
            skipped: list[SkippedField] = []
            return FetchedIssue(
                issue,
                self._histories(issue, key, skipped),
                self._fetch_comments(issue, key),
                self._attachments(issue, key, skipped),
                skipped,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise self._unexpected_shape(key, error) from None

    def _unexpected_shape(self, key: str, error: Exception) -> JiraResponseError:
        """Log an issue Jira sent in a shape we cannot read, and the error that stops the import.

        Only the exception's type is logged: its text may quote the issue's content.
        """
        logger.error(
            "Jira import %s: issue %s has an unexpected shape (%s)",
            self.jira_import.pk,
            key,
            type(error).__name__,
        )
        return JiraResponseError(f"Jira sent the issue {key} in an unexpected shape; the import stopped.")

    def _fetch_comments(self, issue: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """The issue's comments, each with its rendered HTML when Jira gives one."""
        client = self.client
        assert client is not None
        embedded = issue["fields"].get("comment") or {}
        comments = [c for c in embedded.get("comments") or [] if isinstance(c, dict)]
        total = embedded.get("total")
        if isinstance(total, int) and total > len(comments):
            comments, start = [], 0
            while start < min(total, MAX_COMMENTS):
                page = client.get_json(
                    f"issue/{key}/comment",
                    {
                        "startAt": start,
                        "maxResults": COMMENT_PAGE,
                        "expand": "renderedBody",
                        "orderBy": "created",
                    },
                    what=f"reading the comments of {key}",
                )
                values = page.get("comments") or []
                comments += values
                start += len(values)
                if not values:
                    break
            return comments[:MAX_COMMENTS]
        rendered_page = (issue.get("renderedFields") or {}).get("comment") or {}
        rendered = {
            str(c.get("id")): c.get("body")
            for c in rendered_page.get("comments") or []
            if isinstance(c, dict)
        }
        return [
            c | {"renderedBody": c.get("renderedBody") or rendered.get(str(c.get("id")))} for c in comments
        ]

    def _comments(self, comments: list[dict[str, Any]]) -> list[ChangesetPlan]:
        plans = []
        for comment in comments[:MAX_COMMENTS]:
            when = parse_timestamp(comment.get("created"))
            if when is None:
                continue
            html = comment.get("renderedBody")
            body = comment.get("body")
            text, text_format = "", Changeset.CommentFormat.TEXT
            if isinstance(html, str) and html.strip():
                text, text_format = (
                    sanitize_html(html[:TEXT_MAX_LENGTH]).strip(),
                    Changeset.CommentFormat.HTML,
                )
            if not text and isinstance(body, str):
                text, text_format = body.strip()[:TEXT_MAX_LENGTH], Changeset.CommentFormat.TEXT
            if text:
                plans.append(
                    ChangesetPlan(when, self.people.person(comment.get("author")), {}, text, text_format)
                )
        return plans

    def _attachments(
        self, issue: dict[str, Any], key: str, skipped: list[SkippedField]
    ) -> list[AttachmentPlan]:
        """Download the issue's files into the storage (the credentials go to the Jira site only)."""
        client, tracker = self.client, self.tracker
        assert client is not None and tracker is not None
        limit = settings.JIRA_ATTACHMENT_MAX_SIZE

        def skip(filename: str, reason: str) -> None:
            skipped.append(SkippedField("Attachment", f"{filename} on {key}: {reason}"))

        plans: list[AttachmentPlan] = []
        try:
            for meta in issue["fields"].get("attachment") or []:
                jira_id = str(meta.get("id", ""))
                filename = " ".join(str(meta.get("filename") or "").split())[:255] or "attachment"
                declared = meta.get("size")
                if not jira_id.isdigit():
                    continue
                if isinstance(declared, int) and declared > limit:
                    skip(filename, f"{declared} bytes, over the {limit}-byte limit")
                    continue
                url = meta.get("content")
                if not isinstance(url, str) or not client.same_site(url):
                    url = (
                        client.api_url(f"attachment/content/{jira_id}")
                        if client.is_cloud
                        else f"{client.base_url}/secure/attachment/{jira_id}/{quote(filename)}"
                    )
                with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as buffer:
                    try:
                        size = client.download(
                            url, buffer, max_size=limit, what=f"downloading {filename} of {key}"
                        )
                    except JiraAccessError as error:
                        if error.status in (403, 404, 410):
                            skip(filename, f"Jira refused to send it ({error.status})")
                            continue
                        raise
                    if size is None:
                        skip(filename, f"over the {limit}-byte limit")
                        continue
                    buffer.seek(0)
                    name = default_storage.save(
                        f"attachments/{tracker.pk}/jira/{issue['id']}-{_storage_name(filename)}",
                        File(buffer),
                        max_length=500,
                    )
                plans.append(
                    AttachmentPlan(
                        jira_id,
                        name,
                        filename,
                        size,
                        str(meta.get("mimeType") or "application/octet-stream")[:255],
                        meta.get("author") if isinstance(meta.get("author"), dict) else None,
                        parse_timestamp(meta.get("created")) or dt.datetime.now(dt.UTC),
                    )
                )
        except BaseException:
            for plan in plans:
                default_storage.delete(plan.name)
            raise
        return plans

    # -- values -----------------------------------------------------------------------------------

    def _current(self, binding: Binding, issue: dict[str, Any], context: dict[str, Any]) -> Any:
        fields = issue["fields"]
        kind = binding.kind
        raw = fields.get(binding.plan.jira_id) if binding.plan.jira_id else None
        if kind == "string":
            return _one_line(raw) if isinstance(raw, (str, int, float)) else None
        if kind == "text":
            return TextValue(raw) if isinstance(raw, str) and raw.strip() else None
        if kind == "number":
            return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        if kind == "date":
            return _date(raw)
        if kind == "datetime":
            return _iso(parse_timestamp(raw))
        if kind in ("named", "option"):
            if not isinstance(raw, dict):
                return None
            assert binding.options is not None
            return binding.options.resolve(raw.get("id"), raw.get("value", raw.get("name")))
        if kind in ("options", "named_items"):
            assert binding.options is not None
            items = [v for v in raw or [] if isinstance(v, dict)] if isinstance(raw, list) else []
            resolved = {binding.options.resolve(v.get("id"), v.get("value", v.get("name"))) for v in items}
            return frozenset(resolved - {None})
        if kind == "labels":
            return [str(v) for v in raw] if isinstance(raw, list) else []
        if kind == "user":
            person = self.people.person(raw)
            return person.user_id if person else None
        if kind == "users":
            people = [self.people.person(v) for v in raw] if isinstance(raw, list) else []
            return frozenset(p.user_id for p in people if p is not None)
        if kind == "key":
            return context["key"]
        if kind == "url":
            return _one_line(context["url"])
        if kind == "creator":
            return context["creator"].user_id if context["creator"] else None
        if kind == "created":
            return _iso(context["created"])
        if kind == "updated":
            return _iso(parse_timestamp(fields.get("updated")) or context["created"])
        if kind == "resolution":
            return _iso(parse_timestamp(fields.get("resolutiondate")))
        if kind == "attachments":
            return frozenset(str(a.get("id")) for a in raw or [] if isinstance(a, dict))
        if kind == "links":
            return context["links"] or None
        return None  # pragma: no cover - every kind of mapping.py is handled above

    def _side(self, binding: Binding, raw: Any, text: Any) -> Any:
        """One side (``from``/``fromString`` or ``to``/``toString``) of a changelog item, as a state value."""
        kind = binding.kind
        if kind == "string":
            return _one_line(text)
        if kind == "text":
            return TextValue(str(text)) if text is not None and str(text).strip() else None
        if kind == "number":
            try:
                value = float(str(text).strip()) if text is not None else None
            except ValueError:
                return None
            return value if value is not None and math.isfinite(value) else None
        if kind == "date":
            return _date(raw) or _date(text)
        if kind == "datetime":
            return _iso(parse_timestamp(raw) or parse_timestamp(text))
        if kind in ("named", "option", "named_items"):
            assert binding.options is not None
            return binding.options.resolve(raw, text) if (raw is not None or text is not None) else None
        if kind == "options":
            assert binding.options is not None
            ids, labels = _split(raw), _split(text)
            if ids and len(ids) == len(labels):
                pairs = list(zip(ids, labels, strict=True))
            elif ids:
                pairs = [(i, None) for i in ids]
            else:
                pairs = [(None, label) for label in labels]
            return frozenset({binding.options.resolve(i, label) for i, label in pairs} - {None})
        if kind == "labels":
            return str(text).split() if text is not None else []
        if kind == "user":
            person = self.people.by_reference(raw, text)
            return person.user_id if person else None
        if kind == "users":
            refs, names = _split(raw), _split(text)
            people = [
                self.people.by_reference(ref, names[n] if len(names) == len(refs) else None)
                for n, ref in enumerate(refs)
            ]
            return frozenset(p.user_id for p in people if p is not None)
        if kind == "attachments":
            return str(raw) if raw is not None else None
        return None

    def _undo(self, binding: Binding, value: Any, item: dict[str, Any]) -> Any:
        """The value before ``item``, given the value after it."""
        before = (item.get("from"), item.get("fromString"))
        if binding.kind in ITEMIZED:
            values = set(value or ())
            after = (item.get("to"), item.get("toString"))
            if after != (None, None):
                values.discard(self._side(binding, *after))
            if before != (None, None):
                values.add(self._side(binding, *before))
            return frozenset(values - {None})
        return self._side(binding, *before)

    def _stored(self, binding: Binding, value: Any, context: dict[str, Any]) -> Any:
        """A state value in the representation the artifact service stores (files: Jira ids still)."""
        if value is None:
            return None
        kind = binding.kind
        if kind == "text":
            raw = value.raw
            rendered = context["rendered"].get(binding.plan.jira_id)
            if raw == context["raw_text"].get(binding.plan.jira_id) and isinstance(rendered, str):
                html = sanitize_html(rendered[:TEXT_MAX_LENGTH])
            else:  # the history has the wiki markup only: kept as text, made HTML like the rest
                html = str(linebreaks(escape(raw[:TEXT_MAX_LENGTH])))
            return html.strip()[:TEXT_MAX_LENGTH] or None
        if kind == "attachments":
            kept = sorted(jid for jid in value if jid in context["downloaded"])
            return JiraFiles(tuple(kept)) if kept else None
        if isinstance(value, frozenset):
            return sorted(value)[:LIST_MAX_ITEMS] or None
        if kind == "labels":
            labels: list[str] = []
            for label in value:
                label = str(label).strip()[:100]
                if label and label not in labels:
                    labels.append(label)
            return labels[:LIST_MAX_ITEMS] or None
        return value

    def _binding_of(self, item: dict[str, Any]) -> Binding | None:
        field_id = item.get("fieldId")
        if field_id:
            return self.by_jira_id.get(str(field_id))
        name = str(item.get("field") or "")
        if item.get("fieldtype") == "custom":
            return self.by_custom_name.get(name)
        return self.by_jira_id.get(CHANGELOG_ALIASES.get(name, name))

    def _links(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        """Links as Jira key + URL (+ Jira id until the link pass resolves the imported ones)."""
        assert self.client is not None
        fields = issue["fields"]
        found: list[tuple[str, dict[str, Any]]] = []
        for link in fields.get("issuelinks") or []:
            kind = link.get("type") or {}
            if "outwardIssue" in link:
                found.append(
                    (str(kind.get("outward") or kind.get("name") or "relates to"), link["outwardIssue"])
                )
            elif "inwardIssue" in link:
                found.append(
                    (str(kind.get("inward") or kind.get("name") or "relates to"), link["inwardIssue"])
                )
        found += [(PARENT_OF, sub) for sub in fields.get("subtasks") or []]
        if isinstance(fields.get("parent"), dict):
            found.append((SUBTASK_OF, fields["parent"]))
        links: list[dict[str, Any]] = []
        for link_type, other in found[:MAX_LINKS]:
            other_key = str(other.get("key") or "")[:100]
            if not other_key:
                continue
            entry = {
                "key": other_key,
                "url": self.client.browse_url(quote(other_key)),
                "type": " ".join(link_type.split())[:50],
                "jira_id": str(other.get("id") or ""),
            }
            if entry not in links:
                links.append(entry)
        return links

    # -- one issue --------------------------------------------------------------------------------

    def _plan(self, fetched: FetchedIssue) -> IssuePlan:
        assert self.client is not None
        issue, histories, attachments = fetched.issue, fetched.histories, fetched.attachments
        fields = issue["fields"]
        key = str(issue["key"])[:100]
        created = parse_timestamp(fields.get("created"))
        if created is None:
            raise KeyError("created")
        creator = self.people.person(fields.get("creator")) or self.people.person(fields.get("reporter"))
        comments = self._comments(fetched.comments)
        context = {
            "key": key,
            "url": self.client.browse_url(quote(key)),
            "creator": creator,
            "created": created,
            "links": self._links(issue),
            "rendered": issue.get("renderedFields") or {},
            "raw_text": {
                b.plan.jira_id: fields.get(b.plan.jira_id) for b in self.bindings if b.kind == "text"
            },
            "downloaded": {a.jira_id for a in attachments},
        }
        # Undo the changelog from the current values, newest first: what each entry left behind,
        # and in the end what the issue held when it was created.
        state = {b: self._current(b, issue, context) for b in self.bindings}
        after: list[dict[Binding, Any]] = [{} for _ in histories]
        resolution_items: list[dict[str, Any] | None] = [None for _ in histories]
        for index in range(len(histories) - 1, -1, -1):
            touched: dict[Binding, list[dict[str, Any]]] = {}
            for item in histories[index].get("items") or []:
                if not isinstance(item, dict):
                    continue
                if item.get("fieldId", item.get("field")) == "resolution":
                    resolution_items[index] = item
                    continue
                binding = self._binding_of(item)
                if binding is not None and binding.kind not in FIXED:
                    touched.setdefault(binding, []).append(item)
            for binding, items in touched.items():
                after[index][binding] = state[binding]
                for item in reversed(items):
                    state[binding] = self._undo(binding, state[binding], item)
        resolution = next((b for b in self.bindings if b.plan.name == RESOLUTION_DATE), None)
        first_resolution = next((item for item in resolution_items if item is not None), None)
        if resolution is not None and first_resolution is not None:
            # Resolved at creation, or not: the date is the creation's, or none until an entry resolves it.
            state[resolution] = _iso(created) if first_resolution.get("from") else None

        stored = {b: self._stored(b, v, context) for b, v in state.items()}
        creation = ChangesetPlan(created, creator, {b: v for b, v in stored.items() if v is not None})
        creation.is_creation = True
        changesets = [creation]
        seen = set(creation.values)
        events: list[tuple[dt.datetime, int, int, Any]] = [
            (h["_when"], 0, n, h) for n, h in enumerate(histories)
        ]
        events += [(c.when, 1, n, c) for n, c in enumerate(comments)]
        events.sort(key=lambda event: event[:3])
        for when, is_comment, index, event in events:
            if is_comment:
                changesets.append(event)
                continue
            values: dict[Binding, Any] = {}
            for binding, value in after[index].items():
                new = self._stored(binding, value, context)
                if new != stored[binding]:
                    values[binding] = stored[binding] = new
            if resolution is not None and resolution_items[index] is not None:
                new = _iso(when) if resolution_items[index].get("to") else None
                if new != stored[resolution]:
                    values[resolution] = stored[resolution] = new
            if values:
                seen.update(values)
                changesets.append(ChangesetPlan(when, self.people.person(event.get("author")), values))
        title = stored.get(self.title) or ""
        return IssuePlan(
            str(issue["id"])[:50],
            key,
            changesets,
            attachments,
            {b: stored[b] for b in self.bindings if b in seen},
            str(title)[:255],
        )

    # -- one page ---------------------------------------------------------------------------------

    def _import_page(self, page: FetchedPage) -> None:
        plans: list[IssuePlan] = []
        try:
            for fetched in page.issues:
                self._note_skipped(fetched.skipped)
                key = str(fetched.issue.get("key", "?"))
                try:
                    plans.append(self._plan(fetched))
                except (KeyError, TypeError, AttributeError, ValueError) as error:
                    raise self._unexpected_shape(key, error) from None
            self._write(plans)
        except BaseException:
            page.discard_files()  # the page's rows are rolled back: its files go too
            raise
        self.done += page.size

    def _write(self, plans: list[IssuePlan]) -> None:
        tracker = self.tracker
        assert tracker is not None
        if not plans:
            return
        files = self.by_name.get(ATTACHMENTS)
        try:
            with transaction.atomic():
                artifacts = []
                for plan in plans:
                    first, last = plan.changesets[0], plan.changesets[-1]
                    artifacts.append(
                        Artifact(
                            tracker=tracker,
                            title=plan.title,
                            current_values={
                                str(b.field.pk): v
                                for b, v in plan.final.items()
                                if not isinstance(v, JiraFiles)
                            },
                            submitted_by_id=first.person.user_id if first.person else None,
                            submitted_on=first.when,
                            last_updated_by_id=last.person.user_id if last.person else None,
                            last_updated_on=max(c.when for c in plan.changesets),
                            jira_issue_id=plan.jira_id,
                        )
                    )
                Artifact.objects.bulk_create(artifacts)
                rows = [
                    Attachment(
                        artifact=artifact,
                        file=a.name,
                        filename=a.filename,
                        size=a.size,
                        content_type=a.content_type,
                        submitted_by_id=self._user_id(a.author),
                        submitted_on=a.when,
                        jira_attachment_id=a.jira_id,
                    )
                    for plan, artifact in zip(plans, artifacts, strict=True)
                    for a in plan.attachments
                ]
                Attachment.objects.bulk_create(rows)
                attachment_ids = {(row.artifact_id, row.jira_attachment_id): row.pk for row in rows}

                def resolved(artifact: Artifact, value: Any) -> Any:
                    if isinstance(value, JiraFiles):
                        return sorted(attachment_ids[(artifact.pk, jid)] for jid in value.ids) or None
                    return value

                changesets: list[Changeset] = []
                pending: list[tuple[Changeset, Artifact, dict[Binding, Any]]] = []
                for plan, artifact in zip(plans, artifacts, strict=True):
                    for cs in plan.changesets:
                        row = Changeset(
                            artifact=artifact,
                            author_id=cs.person.user_id if cs.person else None,
                            imported_author_name=cs.person.imported_name[:255] if cs.person else "",
                            submitted_on=cs.when,
                            is_creation=cs.is_creation,
                            comment=cs.comment,
                            comment_format=cs.comment_format,
                        )
                        changesets.append(row)
                        pending.append((row, artifact, cs.values))
                Changeset.objects.bulk_create(changesets)
                insert_rows(
                    ChangesetValue,
                    ("changeset", "field", "value"),
                    [
                        (row.pk, b.field.pk, resolved(artifact, value))
                        for row, artifact, values in pending
                        for b, value in values.items()
                    ],
                )
                if files is not None:
                    with_files = []
                    for plan, artifact in zip(plans, artifacts, strict=True):
                        if files in plan.final:
                            artifact.current_values[str(files.field.pk)] = resolved(
                                artifact, plan.final[files]
                            )
                            with_files.append((artifact.pk, artifact.current_values))
                    update_rows(Artifact, "current_values", with_files)
        except IntegrityError:
            row = JiraImport.objects.filter(pk=self.jira_import.pk).values("run_token").first()
            if row is None or row["run_token"] != self.run_token:
                raise RunSuperseded from None  # the run that took over wrote these issues
            raise

    def _user_id(self, user: dict[str, Any] | None) -> int | None:
        person = self.people.person(user)
        return person.user_id if person else None

    # -- links, at the end ------------------------------------------------------------------------

    def _link_pass(self) -> None:
        """Links to imported issues become artifact links; the rest keep the Jira key and URL."""
        tracker = self.tracker
        links = self.by_name.get(LINKS)
        if tracker is None or links is None:
            return
        key = str(links.field.pk)
        imported = dict(
            Artifact.objects.filter(tracker=tracker)
            .exclude(jira_issue_id=None)
            .values_list("jira_issue_id", "id")
        )
        candidates = Artifact.objects.filter(tracker=tracker).order_by("pk").only("pk", "current_values")
        batch: list[Artifact] = []
        for artifact in candidates.iterator(chunk_size=500):
            value = artifact.current_values.get(key)
            if value and any("jira_id" in link for link in value):
                batch.append(artifact)
            if len(batch) >= 500:
                self._resolve_links(batch, links, imported)
                batch = []
        if batch:
            self._resolve_links(batch, links, imported)

    def _resolve_links(self, artifacts: list[Artifact], links: Binding, imported: dict[str, int]) -> None:
        key = str(links.field.pk)
        for artifact in artifacts:
            resolved: list[dict[str, Any]] = []
            for link in artifact.current_values[key]:
                target = imported.get(link.get("jira_id") or "")
                if target is not None and target != artifact.pk:
                    entry: dict[str, Any] = {"artifact": target, "type": link["type"]}
                elif "artifact" in link:
                    entry = link
                else:
                    entry = {"key": link["key"], "url": link["url"], "type": link["type"]}
                if entry not in resolved:
                    resolved.append(entry)
            artifact.current_values[key] = resolved
        by_artifact = {a.pk: a for a in artifacts}
        with transaction.atomic():
            values = list(
                ChangesetValue.objects.filter(
                    field=links.field, changeset__artifact_id__in=by_artifact, changeset__is_creation=True
                ).select_related("changeset")
            )
            update_rows(
                ChangesetValue,
                "value",
                [(row.pk, by_artifact[row.changeset.artifact_id].current_values[key]) for row in values],
            )
            update_rows(Artifact, "current_values", [(a.pk, a.current_values) for a in artifacts])


def insert_rows(model: type[Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """A plain INSERT run with executemany: no model instance for each of the import's many rows.

    Values go through each field's ``get_db_prep_save``, so JSON is stored exactly as the ORM would.
    """
    if not rows:
        return
    ops = connection.ops
    fields = [model._meta.get_field(name) for name in columns]
    # Table and column names come from the model's metadata, quoted; values are parameters.
    table = ops.quote_name(model._meta.db_table)
    names = ", ".join(ops.quote_name(f.column) for f in fields)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    prepared = [
        tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)) for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def update_rows(model: type[Model], column: str, rows: list[tuple[int, Any]]) -> None:
    """``UPDATE ... SET column = value WHERE pk = id`` for each (id, value), with executemany."""
    if not rows:
        return
    ops = connection.ops
    field_ = model._meta.get_field(column)
    table, name = ops.quote_name(model._meta.db_table), ops.quote_name(field_.column)
    sql = f"UPDATE {table} SET {name} = %s WHERE {ops.quote_name(model._meta.pk.column)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(field_.get_db_prep_save(value, connection), pk) for pk, value in rows])


def count_links(tracker: Tracker) -> int:
    links = Field.objects.filter(tracker=tracker, name=LINKS).first()
    if links is None:
        return 0
    key = str(links.pk)
    total = 0
    for value in Artifact.objects.filter(tracker=tracker).values_list("current_values", flat=True).iterator():
        total += len(value.get(key) or [])
    return total


def delete_tracker(tracker_id: int) -> None:
    """Remove a partial tracker: its rows, then its files (nothing partial is left behind)."""
    Tracker.objects.filter(pk=tracker_id).delete()
    _delete_tree(f"attachments/{tracker_id}")


def _delete_tree(prefix: str) -> None:
    try:
        directories, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
    for directory in directories:
        _delete_tree(f"{prefix}/{directory}")
    # FileSystemStorage leaves empty directories behind; other storages have none.
    path = getattr(default_storage, "path", None)
    if path is not None:
        with contextlib.suppress(OSError, NotImplementedError):
            os.rmdir(path(prefix))
