"""Pagination of the API's long lists."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class ChangesetCursorPagination(CursorPagination):
    """An artifact's history, oldest first, by cursor: a page costs the same at any depth.

    A cursor (unlike ``?page=N``) stays right while changesets are added, and never counts the whole
    history. Ties on ``submitted_on`` (imported changesets share timestamps) are broken by the id.
    """

    ordering = ("submitted_on", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
