"""Pagination of the API's long lists."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination

from tracker.services.history_pages import HISTORY_PAGE_SIZE


class ChangesetCursorPagination(CursorPagination):
    """An artifact's history, oldest first, by cursor: a page costs the same at any depth.

    A cursor (unlike ``?page=N``) stays right while changesets are added, and never counts the whole
    history. Ties on ``submitted_on`` (imported changesets share timestamps) are broken by the id.
    """

    ordering = ("submitted_on", "id")
    # As many as the artifact page shows: a page's cost is its entries, so a client that reads the
    # latest changes pays for 20, and asks for up to max_page_size when it walks the whole history.
    page_size = HISTORY_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 200
