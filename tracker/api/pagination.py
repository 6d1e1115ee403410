"""Pagination of the API's long lists."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from tracker.services.history_pages import HISTORY_PAGE_SIZE
from tracker.utc import in_utc


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

    def decode_cursor(self, request: Request) -> Cursor | None:
        """DRF's, and a position that is not a time the database can hold is an invalid cursor too.

        Our cursors carry ``submitted_on`` as written by ``encode_cursor``; a forged one such as
        ``p=9999-12-31 23:59:59-05:00`` is past the calendar's end in UTC: an OverflowError (a 500)
        where DRF answers other tampered cursors with its 404 "Invalid cursor".
        """
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        try:
            position = parse_datetime(cursor.position)
        except ValueError:
            position = None
        if position is None or in_utc(position) is None:
            raise NotFound(self.invalid_cursor_message)
        return cursor
