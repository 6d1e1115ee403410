"""Tiny job functions for the worker tests, importable by ``rqworker`` subprocesses."""

from __future__ import annotations

import time

from tracker.monitoring.metrics import record_emails_sent


def add(a: int, b: int) -> int:
    return a + b


def send_pretend_emails(count: int) -> int:
    """Announce ``count`` emails the way the notifications job does, from inside a work horse."""
    record_emails_sent("async", count)
    return count


def explode() -> None:
    raise RuntimeError("this job always fails")


def sleep(seconds: float) -> None:
    time.sleep(seconds)
