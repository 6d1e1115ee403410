"""Text people type that is stored as is: what the databases refuse in it, said in words.

PostgreSQL refuses NUL characters in text (psycopg: "PostgreSQL text fields cannot contain NUL (0x00)
bytes"), and a lone surrogate cannot be encoded to UTF-8; both are a DataError or a UnicodeEncodeError,
a 500, where SQLite stored them. Django's form fields refuse NUL themselves; the API and the few views
without a form refuse it with ``text_problem``; what we import (Jira, emails) is made ``storable``.
Pure Python, no Django.
"""

from __future__ import annotations

import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str, *, max_length: int) -> str | None:
    """Why ``text`` cannot be stored in a column of ``max_length`` characters, or None if it can."""
    if len(text) > max_length:
        return f"Text has at most {max_length} characters (this has {len(text)})."
    if "\x00" in text:
        return "Text cannot contain NUL characters."
    if _LONE_SURROGATE.search(text):
        return "Text cannot contain lone surrogate characters."
    return None


def storable(text: str) -> str:
    """``text`` as it can be stored, for text we take as it comes (Jira's, an email's): a NUL is
    dropped, a lone surrogate becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))
