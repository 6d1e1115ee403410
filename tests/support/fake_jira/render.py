"""Turn the fake's model into Jira's JSON, per flavour (Cloud / Server) and API version (2 / 3).

The differences that matter to an importer are reproduced on purpose:

* users: Cloud has ``accountId`` only (no ``name``/``key``); Server has
  ``name`` + ``key`` (and the key is what changelog items reference);
  users who hide their email have no ``emailAddress`` key at all;
* rich text: v2 returns wiki markup strings, v3 (Cloud) returns Atlassian
  Document Format; ``renderedFields`` is HTML in both;
* empty multi-value *custom* fields are ``null`` while empty system list fields
  (labels, components, fixVersions) are ``[]``;
* embedded changelogs: Server embeds every history; Cloud embeds only the most
  recent ``changelog_embed_limit`` (40) with ``total`` telling the truth;
* changelog items carry ``fieldId`` on Cloud only.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from .catalog import FieldDef, IssueType, Option, Status, create_screen, edit_screen
from .model import (
    LINK_CHANGE,
    LIST_KINDS,
    Attachment,
    Change,
    Comment,
    FakeJiraData,
    History,
    Issue,
    Project,
    Sprint,
    User,
    Worklog,
)

ALL_EXPANDS = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


@functools.lru_cache(maxsize=65536)
def jira_timestamp(moment: datetime) -> str:
    """Jira's timestamp format: milliseconds and a colon-less offset (``2024-01-02T09:00:00.000+0000``)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def rendered_date(moment: datetime) -> str:
    """What ``renderedFields`` shows for dates: the user-facing format, not ISO."""
    return moment.astimezone(UTC).strftime("%d/%b/%y %-I:%M %p")


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def human_size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.0f} kB"


# --------------------------------------------------------------------------- wiki markup


_INLINE = (
    (re.compile(r"\{\{(.+?)\}\}"), r"<tt>\1</tt>"),
    (re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w_])_(\S(?:.*?\S)?)_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"\[([^|\]]+)\|([^\]]+)\]"), r'<a href="\2" class="external-link" rel="nofollow">\1</a>'),
)


def wiki_to_html(text: str | None) -> str | None:
    """A small subset of Jira's wiki renderer: headings, lists, code, tables, inline marks.

    Like Jira, it escapes HTML present in the source text.
    """
    if text is None:
        return None
    out: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    paragraph: list[str] = []

    def inline(raw: str) -> str:
        escaped = html.escape(raw, quote=False)
        for pattern, repl in _INLINE:
            escaped = pattern.sub(repl, escaped)
        return escaped

    def flush() -> None:
        if paragraph:
            out.append("<p>" + "<br/>\n".join(inline(p) for p in paragraph) + "</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        heading = re.match(r"h([1-6])\.\s+(.*)", line)
        if line.startswith("{code"):
            flush()
            lang = line[6:-1] if line.startswith("{code:") else "java"
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("{code}"):
                body.append(lines[i])
                i += 1
            code = "\n".join(body)
            out.append(
                '<div class="code panel"><div class="codeContent panelContent">\n'
                f'<pre class="code-{html.escape(lang)}">{html.escape(code, quote=False)}</pre>\n'
                "</div></div>"
            )
        elif heading:
            flush()
            level, title = heading.groups()
            out.append(f"<h{level}>{inline(title)}</h{level}>")
        elif re.match(r"[*#] ", line):
            flush()
            tag = "ul" if line[0] == "*" else "ol"
            items = []
            while i < len(lines) and re.match(r"[*#] ", lines[i]) and lines[i][0] == line[0]:
                items.append(f"\t<li>{inline(lines[i][2:])}</li>")
                i += 1
            out.append(f"<{tag}>\n" + "\n".join(items) + f"\n</{tag}>")
            continue
        elif line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                row = lines[i]
                if row.startswith("||"):
                    cells = [c for c in row.strip("|").split("||")]
                    rows.append(
                        "<tr>"
                        + "".join(f"<th class='confluenceTh'>{inline(c)}</th>" for c in cells)
                        + "</tr>"
                    )
                else:
                    cells = row.strip("|").split("|")
                    rows.append(
                        "<tr>"
                        + "".join(f"<td class='confluenceTd'>{inline(c)}</td>" for c in cells)
                        + "</tr>"
                    )
                i += 1
            out.append("<table class='confluenceTable'><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")
            continue
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
        i += 1
    flush()
    return "\n".join(out)


def wiki_to_adf(text: str | None) -> dict[str, Any] | None:
    """Atlassian Document Format, which API v3 returns instead of wiki markup.

    Marks are not parsed: text nodes keep the characters; structure (headings,
    lists, code blocks, paragraphs with hard breaks) is preserved.
    """
    if text is None:
        return None
    content: list[dict[str, Any]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    paragraph: list[str] = []

    def text_node(value: str) -> dict[str, Any]:
        return {"type": "text", "text": value}

    def flush() -> None:
        if paragraph:
            nodes: list[dict[str, Any]] = []
            for n, line in enumerate(paragraph):
                if n:
                    nodes.append({"type": "hardBreak"})
                nodes.append(text_node(line))
            content.append({"type": "paragraph", "content": nodes})
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"h([1-6])\.\s+(.*)", line)
        if line.startswith("{code"):
            flush()
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("{code}"):
                body.append(lines[i])
                i += 1
            content.append({"type": "codeBlock", "attrs": {}, "content": [text_node("\n".join(body))]})
        elif heading:
            flush()
            content.append(
                {
                    "type": "heading",
                    "attrs": {"level": int(heading.group(1))},
                    "content": [text_node(heading.group(2))],
                }
            )
        elif re.match(r"[*#] ", line):
            flush()
            kind = "bulletList" if line[0] == "*" else "orderedList"
            items = []
            while i < len(lines) and re.match(r"[*#] ", lines[i]) and lines[i][0] == line[0]:
                items.append(
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [text_node(lines[i][2:])]}],
                    }
                )
                i += 1
            content.append({"type": kind, "content": items})
            continue
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
        i += 1
    flush()
    return {"type": "doc", "version": 1, "content": content}


