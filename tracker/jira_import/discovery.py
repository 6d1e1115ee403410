"""What a Jira site offers: its projects, a project's issue types, statuses, priorities and fields.

Fields come from create metadata (per issue type) and from ``GET /rest/api/2/field`` (every field of
the site with its name and schema: the names of the fields found in edit metadata and issues).

The wizard calls the ``credentials`` functions (each opens its own connection); the importer calls the
``client`` ones on the connection it already has. Everything raises JiraAccessError or RefusedURL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tracker.jira_import.client import JiraClient, connect
from tracker.jira_import.credentials import JiraCredentials
from tracker.jira_import.errors import JiraAccessError, JiraResponseError, NotFound

PROJECT_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
ISSUE_TYPE_ID = re.compile(r"[0-9]{1,20}")
# Bounds on what we page through: a real site has far fewer projects and fields than this.
MAX_PAGES = 200


@dataclass(frozen=True)
class JiraProjectInfo:
    key: str
    name: str
    id: str


@dataclass(frozen=True)
class JiraIssueTypeInfo:
    id: str
    name: str
    subtask: bool


@dataclass(frozen=True)
class JiraStatusInfo:
    id: str
    name: str
    category: str  # "new", "indeterminate", "done" (or "undefined")


@dataclass(frozen=True)
class JiraFieldInfo:
    """One field of the create screen, as create metadata describes it."""

    id: str
    name: str
    schema: dict[str, Any]
    required: bool = False
    allowed_values: list[dict[str, Any]] = field(default_factory=list)


def check_project_key(key: str) -> str:
    key = (key or "").strip()
    if not PROJECT_KEY.fullmatch(key):
        raise JiraAccessError(
            f"{key!r} is not a Jira project key (such as DEMO or OPS).", field="jira_project_key"
        )
    return key.upper()


def _unexpected(client: JiraClient, what: str) -> JiraResponseError:
    return JiraResponseError(
        f"Jira at {client.base_url} answered in an unexpected shape when {what}; the import cannot go on."
    )


def _not_found(key: str) -> NotFound:
    return NotFound(
        f"No Jira project with the key {key} is visible with these credentials.", field="jira_project_key"
    )


# -- on an open connection ------------------------------------------------------------------------


def projects(client: JiraClient) -> list[JiraProjectInfo]:
    what = "listing the projects"
    found: list[JiraProjectInfo] = []
    try:
        if client.is_cloud:
            # Cloud's /project is deprecated; /project/search pages.
            start = 0
            for _ in range(MAX_PAGES):
                page = client.get_json("project/search", {"startAt": start, "maxResults": 50}, what=what)
                values = page["values"]
                found += [JiraProjectInfo(str(p["key"]), str(p["name"]), str(p["id"])) for p in values]
                start += len(values)
                if page.get("isLast", True) or not values:
                    break
        else:
            found = [
                JiraProjectInfo(str(p["key"]), str(p["name"]), str(p["id"]))
                for p in client.get_json("project", what=what)
            ]
    except (KeyError, TypeError):
        raise _unexpected(client, what) from None
    return sorted(found, key=lambda p: p.key)


def project(client: JiraClient, key: str) -> dict[str, Any]:
    key = check_project_key(key)
    data = client.get_json(f"project/{key}", what=f"reading the project {key}", not_found=_not_found(key))
    if not isinstance(data, dict) or "key" not in data:
        raise _unexpected(client, f"reading the project {key}")
    return data


def issue_types(client: JiraClient, key: str) -> list[JiraIssueTypeInfo]:
    data = project(client, key)
    try:
        # Jira's ids are numbers: one that is not could not be asked for again (nor stored), so it is
        # not offered.
        return [
            JiraIssueTypeInfo(str(t["id"]), str(t["name"]), bool(t.get("subtask", False)))
            for t in data.get("issueTypes") or []
            if ISSUE_TYPE_ID.fullmatch(str(t["id"]))
        ]
    except (KeyError, TypeError):
        raise _unexpected(client, f"reading the issue types of {key}") from None


def issue_type(client: JiraClient, key: str, issue_type_id: str) -> JiraIssueTypeInfo:
    for candidate in issue_types(client, key):
        if candidate.id == str(issue_type_id):
            return candidate
    raise JiraAccessError(
        f"The Jira project {key} has no issue type with id {issue_type_id}.", field="issue_type_id"
    )


def statuses(client: JiraClient, key: str, issue_type_id: str) -> list[JiraStatusInfo]:
    """The statuses of the issue type's workflow in the project, with their category."""
    key = check_project_key(key)
    what = f"reading the statuses of {key}"
    data = client.get_json(f"project/{key}/statuses", what=what, not_found=_not_found(key))
    try:
        for entry in data:
            if str(entry["id"]) == str(issue_type_id):
                return [
                    JiraStatusInfo(
                        str(s["id"]), str(s["name"]), str((s.get("statusCategory") or {}).get("key", ""))
                    )
                    for s in entry.get("statuses") or []
                ]
    except (KeyError, TypeError):
        raise _unexpected(client, what) from None
    return []


def _field(field_id: Any, meta: dict[str, Any]) -> JiraFieldInfo:
    return JiraFieldInfo(
        id=str(field_id),
        name=str(meta.get("name") or field_id),
        schema=dict(meta.get("schema") or {}),
        required=bool(meta.get("required", False)),
        allowed_values=[v for v in meta.get("allowedValues") or [] if isinstance(v, dict)],
    )


