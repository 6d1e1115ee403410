"""The links field while replaying an issue: what links it has now, and what each changelog entry changed.

An issue's links come from its issue links (Jira's link type names, outward or inward), its sub-tasks
("parent of"), its parent ("sub-task of" for a sub-task; "child of" for Cloud's epics), Server's epic
link field ("child of") and its sprints ("in sprint", to the Sprints tracker's artifacts). They are
kept as :class:`LinkRef` sets and stored as outside links carrying the Jira id (or key) of their
target, which the writer's link pass resolves to artifacts
(:func:`~tracker.services.imported_links.resolve_links`).
Changelog items about links (``Link``, ``IssueParentAssociation``, ``Epic Link``, ``Sprint``) are
undone like any field's, so each becomes a changeset of the links field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tracker.jira_import.jira_fields import EPIC_LINK, SPRINT
from tracker.jira_import.sprints import sprints_of
from tracker.services.bulk_import import LINK_SOURCE_ID
from tracker.services.values import LIST_MAX_ITEMS

MAX_LINKS = LIST_MAX_ITEMS
PARENT_OF = "parent of"
SUBTASK_OF = "sub-task of"
# An epic's issues, and a Cloud issue whose parent is not a sub-task's parent: "child of".
CHILD_OF = "child of"
IN_SPRINT = "in sprint"
# Changelog items about links: "Link" (issue links, both sides; Cloud's fieldId "issuelinks"),
# "Epic Link" (Server's epic link field), "IssueParentAssociation" and "Parent" (Cloud's parent),
# "Sprint" (the sprint field, ids in from/to).
LINK_ITEM_FIELDS = {"Link", "issuelinks"}
PARENT_ITEM_FIELDS = {"IssueParentAssociation", "Parent", "parent"}


@dataclass(frozen=True)
class LinkRef:
    """One link of the links field while replaying: to a Jira issue (by id, or key) or a sprint."""

    type: str
    key: str
    source: str  # the Jira id (or key) of the issue, or "sprint-<id>"
    url: str


def _link_type_of(text: Any, key: str) -> str:
    """ "This issue blocks DEMO-2" -> "blocks" (how the changelog words an issue link)."""
    words = " ".join(str(text or "").split())
    words = words.removeprefix("This issue ").removesuffix(key).strip()
    return words[:50] or "relates to"


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    return [part.strip() for part in str(value).strip().strip("[]").split(",") if part.strip()]


class LinkReplay:
    """Links of issues of one tracker. ``link_fields``: Jira field id -> EPIC_LINK or SPRINT;
    ``names``: Jira field id -> name (Server's changelog names custom fields by their name)."""

    def __init__(
        self, browse_url: Callable[[str], str], link_fields: dict[str, str], names: dict[str, str]
    ) -> None:
        self.browse_url = browse_url
        self.link_fields = dict(link_fields)
        self.link_field_names = {names.get(fid, ""): role for fid, role in self.link_fields.items()}
        self.link_field_names.pop("", None)

    def ref(self, link_type: str, key: str, source: str) -> LinkRef:
        key = str(key or "")[:100]
        return LinkRef(
            " ".join(link_type.split())[:50], key, str(source or key)[:50], self.browse_url(quote(key))
        )

    def sprint_ref(self, sprint_id: str, name: str) -> LinkRef:
        return LinkRef(IN_SPRINT, (name or f"Sprint {sprint_id}")[:100], f"sprint-{sprint_id}"[:50], "")

    def current(self, issue: dict[str, Any]) -> list[LinkRef]:
        """The issue's links now: issue links, sub-tasks, parent, epic, sprints (resolved to artifacts
        by the writer's link pass when the other end was imported)."""
        fields = issue["fields"]
        found: list[LinkRef] = []
        for link in fields.get("issuelinks") or []:
            kind = link.get("type") or {}
            for side, verb in (("outwardIssue", "outward"), ("inwardIssue", "inward")):
                other = link.get(side)
                if isinstance(other, dict) and other.get("key"):
                    words = str(kind.get(verb) or kind.get("name") or "relates to")
                    found.append(self.ref(words, other["key"], other.get("id")))
        found += [self.ref(PARENT_OF, sub.get("key"), sub.get("id")) for sub in fields.get("subtasks") or []]
        parent = fields.get("parent")
        if isinstance(parent, dict) and parent.get("key"):
            found.append(self.ref(self.parent_type(issue), parent["key"], parent.get("id")))
        for field_id, role in self.link_fields.items():
            value = fields.get(field_id)
            if role == EPIC_LINK and isinstance(value, str) and value.strip():
                found.append(self.ref(CHILD_OF, value.strip(), value.strip()))
            elif role == SPRINT:
                found += [self.sprint_ref(sprint.id, sprint.name) for sprint in sprints_of(value)]
        unique: list[LinkRef] = []
        for ref in found:
            if ref.key and ref not in unique:
                unique.append(ref)
        return unique[:MAX_LINKS]

    @staticmethod
    def parent_type(issue: dict[str, Any]) -> str:
        """A sub-task's parent is "sub-task of"; any other parent (Cloud's epics) "child of"."""
        issue_type = issue["fields"].get("issuetype")
        return SUBTASK_OF if isinstance(issue_type, dict) and issue_type.get("subtask") else CHILD_OF

    def role(self, item: dict[str, Any]) -> str | None:
        """Which part of the links a changelog item changes: "link", "parent", EPIC_LINK, SPRINT."""
        field_id, name = str(item.get("fieldId") or ""), str(item.get("field") or "")
        if name in LINK_ITEM_FIELDS or field_id in LINK_ITEM_FIELDS:
            return "link"
        if name in PARENT_ITEM_FIELDS or field_id in PARENT_ITEM_FIELDS:
            return "parent"
        if field_id in self.link_fields:
            return self.link_fields[field_id]
        if item.get("fieldtype") == "custom" and name in self.link_field_names:
            return self.link_field_names[name]
        return None

    def undo(self, value: Any, item: dict[str, Any]) -> frozenset[LinkRef]:
        links = set(value or ())
        role = self.role(item)
        if role == "link":
            for raw, text, present in (("to", "toString", False), ("from", "fromString", True)):
                key = str(item.get(raw) or "").strip()
                if not key:
                    continue
                kind = _link_type_of(item.get(text), key)
                if present:
                    if not any(ref.key == key and ref.type == kind for ref in links):
                        links.add(self.ref(kind, key, key))
                else:
                    links -= {ref for ref in links if ref.key == key and ref.type == kind}
        elif role in ("parent", EPIC_LINK):
            kinds = {CHILD_OF, SUBTASK_OF} if role == "parent" else {CHILD_OF}
            old = [ref for ref in links if ref.type in kinds]
            links -= set(old)
            key, source = str(item.get("fromString") or "").strip(), str(item.get("from") or "").strip()
            if key:
                kind = old[0].type if old else CHILD_OF
                links.add(self.ref(kind, key, source or key))
        elif role == SPRINT:
            links -= {ref for ref in links if ref.type == IN_SPRINT}
            ids, names = _split(item.get("from")), _split(item.get("fromString"))
            for n, sprint_id in enumerate(ids):
                links.add(self.sprint_ref(sprint_id, names[n] if len(names) == len(ids) else ""))
        return frozenset(links)

    def stored(self, value: frozenset[LinkRef]) -> list[dict[str, Any]] | None:
        ordered = sorted(value, key=lambda ref: (ref.type, ref.key))[:MAX_LINKS]
        return [
            {"key": ref.key, "url": ref.url, "type": ref.type, LINK_SOURCE_ID: ref.source} for ref in ordered
        ] or None
