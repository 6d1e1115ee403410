"""Property-based tests of the whole API against its own OpenAPI schema.

Schemathesis generates requests for every operation of ``/api/schema/`` (valid ones, edge cases and
garbage) and sends them, with a member's token, to the app in-process. Every answer must be a non-5xx
response whose status code, content type, headers and body the schema documents. The ids in paths and
bodies are biased towards the seeded world's real objects, and artifact bodies towards the trackers'
real field names, so that the generated requests reach the services instead of stopping at "not found".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.world import typed_tracker
from tracker.models import Membership, Project, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.projects import set_member
from tuleap_backend.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@dataclass
class World:
    """Ids of the seeded objects, read by the hooks below while cases are generated."""

    token: str = ""
    admin_token: str = ""
    ids: dict[str, list[int]] = field(default_factory=dict)
    field_names: dict[int, list[str]] = field(default_factory=dict)


WORLD = World()

# Which kind of object the {id} of each path prefix names.
ID_KINDS = {"/api/projects/": "projects", "/api/trackers/": "trackers", "/api/artifacts/": "artifacts"}


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: dict[str, Any]) -> Any:
    kind = next((k for prefix, k in ID_KINDS.items() if context.operation.path.startswith(prefix)), None)
    if kind is None or not isinstance(path_parameters, dict) or "id" not in path_parameters:
        return st.just(path_parameters)
    real = st.sampled_from(WORLD.ids[kind]).map(lambda pk: {**path_parameters, "id": pk})
    return st.one_of(real, st.just(path_parameters))


USERS = ["alice", "bob", "carol@example.com", "DAVE@example.com"]
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40)
# Values a well-meaning client would send for each seeded field name: these get past validation.
PLAUSIBLE_VALUES = {
    "description": TEXT,
    "status": st.sampled_from(["New", "In progress", "done"]),
    "assigned_to": st.sampled_from(USERS),
    "cc": st.lists(st.sampled_from(USERS), max_size=3),
    "effort": st.integers(-(2**31), 2**31),
    "ratio": st.floats(allow_nan=False, allow_infinity=False),
    "due": st.dates().map(lambda d: d.isoformat()),
    # Any offset, including ones that push year 1 or 9999 out of range in UTC (answered 400).
    "seen": st.datetimes(
        timezones=st.sampled_from(
            [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-11))]
        )
    ).map(lambda d: d.isoformat()),
    "os": st.lists(st.sampled_from(["Linux", "macOS"]), max_size=2),
    "watchers": st.lists(st.sampled_from(USERS), max_size=3),
    "labels": st.lists(TEXT, max_size=3) | TEXT,
    "files": st.just([]),
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def plausible_values(tracker_id: int) -> st.SearchStrategy[dict[str, Any]]:
    names = WORLD.field_names[tracker_id]
    optional = {name: strategy for name, strategy in PLAUSIBLE_VALUES.items() if name in names}
    if "links" in names:
        optional["links"] = st.lists(st.sampled_from(WORLD.ids["artifacts"]), max_size=2)
    return st.fixed_dictionaries({"title": TEXT.filter(str.strip)}, optional=optional)


def hostile_values(tracker_id: int) -> st.SearchStrategy[dict[str, Any]]:
    """Any JSON under the tracker's real field names: what a confused or hostile client sends."""
    return st.dictionaries(st.sampled_from(WORLD.field_names[tracker_id]), JSON, max_size=4)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> Any:
    if not isinstance(body, dict):
        return st.just(body)
    if context.operation.path == "/api/projects/{id}/members/":
        return st.one_of(st.sampled_from(USERS).map(lambda user: {**body, "user": user}), st.just(body))
    if context.operation.path not in ("/api/artifacts/", "/api/artifacts/{id}/"):
        return st.just(body)
    trackers = st.sampled_from(WORLD.ids["trackers"])
    if "tracker" in body:
        tracker_and_values = trackers.flatmap(
            lambda pk: st.tuples(st.just(pk), st.one_of(plausible_values(pk), hostile_values(pk)))
        )
        return st.one_of(
            tracker_and_values.map(lambda tv: {**body, "tracker": tv[0], "values": tv[1]}), st.just(body)
        )
    values = trackers.flatmap(lambda pk: st.one_of(plausible_values(pk), hostile_values(pk)))
    return st.one_of(values.map(lambda values: {**body, "values": values}), st.just(body))


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """The app is called through WSGI, whose request signals would close the test's open transaction.

    Django's own test client does the same around each request.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(
    keep_test_connection: None,
    public_project: Project,
    private_project: Project,
    bugs: Tracker,
    tasks: Tracker,
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    admin_user: User,
) -> World:
    typed = typed_tracker(
        public_project, "effort", "ratio", "due", "seen", "os", "watchers", "labels", "links", "files"
    )
    crash = create_artifact(
        bugs, author=alice, values={"title": "Crash", "status": "New", "cc": ["bob"]}
    ).artifact
    update_artifact(
        crash,
        author=bob,
        values={"status": "Done", "assigned_to": "carol"},
        comment="*Fixed*",
        comment_format="markdown",
    )
    plan = create_artifact(tasks, author=alice, values={"title": "Secret plan"}).artifact
    linked = create_artifact(
        typed,
        author=bob,
        values={"title": "Typed", "effort": 3, "os": ["Linux"], "links": [crash.pk], "labels": "a, b"},
    ).artifact
    # Bob administers the public project and is a member of the private one: every answer is reachable.
    set_member(public_project, bob, Membership.Role.ADMIN)
    WORLD.token = Token.objects.create(user=bob).key
    WORLD.admin_token = Token.objects.create(user=admin_user).key
    WORLD.ids = {
        "projects": [public_project.pk, private_project.pk],
        "trackers": [bugs.pk, tasks.pk, typed.pk],
        "artifacts": [crash.pk, plan.pk, linked.pk],
    }
    WORLD.field_names = {t.pk: [f.name for f in t.fields.all()] for t in (bugs, tasks, typed)}
    return WORLD


@schema.parametrize()
@hypothesis.settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, world: World) -> None:
    # Only site administrators create users: let that operation run as one.
    token = world.admin_token if case.operation.label == "POST /api/users/" else world.token
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        # Every response conformance check: the status code, the content type, the headers and the
        # body are all documented by the schema.
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
