"""Fetching a Jira project's issues: everything of the import that takes the network.

:func:`search_pages` pages a search (Cloud's ``search/jql`` with ``nextPageToken``, Server's
``search`` with ``startAt`` and ``total``). :class:`Fetcher` reads the history, comments and work
logs a search page did not embed, and downloads the attachments into the file storage.
:class:`tracker.jira_import.prefetch.Prefetcher` runs it one page ahead in a thread and hands the
main thread :class:`FetchedPage` objects, so the network and the database work overlap instead of
adding up. Nothing here touches the database or knows the import's engine.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils.text import get_valid_filename

from tracker.jira_import.client import JiraClient
from tracker.jira_import.errors import JiraAccessError, JiraResponseError
from tracker.jira_import.mapping import SkippedField
from tracker.jira_import.page_guard import SeenPages
from tracker.plain_numbers import is_plain_number, plain_number
from tracker.utc import in_utc

logger = logging.getLogger("tracker.jira_import")

# Bounds on one issue: Jira content is untrusted, and a real issue has far less than this.
MAX_HISTORIES = 10_000
MAX_COMMENTS = 10_000
MAX_WORKLOGS = 10_000
CHANGELOG_PAGE = 100
COMMENT_PAGE = 100
# Search answers embed at most 20 work logs ("worklog": {"total": n, "worklogs": [...]}); the rest
# are paged from /issue/{key}/worklog (startAt, maxResults; Cloud and Server alike).
WORKLOG_PAGE = 100
SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError)


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
    return in_utc(moment)  # None for 9999-12-31T23:59:59-1400, past the calendar's end in UTC


def unexpected_shape(import_id: int, key: str, error: Exception) -> JiraResponseError:
    """Log an issue Jira sent in a shape we cannot read, and the error that stops the import.

    Only the exception's type is logged: its text may quote the issue's content.
    """
    logger.error(
        "Jira import %s: issue %s has an unexpected shape (%s)", import_id, key, type(error).__name__
    )
    return JiraResponseError(f"Jira sent the issue {key} in an unexpected shape; the import stopped.")


def _storage_name(filename: str) -> str:
    try:
        return get_valid_filename(filename)[-100:]
    except SuspiciousFileOperation:  # nothing usable left, such as ".."
        return "attachment"


@dataclass
class FetchedAttachment:
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
    histories: list[dict[str, Any]]  # oldest first, each with its parsed date as "_when"
    comments: list[dict[str, Any]]
    attachments: list[FetchedAttachment]
    skipped: list[SkippedField]
    worklogs: list[dict[str, Any]] = field(default_factory=list)
    # Attachments an earlier run brought already (an update): not downloaded again, still named.
    kept_attachments: set[str] = field(default_factory=set)


@dataclass
class FetchedPage:
    issues: list[FetchedIssue]
    size: int  # issues the search page held, the already imported ones included
    total: int | None = None  # the issues of the search, when Jira says (Server does, Cloud does not)

    def discard_files(self) -> None:
        for fetched in self.issues:
            for attachment in fetched.attachments:
                default_storage.delete(attachment.name)


def _issues_of(page: Any, what: str) -> list[dict[str, Any]]:
    issues = page.get("issues") if isinstance(page, dict) else None
    if not isinstance(issues, list) or not all(isinstance(i, dict) for i in issues):
        raise JiraResponseError(f"Jira answered in an unexpected shape when {what}; the import stopped.")
    return issues


def search_pages(
    client: JiraClient,
    jql: str,
    *,
    fields: Sequence[str],
    expand: str,
    what: str,
    page_size: int | None = None,
) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
    """A search's pages, in the JQL's order: their issues, and the total when Jira gives one."""
    params: dict[str, Any] = {
        "jql": jql,
        "fields": ",".join(fields),
        "maxResults": page_size or settings.JIRA_IMPORT_PAGE_SIZE,
    }
    if expand:
        params["expand"] = expand
    seen = SeenPages(client.base_url, what)
    if client.is_cloud:
        token: str | None = None
        while True:
            if token:
                params["nextPageToken"] = token
            page = client.get_json("search/jql", params, what=what)
            issues = _issues_of(page, what)
            seen.check(issues, token)
            yield issues, None
            token = page.get("nextPageToken")
            if not token or page.get("isLast") is True:
                return
    start = 0
    while True:
        params["startAt"] = start
        page = client.get_json("search", params, what=what)
        issues = _issues_of(page, what)
        seen.check(issues, str(start))
        total = page.get("total")
        total = total if isinstance(total, int) else None
        yield issues, total
        start += len(issues)
        if not issues or (total is not None and start >= total):
            return


def approximate_count(client: JiraClient, where: str) -> int:
    """Cloud's estimate of a search's size (its search gives no total), or 0."""
    try:
        answer = client.post_json("search/approximate-count", {"jql": where}, what="counting the issues")
    except JiraAccessError as error:
        if error.status in (401, 403):
            raise
        return 0  # only for the progress bar: the import goes on without a total
    count = answer.get("count") if isinstance(answer, dict) else None
    return count if isinstance(count, int) and count >= 0 else 0


class Fetcher:
    """Reads a project's issues from Jira, downloading their files under their tracker's folder of the
    storage (``folder``: an issue's tracker id). ``fields``: what the search asks of every issue."""

    def __init__(
        self,
        client: JiraClient,
        *,
        import_id: int,
        folder: Callable[[dict[str, Any]], int],
        fields: Sequence[str],
    ) -> None:
        self.client = client
        self.import_id = import_id
        self.folder = folder
        self.fields = list(fields)
        # Jira issue id -> attachment ids already stored (an update does not download them again).
        self.kept: dict[str, set[str]] = {}

    def search(self, where: str, key: str) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """The search's pages, oldest issues first."""
        return search_pages(
            self.client,
            f"{where} ORDER BY created ASC, key ASC",
            fields=self.fields,
            expand="changelog,renderedFields",
            what=f"searching the issues of {key}",
        )

    def fetch(self, issue: dict[str, Any]) -> FetchedIssue:
        """Everything of the issue that takes the network (run by the prefetch thread)."""
        key = str(issue.get("key", "?"))[:100]
        try:
            skipped: list[SkippedField] = []
            return FetchedIssue(
                issue,
                self._histories(issue, key, skipped),
                self._comments(issue, key),
                self._attachments(issue, key, skipped),
                skipped,
                self._worklogs(issue, key),
                self.kept.get(str(issue.get("id", ""))[:50], set()),
            )
        except SHAPE_ERRORS as error:
            raise unexpected_shape(self.import_id, key, error) from None

    def _histories(
        self, issue: dict[str, Any], key: str, skipped: list[SkippedField]
    ) -> list[dict[str, Any]]:
        client = self.client
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
        dated.sort(key=lambda pair: (pair[0], plain_number(str(pair[1].get("id", ""))) or 0))
        return [h | {"_when": when} for when, h in dated]

    def _comments(self, issue: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """The issue's comments, each with its rendered HTML when Jira gives one."""
        embedded = issue["fields"].get("comment") or {}
        comments = [c for c in embedded.get("comments") or [] if isinstance(c, dict)]
        total = embedded.get("total")
        if isinstance(total, int) and total > len(comments):
            comments, start = [], 0
            while start < min(total, MAX_COMMENTS):
                page = self.client.get_json(
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

    def _worklogs(self, issue: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """The issue's work logs, oldest first: those the search embedded, or all of them paged."""
        embedded = issue["fields"].get("worklog") or {}
        worklogs = [w for w in embedded.get("worklogs") or [] if isinstance(w, dict)]
        total = embedded.get("total")
        if isinstance(total, int) and total > len(worklogs):
            worklogs, start = [], 0
            while start < min(total, MAX_WORKLOGS):
                page = self.client.get_json(
                    f"issue/{key}/worklog",
                    {"startAt": start, "maxResults": WORKLOG_PAGE},
                    what=f"reading the work logs of {key}",
                )
                values = [w for w in page.get("worklogs") or [] if isinstance(w, dict)]
                worklogs += values
                start += len(values)
                if not values:
                    break
        return worklogs[:MAX_WORKLOGS]

    def _attachments(
        self, issue: dict[str, Any], key: str, skipped: list[SkippedField]
    ) -> list[FetchedAttachment]:
        """Download the issue's files into the storage (the credentials go to the Jira site only)."""
        client = self.client
        limit = settings.JIRA_ATTACHMENT_MAX_SIZE

        def skip(filename: str, reason: str) -> None:
            skipped.append(SkippedField("Attachment", f"{filename} on {key}: {reason}"))

        fetched: list[FetchedAttachment] = []
        try:
            for meta in issue["fields"].get("attachment") or []:
                jira_id = str(meta.get("id", ""))
                filename = " ".join(str(meta.get("filename") or "").split())[:255] or "attachment"
                declared = meta.get("size")
                kept = self.kept.get(str(issue.get("id", ""))[:50], ())
                if not is_plain_number(jira_id) or jira_id in kept:
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
                        f"attachments/{self.folder(issue)}/jira/{issue['id']}-{_storage_name(filename)}",
                        File(buffer),
                        max_length=500,
                    )
                fetched.append(
                    FetchedAttachment(
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
            for attachment in fetched:
                default_storage.delete(attachment.name)
            raise
        return fetched
