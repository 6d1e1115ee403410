"""Jobs the worker tests enqueue on other queues (imported by real worker processes)."""

from __future__ import annotations

import time


def sleep_for(seconds: float) -> str:
    """Stands for a long Jira import."""
    time.sleep(seconds)
    return "slept"
