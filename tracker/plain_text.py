"""Text people type that is stored as is: what the databases refuse in it, said in words.

PostgreSQL refuses NUL characters in text (psycopg: "PostgreSQL text fields cannot contain NUL (0x00)
bytes"), and a lone surrogate cannot be encoded to UTF-8; both are a DataError or a UnicodeEncodeError,
a 500, where SQLite stored them. Django's form fields refuse NUL themselves; the API and the few views
without a form use this. Pure Python, no Django.
"""

from __future__ import annotations


def text_problem(text: str, *, max_length: int) -> str | None:
    """Why ``text`` cannot be stored in a column of ``max_length`` characters, or None if it can."""
    if len(text) > max_length:
        return f"Text has at most {max_length} characters (this has {len(text)})."
    if "\x00" in text:
        return "Text cannot contain NUL characters."
    if any("\ud800" <= char <= "\udfff" for char in text):
        return "Text cannot contain lone surrogate characters."
    return None
