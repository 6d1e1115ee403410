"""Fixtures of the email gateway tests: the notification tests' SMTP sink and workers, the gateway on."""

from __future__ import annotations

import pytest

from tests.notifications.conftest import (  # noqa: F401 - fixtures, shared with the notification tests
    async_all,
    fast_password_hashing,
    forget_redis_failures,
    inline,
    saving,
    smtp,
    start_supervisor,
    start_worker,
    worker_env,
)

DOMAIN = "tracker.example.org"


@pytest.fixture
def gateway(settings) -> str:
    """The email gateway on, at DOMAIN."""
    settings.EMAIL_GATEWAY_DOMAIN = DOMAIN
    return DOMAIN
