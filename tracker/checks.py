"""Configuration problems visible without any service, reported by ``manage.py check [--deploy]``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register


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