def _paged_create_fields(client: JiraClient, key: str, issue_type_id: str) -> list[JiraFieldInfo]:
    # Jira Server 8.4+ and Cloud; Server 9 removed the old form. Cloud pages "fields", Server "values".
    what = f"reading the fields of the issue type {issue_type_id} in {key}"
    found: list[JiraFieldInfo] = []
    start = 0
    for _ in range(MAX_PAGES):
        page = client.get_json(
            f"issue/createmeta/{key}/issuetypes/{issue_type_id}",
            {"startAt": start, "maxResults": 50},
            what=what,
            not_found=NotFound(
                f"The Jira project {key} has no issue type {issue_type_id}, or it cannot be read.",
                field="issue_type_id",
            ),
        )
        values = page.get("values", page.get("fields"))
        if not isinstance(values, list):
            raise _unexpected(client, what)
        found += [_field(meta.get("fieldId") or meta.get("key"), meta) for meta in values]
        start += len(values)
        total = page.get("total")
        last = page.get("isLast")
        if not values or last is True or (last is None and (total is None or start >= int(total))):
            break
    return found


def _old_create_fields(client: JiraClient, key: str, issue_type_id: str) -> list[JiraFieldInfo]:
    what = f"reading the create metadata of {key}"
    data = client.get_json(
        "issue/createmeta",
        {"projectKeys": key, "issuetypeIds": issue_type_id, "expand": "projects.issuetypes.fields"},
        what=what,
    )
    for entry in data.get("projects") or []:
        if str(entry.get("key", "")).upper() != key:
            continue
        for type_entry in entry.get("issuetypes") or []:
            if str(type_entry.get("id")) == str(issue_type_id):
                return [_field(fid, meta) for fid, meta in (type_entry.get("fields") or {}).items()]
    raise JiraAccessError(
        f"Jira gives no create metadata for the issue type {issue_type_id} of {key}: these credentials "
        "need the Create Issues permission in that project to read its fields.",
        field="issue_type_id",
    )


def create_fields(client: JiraClient, key: str, issue_type_id: str) -> list[JiraFieldInfo]:
    """The fields of (project, issue type) from create metadata, in whichever form the site has."""
    key = check_project_key(key)
    if not ISSUE_TYPE_ID.fullmatch(str(issue_type_id)):
        raise JiraAccessError(f"{issue_type_id!r} is not a Jira issue type id.", field="issue_type_id")
    try:
        if client.is_cloud or client.version >= (8, 4, 0):
            try:
                return _paged_create_fields(client, key, issue_type_id)
            except JiraAccessError as error:
                if error.status != 404:
                    raise
            # A site older than it says, or a proxy hiding the paged endpoints: the old form.
        return _old_create_fields(client, key, issue_type_id)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise _unexpected(client, f"reading the fields of {key}") from None


def site_fields(client: JiraClient) -> dict[str, JiraFieldInfo]:
    """Every field of the site by id, named, with its schema (``GET /rest/api/2/field``).

    Documented at developer.atlassian.com, "Get fields": ``id``, ``name``, ``custom``, ``schema``
    (``type``, ``system`` or ``custom``/``customId``); the same on Server and Cloud.
    """
    what = "reading the fields of the site"
    data = client.get_json("field", what=what)
    if not isinstance(data, list):
        raise _unexpected(client, what)
    found = {}
    for entry in data:
        if isinstance(entry, dict) and entry.get("id"):
            found[str(entry["id"])] = _field(entry["id"], entry)
    return found


def priorities(client: JiraClient) -> list[tuple[str, str]]:
    """(id, name) of the site's priorities in Jira's order (highest first)."""
    what = "reading the priorities"
    try:
        data = client.get_json("priority", what=what)
        return [(str(p["id"]), str(p["name"]).strip()[:255]) for p in data if str(p.get("name", "")).strip()]
    except (KeyError, TypeError, AttributeError):
        raise _unexpected(client, what) from None


def statuses_by_type(client: JiraClient, key: str) -> dict[str, list[JiraStatusInfo]]:
    """The statuses of each issue type's workflow in the project, with their category."""
    key = check_project_key(key)
    what = f"reading the statuses of {key}"
    data = client.get_json(f"project/{key}/statuses", what=what, not_found=_not_found(key))
    try:
        return {
            str(entry["id"]): [
                JiraStatusInfo(
                    str(s["id"]), str(s["name"]), str((s.get("statusCategory") or {}).get("key", ""))
                )
                for s in entry.get("statuses") or []
            ]
            for entry in data
        }
    except (KeyError, TypeError, AttributeError):
        raise _unexpected(client, what) from None


def field_info(field_id: Any, meta: dict[str, Any]) -> JiraFieldInfo:
    """A field as create or edit metadata describes it."""
    return _field(field_id, meta)


# -- for the wizard: one connection per call ------------------------------------------------------


def server_flavor(credentials: JiraCredentials) -> str:
    client = connect(credentials, interactive=True)
    try:
        return client.flavor
    finally:
        client.close()


def list_projects(credentials: JiraCredentials) -> list[JiraProjectInfo]:
    client = connect(credentials, interactive=True)
    try:
        return projects(client)
    finally:
        client.close()


def list_issue_types(credentials: JiraCredentials, project_key: str) -> list[JiraIssueTypeInfo]:
    client = connect(credentials, interactive=True)
    try:
        return issue_types(client, project_key)
    finally:
        client.close()


def project_info(credentials: JiraCredentials, project_key: str) -> JiraProjectInfo:
    """The project's key, name and id (to prefill the tracker's name)."""
    client = connect(credentials, interactive=True)
    try:
        data = project(client, project_key)
        return JiraProjectInfo(
            str(data["key"]), str(data.get("name") or data["key"]), str(data.get("id", ""))
        )
    finally:
        client.close()
