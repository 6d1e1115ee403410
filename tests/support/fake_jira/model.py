"""The fake Jira's data model and dataset builders.

An issue is stored as *initial values + ordered histories*; its current values
are always computed by replaying the histories, so the changelog served by the
fake is consistent by construction (the ``from`` of every change equals the
value before it, the last ``to`` equals the current value).

Field values are stored in a friendly form (status *names*, user *handles*,
version *names*, option *values*) and converted to Jira's JSON shapes by
``render.py`` for the flavour being served.

Two ways to get a dataset:

* ``FakeJiraData.realistic()``: a hand-made DEMO project exercising every
  tricky corner (see its docstring);
* ``FakeJiraData.generated(n_issues, ...)``: a synthetic project whose issues are
  built on demand from their index (and cached), cheap enough for thousands of
  issues.

Both are built with the same builder API (``add_user``, ``add_project``,
``add_issue`` → ``IssueBuilder``), which tests can use to make targeted datasets.
"""

from __future__ import annotations

import functools
import random
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .catalog import Catalog, FieldDef

LIST_KINDS = frozenset(
    {"options", "users", "labels", "strings", "versions", "components", "attachments", "sprints"}
)
# History entries about issue links are not about a field's state: their "field" starts with this.
LINK_CHANGE = "__link__:"
# Fields whose values live in ``Issue.initial`` / histories. Read-only fields
# (created, creator, comment, subtasks, ...) are derived from the issue itself.
_NOT_STATE_KINDS = frozenset({"readonly", "project"})

T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- people & projects


@dataclass(frozen=True)
class User:
    """A Jira user as both flavours see it.

    Cloud identifies users by ``account_id`` only (GDPR: no username, no key);
    Server by ``handle`` (the username, Jira's ``name``) and ``key``, which for
    accounts created on Jira 8+ is ``JIRAUSER<n>`` and differs from the name.
    """

    handle: str
    display_name: str
    email: str | None  # None: the user hides their email (profile visibility) → no ``emailAddress`` key
    account_id: str
    key: str
    active: bool = True
    time_zone: str = "UTC"


@dataclass(frozen=True)
class Component:
    id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Version:
    id: str
    name: str
    released: bool = False
    archived: bool = False
    release_date: str | None = None
    description: str = ""


@dataclass
class Project:
    id: str
    key: str
    name: str
    lead: str
    description: str = ""
    issue_types: tuple[str, ...] = ("Task", "Bug", "Story", "Epic", "Sub-task")
    components: list[Component] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)
    project_type_key: str = "software"

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(f"{self.key} has no component {name!r}")

    def version(self, name: str) -> Version:
        for version in self.versions:
            if version.name == name:
                return version
        raise KeyError(f"{self.key} has no version {name!r}")


# --------------------------------------------------------------------------- issues


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class History:
    id: int
    author: str
    created: datetime
    changes: tuple[Change, ...]


@dataclass
class Comment:
    id: int
    author: str
    body: str  # wiki markup, as Jira stores it
    created: datetime
    updated: datetime
    update_author: str
    rendered_html: str | None = None  # overrides the fake's wiki→HTML rendering
    # Written by an app through REST v3: Jira has the ADF body only (v2 serves it as ADF too) and
    # renders no HTML for it.
    adf_only: bool = False


@dataclass
class Worklog:
    id: int
    author: str
    started: datetime
    seconds: int
    comment: str
    created: datetime


@dataclass(frozen=True)
class Sprint:
    """A Jira Software sprint of a board (``state``: future, active, closed)."""

    id: int
    name: str
    state: str
    board_id: int
    start: datetime | None = None
    end: datetime | None = None
    complete: datetime | None = None
    goal: str = ""


@dataclass(frozen=True)
class Board:
    id: int
    name: str
    project_key: str
    type: str = "scrum"


@dataclass
class Attachment:
    id: int
    filename: str
    mime_type: str
    author: str
    created: datetime
    size: int
    _content: bytes | Callable[[], bytes] = b""

    @property
    def content(self) -> bytes:
        return self._content() if callable(self._content) else self._content


@dataclass(frozen=True)
class Link:
    id: int
    type: str  # link type name, e.g. "Blocks"
    direction: str  # "outward": this issue <outward verb> other; "inward": other <outward verb> this
    other_key: str


@dataclass
class Issue:
    id: int
    key: str
    project_key: str
    created: datetime
    creator: str
    initial: dict[str, Any]
    histories: list[History] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    worklogs: list[Worklog] = field(default_factory=list)
    parent_key: str | None = None
    subtask_keys: list[str] = field(default_factory=list)
    # renderedFields HTML overrides, e.g. to plant a <script> for sanitizer tests.
    rendered_overrides: dict[str, str] = field(default_factory=dict)
    _current: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def current(self) -> dict[str, Any]:
        """Current field values: the initial values with every history applied in order."""
        if self._current is None:
            state = {k: _copy(v) for k, v in self.initial.items()}
            for history in self.histories:
                for change in history.changes:
                    if change.field.startswith(LINK_CHANGE):
                        continue
                    if state.get(change.field) != change.old:
                        raise AssertionError(
                            f"{self.key}: history {history.id} breaks the chain on {change.field}"
                        )
                    state[change.field] = _copy(change.new)
            self._current = state
        return self._current

    def invalidate(self) -> None:
        self._current = None

    @property
    def updated(self) -> datetime:
        moments = [self.created]
        moments += [h.created for h in self.histories]
        moments += [c.updated for c in self.comments]
        moments += [a.created for a in self.attachments]
        moments += [w.created for w in self.worklogs]
        return max(moments)

    @property
    def resolutiondate(self) -> datetime | None:
        """When the current resolution was set (Jira clears it with the resolution)."""
        if self.current.get("resolution") is None:
            return None
        for history in reversed(self.histories):
            if any(c.field == "resolution" and c.new is not None for c in history.changes):
                return history.created
        return self.created

    @property
    def status_category_changed(self) -> datetime:
        for history in reversed(self.histories):
            if any(c.field == "status" for c in history.changes):
                return history.created
        return self.created

    def attachment(self, attachment_id: int) -> Attachment | None:
        return next((a for a in self.attachments if a.id == attachment_id), None)


