"""Pages of the artifact list that cost their rows, not the number of matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from tracker.models import Artifact


@dataclass
class ArtifactPage:
    """One page of a query's results. ``count`` is exact up to ``COUNT_CAP``; beyond, ``count_capped``.

    Counting every match costs as much as the matches (a full scan of 100,000 artifacts for "open
    bugs"), whatever the page shows: the count stops at the cap, so a page costs its rows.
    """

    artifacts: list[Artifact]
    number: int
    per_page: int
    has_next: bool
    count: int
    count_capped: bool

    @property
    def num_pages(self) -> int | None:
        """The number of pages, when the count is exact."""
        return None if self.count_capped else max(1, -(-self.count // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


# 500: ten pages, and counting stays cheap where a filter is not selective (bench/artifact_list.py).
COUNT_CAP = 500
MAX_PAGE = 100_000


def page_of(artifacts: QuerySet[Artifact], raw_number: Any, per_page: int) -> ArtifactPage:
    """The page numbered ``raw_number`` (a bad or missing number: the first page, never an error)."""
    try:
        number = max(1, min(int(str(raw_number)), MAX_PAGE))
    except ValueError:
        number = 1
    offset = (number - 1) * per_page
    rows = list(artifacts[offset : offset + per_page + 1])
    has_next = len(rows) > per_page
    rows = rows[:per_page]
    # A first page that is the whole result needs no count query.
    count = len(rows) if number == 1 and not has_next else artifacts.order_by()[: COUNT_CAP + 1].count()
    return ArtifactPage(
        artifacts=rows,
        number=number,
        per_page=per_page,
        has_next=has_next,
        count=min(count, COUNT_CAP),
        count_capped=count > COUNT_CAP,
    )
