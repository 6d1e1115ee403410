"""Tiny job functions for the worker tests, importable by ``rqworker`` subprocesses."""

from __future__ import annotations

import time

from tracker import signals


def add(a: int, b: int) -> int:
    return a + b


def send_pretend_emails(count: int) -> int:
    """Announce ``count`` emails the way the notifications job does, from inside a work horse."""
    signals.emails_sent.send(sender=None, mode="async", count=count)
    return count


def explode() -> None:
    raise RuntimeError("this job always fails")


def sleep(seconds: float) -> None:
    time.sleep(seconds)
