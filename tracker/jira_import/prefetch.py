"""The Jira import's read-ahead: the next page is fetched in a thread while the current one is written.

The thread never touches the database; at most one fetched page waits, so an import never holds
more than two pages (see :class:`Prefetcher`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from tracker.jira_import.fetch import FetchedPage, Fetcher


class Prefetcher:
    """Fetches one page ahead in a thread: the search page, each issue's remaining history and comments,
    its attachments' bytes.

    The thread never touches the database (a test's transaction or another connection would not see
    the same rows); it skips the issues of ``already``, read once by the caller. At most one fetched
    page waits in the queue, so the import still never holds more than two pages. Use it as a context
    manager: it yields the pages, and on the way out stops the thread and removes the files of a page
    fetched but never handed over. An error of the thread is raised in the main thread.
    """

    DONE = object()

    def __init__(self, fetcher: Fetcher, where: str, key: str, already: set[str]) -> None:
        self.fetcher = fetcher
        self.where = where
        self.key = key
        self.already = already
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._work, name=f"jira-import-{key}", daemon=True)

    def __enter__(self) -> Iterator[FetchedPage]:
        self.thread.start()
        return self._pages()

    def __exit__(self, *exc: object) -> None:
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
            for issues, total in self.fetcher.search(self.where, self.key):
                page = FetchedPage([], len(issues), total)
                for issue in issues:
                    if self.stop.is_set():
                        page.discard_files()
                        return
                    if str(issue.get("id", ""))[:50] not in self.already:
                        page.issues.append(self.fetcher.fetch(issue))
                if not self._put(page):
                    return
            self._put(self.DONE)
        except BaseException as error:  # handed to the main thread, which raises it
            self._put(error)
