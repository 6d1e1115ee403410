"""Configuration problems visible without any service, reported by ``manage.py check [--deploy]``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

from tracker.monitoring.auth import MINIMUM_SECRET_LENGTH, metrics_secret


@register()
def check_async_emails(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    # The environment variable is parsed at start-up into a value that validates itself; this catches a
    # settings module or an override that assigns ASYNC_EMAILS something the routing cannot ask.
    value = settings.ASYNC_EMAILS
    if callable(getattr(value, "covers", None)) and isinstance(getattr(value, "enabled", None), bool):
        return []
    return [
        Warning(
            f"ASYNC_EMAILS is {value!r}; it must be the parsed setting: 'all' or a set of project ids.",
            hint="Set the ASYNC_EMAILS environment variable to '' or 0 (off), 'all', or project ids "
            "such as '3, 7,12', and do not assign ASYNC_EMAILS in code.",
            id="tracker.W001",
        )
    ]


@register(Tags.security, deploy=True)
def check_redis_password(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.DEBUG or urlsplit(settings.REDIS_URL).password:
        return []
    return [
        Warning(
            "REDIS_URL has no password while DEBUG is off.",
            hint="Protect Redis with requirepass (30+ characters) and put the password in REDIS_URL: "
            "redis://:PASSWORD@host:6379/0.",
            id="tracker.W002",
        )
    ]


@register(Tags.security)
def check_metrics_secret(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    secret = metrics_secret()
    if secret is None and settings.METRICS_SECRET_FILE:
        problem = f"METRICS_SECRET_FILE={settings.METRICS_SECRET_FILE} cannot be read or is empty"
    elif secret is not None and len(secret) < MINIMUM_SECRET_LENGTH:
        problem = f"The metrics secret is {len(secret)} characters long (fewer than {MINIMUM_SECRET_LENGTH})"
    else:
        # No secret at all keeps /metrics closed, which is safe.
        return []
    return [
        Warning(
            f"{problem}, so /metrics refuses every scrape.",
            hint=f"Set METRICS_SECRET (or the file named by METRICS_SECRET_FILE) to at least "
            f"{MINIMUM_SECRET_LENGTH} random characters, for example: python -c "
            "'import secrets; print(secrets.token_urlsafe(24))'.",
            id="tracker.W003",
        )
    ]
