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


@register(Tags.security, deploy=True)
def check_proxy_settings(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Settings that contradict each other behind a reverse proxy (README: Security)."""
    warnings = []
    if settings.SECURE_PROXY_SSL_HEADER and not settings.TRUSTED_PROXIES:
        warnings.append(
            Warning(
                "SECURE_PROXY_SSL_HEADER says a proxy is in front, but TRUSTED_PROXIES is 0: every login "
                "seems to come from the proxy's address, so a few failed logins lock everybody out.",
                hint="Set TRUSTED_PROXIES to the number of reverse proxies that append to "
                "X-Forwarded-For (1 for one nginx or Apache in front of gunicorn).",
                id="tracker.W004",
            )
        )
    if settings.SECURE_SSL_REDIRECT and not settings.SECURE_PROXY_SSL_HEADER:
        warnings.append(
            Warning(
                "SECURE_SSL_REDIRECT is on but SECURE_PROXY_SSL_HEADER is not set: behind a proxy that "
                "ends TLS, every request looks like plain HTTP and is redirected to itself.",
                hint="Set SECURE_PROXY_SSL_HEADER to the header your proxy sets to 'https' (such as "
                "X-Forwarded-Proto), or turn SECURE_SSL_REDIRECT off if gunicorn itself serves TLS.",
                id="tracker.W005",
            )
        )
    return warnings
