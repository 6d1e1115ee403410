"""Which tracker fields Jira fields become, and which are not imported (and why, and on how many issues).

Jira describes each field with a schema: ``schema.system`` names a built-in field, ``schema.custom``
the type of a custom field (``GET /rest/api/2/field`` lists them all, with their names). The tables of
:mod:`tracker.jira_import.jira_fields` map both to our field types; each mapped field also gets a
``kind`` telling the replay (:mod:`tracker.jira_import.replay`) how Jira writes its values (in the
issue and in the changelog).

The fields of an issue type are the union of its create metadata, the edit metadata of its issues
and every field that has a value on at least one of its issues (:mod:`tracker.jira_import.survey`):
many fields (priority, assignee, fix versions on many Server projects) are not on the create screen.

Some Jira fields are not fields here but links (:data:`LINK_FIELDS`): the epic link and the sprint
field. Every imported tracker also has the same "always created" fields: the Jira key, a link to the
original issue, created by / on, last update, resolution date, status, attachments, links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.utils.text import slugify

from tracker.jira_import.discovery import JiraFieldInfo, JiraStatusInfo
from tracker.jira_import.jira_fields import (
    ATLASSIAN_CUSTOM,
    CUSTOM_FIELDS,
    GREENHOPPER,
    IMPLIED_SYSTEM_FIELDS,
    LINK_FIELDS,
    PLAIN_SCHEMA_TYPES,
    SOFTWARE_FIELDS,
    SYSTEM_FIELDS,
    UNSUPPORTED_CUSTOM_FIELDS,
    UNSUPPORTED_SOFTWARE_FIELDS,
    UNSUPPORTED_SYSTEM_FIELDS,
)
from tracker.models import FieldType
from tracker.services.trackers import FieldSpec

# The always-created fields, by our field name.
JIRA_KEY = "jira_key"
JIRA_URL = "jira_url"
CREATED_BY = "created_by"
CREATED_ON = "created_on"
LAST_UPDATE = "last_update"
RESOLUTION_DATE = "resolution_date"
STATUS = "status"
ISSUE_TYPE = "issue_type"
ATTACHMENTS = "attachments"
LINKS = "links"
TITLE = "title"
RESERVED = {JIRA_KEY, JIRA_URL, CREATED_BY, CREATED_ON, LAST_UPDATE, RESOLUTION_DATE, STATUS, ISSUE_TYPE}
RESERVED |= {ATTACHMENTS, LINKS, TITLE}


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
    issues: int | None = None  # how many issues carried a value (None: not about a field's values)

    def as_dict(self) -> dict[str, object]:
        item: dict[str, object] = {"field": self.field, "reason": self.reason}
        if self.issues is not None:
            item["issues"] = self.issues
        return item


@dataclass
class FieldsPlan:
    """A tracker's fields, what was not imported, and which Jira fields feed its links."""

    plans: list[FieldPlan]
    skipped: list[SkippedField]
    link_fields: dict[str, str]  # Jira field id -> EPIC_LINK or SPRINT


def option_label(value: Mapping[str, object]) -> str:
    """The label of an allowed value or a value: options have ``value``, the others ``name``."""
    label = value.get("value", value.get("name"))
    return str(label if label is not None else value.get("id", "")).strip()[:255]


def classify(info: JiraFieldInfo) -> tuple[str, str] | str | None:
    """(type, kind) when imported as a field; a reason when not imported; None when implied.

    Link fields (epic link, sprints) are implied: :func:`link_role` says what they feed.
    """
    system = info.schema.get("system")
    custom = str(info.schema.get("custom") or "")
    if system and not custom:
        if system in SYSTEM_FIELDS:
            return SYSTEM_FIELDS[system]
        if system in IMPLIED_SYSTEM_FIELDS:
            return None
        if system in UNSUPPORTED_SYSTEM_FIELDS:
            return UNSUPPORTED_SYSTEM_FIELDS[system]
        return f"the Jira field type {system!r} has no equivalent here"
    if custom:
        if custom.startswith(ATLASSIAN_CUSTOM):
            short = custom.removeprefix(ATLASSIAN_CUSTOM)
            if short in CUSTOM_FIELDS:
                return CUSTOM_FIELDS[short]
            if short in UNSUPPORTED_CUSTOM_FIELDS:
                return UNSUPPORTED_CUSTOM_FIELDS[short]
        if custom.startswith(GREENHOPPER):
            short = custom.removeprefix(GREENHOPPER)
            if short in LINK_FIELDS:
                return None
            if short in SOFTWARE_FIELDS:
                return SOFTWARE_FIELDS[short]
            if short in UNSUPPORTED_SOFTWARE_FIELDS:
                return UNSUPPORTED_SOFTWARE_FIELDS[short]
        plain = PLAIN_SCHEMA_TYPES.get(str(info.schema.get("type")))
        if plain is not None and info.schema.get("type") != "array":
            return plain
        return f"its type ({custom}) has no equivalent here"
    if info.id in SYSTEM_FIELDS:
        return SYSTEM_FIELDS[info.id]
    if info.id in IMPLIED_SYSTEM_FIELDS:
        return None
    if info.id in UNSUPPORTED_SYSTEM_FIELDS:
        return UNSUPPORTED_SYSTEM_FIELDS[info.id]
    return "Jira does not describe its type"


