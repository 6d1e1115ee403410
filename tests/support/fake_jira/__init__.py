"""A fake Jira (Cloud and Server/Data Center dialects) for the importer's tests and benchmark.

See ``server.FakeJiraServer`` for the HTTP side and knobs, ``model.FakeJiraData``
for datasets (``realistic()``, ``generated(n)`` and the builder API).
"""

from __future__ import annotations

from .catalog import Catalog, FieldDef
from .model import FakeJiraData, Issue, IssueBuilder, User
from .render import jira_timestamp, wiki_to_adf, wiki_to_html
from .server import (
    CLOUD_API_TOKEN,
    CLOUD_EMAIL,
    SERVER_PASSWORD,
    SERVER_PAT,
    SERVER_USERNAME,
    Credentials,
    FakeJiraServer,
    RecordedRequest,
)

__all__ = [
    "CLOUD_API_TOKEN",
    "CLOUD_EMAIL",
    "SERVER_PASSWORD",
    "SERVER_PAT",
    "SERVER_USERNAME",
    "Catalog",
    "Credentials",
    "FakeJiraData",
    "FakeJiraServer",
    "FieldDef",
    "Issue",
    "IssueBuilder",
    "RecordedRequest",
    "User",
    "jira_timestamp",
    "wiki_to_adf",
    "wiki_to_html",
]
