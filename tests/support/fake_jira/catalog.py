"""Instance-wide Jira configuration shared by every fake dataset.

These are the things a Jira admin configures once per site: statuses and their
categories, priorities, resolutions, issue types, link types and the field
catalogue (system fields plus custom fields of every flavour an importer has to
map). Ids look like real Jira ids (strings of digits for most objects, integers
for status categories) because importers tend to trip over exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CF = "com.atlassian.jira.plugin.system.customfieldtypes:"


@dataclass(frozen=True)
class StatusCategory:
    id: int  # Jira quirk: status category ids are JSON numbers, every other id is a string.
    key: str  # "new" | "indeterminate" | "done"
    name: str
    color_name: str


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: StatusCategory
    description: str = ""


@dataclass(frozen=True)
class Priority:
    id: str
    name: str
    color: str


@dataclass(frozen=True)
class Resolution:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class IssueType:
    id: str
    name: str
    description: str
    subtask: bool = False
    hierarchy_level: int = 0  # Cloud only: -1 sub-task, 0 standard, 1 epic
    # Statuses of this type's workflow, in workflow order.
    statuses: tuple[str, ...] = ("To Do", "In Progress", "Done")


@dataclass(frozen=True)
class LinkType:
    id: str
    name: str
    inward: str
    outward: str


@dataclass(frozen=True)
class Option:
    """A select-list option; ``children`` only for cascading selects."""

    id: str
    value: str
    children: tuple[Option, ...] = ()


@dataclass(frozen=True)
class FieldDef:
    """One field of the instance, as ``GET /rest/api/2/field`` describes it.

    ``kind`` is the fake's own classification that drives rendering of values
    and changelog items; ``schema`` is exactly what Jira advertises.
    """

    id: str
    name: str
    kind: str
    schema: dict[str, Any] | None
    options: tuple[Option, ...] = ()
    # Name used in changelog items. Jira is inconsistent here: most system
    # fields use their id ("status", "assignee") but version/component fields
    # use a singular display name ("Fix Version", "Component") and custom
    # fields use their display name.
    changelog_name: str | None = None
    operations: tuple[str, ...] = ("set",)
    navigable: bool = True
    orderable: bool = True

    @property
    def custom(self) -> bool:
        return self.id.startswith("customfield_")

    @property
    def custom_type(self) -> str | None:
        return (self.schema or {}).get("custom")

    @property
    def history_name(self) -> str:
        return self.changelog_name or (self.name if self.custom else self.id)

    @property
    def clause_names(self) -> list[str]:
        if self.custom:
            return [f"cf[{self.id.removeprefix('customfield_')}]", self.name]
        return [self.id]

    def option_by_value(self, value: str) -> Option:
        for option in self.options:
            if option.value == value:
                return option
        raise KeyError(f"{value!r} is not an option of {self.name!r}")


NEW = StatusCategory(2, "new", "To Do", "blue-gray")
IN_PROGRESS = StatusCategory(4, "indeterminate", "In Progress", "yellow")
DONE = StatusCategory(3, "done", "Done", "green")
STATUS_CATEGORIES = (StatusCategory(1, "undefined", "No Category", "medium-gray"), NEW, IN_PROGRESS, DONE)

STATUSES = (
    Status("10000", "To Do", NEW),
    Status("3", "In Progress", IN_PROGRESS, "This issue is being actively worked on."),
    Status("10001", "In Review", IN_PROGRESS),
    Status("10002", "Done", DONE),
    Status("10003", "Won't Fix", DONE),
)

PRIORITIES = (
    Priority("1", "Highest", "#d04437"),
    Priority("2", "High", "#f15C75"),
    Priority("3", "Medium", "#f79232"),
    Priority("4", "Low", "#707070"),
    Priority("5", "Lowest", "#999999"),
)

RESOLUTIONS = (
    Resolution("10000", "Done", "Work has been completed on this issue."),
    Resolution("10001", "Won't Do", "This issue won't be actioned."),
    Resolution("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
)

ISSUE_TYPES = (
    IssueType("10001", "Task", "A small, distinct piece of work."),
    IssueType(
        "10002",
        "Bug",
        "A problem or error.",
        statuses=("To Do", "In Progress", "In Review", "Done", "Won't Fix"),
    ),
    IssueType("10003", "Story", "Functionality or a feature expressed as a user goal."),
    IssueType("10004", "Epic", "A big user story that needs to be broken down.", hierarchy_level=1),
    IssueType("10005", "Sub-task", "A small piece of work that's part of a larger task.", True, -1),
)

LINK_TYPES = (
    LinkType("10000", "Blocks", "is blocked by", "blocks"),
    LinkType("10001", "Cloners", "is cloned by", "clones"),
    LinkType("10002", "Duplicate", "is duplicated by", "duplicates"),
    LinkType("10003", "Relates", "relates to", "relates to"),
)


def _system(
    fid: str, name: str, kind: str, schema_type: str | None, items: str | None = None, **kw: Any
) -> FieldDef:
    schema: dict[str, Any] | None = None
    if schema_type is not None:
        schema = {"type": schema_type}
        if items:
            schema["items"] = items
        schema["system"] = fid
    return FieldDef(fid, name, kind, schema, **kw)


def _custom(
    num: int,
    name: str,
    kind: str,
    custom: str,
    schema_type: str,
    items: str | None = None,
    options: tuple[Option, ...] = (),
    operations: tuple[str, ...] = ("set",),
) -> FieldDef:
    schema: dict[str, Any] = {"type": schema_type}
    if items:
        schema["items"] = items
    schema["custom"] = custom if ":" in custom else CF + custom
    schema["customId"] = num
    return FieldDef(f"customfield_{num}", name, kind, schema, options, operations=operations)


def _opts(first_id: int, *values: str) -> tuple[Option, ...]:
    return tuple(Option(str(first_id + i), v) for i, v in enumerate(values))


SYSTEM_FIELDS = (
    _system("summary", "Summary", "string", "string"),
    _system("description", "Description", "text", "string"),
    _system("issuetype", "Issue Type", "issuetype", "issuetype"),
    _system("project", "Project", "project", "project"),
    _system("status", "Status", "status", "status", orderable=False),
    _system("priority", "Priority", "priority", "priority"),
    _system("resolution", "Resolution", "resolution", "resolution"),
    _system("resolutiondate", "Resolved", "readonly", "datetime", orderable=False),
    _system("created", "Created", "readonly", "datetime", orderable=False),
    _system("updated", "Updated", "readonly", "datetime", orderable=False),
    _system("creator", "Creator", "readonly", "user", orderable=False),
    _system("reporter", "Reporter", "user", "user"),
    _system("assignee", "Assignee", "user", "user"),
    _system("labels", "Labels", "labels", "array", "string", operations=("add", "set", "remove")),
    _system(
        "components",
        "Component/s",
        "components",
        "array",
        "component",
        changelog_name="Component",
        operations=("add", "set", "remove"),
    ),
    _system(
        "versions",
        "Affects Version/s",
        "versions",
        "array",
        "version",
        changelog_name="Version",
        operations=("add", "set", "remove"),
    ),
    _system(
        "fixVersions",
        "Fix Version/s",
        "versions",
        "array",
        "version",
        changelog_name="Fix Version",
        operations=("add", "set", "remove"),
    ),
    _system("duedate", "Due date", "date", "date"),
    _system("environment", "Environment", "text", "string"),
    # Time tracking, in seconds (Jira also serves them together as "timetracking").
    _system("timeoriginalestimate", "Original Estimate", "number", "number"),
    _system("timeestimate", "Remaining Estimate", "number", "number"),
    _system("timespent", "Time Spent", "number", "number"),
    _system("worklog", "Log Work", "readonly", "array", "worklog", operations=("add",)),
    _system("comment", "Comment", "readonly", "comments-page", operations=("add", "edit", "remove")),
    _system(
        "attachment",
        "Attachment",
        "attachments",
        "array",
        "attachment",
        changelog_name="Attachment",
        navigable=True,
        orderable=True,
    ),
    _system("issuelinks", "Linked Issues", "readonly", "array", "issuelinks", operations=("add",)),
    _system("subtasks", "Sub-tasks", "readonly", "array", "issuelinks", orderable=False),
    # Jira does not give "parent" a schema in /field on Server; Cloud does. Keep the Server shape.
    _system("parent", "Parent", "readonly", None),
)

SEVERITY = _opts(10100, "Critical", "Major", "Minor", "Trivial")
ENVIRONMENTS = _opts(10110, "Production", "Staging", "Development")
PLATFORMS = _opts(10120, "Linux", "Windows", "macOS", "Android", "iOS")
BROWSERS = _opts(10130, "Firefox", "Chrome", "Safari", "Edge")
REGIONS = (
    Option("10140", "EMEA", _opts(10141, "France", "Germany", "Kenya")),
    Option("10145", "Americas", _opts(10146, "Brazil", "Canada", "USA")),
)

CUSTOM_FIELDS = (
    _custom(10010, "Customer", "string", "textfield", "string"),
    _custom(10011, "Acceptance Criteria", "text", "textarea", "string"),
    _custom(10012, "Story Points", "number", "float", "number"),
    _custom(10013, "Target Date", "date", "datepicker", "date"),
    _custom(10014, "Deployed At", "datetime", "datetime", "datetime"),
    _custom(10015, "Severity", "option", "select", "option", options=SEVERITY),
    _custom(10016, "Environment Type", "option", "radiobuttons", "option", options=ENVIRONMENTS),
    _custom(
        10017,
        "Platforms",
        "options",
        "multiselect",
        "array",
        "option",
        PLATFORMS,
        ("add", "set", "remove"),
    ),
    _custom(
        10018,
        "Browsers",
        "options",
        "multicheckboxes",
        "array",
        "option",
        BROWSERS,
        ("add", "set", "remove"),
    ),
    _custom(10019, "Reviewer", "user", "userpicker", "user"),
    _custom(
        10020, "Watchers Team", "users", "multiuserpicker", "array", "user", (), ("add", "set", "remove")
    ),
    _custom(10021, "Tags", "strings", "labels", "array", "string", (), ("add", "set", "remove")),
    _custom(10022, "Affected Release", "version", "version", "version"),
    _custom(
        10023, "Target Releases", "versions", "multiversion", "array", "version", (), ("add", "set", "remove")
    ),
    # Not supported by the importer on purpose: Jira Software's epic link stores
    # an issue key, and cascading selects have a parent/child option pair.
    _custom(10024, "Epic Link", "epiclink", "com.pyxis.greenhopper.jira:gh-epic-link", "any"),
    _custom(10025, "Region", "cascading", "cascadingselect", "option-with-child", options=REGIONS),
    _custom(10026, "Sprint", "sprints", "com.pyxis.greenhopper.jira:gh-sprint", "array", "string"),
    _custom(10027, "Flagged", "options", "multicheckboxes", "array", "option", _opts(10150, "Impediment")),
    # An app's field: no equivalent, listed as not imported with how many issues carried it.
    _custom(10028, "Team", "string", "com.example.teams:team", "any"),
)

ALL_FIELDS = SYSTEM_FIELDS + CUSTOM_FIELDS

# Fields on the create screen of every issue type. Sub-tasks get a slimmer
# screen (no custom fields but two), and only bugs have "Affects Version/s".
_COMMON_CREATE = (
    "summary",
    "issuetype",
    "project",
    "reporter",
    "description",
    "priority",
    "labels",
    "components",
    "fixVersions",
    "assignee",
    "duedate",
    "attachment",
    "issuelinks",
)
REQUIRED_ON_CREATE = frozenset({"summary", "issuetype", "project", "reporter"})


# What real Server projects look like (recorded from a live instance): the create screen holds a few
# fields; priority, assignee, reporter, versions, due date and most custom fields are set on the
# edit screen only. Cloud projects lose fix versions, the epic link and the sprint from create.
_SERVER_CREATE = (
    "summary",
    "issuetype",
    "project",
    "description",
    "components",
    "labels",
    "attachment",
    "issuelinks",
    "customfield_10010",
    "customfield_10011",
)
_NOT_ON_SCREENS = {"customfield_10028"}  # the app's field: on issues, on no screen


def create_screen(issue_type: IssueType, *, cloud: bool = True) -> tuple[str, ...]:
    if not cloud:
        return _SERVER_CREATE + (("parent",) if issue_type.subtask else ())
    if issue_type.subtask:
        return (*_COMMON_CREATE, "parent", "customfield_10012", "customfield_10019")
    extra = ("versions",) if issue_type.name == "Bug" else ()
    hidden = {"fixVersions", "customfield_10024", "customfield_10026"} | _NOT_ON_SCREENS
    return tuple(f for f in _COMMON_CREATE + extra + tuple(f.id for f in CUSTOM_FIELDS) if f not in hidden)


def edit_screen(issue_type: IssueType) -> tuple[str, ...]:
    """The edit screen: every editable field of the type (what ``editmeta`` describes)."""
    extra = ("versions",) if issue_type.name == "Bug" else ()
    system = (*_COMMON_CREATE, "environment", "timeoriginalestimate", "timeestimate", *extra)
    custom = tuple(f.id for f in CUSTOM_FIELDS if f.id not in _NOT_ON_SCREENS)
    return tuple(f for f in system + custom if f not in ("issuetype", "project"))


@dataclass
class Catalog:
    statuses: tuple[Status, ...] = STATUSES
    priorities: tuple[Priority, ...] = PRIORITIES
    resolutions: tuple[Resolution, ...] = RESOLUTIONS
    issue_types: tuple[IssueType, ...] = ISSUE_TYPES
    link_types: tuple[LinkType, ...] = LINK_TYPES
    fields: tuple[FieldDef, ...] = ALL_FIELDS
    _index: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {
            "status": {s.name: s for s in self.statuses} | {s.id: s for s in self.statuses},
            "priority": {p.name: p for p in self.priorities} | {p.id: p for p in self.priorities},
            "resolution": {r.name: r for r in self.resolutions} | {r.id: r for r in self.resolutions},
            "issuetype": {t.name: t for t in self.issue_types} | {t.id: t for t in self.issue_types},
            "linktype": {t.name: t for t in self.link_types} | {t.id: t for t in self.link_types},
            "field": {f.id: f for f in self.fields},
            "field_name": {f.name: f for f in self.fields},
        }

    def status(self, name_or_id: str) -> Status:
        return self._index["status"][name_or_id]

    def priority(self, name_or_id: str) -> Priority:
        return self._index["priority"][name_or_id]

    def resolution(self, name_or_id: str) -> Resolution:
        return self._index["resolution"][name_or_id]

    def issue_type(self, name_or_id: str) -> IssueType:
        return self._index["issuetype"][name_or_id]

    def link_type(self, name_or_id: str) -> LinkType:
        return self._index["linktype"][name_or_id]

    def field(self, id_or_name: str) -> FieldDef:
        found = self._index["field"].get(id_or_name) or self._index["field_name"].get(id_or_name)
        if found is None:
            raise KeyError(f"unknown field {id_or_name!r}")
        return found

    def has_field(self, field_id: str) -> bool:
        return field_id in self._index["field"]
