"""Django's local-memory cache, counted in django-prometheus's cache metrics.

django-prometheus ships the same backend, but its ``get`` answers ``default`` for every falsy
cached value (0, "", False, an empty list): this one counts the same way and returns what is stored.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import locmem
from django_prometheus.cache.metrics import (
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)

_MISSING = object()


class LocMemCache(locmem.LocMemCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        django_cache_get_total.labels(backend="locmem").inc()
        value = super().get(key, _MISSING, version=version)
        if value is _MISSING:
            django_cache_misses_total.labels(backend="locmem").inc()
            return default
        django_cache_hits_total.labels(backend="locmem").inc()
        return value
