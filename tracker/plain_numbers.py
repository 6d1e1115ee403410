"""Numbers people type (ids in URLs and forms, minutes, settings): ASCII digits and nothing else.

``str.isdigit()`` is not the check: it is also true for "²" or "①", which ``int()`` then refuses (a
ValueError, that is a 500, where a clear "not a number" was meant), and ``int()`` itself takes "٣" or
" 7". Pure Python, no Django: the settings use it too.
"""

from __future__ import annotations

# Up to 18 digits: always within a 64-bit database id.
MAX_DIGITS = 18


def is_plain_number(text: str, *, max_digits: int = MAX_DIGITS) -> bool:
    """Whether ``text`` is one to ``max_digits`` ASCII digits."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def plain_number(text: str | None, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The number ``text`` spells in ASCII digits, else None."""
    return int(text) if text is not None and is_plain_number(text, max_digits=max_digits) else None
