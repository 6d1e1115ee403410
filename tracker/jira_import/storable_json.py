"""Jira's JSON made storable: the text PostgreSQL refuses, taken out where it is read.

JSON may carry ``\\u0000`` and lone surrogates (``\\ud800``): Jira on MySQL, Oracle or SQL Server
stores a NUL pasted from a log, and Java strings can hold half a surrogate pair. Python decodes both,
but PostgreSQL refuses a NUL in text and in ``jsonb`` (its docs, "JSON Types": ``\\u0000`` is
disallowed), and a lone surrogate cannot be encoded to UTF-8: one such issue stopped a whole import
with a DataError. Every answer the import reads goes through :func:`loads`, so every field, comment,
name and history entry is covered: a NUL is dropped, a lone surrogate becomes U+FFFD.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tracker.plain_text import storable

# Only these escapes can put such a character in a string: JSON forbids raw control characters, and
# raw surrogates are not valid UTF-8. Answers without them (nearly all) are not walked.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})")


def loads(data: bytes) -> Any:
    """``json.loads``, with every string (keys too) storable; raises ValueError as it does."""
    value = json.loads(data)
    if not _SUSPECT.search(data):
        return value
    try:
        return _clean(value)
    except RecursionError:  # nested about as deep as json.loads itself accepts
        raise ValueError("JSON nested too deep") from None


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): _clean(item) for key, item in value.items()}
    return value
