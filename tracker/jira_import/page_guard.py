"""A search's pages, each read once: Jira (or what stands before it) repeating a page stops the import."""

from __future__ import annotations

from typing import Any

from tracker.jira_import.errors import JiraResponseError, host_of


class SeenPages:
    """A search that sends a page it sent already would be read again and again until the job's
    timeout, the progress counting past the issues there are: a proxy caching the first page, a Jira
    that ignores ``startAt`` or hands the same ``nextPageToken`` back. It stops the import instead."""

    def __init__(self, base_url: str, what: str) -> None:
        self.base_url, self.what = base_url, what
        self.cursors: set[str] = set()
        self.first_issues: set[str] = set()

    def check(self, issues: list[dict[str, Any]], cursor: str | None) -> None:
        first = str(issues[0].get("id")) if issues else None
        repeated_cursor = cursor is not None and cursor in self.cursors
        if repeated_cursor or (first is not None and first in self.first_issues):
            raise JiraResponseError(
                f"Jira at {host_of(self.base_url)} sent the same page of issues twice when "
                f"{self.what}; the import stopped. A proxy in front of Jira may be caching its answers."
            )
        if cursor is not None:
            self.cursors.add(cursor)
        if first is not None:
            self.first_issues.add(first)
