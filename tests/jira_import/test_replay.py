"""Replaying a fetched issue into planned changesets: no HTTP and no database (these tests have none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tracker.jira_import.fetch import FetchedIssue
from tracker.jira_import.field_values import Binding
from tracker.jira_import.mapping import FieldPlan
from tracker.jira_import.people import Person
from tracker.jira_import.replay import Replay
from tracker.models import Field, FieldType

T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ALICE = Person(1, "Alice", True)
BOB = Person(2, "Bob", True)


class Options:
    """A fake resolver: the options a test names, by Jira id or label."""

    def __init__(self, options: dict[str, tuple[str, int]]) -> None:
        self.by_jira_id = {jira_id: pk for jira_id, (_, pk) in options.items()}
        self.by_label = {label: pk for label, pk in options.values()}

    def resolve(self, jira_id: Any, label: Any) -> int | None:
        return self.by_jira_id.get(str(jira_id)) or self.by_label.get(label)


class People:
    """A fake directory: users by account id."""

    known = {"alice": ALICE, "bob": BOB}

    def person(self, user: dict[str, Any] | None) -> Person | None:
        return self.known.get(user["accountId"]) if user else None

    def by_reference(self, ref: str | None, display_name: str | None) -> Person | None:
        return self.known.get(ref or "")


def binding(
    pk: int,
    name: str,
    field_type: str,
    kind: str,
    jira_id: str,
    options: dict[str, tuple[str, int]] | None = None,
) -> Binding:
    field_ = Field(pk=pk, name=name, label=name.title(), type=field_type, is_title=name == "title")
    return Binding(
        FieldPlan(name, name.title(), field_type, kind, jira_id),
        field_,
        Options(options) if options else None,
    )


TITLE = binding(1, "title", FieldType.STRING, "string", "summary")
# Jira id -> (label, option id)
COMPONENT_OPTIONS = {"1": ("API", 11), "2": ("UI", 12), "3": ("Docs", 13), "4": ("Ops", 14)}
COMPONENTS = binding(2, "components", FieldType.MULTI_SELECT, "named_items", "components", COMPONENT_OPTIONS)
RESOLUTION = binding(3, "resolution_date", FieldType.DATETIME, "resolution", "resolutiondate")


def at(hours: int) -> datetime:
    return T0 + hours * HOUR


def jira_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def entry(hours: int, *items: dict[str, Any], author: str = "bob") -> dict[str, Any]:
    return {
        "id": str(hours),
        "created": jira_time(at(hours)),
        "_when": at(hours),
        "author": {"accountId": author},
        "items": list(items),
    }


def fetched(fields: dict[str, Any], histories=(), comments=()) -> FetchedIssue:
    issue = {
        "id": "10100",
        "key": "DEMO-1",
        "fields": {"summary": "Crash", "created": jira_time(T0), "creator": {"accountId": "alice"}, **fields},
    }
    return FetchedIssue(issue, list(histories), list(comments), [], [])


def replay(*bindings: Binding) -> Replay:
    return Replay([TITLE, *bindings], People(), lambda key: f"https://jira.example.com/browse/{key}")


def test_a_multi_valued_field_is_rebuilt_by_undoing_its_changelog() -> None:
    # Now API, UI and Docs; Jira added UI at 1, then removed Ops and added Docs at 2.
    issue = fetched(
        {"components": [{"id": "1", "name": "API"}, {"id": "2", "name": "UI"}, {"id": "3", "name": "Docs"}]},
        histories=[
            entry(
                1, {"fieldId": "components", "from": None, "fromString": None, "to": "2", "toString": "UI"}
            ),
            entry(
                2,
                {"fieldId": "components", "from": "4", "fromString": "Ops", "to": None, "toString": None},
                {"fieldId": "components", "from": None, "fromString": None, "to": "3", "toString": "Docs"},
            ),
        ],
    )

    planned = replay(COMPONENTS).plan(issue)

    # It should start from what the issue held when created, then change it entry by entry.
    creation, first, second = planned.changesets
    assert creation.is_creation and creation.submitted_on == T0 and creation.author_id == ALICE.user_id
    assert creation.values == {TITLE.field: "Crash", COMPONENTS.field: [11, 14]}
    assert (first.submitted_on, first.author_id, first.values) == (
        at(1),
        BOB.user_id,
        {COMPONENTS.field: [11, 12, 14]},
    )
    assert second.values == {COMPONENTS.field: [11, 12, 13]}
    assert (planned.source_id, planned.reference) == ("10100", "DEMO-1")


def test_comments_are_merged_with_the_history_in_date_order() -> None:
    issue = fetched(
        {"summary": "Crash on save"},
        histories=[
            entry(1, {"fieldId": "summary", "fromString": "Crash", "toString": "Crash!"}),
            entry(3, {"fieldId": "summary", "fromString": "Crash!", "toString": "Crash on save"}),
        ],
        comments=[
            {
                "id": "1",
                "created": jira_time(at(2)),
                "author": {"accountId": "alice"},
                "body": " Seen it too. ",
            },
            {"id": "2", "created": jira_time(at(3)), "author": {"accountId": "bob"}, "body": "Fixed."},
        ],
    )

    changesets = replay().plan(issue).changesets

    # It should place each comment at its date; a comment as old as a change comes after it.
    assert [(c.submitted_on, c.comment, c.values) for c in changesets] == [
        (T0, "", {TITLE.field: "Crash"}),
        (at(1), "", {TITLE.field: "Crash!"}),
        (at(2), "Seen it too.", {}),
        (at(3), "", {TITLE.field: "Crash on save"}),
        (at(3), "Fixed.", {}),
    ]
    assert [c.author_id for c in changesets[2:]] == [ALICE.user_id, BOB.user_id, BOB.user_id]
    assert {c.comment_format for c in changesets} == {"text"}


def test_the_resolution_date_is_set_and_unset_by_the_entries_that_resolve_and_reopen() -> None:
    resolve = {"fieldId": "resolution", "from": None, "fromString": None, "to": "1", "toString": "Fixed"}
    reopen = {"fieldId": "resolution", "from": "1", "fromString": "Fixed", "to": None, "toString": None}
    issue = fetched(
        {"resolutiondate": jira_time(at(3))},
        histories=[entry(1, resolve), entry(2, reopen), entry(3, resolve)],
    )

    changesets = replay(RESOLUTION).plan(issue).changesets

    # It should have no date until the first resolution, none after the reopening, then the last one.
    assert RESOLUTION.field not in changesets[0].values
    assert [c.values for c in changesets[1:]] == [
        {RESOLUTION.field: at(1).isoformat()},
        {RESOLUTION.field: None},
        {RESOLUTION.field: at(3).isoformat()},
    ]


def test_an_issue_resolved_when_created_has_its_creation_date_as_resolution_date() -> None:
    reopen = {"fieldId": "resolution", "from": "1", "fromString": "Fixed", "to": None, "toString": None}
    issue = fetched({}, histories=[entry(1, reopen)])

    creation, reopened = replay(RESOLUTION).plan(issue).changesets

    assert creation.values[RESOLUTION.field] == T0.isoformat()
    assert reopened.values == {RESOLUTION.field: None}