@dataclass(frozen=True)
class IssueHeader:
    """What search needs to filter and sort without building the whole issue."""

    id: int
    key: str
    project_key: str
    created: datetime
    updated: datetime


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------- builder


class IssueBuilder:
    """Fluent edits of one issue; every edit is recorded like Jira would record it.

    Times default to one hour after the previous event of the issue so that a
    dataset written top-down reads like a plausible timeline.
    """

    def __init__(self, data: FakeJiraData, issue: Issue, ids: _Ids) -> None:
        self.data = data
        self.issue = issue
        self._ids = ids
        self._clock = issue.updated

    @property
    def key(self) -> str:
        return self.issue.key

    def _at(self, at: datetime | None) -> datetime:
        moment = at or (self._clock + timedelta(hours=1))
        self._clock = max(self._clock, moment)
        return moment

    def _append_history(self, author: str, created: datetime, changes: tuple[Change, ...]) -> None:
        self.data.user(author)
        if self.issue.histories and created < self.issue.histories[-1].created:
            raise ValueError(f"{self.key}: histories must be recorded in chronological order")
        self.issue.histories.append(History(self._ids.history(), author, created, changes))
        self.issue.invalidate()

    def change(
        self, author: str, values: dict[str, Any] | None = None, *, at: datetime | None = None, **kw: Any
    ) -> IssueBuilder:
        """Record one history entry changing the given fields (ids or names as keys).

        Moving to a "done" status sets resolution "Done" unless a resolution is
        given; leaving it clears the resolution, as Jira's default workflow does.
        """
        wanted = {self.data.catalog.field(k).id: v for k, v in {**(values or {}), **kw}.items()}
        current = self.issue.current
        if "status" in wanted and "resolution" not in wanted:
            done = self.data.catalog.status(wanted["status"]).category.key == "done"
            if done and current.get("resolution") is None:
                wanted["resolution"] = "Done"
            elif not done and current.get("resolution") is not None:
                wanted["resolution"] = None
        changes = []
        for field_id, new in wanted.items():
            new = self.data.normalize(field_id, new)
            if current.get(field_id) != new:
                changes.append(Change(field_id, _copy(current.get(field_id)), new))
        if changes:
            self._append_history(author, self._at(at), tuple(changes))
        return self

    def comment(
        self,
        author: str,
        body: str,
        *,
        at: datetime | None = None,
        rendered_html: str | None = None,
        edited_by: str | None = None,
        edited_at: datetime | None = None,
        adf_only: bool = False,
    ) -> IssueBuilder:
        self.data.user(author)
        created = self._at(at)
        updated = edited_at or created
        self._clock = max(self._clock, updated)
        self.issue.comments.append(
            Comment(
                self._ids.comment(),
                author,
                body,
                created,
                updated,
                edited_by or author,
                rendered_html,
                adf_only,
            )
        )
        return self

    def log_work(
        self, author: str, seconds: int, *, at: datetime | None = None, comment: str = ""
    ) -> IssueBuilder:
        """A work log: ``seconds`` spent, started ``at`` (logged then too)."""
        self.data.user(author)
        started = self._at(at)
        self.issue.worklogs.append(
            Worklog(self.data._next("worklog"), author, started, seconds, comment, started)
        )
        return self

    def link_later(
        self, author: str, link_type: str, other_key: str, *, at: datetime | None = None
    ) -> IssueBuilder:
        """A link made after both issues existed: a "Link" changelog entry on each side, like Jira."""
        moment = self._at(at)
        name = self.data.catalog.link_type(link_type).name
        link_id = self.data._next("link")
        other = self.data._issues[other_key]
        self.issue.links.append(Link(link_id, name, "outward", other_key))
        other.links.append(Link(link_id, name, "inward", self.key))
        for issue, direction, target in ((self.issue, "outward", other_key), (other, "inward", self.key)):
            if issue.histories and moment < issue.histories[-1].created:
                raise ValueError(f"{issue.key}: histories must be recorded in chronological order")
            change = Change(f"{LINK_CHANGE}{link_id}", None, (name, direction, target))
            issue.histories.append(History(self._ids.history(), author, moment, (change,)))
            issue.invalidate()
        return self

    def attach(
        self,
        filename: str,
        content: bytes | Callable[[], bytes],
        *,
        author: str,
        mime_type: str = "application/octet-stream",
        at: datetime | None = None,
        size: int | None = None,
    ) -> IssueBuilder:
        """Attach a file. Attached after creation → an "Attachment" changelog entry, like Jira."""
        self.data.user(author)
        created = at or self._at(None)
        self._clock = max(self._clock, created)
        if size is None:
            size = len(content() if callable(content) else content)
        attachment = Attachment(self._ids.attachment(), filename, mime_type, author, created, size, content)
        if self.issue.key in self.data._issues:  # generated issues find theirs by arithmetic
            self.data._attachment_owner[attachment.id] = self.issue.key
        before = list(self.issue.current.get("attachment") or [])
        self.issue.attachments.append(attachment)
        if created > self.issue.created:
            self._append_history(author, created, (Change("attachment", before, [*before, attachment.id]),))
        else:
            self.issue.initial["attachment"] = [*self.issue.initial.get("attachment", []), attachment.id]
        self.issue.invalidate()
        return self

    def link(self, link_type: str, other_key: str, *, outward: bool = True) -> IssueBuilder:
        """``builder.link("Blocks", "DEMO-2")``: this issue blocks DEMO-2 (both sides see the link)."""
        self.data.link(self.key, link_type, other_key, outward=outward)
        return self

    def render_as(self, field_id: str, html: str) -> IssueBuilder:
        self.issue.rendered_overrides[field_id] = html
        return self


