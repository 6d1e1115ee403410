"""ASYNC_EMAILS: which projects notify through backend workers, which ones inline in the request.

Settings hold the value parsed at start-up, an ``AsyncEmails`` (``"all"`` or a set of project ids) that
answers ``covers(project_id)`` and ``enabled``; these functions read it at call time so tests can
override it.
"""

from __future__ import annotations

from django.conf import settings


def is_async(project_id: int) -> bool:
    """Whether this project's notifications go through a backend worker rather than the request."""
    return settings.ASYNC_EMAILS.covers(project_id)


def async_enabled() -> bool:
    """Whether any project notifies through backend workers, so at least one worker must run."""
    return settings.ASYNC_EMAILS.enabled
