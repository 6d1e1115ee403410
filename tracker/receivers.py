"""Signal receivers: each one line that calls a named function, so a reader can jump to the logic."""

from __future__ import annotations
