"""Scraping ``/metrics`` as Prometheus does, and a metrics store emptied around each test."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TestRedis
from tracker import queues
from tracker.monitoring import store

SECRET = "metrics-secret-for-the-tests-0123456789"


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Scrape:
    text: str

    def __post_init__(self) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(self.text)}
        self.samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in self.families.values()
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float | None:
        """The sample's value, or None when the scrape has no such sample."""
        return self.samples.get((name, frozenset(labels.items())))

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(
            value for (sample, found), value in self.samples.items() if sample == name and wanted <= found
        )


@pytest.fixture(autouse=True)
def forget_redis_failures() -> Iterator[None]:
    """Each test starts with no Redis breaker open: one test's outage must not skip the next's Redis."""
    queues.reset()
    yield
    queues.reset()


@pytest.fixture
def metrics_store(test_redis: TestRedis) -> Iterator[None]:
    """Every test starts with no stored metric and a store that never failed."""
    store.reset()
    store.clear()
    yield
    store.reset()
    store.clear()


@pytest.fixture
def with_secret(settings: object) -> str:
    settings.METRICS_SECRET = SECRET  # type: ignore[attr-defined]
    settings.METRICS_SECRET_FILE = ""  # type: ignore[attr-defined]
    return SECRET


@pytest.fixture
def scrape(with_secret: str, metrics_store: None) -> Callable[[], Scrape]:
    """GET /metrics with the right credentials; asserts a 200 and parses the exposition."""

    def get() -> Scrape:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=basic_auth("metrics", with_secret))
        assert response.status_code == 200, response.content
        return Scrape(response.content.decode())

    return get
