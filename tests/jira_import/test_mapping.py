"""The mapping of Jira field schemas to our field types (the issue's table), and the skipped ones."""

from __future__ import annotations

import pytest

from tracker.jira_import.discovery import JiraFieldInfo, JiraStatusInfo
from tracker.jira_import.jira_fields import CUSTOM_FIELDS
from tracker.jira_import.mapping import classify, plan_fields
from tracker.models import FieldType

CF = "com.atlassian.jira.plugin.system.customfieldtypes:"


def system(field_id: str, schema_type: str = "string") -> JiraFieldInfo:
    return JiraFieldInfo(field_id, field_id.title(), {"type": schema_type, "system": field_id})


def custom(kind: str, schema_type: str = "string") -> JiraFieldInfo:
    return JiraFieldInfo(
        "customfield_1", kind.title(), {"type": schema_type, "custom": CF + kind, "customId": 1}
    )


@pytest.mark.parametrize(
    ("field_id", "expected"),
    [
        ("summary", FieldType.STRING),
        ("description", FieldType.TEXT),
        ("duedate", FieldType.DATE),
        ("priority", FieldType.SELECT),
        ("components", FieldType.MULTI_SELECT),
        ("versions", FieldType.MULTI_SELECT),
        ("fixVersions", FieldType.MULTI_SELECT),
        ("labels", FieldType.OPEN_LIST),
        ("assignee", FieldType.USER),
        ("reporter", FieldType.USER),
    ],
)
def test_system_fields(field_id: str, expected: str) -> None:
    assert classify(system(field_id))[0] == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("textfield", FieldType.STRING),
        ("textarea", FieldType.TEXT),
        ("float", FieldType.FLOAT),
        ("datepicker", FieldType.DATE),
        ("datetime", FieldType.DATETIME),
        ("select", FieldType.SELECT),
        ("radiobuttons", FieldType.SELECT),
        ("version", FieldType.SELECT),
        ("multiselect", FieldType.MULTI_SELECT),
        ("multicheckboxes", FieldType.MULTI_SELECT),
        ("multiversion", FieldType.MULTI_SELECT),
        ("labels", FieldType.OPEN_LIST),
        ("userpicker", FieldType.USER),
        ("multiuserpicker", FieldType.USERS),
    ],
)
def test_atlassian_custom_fields(kind: str, expected: str) -> None:
    assert kind in CUSTOM_FIELDS
    assert classify(custom(kind))[0] == expected


def test_fields_the_import_stands_for_are_neither_mapped_nor_listed_as_skipped() -> None:
    for field_id in ("issuetype", "project", "attachment", "issuelinks", "parent", "status", "creator"):
        assert classify(system(field_id)) is None


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (custom("grouppicker", "group"), "groups are not imported"),
        (
            JiraFieldInfo(
                "customfield_2",
                "Rank",
                {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-lexo-rank"},
            ),
            "the board's rank",
        ),
        (system("votes", "votes"), "who voted"),
        (
            JiraFieldInfo("customfield_4", "App thing", {"type": "array", "custom": "com.example.app:thing"}),
            "its type (com.example.app:thing) has no equivalent here",
        ),
        (JiraFieldInfo("customfield_3", "No schema", {}), "Jira does not describe its type"),
    ],
)
def test_other_types_are_skipped_with_a_reason(info: JiraFieldInfo, reason: str) -> None:
    assert reason in classify(info)


def test_the_epic_link_and_sprint_fields_feed_the_links_and_cascading_selects_are_one_select() -> None:
    epic = JiraFieldInfo(
        "customfield_2", "Epic Link", {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link"}
    )
    sprint = JiraFieldInfo(
        "customfield_5", "Sprint", {"type": "array", "custom": "com.pyxis.greenhopper.jira:gh-sprint"}
    )
    assert classify(epic) is None and classify(sprint) is None
    plan = plan_fields([epic, sprint], [], carried={"customfield_2": 3, "customfield_5": 2})
    assert plan.link_fields == {"customfield_2": "epic", "customfield_5": "sprint"} and plan.skipped == []
    assert classify(custom("cascadingselect", "option-with-child")) == (FieldType.SELECT, "cascading")
    assert classify(system("timetracking", "timetracking")) is None  # its three parts are fields


def test_only_fields_that_carried_a_value_are_listed_as_not_imported_with_their_count() -> None:
    group = custom("grouppicker", "group")
    plan = plan_fields([group], [], carried={})
    assert plan.skipped == []  # nothing was lost
    plan = plan_fields([group], [], carried={"customfield_1": 4})
    assert [s.as_dict() for s in plan.skipped] == [
        {"field": "Grouppicker", "reason": "groups are not imported", "issues": 4}
    ]


def test_a_plan_names_fields_uniquely_and_always_adds_the_jira_fields() -> None:
    fields_plan = plan_fields(
        [
            JiraFieldInfo("customfield_1", "Status", {"type": "string", "custom": CF + "textfield"}),
            JiraFieldInfo("customfield_2", "Status", {"type": "string", "custom": CF + "textfield"}),
            system("assignee", "user"),
        ],
        [JiraStatusInfo("1", "Open", "new"), JiraStatusInfo("2", "Closed", "done")],
    )
    plans, skipped = fields_plan.plans, fields_plan.skipped
    names = [p.name for p in plans]
    # The title comes first even when Jira's create screen has no summary, then the status.
    assert names[:2] == ["title", "status"]
    assert names[2:5] == ["status_2", "status_3", "assigned_to"]
    assert names[5:] == [
        "jira_key", "jira_url", "created_by", "created_on", "last_update", "resolution_date",
        "attachments", "links",
    ]  # fmt: skip
    status = plans[1].spec()
    assert status.options == ("Open", "Closed") and status.closed_options == ("Closed",)
    assert skipped == []