class _Ids:
    """Id allocation: sequential for hand-made data, arithmetic for generated data."""

    def __init__(self, data: FakeJiraData) -> None:
        self._data = data

    def history(self) -> int:
        return self._data._next("history")

    def comment(self) -> int:
        return self._data._next("comment")

    def attachment(self) -> int:
        return self._data._next("attachment")


class _FixedIds(_Ids):
    def __init__(self, history: int, comment: int, attachment: int) -> None:
        self._h, self._c, self._a = history, comment, attachment

    def history(self) -> int:
        self._h += 1
        return self._h - 1

    def comment(self) -> int:
        self._c += 1
        return self._c - 1

    def attachment(self) -> int:
        self._a += 1
        return self._a - 1


# --------------------------------------------------------------------------- the dataset


class FakeJiraData:
    """Everything the fake Jira serves. Thread-safe for reads; build it before serving."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or Catalog()
        self.users: dict[str, User] = {}
        self.projects: dict[str, Project] = {}
        self._issues: dict[str, Issue] = {}  # by key, hand-made or pinned generated issues
        self._issue_keys_by_id: dict[int, str] = {}
        self._attachment_owner: dict[int, str] = {}
        self._generated: list[_GeneratedProject] = []
        self._deleted: set[str] = set()  # keys deleted (or moved away), generated ones included
        self._counters = {
            "project": 10000,
            "issue": 10000,
            "history": 100000,
            "comment": 10000,
            "attachment": 10000,
            "link": 10000,
            "version": 10000,
            "component": 10000,
            "worklog": 10000,
            "sprint": 1,
            "board": 1,
        }
        self.sprints: dict[int, Sprint] = {}
        self.boards: list[Board] = []
        self._issue_numbers: dict[str, int] = {}

    def _next(self, counter: str, block: int = 1) -> int:
        value = self._counters[counter]
        self._counters[counter] += block
        return value

    # ---- users and projects

    def add_user(
        self,
        handle: str,
        display_name: str,
        email: str | None,
        *,
        account_id: str | None = None,
        key: str | None = None,
        active: bool = True,
        time_zone: str = "UTC",
    ) -> User:
        n = len(self.users) + 1
        user = User(
            handle,
            display_name,
            email,
            account_id or f"5b10a2844c20165700ede2{n:02x}",
            key or f"JIRAUSER{10100 + n}",
            active,
            time_zone,
        )
        self.users[handle] = user
        return user

    def user(self, handle: str) -> User:
        try:
            return self.users[handle]
        except KeyError:
            raise KeyError(f"unknown user {handle!r}; add it with add_user()") from None

    def user_by_account_id(self, account_id: str) -> User | None:
        return next((u for u in self.users.values() if u.account_id == account_id), None)

    def add_board(self, project_key: str, name: str, *, type: str = "scrum") -> Board:
        board = Board(self._next("board"), name, project_key, type)
        self.boards.append(board)
        return board

    def add_sprint(
        self,
        board: Board,
        name: str,
        state: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        complete: datetime | None = None,
        goal: str = "",
    ) -> Sprint:
        sprint = Sprint(self._next("sprint"), name, state, board.id, start, end, complete, goal)
        self.sprints[sprint.id] = sprint
        return sprint

    def user_by_name_or_key(self, name: str) -> User | None:
        return self.users.get(name) or next((u for u in self.users.values() if u.key == name), None)

    def add_project(
        self,
        key: str,
        name: str,
        *,
        lead: str,
        description: str = "",
        issue_types: tuple[str, ...] = ("Task", "Bug", "Story", "Epic", "Sub-task"),
        components: tuple[str, ...] = (),
        versions: tuple[tuple[str, bool], ...] = (),
    ) -> Project:
        """``versions``: (name, released) pairs, oldest first."""
        project = Project(str(self._next("project")), key, name, lead, description, issue_types)
        project.components = [Component(str(self._next("component")), c) for c in components]
        for i, (version_name, released) in enumerate(versions):
            date = (T0 + timedelta(days=30 * (i + 1))).date().isoformat()
            project.versions.append(Version(str(self._next("version")), version_name, released, False, date))
        self.projects[key] = project
        self._issue_numbers[key] = 0
        return project

    def project_by_id_or_key(self, id_or_key: str) -> Project | None:
        return self.projects.get(id_or_key) or next(
            (p for p in self.projects.values() if p.id == id_or_key), None
        )

    # ---- values

    def normalize(self, field_id: str, value: Any) -> Any:
        """Validate a friendly value against the catalogue so bad test data fails early."""
        f = self.catalog.field(field_id)
        if value is None:
            return [] if f.kind in LIST_KINDS else None
        if f.kind in LIST_KINDS:
            values = [value] if isinstance(value, str | int) else list(value)
            for v in values:
                self._check(f, v)
            return values
        self._check(f, value)
        if f.kind == "cascading":
            return tuple(value)
        return value

    def _check(self, f: FieldDef, value: Any) -> None:
        if f.kind in ("user", "users") and value not in self.users:
            raise KeyError(f"unknown user {value!r}")
        if f.kind in ("option", "options"):
            f.option_by_value(value)
        elif f.kind == "cascading":
            parent = f.option_by_value(value[0])
            if value[1] is not None and value[1] not in {c.value for c in parent.children}:
                raise KeyError(f"{value[1]!r} is not a child of {value[0]!r}")
        elif f.kind == "status":
            self.catalog.status(value)
        elif f.kind == "priority":
            self.catalog.priority(value)
        elif f.kind == "resolution":
            self.catalog.resolution(value)
        elif f.kind == "issuetype":
            self.catalog.issue_type(value)
        elif f.kind == "sprints" and value not in self.sprints:
            raise KeyError(f"unknown sprint {value!r}; add it with add_sprint()")

    # ---- issues

    def add_issue(
        self,
        project_key: str,
        issue_type: str,
        summary: str,
        *,
        reporter: str,
        created: datetime | None = None,
        parent: str | None = None,
        status: str | None = None,
        **fields: Any,
    ) -> IssueBuilder:
        """Create an issue with initial values; returns a builder to record its life.

        ``fields`` keys are field ids or names (``priority="High"``,
        ``**{"Story Points": 3}``). Unset fields start empty; status starts at
        the first status of the type's workflow.
        """
        project = self.projects[project_key]
        self.user(reporter)
        itype = self.catalog.issue_type(issue_type)
        if itype.name not in project.issue_types:
            raise KeyError(f"{project_key} has no issue type {issue_type!r}")
        if created is None:
            latest = max((i.created for i in self._issues.values()), default=T0 - timedelta(days=1))
            created = latest + timedelta(days=1)
        self._issue_numbers[project_key] += 1
        key = f"{project_key}-{self._issue_numbers[project_key]}"
        initial = self.empty_state()
        initial.update(
            summary=summary,
            issuetype=itype.name,
            status=status or itype.statuses[0],
            priority="Medium",
            reporter=reporter,
        )
        for name, value in fields.items():
            field_id = self.catalog.field(name).id
            initial[field_id] = self.normalize(field_id, value)
        issue = Issue(self._next("issue"), key, project_key, created, reporter, initial)
        if parent is not None:
            if not itype.subtask:
                raise ValueError("only sub-task types have a parent")
            issue.parent_key = parent
            self._issues[parent].subtask_keys.append(key)
        self._register(issue)
        return IssueBuilder(self, issue, _Ids(self))

    def empty_state(self) -> dict[str, Any]:
        return {
            f.id: ([] if f.kind in LIST_KINDS else None)
            for f in self.catalog.fields
            if f.kind not in _NOT_STATE_KINDS
        }

    def _register(self, issue: Issue) -> None:
        self._issues[issue.key] = issue
        self._issue_keys_by_id[issue.id] = issue.key

    def edit(self, key: str) -> IssueBuilder:
        """A builder on an existing issue, e.g. to simulate an edit between two imports.

        Generated issues get pinned (kept in memory from then on).
        """
        issue = self.get_issue(key)
        if issue is None:
            raise KeyError(key)
        if key not in self._issues:
            self._register(issue)
            for attachment in issue.attachments:
                self._attachment_owner[attachment.id] = key
        return IssueBuilder(self, issue, _Ids(self))

    def delete_issue(self, key: str) -> None:
        """Delete an issue, as Jira does: gone by key and id, its links gone from the other side too
        (without a changelog entry there)."""
        issue = self.get_issue(key)
        if issue is None:
            raise KeyError(key)
        self._register(issue)  # a generated issue is pinned, then removed
        del self._issues[issue.key]
        del self._issue_keys_by_id[issue.id]
        self._deleted.add(issue.key)
        for other in self._issues.values():
            if any(link.other_key == issue.key for link in other.links):
                other.links = [link for link in other.links if link.other_key != issue.key]

    def move_issue(self, key: str, project_key: str) -> Issue:
        """Move an issue to another project: same id, a new key there (Jira keeps the old key as an alias,
        which this fake does not)."""
        issue = self.get_issue(key)
        if issue is None:
            raise KeyError(key)
        self._register(issue)
        del self._issues[issue.key]
        self._deleted.add(issue.key)
        self._issue_numbers[project_key] += 1
        issue.key = f"{project_key}-{self._issue_numbers[project_key]}"
        issue.project_key = project_key
        self._register(issue)
        return issue

    def edit_comment(self, key: str, comment_id: int, body: str, *, by: str, at: datetime) -> None:
        """Edit a comment in place: a new body and ``updated``, as Jira records an edit."""
        issue = self.get_issue(key)
        assert issue is not None
        comment = next(c for c in issue.comments if c.id == comment_id)
        comment.body, comment.updated, comment.update_author = body, at, by
        comment.rendered_html = None

    def link(self, from_key: str, link_type: str, to_key: str, *, outward: bool = True) -> None:
        """Record one link; Jira shows it on both issues (outward on one, inward on the other)."""
        name = self.catalog.link_type(link_type).name
        link_id = self._next("link")
        src, dst = (from_key, to_key) if outward else (to_key, from_key)
        self._issues[src].links.append(Link(link_id, name, "outward", dst))
        self._issues[dst].links.append(Link(link_id, name, "inward", src))

    def get_issue(self, key_or_id: str | int) -> Issue | None:
        text = str(key_or_id)
        if text.isdigit():
            key = self._issue_keys_by_id.get(int(text))
            if key is not None:
                return self._issues[key]
            for gen in self._generated:
                if gen.id_base <= int(text) < gen.id_base + gen.n:
                    return self._issue_or_pinned(gen, int(text) - gen.id_base)
            return None
        issue = self._issues.get(text.upper())
        if issue is not None:
            return issue
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)-(\d+)", text.upper())
        if match:
            for gen in self._generated:
                number = int(match.group(2))
                if gen.project_key == match.group(1) and 1 <= number <= gen.n:
                    return self._issue_or_pinned(gen, number - 1)
        return None

    def _issue_or_pinned(self, gen: _GeneratedProject, index: int) -> Issue | None:
        key = gen.key(index)
        if key in self._issues:
            return self._issues[key]
        return None if key in self._deleted else gen.build(index)

    def headers(self) -> Iterator[IssueHeader]:
        """All issues, cheaply, in no particular order."""
        for issue in self._issues.values():
            yield IssueHeader(issue.id, issue.key, issue.project_key, issue.created, issue.updated)
        for gen in self._generated:
            for index in range(gen.n):
                key = gen.key(index)
                if key not in self._issues and key not in self._deleted:
                    yield gen.header(index)

    def issue_count(self, project_key: str | None = None) -> int:
        return sum(1 for h in self.headers() if project_key in (None, h.project_key))

    def find_attachment(self, attachment_id: int) -> tuple[Issue, Attachment] | None:
        owner = self._attachment_owner.get(attachment_id)
        issue: Issue | None = self._issues.get(owner) if owner else None
        if issue is None:
            for gen in self._generated:
                index = gen.attachment_owner(attachment_id)
                if index is not None:
                    issue = self._issue_or_pinned(gen, index)
        if issue is None:
            return None
        attachment = issue.attachment(attachment_id)
        return (issue, attachment) if attachment else None

    # ---- canned datasets

    @classmethod
    def realistic(cls) -> FakeJiraData:
        return _build_realistic()

    @classmethod
    def generated(
        cls,
        n_issues: int,
        changelog_per_issue: int = 5,
        comments_per_issue: int = 3,
        attachment_bytes: int = 10_240,
        *,
        project_key: str = "BENCH",
        seed: int = 0,
    ) -> FakeJiraData:
        """A synthetic project of ``n_issues`` issues built lazily from their index.

        Every issue has ``changelog_per_issue`` histories, ``comments_per_issue``
        comments and one attachment of ``attachment_bytes`` bytes (none if 0);
        every 10th issue is a sub-task of the previous one and every 7th issue
        "relates to" the previous one.
        """
        data = cls()
        _add_people(data)
        data.add_generated_project(
            project_key,
            n_issues,
            changelog_per_issue=changelog_per_issue,
            comments_per_issue=comments_per_issue,
            attachment_bytes=attachment_bytes,
            seed=seed,
        )
        return data

    def add_generated_project(
        self,
        key: str,
        n_issues: int,
        *,
        changelog_per_issue: int = 5,
        comments_per_issue: int = 3,
        attachment_bytes: int = 10_240,
        seed: int = 0,
    ) -> Project:
        """Add a project of lazily generated issues (see ``generated``); needs alice, bob, carol, dave."""
        for handle in ("alice", "bob", "carol", "dave"):
            self.user(handle)
        project = self.add_project(
            key,
            "Benchmark Project",
            lead="alice",
            components=("Backend", "Frontend", "API"),
            versions=(("1.0", True), ("2.0", False)),
        )
        gen = _GeneratedProject(
            self, key, n_issues, changelog_per_issue, comments_per_issue, attachment_bytes, seed
        )
        self._generated.append(gen)
        self._issue_numbers[key] = n_issues
        return project


# --------------------------------------------------------------------------- generated data


class _GeneratedProject:
    """Issues ``KEY-1..KEY-n`` computed from their index; the same index always yields the same issue."""

    HISTORY_STEP = timedelta(hours=2)
    ISSUE_STEP = timedelta(minutes=37)

    def __init__(
        self,
        data: FakeJiraData,
        project_key: str,
        n: int,
        histories: int,
        comments: int,
        attachment_bytes: int,
        seed: int,
    ) -> None:
        self.data = data
        self.project_key = project_key
        self.n = n
        self.histories = histories
        self.comments = comments
        self.attachment_bytes = attachment_bytes
        self.seed = seed
        self.id_base = data._next("issue", n)
        self.history_base = data._next("history", n * max(histories, 1) * 2)
        self.comment_base = data._next("comment", n * max(comments, 1))
        self.attachment_base = data._next("attachment", n)
        self.link_base = data._next("link", n)
        self.build = functools.lru_cache(maxsize=4096)(self._build)

    def key(self, index: int) -> str:
        return f"{self.project_key}-{index + 1}"

    def created(self, index: int) -> datetime:
        return T0 + index * self.ISSUE_STEP

    def header(self, index: int) -> IssueHeader:
        created = self.created(index)
        updated = created
        if self.histories:
            updated = max(updated, created + self.histories * self.HISTORY_STEP)
        if self.comments:
            updated = max(updated, created + self.comments * self.HISTORY_STEP + timedelta(minutes=30))
        return IssueHeader(self.id_base + index, self.key(index), self.project_key, created, updated)

    def attachment_owner(self, attachment_id: int) -> int | None:
        index = attachment_id - self.attachment_base
        return index if self.attachment_bytes and 0 <= index < self.n else None

    @staticmethod
    def is_subtask(index: int) -> bool:
        return index % 10 == 9

    def _build(self, index: int) -> Issue:
        data = self.data
        rnd = random.Random(self.seed * 1_000_003 + index)
        handles = ["alice", "bob", "carol", "dave"]
        created = self.created(index)
        itype = "Sub-task" if self.is_subtask(index) else rnd.choice(["Task", "Bug", "Story", "Task"])
        initial = data.empty_state()
        initial.update(
            summary=f"Generated issue {index + 1}: {rnd.choice(_SUBJECTS)} {rnd.choice(_PROBLEMS)}",
            description=f"h2. Context\nGenerated *issue* number {index + 1}.\n\n* first point\n* second",
            issuetype=itype,
            status="To Do",
            priority=rnd.choice(["High", "Medium", "Medium", "Low"]),
            reporter=rnd.choice(handles[:3]),
            assignee=rnd.choice([None, "alice", "bob"]),
            labels=rnd.sample(["backend", "ui", "perf", "security"], k=rnd.randint(0, 2)),
            components=[rnd.choice(["Backend", "Frontend", "API"])],
        )
        if itype != "Sub-task":
            initial["customfield_10015"] = rnd.choice(["Critical", "Major", "Minor"])
            initial["customfield_10012"] = rnd.choice([1, 2, 3, 5, 8])
        issue = Issue(
            self.id_base + index, self.key(index), self.project_key, created, initial["reporter"], initial
        )
        ids = _FixedIds(
            self.history_base + index * max(self.histories, 1) * 2,
            self.comment_base + index * max(self.comments, 1),
            self.attachment_base + index,
        )
        builder = IssueBuilder(data, issue, ids)
        if self.attachment_bytes:
            size, seed = self.attachment_bytes, self.attachment_base + index
            builder.attach(
                f"log-{index + 1}.bin",
                lambda: random.Random(seed).randbytes(size),
                author=initial["reporter"],
                mime_type="application/octet-stream",
                at=created,
                size=size,
            )
        workflow = ["In Progress", "Done", "To Do"]
        for j in range(self.histories):
            at = created + (j + 1) * self.HISTORY_STEP
            author = handles[(index + j) % 3]
            step = j % 4
            if step == 0:
                builder.change(author, {"status": workflow[(j // 4) % 3]}, at=at)
            elif step == 1:
                builder.change(author, {"assignee": handles[(index + j + 1) % 3]}, at=at)
            elif step == 2:
                builder.change(
                    author,
                    {
                        "priority": ["Highest", "High", "Low"][j % 3],
                        "labels": [*issue.current["labels"], f"l{j}"],
                    },
                    at=at,
                )
            else:
                builder.change(author, {"summary": f"{issue.current['summary']} (rev {j})"}, at=at)
            if len(issue.histories) < j + 1:  # a no-op change: force one so counts are exact
                builder.change(author, {"customfield_10010": f"customer-{j}"}, at=at)
        for k in range(self.comments):
            at = created + (k + 1) * self.HISTORY_STEP + timedelta(minutes=30)
            builder.comment(handles[(index + k) % 3], f"Comment {k + 1} on {issue.key}: looks *fine*.", at=at)
        if self.is_subtask(index):
            issue.parent_key = self.key(index - 1)
        if self.is_subtask(index + 1) and index + 1 < self.n:
            issue.subtask_keys.append(self.key(index + 1))
        if index % 7 == 3 and index > 0:
            issue.links.append(Link(self.link_base + index, "Relates", "outward", self.key(index - 1)))
        if (index + 1) % 7 == 3 and index + 1 < self.n:
            issue.links.append(Link(self.link_base + index + 1, "Relates", "inward", self.key(index + 1)))
        return issue


_SUBJECTS = ("Login page", "Export", "Search API", "Billing job", "Mobile menu", "Audit log")
_PROBLEMS = ("is slow", "crashes on empty input", "needs pagination", "shows wrong totals", "times out")


# --------------------------------------------------------------------------- realistic data


def _add_people(data: FakeJiraData) -> None:
    # alice is the API user of the default credentials. Her key equals her
    # name (an account older than Jira 8), the others have JIRAUSER keys.
    data.add_user("alice", "Alice Martin", "alice@example.com", key="alice", time_zone="Europe/Paris")
    data.add_user("bob", "Bob Nguyen", "bob@example.com", time_zone="America/New_York")
    data.add_user("carol", "Carol Diaz", None, time_zone="Asia/Tokyo")  # hides her email
    data.add_user("dave", "Dave Former", "dave@example.com", active=False)


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG, so "real bytes" really are an image."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 60 % 256, y * 80 % 256, 200)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


XSS_DESCRIPTION = """h2. Checkout flow

