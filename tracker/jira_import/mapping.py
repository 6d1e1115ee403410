"""Which tracker fields a Jira issue type becomes, and which Jira fields are skipped (and why).

Jira describes each field with a schema: ``schema.system`` names a built-in field, ``schema.custom``
the type of a custom field. The table below maps both to our field types; each mapped field also gets a
``kind`` telling the replay (:mod:`tracker.jira_import.replay`) how Jira writes its values (in the
issue and in the changelog).

Besides the mapped fields, every imported tracker has the same "always created" fields: the Jira key,
a link to the original issue, created by / on, last update, resolution date, status, attachments, links.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.text import slugify

from tracker.jira_import.discovery import JiraFieldInfo, JiraStatusInfo
from tracker.models import FieldType
from tracker.services.trackers import FieldSpec

ATLASSIAN_CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"

# schema.system -> (our type, value kind)
SYSTEM_FIELDS: dict[str, tuple[str, str]] = {
    "summary": (FieldType.STRING, "string"),
    "description": (FieldType.TEXT, "text"),
    "duedate": (FieldType.DATE, "date"),
    "priority": (FieldType.SELECT, "named"),
    "components": (FieldType.MULTI_SELECT, "named_items"),
    "versions": (FieldType.MULTI_SELECT, "named_items"),
    "fixVersions": (FieldType.MULTI_SELECT, "named_items"),
    "labels": (FieldType.OPEN_LIST, "labels"),
    "assignee": (FieldType.USER, "user"),
    "reporter": (FieldType.USER, "user"),
}
# Jira system fields the always-created fields stand for, or that the import itself implies.
IMPLIED_SYSTEM_FIELDS = {
    "issuetype",
    "project",
    "status",
    "resolution",
    "resolutiondate",
    "created",
    "updated",
    "creator",
    "attachment",
    "issuelinks",
    "subtasks",
    "parent",
}
# What the search asks of every issue besides its mapped fields: the implied fields an issue holds,
# its summary (every tracker has a title), its reporter (the creator's stand-in) and its comments.
SEARCHED_SYSTEM_FIELDS = (IMPLIED_SYSTEM_FIELDS - {"project"}) | {"summary", "reporter", "comment"}
# The last part of schema.custom for Atlassian's own custom field types -> (our type, value kind)
CUSTOM_FIELDS: dict[str, tuple[str, str]] = {
    "textfield": (FieldType.STRING, "string"),
    "textarea": (FieldType.TEXT, "text"),
    "float": (FieldType.FLOAT, "number"),
    "datepicker": (FieldType.DATE, "date"),
    "datetime": (FieldType.DATETIME, "datetime"),
    "select": (FieldType.SELECT, "option"),
    "radiobuttons": (FieldType.SELECT, "option"),
    "version": (FieldType.SELECT, "named"),
    "multiselect": (FieldType.MULTI_SELECT, "options"),
    "multicheckboxes": (FieldType.MULTI_SELECT, "options"),
    "multiversion": (FieldType.MULTI_SELECT, "named_items"),
    "labels": (FieldType.OPEN_LIST, "labels"),
    "userpicker": (FieldType.USER, "user"),
    "multiuserpicker": (FieldType.USERS, "users"),
}
# Names the changelog of Jira Server gives system fields (Cloud adds fieldId to every item).
CHANGELOG_ALIASES = {
    "Fix Version": "fixVersions",
    "Version": "versions",
    "Component": "components",
    "Attachment": "attachment",
    "duedate": "duedate",
}

# The always-created fields, by our field name.
JIRA_KEY = "jira_key"
JIRA_URL = "jira_url"
CREATED_BY = "created_by"
CREATED_ON = "created_on"
LAST_UPDATE = "last_update"
RESOLUTION_DATE = "resolution_date"
STATUS = "status"
ATTACHMENTS = "attachments"
LINKS = "links"
TITLE = "title"


@dataclass
class FieldPlan:
    """One tracker field to create, and where its values come from in Jira."""

    name: str
    label: str
    type: str
    kind: str  # how values are read; see tracker.jira_import.replay
    jira_id: str = ""  # "" for the always-created fields that no single Jira field holds
    # (Jira id, label) of the known values of select fields; more may appear in the history.
    options: list[tuple[str, str]] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)  # labels of the options meaning "done"
    required: bool = False
    is_title: bool = False
    notify: bool = False
    help_text: str = ""

    def spec(self) -> FieldSpec:
        labels: list[str] = []
        seen: set[str] = set()
        for _, label in self.options:
            if label.casefold() not in seen:
                seen.add(label.casefold())
                labels.append(label)
        return FieldSpec(
            name=self.name,
            label=self.label,
            type=self.type,
            required=self.required,
            help_text=self.help_text,
            notify=self.notify,
            is_title=self.is_title,
            options=tuple(labels),
            closed_options=tuple(label for label in labels if label in self.closed),
        )


@dataclass(frozen=True)
class SkippedField:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


def option_label(value: dict[str, object]) -> str:
    """The label of an allowed value or a value: options have ``value``, the others ``name``."""
    label = value.get("value", value.get("name"))
    return str(label if label is not None else value.get("id", "")).strip()[:255]


def classify(info: JiraFieldInfo) -> tuple[str, str] | str | None:
    """(type, kind) when the field is imported; a reason when skipped; None when implied by the import."""
    system = info.schema.get("system")
    custom = info.schema.get("custom")
    if system and not custom:
        if system in SYSTEM_FIELDS:
            return SYSTEM_FIELDS[system]
        if system in IMPLIED_SYSTEM_FIELDS:
            return None
        return f"the Jira field type {system!r} has no equivalent here"
    if custom:
        custom = str(custom)
        if custom.startswith(ATLASSIAN_CUSTOM):
            short = custom.removeprefix(ATLASSIAN_CUSTOM)
            if short in CUSTOM_FIELDS:
                return CUSTOM_FIELDS[short]
            if short == "cascadingselect":
                return "cascading selects (a parent and a child option) have no equivalent here"
        if info.schema.get("type") == "number":
            return FieldType.FLOAT, "number"
        return f"its type ({custom}) has no equivalent here"
    if info.id in IMPLIED_SYSTEM_FIELDS:
        return None
    return "Jira does not describe its type"


def _slug(text: str) -> str:
    return slugify(text).replace("-", "_")[:40].strip("_") or "field"


def plan_fields(
    fields: Iterable[JiraFieldInfo], statuses: Iterable[JiraStatusInfo]
) -> tuple[list[FieldPlan], list[SkippedField]]:
    """The fields of the tracker (mapped first, then the always-created ones) and the skipped ones."""
    fields = list(fields)
    reserved = {JIRA_KEY, JIRA_URL, CREATED_BY, CREATED_ON, LAST_UPDATE, RESOLUTION_DATE, STATUS}
    reserved |= {ATTACHMENTS, LINKS, TITLE}
    used: set[str] = set(reserved)
    plans: list[FieldPlan] = []
    skipped: list[SkippedField] = []

    def unique(base: str) -> str:
        name, n = base, 2
        while name in used:
            name = f"{base}_{n}"
            n += 1
        used.add(name)
        return name

    by_id = {f.id: f for f in fields}
    if "summary" not in by_id:  # every tracker needs its title, whatever the create screen shows
        fields.insert(0, JiraFieldInfo("summary", "Summary", {"type": "string", "system": "summary"}))
    for info in fields:
        outcome = classify(info)
        if outcome is None:
            continue
        if isinstance(outcome, str):
            skipped.append(SkippedField(info.name, outcome))
            continue
        kind_type, kind = outcome
        label = info.name.strip()[:100] or info.id
        if info.id == "summary":
            plan = FieldPlan(TITLE, label, kind_type, kind, info.id, required=True, is_title=True)
        elif info.id == "description":
            plan = FieldPlan(unique("description"), label, kind_type, kind, info.id)
        elif info.id == "assignee":
            plan = FieldPlan(unique("assigned_to"), label, kind_type, kind, info.id, notify=True)
        else:
            plan = FieldPlan(unique(_slug(label)), label, kind_type, kind, info.id)
        if kind_type in (FieldType.SELECT, FieldType.MULTI_SELECT):
            plan.options = [(str(v.get("id", "")), option_label(v)) for v in info.allowed_values]
            plan.options = [(jid, label) for jid, label in plan.options if label]
        plans.append(plan)
    # Title first, then the workflow's status, then the rest in the create screen's order.
    plans.sort(key=lambda p: not p.is_title)
    statuses = list(statuses)
    status = FieldPlan(
        STATUS,
        "Status",
        FieldType.SELECT,
        "named",
        "status",
        options=[(s.id, s.name.strip()[:255]) for s in statuses],
        closed={s.name.strip()[:255] for s in statuses if s.category == "done"},
    )
    plans.insert(1, status)
    plans += [
        FieldPlan(JIRA_KEY, "Jira key", FieldType.STRING, "key", help_text="The issue's key in Jira."),
        FieldPlan(JIRA_URL, "Jira link", FieldType.STRING, "url", help_text="The original issue in Jira."),
        FieldPlan(CREATED_BY, "Created by", FieldType.USER, "creator", "creator"),
        FieldPlan(CREATED_ON, "Created on", FieldType.DATETIME, "created", "created"),
        FieldPlan(LAST_UPDATE, "Last update", FieldType.DATETIME, "updated", "updated"),
        FieldPlan(RESOLUTION_DATE, "Resolution date", FieldType.DATETIME, "resolution", "resolutiondate"),
        FieldPlan(ATTACHMENTS, "Attachments", FieldType.FILES, "attachments", "attachment"),
        FieldPlan(LINKS, "Links", FieldType.LINKS, "links", "issuelinks"),
    ]
    return plans, skipped
