"""Counting the rows a piece of code loads as model instances: work that a query count cannot see.

A prefetch keeps the number of queries fixed while the rows it brings grow with the history; the
bounded-cost tests assert both.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.db import models


@contextlib.contextmanager
def rows_loaded(*model_classes: type[models.Model]) -> Iterator[Counter[str]]:
    """Count, per model name, the instances built from database rows inside the block."""
    counts: Counter[str] = Counter()
    for model in model_classes:
        assert "from_db" not in vars(model), f"{model.__name__} defines from_db: count it another way"
        inherited = model.from_db.__func__  # type: ignore[attr-defined]

        def counting(cls: type[models.Model], *args: Any, _inherited: Any = inherited) -> models.Model:
            counts[cls.__name__] += 1
            return _inherited(cls, *args)

        model.from_db = classmethod(counting)  # type: ignore[method-assign,assignment]
    try:
        yield counts
    finally:
        for model in model_classes:
            del model.from_db