def link_role(info: JiraFieldInfo) -> str | None:
    custom = str(info.schema.get("custom") or "")
    return LINK_FIELDS.get(custom.removeprefix(GREENHOPPER)) if custom.startswith(GREENHOPPER) else None


def _slug(text: str) -> str:
    return slugify(text).replace("-", "_")[:40].strip("_") or "field"


def plan_fields(
    fields: Iterable[JiraFieldInfo],
    statuses: Iterable[JiraStatusInfo],
    *,
    carried: Mapping[str, int] | None = None,
    priorities: list[tuple[str, str]] | None = None,
    issue_types: list[tuple[str, str]] | None = None,
) -> FieldsPlan:
    """The fields of a tracker (mapped first, then the always-created ones) and the skipped ones.

    ``fields``: every field of the issue type (metadata and values); ``carried``: Jira field id ->
    how many issues had a value (a field left out is listed only if some issue had a value: nothing
    else was lost). ``priorities``: Jira's priorities in Jira's order, the options of the priority
    field. ``issue_types``: (id, name) for a tracker holding several issue types (an "Issue type"
    field then tells them apart).
    """
    carried = carried or {}
    fields = list({f.id: f for f in fields}.values())
    used: set[str] = set(RESERVED)
    plans: list[FieldPlan] = []
    skipped: list[SkippedField] = []
    link_fields: dict[str, str] = {}

    def unique(base: str) -> str:
        name, n = base, 2
        while name in used:
            name = f"{base}_{n}"
            n += 1
        used.add(name)
        return name

    if not any(f.id == "summary" for f in fields):  # every tracker needs its title
        fields.insert(0, JiraFieldInfo("summary", "Summary", {"type": "string", "system": "summary"}))
    for info in fields:
        role = link_role(info)
        if role is not None:
            link_fields[info.id] = role
            continue
        outcome = classify(info)
        if outcome is None:
            continue
        if isinstance(outcome, str):
            if carried.get(info.id):
                skipped.append(SkippedField(info.name, outcome, carried[info.id]))
            continue
        kind_type, kind = outcome
        label = info.name.strip()[:100] or info.id
        if kind == "seconds":
            label = f"{label} (hours)"[:100]
        if info.id == "summary":
            plan = FieldPlan(TITLE, label, kind_type, kind, info.id, required=True, is_title=True)
        elif info.id == "description":
            plan = FieldPlan(unique("description"), label, kind_type, kind, info.id)
        elif info.id == "assignee":
            plan = FieldPlan(unique("assigned_to"), label, kind_type, kind, info.id, notify=True)
        else:
            plan = FieldPlan(unique(_slug(label)), label, kind_type, kind, info.id)
        if info.id == "priority" and priorities:
            plan.options = list(priorities)
        elif kind == "cascading":
            plan.options = cascading_options(info.allowed_values)
        elif kind_type in (FieldType.SELECT, FieldType.MULTI_SELECT):
            plan.options = [(str(v.get("id", "")), option_label(v)) for v in info.allowed_values]
            plan.options = [(jid, label) for jid, label in plan.options if label]
        plans.append(plan)
    # Title first, then the workflow's status (and the issue type), then the rest in Jira's order.
    plans.sort(key=lambda p: not p.is_title)
    statuses = list({s.id: s for s in statuses}.values())
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
    if issue_types:
        plans.insert(
            2,
            FieldPlan(
                ISSUE_TYPE,
                "Issue type",
                FieldType.SELECT,
                "named",
                "issuetype",
                options=[(type_id, name.strip()[:255]) for type_id, name in issue_types],
                help_text="The issue's type in Jira.",
            ),
        )
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
    return FieldsPlan(plans, skipped, link_fields)


def cascading_label(parent: str, child: str | None) -> str:
    return f"{parent} / {child}"[:255] if child else parent[:255]


def cascading_options(allowed: list[dict[str, object]]) -> list[tuple[str, str]]:
    """A cascading select's options: each parent alone, then each "Parent / Child" pair."""
    options: list[tuple[str, str]] = []
    for parent in allowed:
        parent_label = option_label(parent)
        if not parent_label:
            continue
        options.append((str(parent.get("id", "")), parent_label))
        for child in parent.get("children") or []:  # type: ignore[union-attr]
            if isinstance(child, dict) and option_label(child):
                options.append(
                    (
                        f"{parent.get('id', '')}/{child.get('id', '')}",
                        cascading_label(parent_label, option_label(child)),
                    )
                )
    return options


# Fields for the Sprints tracker (the sprint field's values, and the board's sprints).
SPRINT_FIELDS = (
    FieldSpec("title", "Name", FieldType.STRING, required=True, is_title=True),
    FieldSpec(
        "state",
        "State",
        FieldType.SELECT,
        options=("future", "active", "closed"),
        closed_options=("closed",),
    ),
    FieldSpec("start_date", "Start date", FieldType.DATETIME),
    FieldSpec("end_date", "End date", FieldType.DATETIME),
    FieldSpec("complete_date", "Complete date", FieldType.DATETIME),
    FieldSpec("goal", "Goal", FieldType.TEXT),
    FieldSpec("jira_sprint_id", "Jira sprint id", FieldType.STRING),
    FieldSpec("board", "Board", FieldType.STRING),
)