The *new* checkout must support _guest_ users. See [the spec|https://example.com/spec] and {{Checkout}}.

* one-page form
* saved cards
# validate address
# pay

{code:python}
def total(cart):
    return sum(line.price for line in cart)
{code}

||Step||Owner||
|Design|alice|
|Build|bob|

<script>alert(1)</script>"""

# What a (compromised or plugin-mangled) Jira could hand back as rendered HTML:
# the importer's sanitizer must strip the script and the event handler.
XSS_RENDERED = (
    '<h2><a name="Checkoutflow"></a>Checkout flow</h2>\n'
    "<p>The <b>new</b> checkout must support <em>guest</em> users. See "
    '<a href="https://example.com/spec" class="external-link" rel="nofollow">the spec</a> and '
    "<tt>Checkout</tt>.</p>\n"
    "<ul>\n\t<li>one-page form</li>\n\t<li>saved cards</li>\n</ul>\n"
    "<ol>\n\t<li>validate address</li>\n\t<li>pay</li>\n</ol>\n"
    '<div class="code panel"><div class="codeContent panelContent">\n'
    '<pre class="code-python">def total(cart):\n    return sum(line.price for line in cart)</pre>\n'
    "</div></div>\n"
    "<table class='confluenceTable'><tbody>\n"
    "<tr><th class='confluenceTh'>Step</th><th class='confluenceTh'>Owner</th></tr>\n"
    "<tr><td class='confluenceTd'>Design</td><td class='confluenceTd'>alice</td></tr>\n"
    "<tr><td class='confluenceTd'>Build</td><td class='confluenceTd'>bob</td></tr>\n"
    "</tbody></table>\n"
    '<p><script>alert(1)</script><img src="x" onerror="alert(2)"></p>'
)


def _build_realistic() -> FakeJiraData:
    """DEMO (25 issues) and OPS (3 issues).

    * DEMO-1 Epic; DEMO-2 Story under it (Epic Link), with the wiki/XSS
      description, 3 attachments (PNG, a name with spaces, a non-ASCII name),
      7 comments (one by carol, whose email is hidden; one edited by bob);
    * DEMO-3 Bug with 55 histories (> 40, so Cloud truncates the embedded
      changelog), resolved at the end, links "blocks DEMO-2";
    * DEMO-4, DEMO-5 sub-tasks of DEMO-2; DEMO-6 duplicates DEMO-3;
      DEMO-7 relates to OPS-1 (another project); DEMO-8 relates to DEMO-2;
    * DEMO-9 "kitchen sink": every custom field set, including the unsupported
      Epic Link and cascading select; DEMO-10 assigned to inactive dave;
    * DEMO-11..25 ordinary issues with a few histories and comments each.
    """
    data = FakeJiraData()
    _add_people(data)
    data.add_project(
        "DEMO",
        "Demo Project",
        lead="alice",
        description="The project the importer tests use.",
        components=("Backend", "Frontend", "API"),
        versions=(("1.0", True), ("1.1", True), ("2.0", False)),
    )
    data.add_project(
        "OPS",
        "Operations",
        lead="bob",
        issue_types=("Task", "Bug"),
        components=("Infra",),
        versions=(("2024.1", True),),
    )
    day = timedelta(days=1)

    epic = data.add_issue(
        "DEMO", "Epic", "Checkout revamp", reporter="alice", created=T0, Customer="ACME", labels=["checkout"]
    )
    epic.change("alice", status="In Progress", at=T0 + 2 * day)

    story = data.add_issue(
        "DEMO",
        "Story",
        "Guest checkout",
        reporter="alice",
        created=T0 + timedelta(hours=3),
        description=XSS_DESCRIPTION,
        assignee="bob",
        components=["Frontend"],
        fixVersions=["2.0"],
        **{
            "Story Points": 5,
            "Epic Link": "DEMO-1",
            "Acceptance Criteria": "* guest can pay\n* no account needed",
        },
    )
    story.render_as("description", XSS_RENDERED)
    story.attach(
        "screenshot.png", tiny_png(), author="alice", mime_type="image/png", at=T0 + timedelta(hours=3)
    )
    story.attach(
        "design notes v2.txt",
        b"Design notes\n============\n\n- one page\n- big buttons\n",
        author="bob",
        mime_type="text/plain",
        at=T0 + timedelta(hours=5),
    )
    story.attach(
        "résumé final.pdf",
        b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        author="carol",
        mime_type="application/pdf",
        at=T0 + timedelta(hours=6),
    )
    story.change("bob", status="In Progress", at=T0 + timedelta(hours=7))
    comments = [
        ("alice", "Kick-off: please read the spec first."),
        ("bob", "Started on the *form*. See {{checkout.js}}."),
        ("carol", "QA note: guest flow fails on Safari when cookies are off."),
        ("alice", "h3. Decision\nWe drop IE11."),
        ("bob", "PR is up: [#42|https://git.example.com/pr/42]"),
        ("dave", "Leaving the company, unassigning myself."),
        ("alice", "Thanks all <b>not bold</b> & done."),
    ]
    for i, (author, body) in enumerate(comments):
        at = T0 + timedelta(hours=8 + i)
        if i == 1:
            story.comment(author, body, at=at, edited_by="bob", edited_at=at + timedelta(minutes=20))
        elif i == 2:
            story.comment(
                author,
                body,
                at=at,
                rendered_html='<p>QA note: guest flow fails on Safari <script>alert("c")</script></p>',
            )
        else:
            story.comment(author, body, at=at)

    bug = data.add_issue(
        "DEMO",
        "Bug",
        "Totals wrong when a coupon is applied twice",
        reporter="carol",
        created=T0 + day,
        description="Steps:\n# add coupon\n# add it again\n\nTotal is negative.",
        priority="High",
        versions=["1.1"],
        components=["Backend"],
        **{"Severity": "Major", "Environment Type": "Production", "Platforms": ["Linux"]},
    )
    _long_history(bug, T0 + day)
    bug.link("Blocks", "DEMO-2")
    bug.comment("alice", "Reproduced on staging.", at=T0 + 9 * day)
    bug.comment("carol", "Confirmed fixed.", at=T0 + 9 * day + timedelta(hours=1))

    for n, summary in ((4, "Build the guest form"), (5, "Wire the payment step")):
        sub = data.add_issue(
            "DEMO",
            "Sub-task",
            summary,
            reporter="bob",
            parent="DEMO-2",
            created=T0 + 2 * day + timedelta(hours=n),
            assignee="bob",
        )
        sub.change("bob", status="In Progress")
        if n == 4:
            sub.change("bob", status="Done")

    dup = data.add_issue(
        "DEMO", "Bug", "Coupon applied twice gives negative total", reporter="bob", created=T0 + 3 * day
    )
    dup.change("alice", status="Won't Fix", resolution="Duplicate")
    dup.link("Duplicate", "DEMO-3")

    ops1 = data.add_issue("OPS", "Task", "Provision payment sandbox", reporter="bob", created=T0 + 3 * day)
    ops1.change("bob", status="Done")
    data.add_issue("OPS", "Bug", "Sandbox certificate expired", reporter="bob", created=T0 + 4 * day)
    data.add_issue("OPS", "Task", "Rotate API keys", reporter="alice", created=T0 + 5 * day)

    rel = data.add_issue(
        "DEMO",
        "Task",
        "Ask ops for a payment sandbox",
        reporter="alice",
        created=T0 + 3 * day + timedelta(hours=2),
    )
    rel.link("Relates", "OPS-1")
    rel2 = data.add_issue("DEMO", "Task", "Document guest checkout", reporter="alice", created=T0 + 4 * day)
    rel2.link("Relates", "DEMO-2")

    sink = data.add_issue(
        "DEMO",
        "Task",
        "Kitchen sink: every field set",
        reporter="alice",
        created=T0 + 5 * day,
        description="Every *field* has a value.",
        assignee="carol",
        labels=["all-fields", "demo"],
        components=["Backend", "API"],
        fixVersions=["1.1", "2.0"],
        duedate="2024-03-01",
        priority="Low",
        **{
            "Customer": "Globex",
            "Acceptance Criteria": "Works with *every* field.",
            "Story Points": 2.5,
            "Target Date": "2024-02-20",
            "Deployed At": datetime(2024, 2, 21, 14, 30, tzinfo=UTC),
            "Severity": "Minor",
            "Environment Type": "Staging",
            "Platforms": ["Linux", "macOS"],
            "Browsers": ["Firefox", "Safari"],
            "Reviewer": "bob",
            "Watchers Team": ["alice", "carol"],
            "Tags": ["tag-a", "tag-b"],
            "Affected Release": "1.0",
            "Target Releases": ["2.0"],
            "Epic Link": "DEMO-1",
            "Region": ("EMEA", "France"),
        },
    )
    sink.change(
        "alice", {"Severity": "Critical", "Platforms": ["Linux", "macOS", "Windows"], "Story Points": 3}
    )
    sink.change(
        "bob", {"Customer": "Globex Corp", "Tags": ["tag-a"], "Reviewer": "alice", "duedate": "2024-03-08"}
    )

    former = data.add_issue(
        "DEMO",
        "Task",
        "Legacy cleanup",
        reporter="dave",
        created=T0 + 5 * day + timedelta(hours=5),
        assignee="dave",
    )
    former.comment("dave", "Old comment from a deactivated account.")

    for n in range(11, 26):
        rnd = random.Random(n)
        created = T0 + (n - 5) * day
        itype = ("Task", "Bug", "Story")[n % 3]
        issue = data.add_issue(
            "DEMO",
            itype,
            f"{rnd.choice(_SUBJECTS)} {rnd.choice(_PROBLEMS)} (#{n})",
            reporter=("alice", "bob", "carol")[n % 3],
            created=created,
            description=f"Found while testing build {n}.\n\nExpected *no* error.",
            priority=rnd.choice(["High", "Medium", "Low"]),
            labels=rnd.sample(["backend", "ui", "perf"], k=n % 3),
        )
        issue.change("alice", assignee=("bob", "carol", "alice")[n % 3])
        if n % 2:
            issue.change("bob", status="In Progress")
        if n % 4 == 1:
            issue.change("bob", status="Done", fixVersions=["2.0"])
        issue.comment(("bob", "carol", "alice")[n % 3], f"Looking at #{n}.")
        if n % 5 == 0:
            issue.comment("carol", "Any update?")
    _add_agile_life(data)
    return data


def _add_agile_life(data: FakeJiraData) -> None:
    """What happens to issues after the first weeks: sprints, a late link, work logs, an app's field.

    * board "DEMO board" (scrum) with Sprint 1 (closed), Sprint 2 (active) and Sprint 3 (future,
      no issue: only the agile API knows it), and a kanban board (no sprints: 400 on its sprints);
    * DEMO-11 (Story) in Sprint 1, carried over to Sprint 2; DEMO-12 (Task) in Sprint 2;
    * DEMO-12 blocks DEMO-15 (both Tasks), linked late: a "Link" changelog entry on both;
    * DEMO-12: an original estimate of 8 h, 3 h remaining, and 25 work logs (more than the 20 a
      search embeds); DEMO-14 (Story): joins the epic DEMO-1 late (an epic link changelog entry)
      and has a comment an app wrote in ADF only;
    * the app field "Team" set on DEMO-11 and DEMO-14 (no equivalent: listed as not imported).
    """
    day = timedelta(days=1)
    board = data.add_board("DEMO", "DEMO board")
    data.add_board("DEMO", "DEMO kanban", type="kanban")
    one = data.add_sprint(
        board,
        "Sprint 1",
        "closed",
        start=T0 + 30 * day,
        end=T0 + 44 * day,
        complete=T0 + 44 * day,
        goal="Guest checkout, end to end",
    )
    two = data.add_sprint(board, "Sprint 2", "active", start=T0 + 44 * day, end=T0 + 58 * day)
    data.add_sprint(board, "Sprint 3", "future", goal="Hardening")
    data.edit("DEMO-11").change("alice", {"Sprint": [one.id]}, at=T0 + 30 * day)
    data.edit("DEMO-11").change("bob", {"Team": "Payments"}, at=T0 + 31 * day)
    data.edit("DEMO-11").change("alice", {"Sprint": [one.id, two.id]}, at=T0 + 44 * day)
    twelve = data.edit("DEMO-12")
    twelve.change("alice", {"Original Estimate": 8 * 3600, "Remaining Estimate": 3 * 3600}, at=T0 + 29 * day)
    twelve.change("alice", {"Sprint": [two.id]}, at=T0 + 44 * day)
    twelve.link_later("bob", "Blocks", "DEMO-15", at=T0 + 45 * day)
    for n in range(25):
        twelve.log_work(
            ("alice", "bob", "carol")[n % 3],
            (n % 4 + 1) * 1800,
            at=T0 + 45 * day + n * timedelta(hours=2),
            comment=f"Worked on step {n + 1}" if n % 2 else "",
        )
    fourteen = data.edit("DEMO-14")
    fourteen.change("carol", {"Team": "Payments"}, at=T0 + 46 * day)
    fourteen.change("alice", {"Epic Link": "DEMO-1"}, at=T0 + 47 * day)
    fourteen.comment("bob", "h2. Findings\n* slow query\n* missing index", at=T0 + 48 * day, adf_only=True)


def _long_history(bug: IssueBuilder, start: datetime) -> None:
    """55 histories touching status, assignee, priority, labels, versions and custom fields."""
    at = start
    statuses = ["In Progress", "In Review", "In Progress", "To Do"]
    assignees = ["bob", "alice", "carol", None]
    priorities = ["Highest", "High", "Medium"]
    labels: list[str] = []
    for i in range(54):
        at += timedelta(hours=3)
        author = ("alice", "bob", "carol")[i % 3]
        kind = i % 6
        if kind == 0:
            bug.change(author, status=statuses[(i // 6) % 4], at=at)
        elif kind == 1:
            bug.change(author, assignee=assignees[(i // 6) % 4], at=at)
        elif kind == 2:
            bug.change(author, priority=priorities[(i // 6) % 3], at=at)
        elif kind == 3:
            labels = [*labels, f"triage-{i}"] if len(labels) < 3 else labels[1:]
            bug.change(author, labels=labels, at=at)
        elif kind == 4:
            bug.change(
                author, {"Story Points": (i // 6) + 1, "Severity": ("Critical", "Major")[i % 2]}, at=at
            )
        else:
            fix = ["1.1"] if (i // 6) % 2 else ["1.1", "2.0"]
            bug.change(
                author, fixVersions=fix, summary=f"Totals wrong when a coupon is applied twice (v{i})", at=at
            )
    bug.change("alice", status="Done", assignee="bob", at=at + timedelta(hours=3))
