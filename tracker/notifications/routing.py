"""ASYNC_EMAILS: which projects notify through backend workers, which ones inline in the request.

The setting is parsed once at start-up (``tuleap_backend.env.parse_async_emails``): it is ``"all"`` or a
set of project ids (empty when off). These functions read it at call time so tests can override it.
"""

from __future__ import annotations

from django.conf import settings

from tuleap_backend.env import ASYNC_ALL


def is_async(project_id: int) -> bool:
    """Whether this project's notifications go through a backend worker rather than the request."""
    value = settings.ASYNC_EMAILS
    if value == ASYNC_ALL:
        return True
    return project_id in value


def async_enabled() -> bool:
    """Whether any project notifies through backend workers, so at least one worker must run."""
    return bool(settings.ASYNC_EMAILS)
