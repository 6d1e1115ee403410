"""The fake Jira as pytest fixtures, for the conftests of the import's and the wizard's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .model import FakeJiraData
from .server import FakeJiraServer


def realistic_jira(flavor: str) -> Iterator[FakeJiraServer]:
    """The realistic dataset, DEMO ("Demo Project") and OPS ("Operations"), served in ``flavor``."""
    with FakeJiraServer(FakeJiraData.realistic(), flavor=flavor) as server:
        yield server


@pytest.fixture
def cloud() -> Iterator[FakeJiraServer]:
    """Jira Cloud with the realistic dataset: email address and API token."""
    yield from realistic_jira("cloud")


@pytest.fixture
def server() -> Iterator[FakeJiraServer]:
    """Jira Data Center, same data, personal access tokens."""
    yield from realistic_jira("server")
