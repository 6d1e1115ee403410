"""Just enough JQL for an importer: AND-ed clauses and ORDER BY.

Supported clauses: ``project``, ``key``/``issuekey``, ``id``, ``issuetype``/``type``,
``status``, ``parent``, ``assignee``, ``reporter``, ``resolution`` (with ``=``,
``!=``, ``in``, ``not in``, ``is [not] empty``) and ``created``/``updated``
(with ``=, !=, >, >=, <, <=``). ``OR`` and functions are rejected with a 400,
so a test never silently gets a wrong answer.

Jira quirk reproduced on purpose: date literals (``"2024-01-05 10:00"``) have
minute precision and are interpreted in the *requesting user's time zone*.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from .model import FakeJiraData, Issue, IssueHeader


class JqlError(ValueError):
    """Becomes a 400 with Jira's ``errorMessages`` body."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>>=|<=|!=|!~|=|>|<|~)
      | (?P<punct>[(),])
      | (?P<word>[^\s"'(),=<>!~]+)
    )""",
    re.VERBOSE,
)

_FIELD_ALIASES = {
    "issuekey": "key",
    "type": "issuetype",
    "createddate": "created",
    "updateddate": "updated",
    "project": "project",
    "key": "key",
    "id": "id",
    "issuetype": "issuetype",
    "status": "status",
    "parent": "parent",
    "assignee": "assignee",
    "reporter": "reporter",
    "resolution": "resolution",
    "created": "created",
    "updated": "updated",
}
_DATE_FIELDS = {"created", "updated"}
_SORTABLE = {"created", "updated", "key", "issuekey", "id"}


@dataclass(frozen=True)
class Clause:
    field: str
    op: str  # "=", "!=", ">", ">=", "<", "<=", "in", "not in", "is empty", "is not empty"
    values: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)

    @property
    def needs_issue(self) -> bool:
        return any(c.field not in ("project", "key", "id", "created", "updated") for c in self.clauses)


def _tokens(jql: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    jql = jql.strip()
    while pos < len(jql):
        m = _TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            raise JqlError(f"Error in the JQL Query: The character '{jql[pos]}' is a reserved JQL character.")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
    return out


def parse(jql: str) -> Query:
    tokens = _tokens(jql or "")
    i = 0

    def peek(offset: int = 0) -> tuple[str, str] | None:
        return tokens[i + offset] if i + offset < len(tokens) else None

    def word(value: str, offset: int = 0) -> bool:
        t = peek(offset)
        return t is not None and t[0] == "word" and t[1].lower() == value

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise JqlError("Error in the JQL Query: Expecting more input at the end of the query.")
        i += 1
        return tokens[i - 1]

    def punct(value: str, offset: int = 0) -> bool:
        t = peek(offset)
        return t is not None and t[0] == "punct" and t[1] == value

    def value() -> str:
        kind, text = take()
        if kind not in ("str", "word"):
            raise JqlError(f"Error in the JQL Query: Expecting a value but got '{text}'.")
        if kind == "word" and punct("("):
            raise JqlError(f"Error in the JQL Query: the fake Jira does not support the function '{text}()'.")
        return text

    clauses: list[Clause] = []
    order: list[tuple[str, bool]] = []
    while i < len(tokens):
        if word("order") and word("by", 1):
            i += 2
            while True:
                field = take()[1].lower()
                if field not in _SORTABLE:
                    raise JqlError(f"Not able to sort using field '{field}'.")
                descending = False
                if word("asc") or word("desc"):
                    descending = take()[1].lower() == "desc"
                order.append((_FIELD_ALIASES[field], descending))
                if punct(","):
                    i += 1
                    continue
                break
            if i < len(tokens):
                raise JqlError(f"Error in the JQL Query: Expecting end of query but got '{tokens[i][1]}'.")
            break
        if clauses:
            if word("or"):
                raise JqlError("Error in the JQL Query: the fake Jira only supports AND between clauses.")
            if not word("and"):
                raise JqlError(f"Error in the JQL Query: Expecting 'AND' but got '{tokens[i][1]}'.")
            i += 1
        kind, name = take()
        if kind == "punct":
            raise JqlError("Error in the JQL Query: the fake Jira does not support parentheses.")
        field = _FIELD_ALIASES.get(name.lower())
        if field is None:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        if word("is"):
            i += 1
            negated = word("not")
            if negated:
                i += 1
            if not (word("empty") or word("null")):
                raise JqlError("Error in the JQL Query: Expecting 'EMPTY' after 'IS'.")
            i += 1
            clauses.append(Clause(field, "is not empty" if negated else "is empty", ()))
            continue
        negated = word("not") and word("in", 1)
        if negated or word("in"):
            i += 2 if negated else 1
            if take()[1] != "(":
                raise JqlError("Error in the JQL Query: Expecting '(' after 'IN'.")
            values = [value()]
            while punct(","):
                i += 1
                values.append(value())
            if take()[1] != ")":
                raise JqlError("Error in the JQL Query: Expecting ')'.")
            clauses.append(Clause(field, "not in" if negated else "in", tuple(values)))
            continue
        op_kind, op = take()
        if op_kind != "op" or op in ("~", "!~"):
            raise JqlError(f"Error in the JQL Query: unsupported operator '{op}' for field '{name}'.")
        if op in (">", ">=", "<", "<=") and field not in _DATE_FIELDS:
            raise JqlError(f"The operator '{op}' is not supported by the '{name}' field.")
        clauses.append(Clause(field, op, (value(),)))
    return Query(tuple(clauses), tuple(order))


_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
_PERIOD = re.compile(r"([+-]?)\s*((?:\d+\s*[wdhm]\s*)+)")


def parse_date(text: str, field: str, zone: tzinfo, now: datetime) -> datetime:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            pass
    if text.isdigit():  # epoch milliseconds
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    m = _PERIOD.fullmatch(text.strip())
    if m:
        delta = timedelta()
        for amount, unit in re.findall(r"(\d+)\s*([wdhm])", m.group(2)):
            delta += timedelta(
                **{{"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}[unit]: int(amount)}
            )
        return now - delta if m.group(1) == "-" else now + delta
    raise JqlError(
        f"Date value '{text}' for field '{field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
        "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


def user_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return UTC


class Evaluator:
    """Filters and sorts issues for one query, on behalf of one user."""

    def __init__(self, query: Query, data: FakeJiraData, *, zone: tzinfo, visible_projects: set[str]) -> None:
        self.query = query
        self.data = data
        self.zone = zone
        now = datetime.now(UTC)
        self._dates: dict[int, datetime] = {}
        for n, clause in enumerate(query.clauses):
            if clause.field == "project":
                for v in clause.values:
                    project = next(
                        (
                            p
                            for p in data.projects.values()
                            if v.upper() == p.key or v == p.id or v.lower() == p.name.lower()
                        ),
                        None,
                    )
                    if project is None or project.key not in visible_projects:
                        # Jira answers the same for "no such project" and "no permission".
                        raise JqlError(f"The value '{v}' does not exist for the field 'project'.")
            if clause.field in _DATE_FIELDS:
                self._dates[n] = parse_date(clause.values[0], clause.field, zone, now)
        self.visible_projects = visible_projects

    def select(self) -> list[IssueHeader]:
        issues: dict[str, Issue] = {}

        def load(header: IssueHeader) -> Issue:
            if header.key not in issues:
                issue = self.data.get_issue(header.key)
                assert issue is not None
                issues[header.key] = issue
            return issues[header.key]

        out = [
            h
            for h in self.data.headers()
            if h.project_key in self.visible_projects
            and all(self._match(n, c, h, load) for n, c in enumerate(self.query.clauses))
        ]
        order = self.query.order or (("created", False),)
        for field, descending in reversed(order):
            out.sort(key=_sort_key(field), reverse=descending)
        return out

    def _match(self, n: int, c: Clause, h: IssueHeader, load: Callable[[IssueHeader], Issue]) -> bool:
        if c.field in _DATE_FIELDS:
            actual = h.created if c.field == "created" else h.updated
            # Jira compares at minute precision.
            actual = actual.replace(second=0, microsecond=0)
            bound = self._dates[n]
            return {
                "=": actual == bound,
                "!=": actual != bound,
                ">": actual > bound,
                ">=": actual >= bound,
                "<": actual < bound,
                "<=": actual <= bound,
            }[c.op]
        actual_values = self._values(c.field, h, load)
        if c.op == "is empty":
            return not actual_values
        if c.op == "is not empty":
            return bool(actual_values)
        wanted = {v.lower() for v in c.values}
        hit = bool({a.lower() for a in actual_values} & wanted)
        return hit if c.op in ("=", "in") else not hit

    def _values(self, field: str, h: IssueHeader, load: Callable[[IssueHeader], Issue]) -> set[str]:
        if field == "project":
            p = self.data.projects[h.project_key]
            return {p.key, p.id, p.name}
        if field == "key":
            return {h.key}
        if field == "id":
            return {str(h.id)}
        issue = load(h)
        cur = issue.current
        cat = self.data.catalog
        if field == "issuetype":
            t = cat.issue_type(cur["issuetype"])
            return {t.name, t.id}
        if field == "status":
            s = cat.status(cur["status"])
            return {s.name, s.id}
        if field == "resolution":
            return (
                set()
                if cur["resolution"] is None
                else {cur["resolution"], cat.resolution(cur["resolution"]).id}
            )
        if field == "parent":
            parent = self.data.get_issue(issue.parent_key) if issue.parent_key else None
            return {parent.key, str(parent.id)} if parent else set()
        if field in ("assignee", "reporter"):
            handle = cur[field]
            if handle is None:
                return set()
            u = self.data.users[handle]
            return {u.handle, u.key, u.account_id} | ({u.email} if u.email else set())
        raise JqlError(f"Field '{field}' is not supported by the fake Jira.")


def _sort_key(field: str) -> Callable[[IssueHeader], Any]:
    if field == "key":
        return lambda h: (h.project_key, int(h.key.rsplit("-", 1)[1]))
    if field == "id":
        return lambda h: h.id
    if field == "updated":
        return lambda h: (h.updated, h.id)
    return lambda h: (h.created, h.id)