# --------------------------------------------------------------------------- field selection


@dataclass(frozen=True)
class FieldSelection:
    """Jira's ``fields`` parameter: ``*all``, ``*navigable``, ids, and ``-id`` exclusions."""

    include_all: bool
    ids: frozenset[str]
    excluded: frozenset[str]

    @classmethod
    def parse(cls, raw: Iterable[str] | str | None, default: str = "*all") -> FieldSelection:
        if raw is None:
            tokens = [default]
        elif isinstance(raw, str):
            tokens = [raw]
        else:
            tokens = list(raw) or [default]
        parts = [p.strip() for token in tokens for p in str(token).split(",") if p.strip()]
        include_all = any(p in ("*all", "*navigable") for p in parts)
        ids = frozenset(p for p in parts if not p.startswith(("*", "-")))
        excluded = frozenset(p[1:] for p in parts if p.startswith("-"))
        return cls(include_all, ids, excluded)

    def wants(self, field_id: str) -> bool:
        if field_id in self.excluded:
            return False
        return self.include_all or field_id in self.ids

    @property
    def only_ids_and_keys(self) -> bool:
        return not self.include_all and self.ids <= {"id", "key"}


# --------------------------------------------------------------------------- the renderer


class Renderer:
    """Renders for one request: flavour, API version and base URL are fixed per instance."""

    def __init__(
        self,
        data: FakeJiraData,
        *,
        cloud: bool,
        base_url: str,
        api_version: str,
        changelog_embed_limit: int | None,
        changelog_field_ids: bool,
        comment_embed_limit: int | None = None,
    ) -> None:
        self.data = data
        self.cat = data.catalog
        self.cloud = cloud
        self.base = base_url
        self.v = api_version
        self.adf = api_version == "3"
        self.changelog_embed_limit = changelog_embed_limit
        self.changelog_field_ids = changelog_field_ids
        # Search answers may carry only the first comments, ``total`` telling how many there are.
        self.comment_embed_limit = comment_embed_limit
        # Users appear dozens of times per issue; callers must not mutate these dicts.
        self._users: dict[str, dict[str, Any]] = {}

    def api(self, path: str) -> str:
        return f"{self.base}/rest/api/{self.v}/{path}"

    # ---- small objects

    def user(self, handle: str | None) -> dict[str, Any] | None:
        if handle is None:
            return None
        cached = self._users.get(handle)
        if cached is None:
            cached = self._users[handle] = self.user_obj(self.data.users[handle])
        return cached

    def user_obj(self, u: User) -> dict[str, Any]:
        if self.cloud:
            out: dict[str, Any] = {
                "self": self.api(f"user?accountId={u.account_id}"),
                "accountId": u.account_id,
            }
            avatar = f"https://secure.gravatar.com/avatar/{u.account_id}?d=https%3A%2F%2Favatar-management"
        else:
            out = {"self": self.api(f"user?username={quote(u.handle)}"), "name": u.handle, "key": u.key}
            avatar = f"{self.base}/secure/useravatar?ownerId={quote(u.key)}&avatarId=10122"
        if u.email is not None:
            out["emailAddress"] = u.email
        out["avatarUrls"] = {
            size: f"{avatar}&size={size[:2]}" for size in ("48x48", "24x24", "16x16", "32x32")
        }
        out["displayName"] = u.display_name
        out["active"] = u.active
        out["timeZone"] = u.time_zone
        if self.cloud:
            out["accountType"] = "atlassian"
        return out

    def status(self, name_or_status: str | Status) -> dict[str, Any]:
        s = name_or_status if isinstance(name_or_status, Status) else self.cat.status(name_or_status)
        return {
            "self": self.api(f"status/{s.id}"),
            "description": s.description,
            "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "name": s.name,
            "id": s.id,
            "statusCategory": {
                "self": self.api(f"statuscategory/{s.category.id}"),
                "id": s.category.id,
                "key": s.category.key,
                "colorName": s.category.color_name,
                "name": s.category.name,
            },
        }

    def priority(self, name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        p = self.cat.priority(name)
        return {
            "self": self.api(f"priority/{p.id}"),
            "iconUrl": f"{self.base}/images/icons/priorities/{p.name.lower()}.svg",
            "name": p.name,
            "id": p.id,
        }

    def resolution(self, name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        r = self.cat.resolution(name)
        return {
            "self": self.api(f"resolution/{r.id}"),
            "id": r.id,
            "description": r.description,
            "name": r.name,
        }

    def issue_type(self, name_or_type: str | IssueType) -> dict[str, Any]:
        t = name_or_type if isinstance(name_or_type, IssueType) else self.cat.issue_type(name_or_type)
        out: dict[str, Any] = {
            "self": self.api(f"issuetype/{t.id}"),
            "id": t.id,
            "description": t.description,
            "iconUrl": f"{self.base}/secure/viewavatar?size=medium&avatarId={10300 + int(t.id) % 100}",
            "name": t.name,
            "subtask": t.subtask,
            "avatarId": 10300 + int(t.id) % 100,
        }
        if self.cloud:
            out["hierarchyLevel"] = t.hierarchy_level
        return out

    def project_ref(self, p: Project) -> dict[str, Any]:
        out: dict[str, Any] = {
            "self": self.api(f"project/{p.id}"),
            "id": p.id,
            "key": p.key,
            "name": p.name,
            "projectTypeKey": p.project_type_key,
            "avatarUrls": {
                s: f"{self.base}/secure/projectavatar?size={s}&pid={p.id}" for s in ("48x48", "24x24")
            },
        }
        if self.cloud:
            out["simplified"] = False
        return out

    def project(
        self, p: Project, *, full: bool = True, expand: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight"}
        out.update(self.project_ref(p))
        if full or "description" in expand:
            out["description"] = p.description
        if full or "lead" in expand:
            out["lead"] = self.user(p.lead)
        if full:
            out["components"] = [self.component(c) for c in p.components]
        if full or "issueTypes" in expand:
            out["issueTypes"] = [self.issue_type(n) for n in p.issue_types]
        if full:
            out["assigneeType"] = "UNASSIGNED"
            out["versions"] = [self.version(v) for v in p.versions]
            out["roles"] = {"Developers": self.api(f"project/{p.id}/role/10001")}
        if full or "projectKeys" in expand:
            out["projectKeys"] = [p.key]
        if self.cloud:
            out["style"] = "classic"
            out["isPrivate"] = False
        return out

    def component(self, c: Any) -> dict[str, Any]:
        return {
            "self": self.api(f"component/{c.id}"),
            "id": c.id,
            "name": c.name,
            "description": c.description,
        }

    def version(self, v: Any) -> dict[str, Any]:
        out = {
            "self": self.api(f"version/{v.id}"),
            "id": v.id,
            "description": v.description,
            "name": v.name,
            "archived": v.archived,
            "released": v.released,
        }
        if v.release_date:
            out["releaseDate"] = v.release_date
        return out

    def option(self, o: Option, *, with_children: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"self": self.api(f"customFieldOption/{o.id}"), "value": o.value, "id": o.id}
        if self.cloud:
            out["disabled"] = False
        if with_children and o.children:
            out["children"] = [self.option(c) for c in o.children]
        return out

    def rich(self, wiki: str | None) -> Any:
        return wiki_to_adf(wiki) if self.adf else wiki

    # ---- field values

    def field_value(self, f: FieldDef, value: Any, issue: Issue) -> Any:
        project = self.data.projects[issue.project_key]
        kind = f.kind
        if kind in LIST_KINDS and not value:
            # Jira quirk: empty custom multi-value fields are null, empty system list fields are [].
            return None if f.custom else []
        if value is None:
            return None
        if kind == "string":
            return value
        if kind == "text":
            return self.rich(value)
        if kind == "number":
            return float(value)
        if kind == "date":
            return value
        if kind == "datetime":
            return jira_timestamp(value)
        if kind == "option":
            return self.option(f.option_by_value(value))
        if kind == "options":
            return [self.option(f.option_by_value(v)) for v in value]
        if kind == "user":
            return self.user(value)
        if kind == "users":
            return [self.user(v) for v in value]
        if kind in ("labels", "strings"):
            return list(value)
        if kind == "version":
            return self.version(project.version(value))
        if kind == "versions":
            return [self.version(project.version(v)) for v in value]
        if kind == "components":
            return [self.component(project.component(v)) for v in value]
        if kind == "status":
            return self.status(value)
        if kind == "priority":
            return self.priority(value)
        if kind == "resolution":
            return self.resolution(value)
        if kind == "issuetype":
            return self.issue_type(value)
        if kind == "epiclink":
            return value
        if kind == "sprints":
            return [self.sprint_value(self.data.sprints[v]) for v in value]
        if kind == "cascading":
            parent = f.option_by_value(value[0])
            out = self.option(parent)
            if value[1] is not None:
                child = next(c for c in parent.children if c.value == value[1])
                out["child"] = self.option(child)
            return out
        if kind == "attachments":
            return [self.attachment(a) for a in issue.attachments if a.id in value]
        raise ValueError(f"cannot render {f.id} ({kind})")

    def sprint(self, sprint: Sprint) -> dict[str, Any]:
        """A sprint as the agile API and Cloud's sprint field give it."""
        out: dict[str, Any] = {
            "id": sprint.id,
            "self": f"{self.base}/rest/agile/1.0/sprint/{sprint.id}",
            "state": sprint.state,
            "name": sprint.name,
        }
        for key, moment in (
            ("startDate", sprint.start),
            ("endDate", sprint.end),
            ("completeDate", sprint.complete),
        ):
            if moment is not None:
                out[key] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        out["originBoardId"] = sprint.board_id
        out["goal"] = sprint.goal
        return out

    def sprint_value(self, sprint: Sprint) -> Any:
        """Cloud: an object with boardId; Server: the sprint's Java toString() (goals may hold commas)."""
        if self.cloud:
            out = self.sprint(sprint)
            out["boardId"] = out.pop("originBoardId")
            del out["self"]
            return out

        def stamp(moment: datetime | None) -> str:
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z") if moment else "<null>"

        return (
            f"com.atlassian.greenhopper.service.sprint.Sprint@{sprint.id * 7919:x}[id={sprint.id},"
            f"rapidViewId={sprint.board_id},state={sprint.state.upper()},name={sprint.name},"
            f"startDate={stamp(sprint.start)},endDate={stamp(sprint.end)},completeDate={stamp(sprint.complete)},"
            f"sequence={sprint.id},goal={sprint.goal or '<null>'}]"
        )

    def worklog(self, w: Worklog, issue: Issue) -> dict[str, Any]:
        hours, rest = divmod(w.seconds, 3600)
        spent = " ".join(
            part for part in (f"{hours}h" if hours else "", f"{rest // 60}m" if rest else "") if part
        )
        return {
            "self": self.api(f"issue/{issue.id}/worklog/{w.id}"),
            "author": self.user(w.author),
            "updateAuthor": self.user(w.author),
            "comment": self.rich(w.comment) if w.comment else ("" if not self.adf else None),
            "created": jira_timestamp(w.created),
            "updated": jira_timestamp(w.created),
            "started": jira_timestamp(w.started),
            "timeSpent": spent or "0m",
            "timeSpentSeconds": w.seconds,
            "id": str(w.id),
            "issueId": str(issue.id),
        }

    def worklog_page(self, issue: Issue, worklogs: list[Worklog], start: int, size: int) -> dict[str, Any]:
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(issue.worklogs),
            "worklogs": [self.worklog(w, issue) for w in worklogs],
        }

    def issue_ref(self, key: str) -> dict[str, Any]:
        """The compact issue form used in links, sub-tasks and parent."""
        other = self.data.get_issue(key)
        if other is None:
            raise KeyError(key)
        cur = other.current
        return {
            "id": str(other.id),
            "key": other.key,
            "self": self.api(f"issue/{other.id}"),
            "fields": {
                "summary": cur["summary"],
                "status": self.status(cur["status"]),
                "priority": self.priority(cur["priority"]),
                "issuetype": self.issue_type(cur["issuetype"]),
            },
        }

    def link(self, issue: Issue, link: Any) -> dict[str, Any]:
        t = self.cat.link_type(link.type)
        side = "outwardIssue" if link.direction == "outward" else "inwardIssue"
        return {
            "id": str(link.id),
            "self": self.api(f"issueLink/{link.id}"),
            "type": {
                "id": t.id,
                "name": t.name,
                "inward": t.inward,
                "outward": t.outward,
                "self": self.api(f"issueLinkType/{t.id}"),
            },
            side: self.issue_ref(link.other_key),
        }

    def attachment(self, a: Attachment) -> dict[str, Any]:
        out: dict[str, Any] = {
            "self": self.api(f"attachment/{a.id}"),
            "id": str(a.id),
            "filename": a.filename,
            "author": self.user(a.author),
            "created": jira_timestamp(a.created),
            "size": a.size,
            "mimeType": a.mime_type,
            "content": self.attachment_content_url(a),
        }
        if a.mime_type.startswith("image/"):
            out["thumbnail"] = f"{self.base}/secure/thumbnail/{a.id}/_thumb_{a.id}.png"
        return out

    def attachment_content_url(self, a: Attachment) -> str:
        # Cloud advertises an API URL that answers with a redirect to the media
        # service; Server serves the bytes straight from /secure/attachment.
        if self.cloud:
            return self.api(f"attachment/content/{a.id}")
        return f"{self.base}/secure/attachment/{a.id}/{quote(a.filename)}"

    def comment(self, c: Comment, issue: Issue, *, rendered_body: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "self": self.api(f"issue/{issue.id}/comment/{c.id}"),
            "id": str(c.id),
            "author": self.user(c.author),
            "body": wiki_to_adf(c.body) if c.adf_only else self.rich(c.body),
        }
        if rendered_body:
            out["renderedBody"] = "" if c.adf_only else self.comment_html(c)
        out.update(
            updateAuthor=self.user(c.update_author),
            created=jira_timestamp(c.created),
            updated=jira_timestamp(c.updated),
        )
        if self.cloud:
            out["jsdPublic"] = True
        return out

    def comment_html(self, c: Comment) -> str:
        return c.rendered_html if c.rendered_html is not None else (wiki_to_html(c.body) or "")

    def comment_page(
        self,
        issue: Issue,
        comments: list[Comment],
        start_at: int,
        max_results: int,
        total: int,
        *,
        rendered: bool,
    ) -> dict[str, Any]:
        return {
            "comments": [self.comment(c, issue, rendered_body=rendered) for c in comments],
            "self": self.api(f"issue/{issue.id}/comment"),
            "maxResults": max_results,
            "total": total,
            "startAt": start_at,
        }

    # ---- changelog

    def history(self, h: History, issue: Issue) -> dict[str, Any]:
        items = [item for change in h.changes for item in self.change_items(change, issue)]
        return {
            "id": str(h.id),
            "author": self.user(h.author),
            "created": jira_timestamp(h.created),
            "items": items,
        }

    def change_items(self, change: Change, issue: Issue) -> list[dict[str, Any]]:
        if change.field.startswith(LINK_CHANGE):
            # Jira logs a link on both issues: "This issue blocks DEMO-2" / "is blocked by DEMO-3".
            name, direction, target = change.new
            t = self.cat.link_type(name)
            words = t.outward if direction == "outward" else t.inward
            item: dict[str, Any] = {"field": "Link", "fieldtype": "jira"}
            if self.changelog_field_ids:
                item["fieldId"] = "issuelinks"
            item.update(
                {"from": None, "fromString": None, "to": target, "toString": f"This issue {words} {target}"}
            )
            return [item]
        f = self.cat.field(change.field)
        project = self.data.projects[issue.project_key]
        kind = f.kind
        if kind == "epiclink" and self.cloud:
            # Cloud replaced the epic link by the parent: its changelog names the parent association.
            old = self.data.get_issue(change.old) if change.old else None
            new = self.data.get_issue(change.new) if change.new else None
            return [
                {
                    "field": "IssueParentAssociation",
                    "fieldtype": "jira",
                    "fieldId": "IssueParentAssociation",
                    "from": str(old.id) if old else None,
                    "fromString": old.key if old else None,
                    "to": str(new.id) if new else None,
                    "toString": new.key if new else None,
                }
            ]

        def item(frm: Any, frm_s: Any, to: Any, to_s: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"field": f.history_name, "fieldtype": "custom" if f.custom else "jira"}
            if self.changelog_field_ids:
                out["fieldId"] = f.id
            out.update({"from": frm, "fromString": frm_s, "to": to, "toString": to_s})
            return out

        if kind in ("versions", "components", "attachments"):
            # One item per value added or removed, referencing the value's id.
            def ident(value: Any) -> tuple[str, str]:
                if kind == "versions":
                    v = project.version(value)
                    return v.id, v.name
                if kind == "components":
                    c = project.component(value)
                    return c.id, c.name
                a = next(a for a in issue.attachments if a.id == value)
                return str(a.id), a.filename

            old, new = list(change.old or []), list(change.new or [])
            items = [item(*ident(v), None, None) for v in old if v not in new]
            items += [item(None, None, *ident(v)) for v in new if v not in old]
            return items
        if kind in ("labels", "strings"):
            # Labels are logged as one space-separated string before/after.
            return [item(None, " ".join(change.old) or None, None, " ".join(change.new) or None)]
        ref, text = self._history_value(f, change.old, project), self._history_value(f, change.new, project)
        return [item(ref[0], ref[1], text[0], text[1])]

    def _history_value(self, f: FieldDef, value: Any, project: Project) -> tuple[Any, Any]:
        """(``from``/``to`` id, ``fromString``/``toString`` text) for one side of a change."""
        if value is None or (f.kind in LIST_KINDS and not value):
            return None, None
        kind = f.kind
        if kind in ("string", "text"):
            return None, value
        if kind == "number":
            return None, _format_number(value)
        if kind == "date":
            return value, f"{value} 00:00:00.0"
        if kind == "datetime":
            return value.strftime("%Y-%m-%d %H:%M:%S.0"), rendered_date(value)
        if kind in ("user", "users"):
            handles = [value] if kind == "user" else value
            users = [self.data.users[h] for h in handles]
            # Server references users by *key* (JIRAUSER10101), not by username.
            ids = [u.account_id if self.cloud else u.key for u in users]
            return ", ".join(ids), ", ".join(u.display_name for u in users)
        if kind in ("option", "options"):
            values = [value] if kind == "option" else value
            options = [f.option_by_value(v) for v in values]
            return ", ".join(o.id for o in options), ", ".join(o.value for o in options)
        if kind == "version":
            v = project.version(value)
            return v.id, v.name
        if kind in ("status", "priority", "resolution", "issuetype"):
            obj = getattr(self.cat, kind if kind != "issuetype" else "issue_type")(value)
            return obj.id, obj.name
        if kind == "epiclink":
            target = self.data.get_issue(value)
            return (str(target.id) if target else None), value
        if kind == "sprints":
            sprints = [self.data.sprints[v] for v in value]
            return ", ".join(str(s.id) for s in sprints), ", ".join(s.name for s in sprints)
        if kind == "cascading":
            parent = f.option_by_value(value[0])
            text = f"Parent values: {parent.value}({parent.id})"
            if value[1] is not None:
                child = next(c for c in parent.children if c.value == value[1])
                text += f"Level 1 values: {child.value}({child.id})"
            return parent.id, text
        raise ValueError(f"no changelog format for {f.id} ({kind})")

    def changelog_embedded(self, issue: Issue) -> dict[str, Any]:
        histories = issue.histories
        total = len(histories)
        limit = self.changelog_embed_limit
        if limit is not None and total > limit:
            # Jira Cloud quirk: only the most recent histories are embedded;
            # the importer must page /issue/{key}/changelog for the rest.
            histories = histories[-limit:]
        return {
            "startAt": 0,
            "maxResults": len(histories),
            "total": total,
            "histories": [self.history(h, issue) for h in histories],
        }

    # ---- the issue

    def issue(
        self, issue: Issue, selection: FieldSelection, expand: frozenset[str], *, embed_comments: bool = True
    ) -> dict[str, Any]:
        cur = issue.current
        project = self.data.projects[issue.project_key]
        fields: dict[str, Any] = {}
        included: list[FieldDef] = []
        for f in self.cat.fields:
            if not selection.wants(f.id):
                continue
            fid = f.id
            if fid == "customfield_10024" and self.cloud:
                continue  # Cloud has no epic link field any more: the epic is the parent
            if fid == "parent":
                parent = issue.parent_key or (cur.get("customfield_10024") if self.cloud else None)
                if parent is None:
                    continue
                fields[fid] = self.issue_ref(parent)
            elif fid == "worklog":
                fields[fid] = self.worklog_page(issue, issue.worklogs[:20], 0, 20)
            elif fid == "project":
                fields[fid] = self.project_ref(project)
            elif fid == "created":
                fields[fid] = jira_timestamp(issue.created)
            elif fid == "updated":
                fields[fid] = jira_timestamp(issue.updated)
            elif fid == "resolutiondate":
                rd = issue.resolutiondate
                fields[fid] = jira_timestamp(rd) if rd else None
            elif fid == "creator":
                fields[fid] = self.user(issue.creator)
            elif fid == "comment":
                comments = issue.comments if embed_comments else []
                shown = comments[: self.comment_embed_limit] if self.comment_embed_limit else comments
                fields[fid] = self.comment_page(issue, shown, 0, len(shown), len(comments), rendered=False)
            elif fid == "issuelinks":
                fields[fid] = [self.link(issue, link) for link in issue.links]
            elif fid == "subtasks":
                fields[fid] = [self.issue_ref(k) for k in issue.subtask_keys]
            else:
                fields[fid] = self.field_value(f, cur.get(fid), issue)
            included.append(f)
        if self.cloud and selection.wants("statuscategorychangedate"):
            fields["statuscategorychangedate"] = jira_timestamp(issue.status_category_changed)
        out: dict[str, Any] = {
            "expand": ALL_EXPANDS,
            "id": str(issue.id),
            "self": self.api(f"issue/{issue.id}"),
            "key": issue.key,
        }
        if "renderedFields" in expand:
            out["renderedFields"] = self.rendered_fields(issue, included)
        if "names" in expand:
            out["names"] = {f.id: f.name for f in included}
        if "schema" in expand:
            out["schema"] = {f.id: f.schema for f in included if f.schema}
        out["fields"] = fields
        if "editmeta" in expand:
            itype = self.cat.issue_type(cur["issuetype"])
            out["editmeta"] = {
                "fields": dict(self.field_metas(project, itype, edit_screen(itype), key_name=None))
            }
        if "changelog" in expand:
            out["changelog"] = self.changelog_embedded(issue)
        return out

    def rendered_fields(self, issue: Issue, included: list[FieldDef]) -> dict[str, Any]:
        cur = issue.current
        out: dict[str, Any] = {}
        for f in included:
            fid = f.id
            if fid in issue.rendered_overrides:
                out[fid] = issue.rendered_overrides[fid]
            elif f.kind == "text":
                out[fid] = wiki_to_html(cur.get(fid))
            elif fid in ("created", "updated"):
                out[fid] = rendered_date(issue.created if fid == "created" else issue.updated)
            elif fid == "resolutiondate":
                rd = issue.resolutiondate
                out[fid] = rendered_date(rd) if rd else None
            elif f.kind == "date":
                value = cur.get(fid)
                out[fid] = datetime.fromisoformat(value).strftime("%d/%b/%y") if value else None
            elif fid == "comment":
                n = len(issue.comments)
                page = {
                    "comments": [
                        {**self.comment(c, issue), "body": self.comment_html(c)} for c in issue.comments
                    ],
                    "maxResults": n,
                    "total": n,
                    "startAt": 0,
                }
                for rendered, c in zip(page["comments"], issue.comments, strict=True):
                    rendered["created"] = rendered_date(c.created)
                    rendered["updated"] = rendered_date(c.updated)
                out[fid] = page
            elif fid == "attachment":
                out[fid] = [
                    {**self.attachment(a), "created": rendered_date(a.created), "size": human_size(a.size)}
                    for a in issue.attachments
                ]
            else:
                out[fid] = None
        return out

    # ---- create metadata

    def create_fields(
        self, project: Project, itype: IssueType, *, key_name: str | None
    ) -> list[dict[str, Any]]:
        """Fields of the create screen; ``key_name`` is "key" (Cloud), "fieldId" (Server 9) or None."""
        return [
            meta
            for _, meta in self.field_metas(
                project, itype, create_screen(itype, cloud=self.cloud), key_name=key_name
            )
        ]

    def field_metas(
        self, project: Project, itype: IssueType, screen: tuple[str, ...], *, key_name: str | None
    ) -> list[tuple[str, dict[str, Any]]]:
        """(id, metadata) of a screen's fields, as create and edit metadata describe them."""
        out = []
        for fid in screen:
            if fid == "customfield_10024" and self.cloud:
                continue
            f = self.cat.field(fid)
            meta: dict[str, Any] = {
                "required": fid in ("summary", "issuetype", "project", "reporter", "parent")
            }
            if f.schema:
                meta["schema"] = f.schema
            meta["name"] = f.name
            if key_name:
                meta[key_name] = fid
            auto = self._autocomplete(f)
            if auto:
                meta["autoCompleteUrl"] = auto
            meta["hasDefaultValue"] = fid in ("priority", "reporter", "issuetype")
            meta["operations"] = list(f.operations)
            allowed = self._allowed_values(f, project, itype)
            if allowed is not None:
                meta["allowedValues"] = allowed
            if fid == "priority":
                meta["defaultValue"] = self.priority("Medium")
            out.append((fid, meta))
        return out

    def _autocomplete(self, f: FieldDef) -> str | None:
        if f.kind in ("user", "users"):
            return self.api("user/search?query=") if self.cloud else self.api("user/search?username=")
        if f.kind in ("labels", "strings"):
            return f"{self.base}/rest/api/1.0/labels/suggest?query="
        if f.id == "issuelinks":
            return self.api("issue/picker?currentProjectId=&showSubTaskParent=true&showSubTasks=true&query=")
        return None

    def _allowed_values(self, f: FieldDef, project: Project, itype: IssueType) -> list[dict[str, Any]] | None:
        if f.id == "issuetype":
            return [self.issue_type(itype)]
        if f.id == "project":
            return [self.project_ref(project)]
        if f.kind == "priority":
            return [self.priority(p.name) for p in self.cat.priorities]  # type: ignore[misc]
        if f.kind == "components":
            return [self.component(c) for c in project.components]
        if f.kind in ("version", "versions"):
            return [self.version(v) for v in project.versions]
        if f.kind in ("option", "options", "cascading"):
            return [self.option(o, with_children=True) for o in f.options]
        return None

    def field_list_entry(self, f: FieldDef) -> dict[str, Any]:
        out: dict[str, Any] = {"id": f.id}
        if self.cloud:
            out["key"] = f.id
        out.update(
            name=f.name,
            custom=f.custom,
            orderable=f.orderable,
            navigable=f.navigable,
            searchable=True,
            clauseNames=f.clause_names,
        )
        if f.schema:
            out["schema"] = f.schema
        if self.cloud and f.custom:
            out["untranslatedName"] = f.name
        return out
