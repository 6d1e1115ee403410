"""The fake Jira, driven by the real ``jira`` library for both flavours.

If the library can talk to the fake the way it talks to Jira, the importer's
tests that use the fake exercise the same code paths they would in production.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from jira import JIRA, JIRAError

from tests.support.fake_jira import (
    CLOUD_API_TOKEN,
    CLOUD_EMAIL,
    SERVER_PASSWORD,
    SERVER_PAT,
    SERVER_USERNAME,
    FakeJiraData,
    FakeJiraServer,
    wiki_to_html,
)
from tests.support.fake_jira.model import XSS_RENDERED, tiny_png

pytestmark = pytest.mark.timeout(60)

SECRETS = (CLOUD_API_TOKEN, SERVER_PASSWORD, SERVER_PAT)


@pytest.fixture(scope="module")
def data() -> FakeJiraData:
    return FakeJiraData.realistic()


@pytest.fixture(params=["cloud", "server"])
def srv(request: pytest.FixtureRequest, data: FakeJiraData) -> Iterator[FakeJiraServer]:
    with FakeJiraServer(data, request.param) as server:
        yield server


@pytest.fixture
def cloud(data: FakeJiraData) -> Iterator[FakeJiraServer]:
    with FakeJiraServer(data, "cloud") as server:
        yield server


@pytest.fixture
def server(data: FakeJiraData) -> Iterator[FakeJiraServer]:
    with FakeJiraServer(data, "server") as server:
        yield server


def raw(srv: FakeJiraServer, path: str, **params: Any) -> requests.Response:
    """A plain authenticated GET, to look at payloads the library does not expose."""
    session = requests.Session()
    if srv.cloud:
        session.auth = (CLOUD_EMAIL, CLOUD_API_TOKEN)
    else:
        session.headers["Authorization"] = f"Bearer {SERVER_PAT}"
    with session:
        return session.get(srv.url + path, params=params, timeout=10)


def all_histories(srv: FakeJiraServer, jira: JIRA, key: str) -> list[dict[str, Any]]:
    """Every history of an issue, the way an importer must fetch them on each flavour."""
    if not srv.cloud:
        return jira.issue(key, expand="changelog").raw["changelog"]["histories"]
    histories: list[dict[str, Any]] = []
    start = 0
    while True:
        page = jira._get_json(f"issue/{key}/changelog", params={"startAt": start, "maxResults": 20})
        histories += page["values"]
        start += len(page["values"])
        if page["isLast"]:
            return histories


# --------------------------------------------------------------------------- instance & projects


def test_server_info_reports_the_deployment_type(srv: FakeJiraServer) -> None:
    jira = srv.client()
    info = jira.server_info()
    assert info["deploymentType"] == ("Cloud" if srv.cloud else "Server")
    assert info["baseUrl"] == srv.url
    assert jira._is_cloud is srv.cloud
    assert jira._version == ((1001, 0, 0) if srv.cloud else (9, 12, 2))


def test_myself_is_the_api_user(srv: FakeJiraServer) -> None:
    me = srv.client().myself()
    assert me["displayName"] == "Alice Martin"
    assert me["emailAddress"] == "alice@example.com"
    if srv.cloud:
        assert "accountId" in me and "name" not in me
    else:
        assert (me["name"], me["key"]) == ("alice", "alice")


def test_projects_issue_types_and_statuses(srv: FakeJiraServer) -> None:
    jira = srv.client()
    assert [p.key for p in jira.projects()] == ["DEMO", "OPS"]
    demo = jira.project("DEMO")
    assert demo.name == "Demo Project"
    assert [t.name for t in demo.issueTypes] == ["Task", "Bug", "Story", "Epic", "Sub-task"]
    assert [t.subtask for t in demo.issueTypes] == [False, False, False, False, True]
    assert {v.name for v in demo.versions} == {"1.0", "1.1", "2.0"}
    assert {t.name for t in jira.issue_types()} >= {"Bug", "Sub-task"}

    per_type = {t.name: t.statuses for t in jira.issue_types_for_project("DEMO")}
    bug = [(s.name, s.statusCategory.key) for s in per_type["Bug"]]
    assert bug == [
        ("To Do", "new"),
        ("In Progress", "indeterminate"),
        ("In Review", "indeterminate"),
        ("Done", "done"),
        ("Won't Fix", "done"),
    ]


def test_unknown_project_is_a_404_with_jiras_error_body(srv: FakeJiraServer) -> None:
    jira = srv.client()
    with pytest.raises(JIRAError) as err:
        jira.project("NOPE")
    assert err.value.status_code == 404
    assert err.value.text == "No project could be found with key 'NOPE'."
    with pytest.raises(JIRAError) as err:
        jira.issue("DEMO-999")
    assert err.value.status_code == 404


def test_forbidden_project(srv: FakeJiraServer) -> None:
    srv.forbid_project("OPS")
    jira = srv.client()
    assert [p.key for p in jira.projects()] == ["DEMO"]
    for call in (lambda: jira.project("OPS"), lambda: jira.issue("OPS-1")):
        with pytest.raises(JIRAError) as err:
            call()
        assert err.value.status_code == 403
    # Like Jira, JQL on a project you cannot browse says it does not exist.
    with pytest.raises(JIRAError) as err:
        jira.search_issues("project = OPS")
    assert err.value.status_code == 400
    assert "does not exist for the field 'project'" in err.value.text
    srv.allow_project("OPS")
    assert jira.project("OPS").key == "OPS"


def test_fields_endpoint_describes_custom_fields(srv: FakeJiraServer) -> None:
    fields = {f["id"]: f for f in srv.client().fields()}
    assert fields["summary"]["schema"] == {"type": "string", "system": "summary"}
    severity = fields["customfield_10015"]
    assert severity["name"] == "Severity"
    assert severity["custom"] is True
    assert severity["schema"]["custom"] == "com.atlassian.jira.plugin.system.customfieldtypes:select"
    assert "cf[10015]" in severity["clauseNames"]
    assert fields["customfield_10024"]["schema"]["custom"] == "com.pyxis.greenhopper.jira:gh-epic-link"


# --------------------------------------------------------------------------- authentication


def test_bad_credentials_are_rejected_with_401(srv: FakeJiraServer) -> None:
    bad = {"basic_auth": (CLOUD_EMAIL, "wrong")} if srv.cloud else {"token_auth": "wrong"}
    with pytest.raises(JIRAError) as err:
        JIRA(server=srv.url, **bad)  # the constructor's serverInfo call already fails
    assert err.value.status_code == 401
    assert err.value.response.json()["errorMessages"]


def test_missing_credentials(srv: FakeJiraServer) -> None:
    anonymous = JIRA(server=srv.url)  # serverInfo is readable anonymously, like on Jira
    with pytest.raises(JIRAError) as err:
        anonymous.projects()
    assert err.value.status_code == 401


def test_server_accepts_basic_username_password(server: FakeJiraServer) -> None:
    jira = JIRA(server=server.url, basic_auth=(SERVER_USERNAME, SERVER_PASSWORD))
    assert jira.myself()["name"] == "alice"
    assert server.requests[-1].auth_scheme == "basic"
    assert server.requests[-1].principal == SERVER_USERNAME


def test_cloud_refuses_basic_auth_with_a_password(cloud: FakeJiraServer) -> None:
    cloud.credentials.password = "hunter2"
    with pytest.raises(JIRAError) as err:
        JIRA(server=cloud.url, basic_auth=(CLOUD_EMAIL, "hunter2"))
    assert err.value.status_code == 401
    assert "API token" in err.value.text


def test_request_log_shows_the_credential_without_the_secret(srv: FakeJiraServer) -> None:
    jira = srv.client()
    jira.project("DEMO")
    with pytest.raises(JIRAError):
        JIRA(server=srv.url, basic_auth=("mallory@example.com", "guess"))
    logged = srv.requests
    good = [r for r in logged if r.user == "alice"]
    assert good and all(r.auth_scheme == ("basic" if srv.cloud else "bearer") for r in good)
    assert {r.headers["Authorization"] for r in good} == {
        ("Basic" if srv.cloud else "Bearer") + " <redacted>"
    }
    if srv.cloud:
        assert {r.principal for r in good} == {CLOUD_EMAIL}
    assert logged[-1].status == 401 and logged[-1].principal == "mallory@example.com"
    assert not any(secret in repr(logged) for secret in SECRETS)


# --------------------------------------------------------------------------- create metadata


def test_createmeta_old_style_on_cloud(cloud: FakeJiraServer) -> None:
    meta = cloud.client().createmeta(projectKeys="DEMO", expand="projects.issuetypes.fields")
    (project,) = meta["projects"]
    assert project["key"] == "DEMO"
    types = {t["name"]: t for t in project["issuetypes"]}
    assert set(types) == {"Task", "Bug", "Story", "Epic", "Sub-task"}
    bug = types["Bug"]["fields"]
    assert bug["summary"]["required"] is True
    assert bug["summary"]["schema"] == {"type": "string", "system": "summary"}
    assert bug["versions"]["schema"] == {"type": "array", "items": "version", "system": "versions"}
    assert [v["name"] for v in bug["priority"]["allowedValues"]] == [
        "Highest",
        "High",
        "Medium",
        "Low",
        "Lowest",
    ]
    assert [v["value"] for v in bug["customfield_10015"]["allowedValues"]] == [
        "Critical",
        "Major",
        "Minor",
        "Trivial",
    ]
    region = bug["customfield_10025"]
    assert region["schema"]["type"] == "option-with-child"
    assert [c["value"] for c in region["allowedValues"][0]["children"]] == ["France", "Germany", "Kenya"]
    custom_types = {f["schema"].get("custom", "").rsplit(":", 1)[-1] for f in bug.values() if "schema" in f}
    assert custom_types >= {
        "textfield",
        "textarea",
        "float",
        "datepicker",
        "datetime",
        "select",
        "radiobuttons",
        "multiselect",
        "multicheckboxes",
        "userpicker",
        "multiuserpicker",
        "labels",
        "version",
        "multiversion",
        "cascadingselect",
    }
    # Cloud's create screens have no fix versions, epic link or sprint (set after creation).
    assert {"fixVersions", "customfield_10024", "customfield_10026"}.isdisjoint(bug)
    assert "versions" not in types["Task"]["fields"]  # only bugs have "Affects Version/s"
    assert types["Sub-task"]["fields"]["parent"]["required"] is True
    # Without the expand there is no field metadata, and filters apply.
    lean = cloud.client().createmeta(projectKeys="DEMO", issuetypeNames="Bug")
    assert [t["name"] for t in lean["projects"][0]["issuetypes"]] == ["Bug"]
    assert "fields" not in lean["projects"][0]["issuetypes"][0]


def test_createmeta_paged_endpoints_on_server_9(server: FakeJiraServer) -> None:
    jira = server.client()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        types = jira.createmeta_issuetypes("DEMO")
        assert types["isLast"] is True and types["total"] == 5
        bug_id = next(t["id"] for t in types["values"] if t["name"] == "Bug")
        fields = jira.createmeta_fieldtypes("DEMO", bug_id)
    by_id = {f["fieldId"]: f for f in fields["values"]}
    assert by_id["customfield_10011"]["schema"] == {
        "type": "string",
        "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
        "customId": 10011,
    }
    # Like the Server projects recorded live: priority, people, versions, due date and most custom
    # fields are on the edit screen only.
    assert {"priority", "assignee", "reporter", "fixVersions", "duedate", "customfield_10017"}.isdisjoint(
        by_id
    )
    editmeta = jira._get_json("issue/DEMO-3/editmeta")["fields"]
    assert {"priority", "assignee", "reporter", "fixVersions", "duedate", "customfield_10017"} <= set(
        editmeta
    )
    assert [v["name"] for v in by_id["components"]["allowedValues"]] == ["Backend", "Frontend", "API"]

    # Paging: startAt/maxResults/isLast like every paged DC resource.
    seen: list[str] = []
    start = 0
    while True:
        page = jira._get_json(
            f"issue/createmeta/DEMO/issuetypes/{bug_id}", params={"startAt": start, "maxResults": 10}
        )
        seen += [f["fieldId"] for f in page["values"]]
        start += 10
        if page["isLast"]:
            break
    assert seen == list(by_id)
    assert [f.fieldId for f in jira.project_issue_fields("DEMO", bug_id)] == list(by_id)

    # The old endpoint is gone in Jira 9, and the library knows it.
    assert raw(server, "/rest/api/2/issue/createmeta", projectKeys="DEMO").status_code == 404
    with pytest.raises(JIRAError):
        jira.createmeta(projectKeys="DEMO")


def test_createmeta_old_style_on_server_8(data: FakeJiraData) -> None:
    with FakeJiraServer(data, "server", server_version=(8, 20, 10)) as srv:
        jira = srv.client()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            meta = jira.createmeta(projectKeys="DEMO", expand="projects.issuetypes.fields")
        story = next(t for t in meta["projects"][0]["issuetypes"] if t["name"] == "Story")
        assert story["fields"]["customfield_10011"]["schema"]["custom"].endswith(":textarea")
    with FakeJiraServer(data, "server", server_version=(8, 0, 0)) as srv:
        assert raw(srv, "/rest/api/2/issue/createmeta/DEMO/issuetypes").status_code == 404


# --------------------------------------------------------------------------- search


def test_server_search_pages_with_start_at(server: FakeJiraServer, data: FakeJiraData) -> None:
    jira = server.client()
    found = []
    start = 0
    while True:
        page = jira.search_issues("project = DEMO", startAt=start, maxResults=10, expand="changelog")
        found += page
        start += len(page)
        if start >= page.total:
            break
    assert len(found) == page.total == data.issue_count("DEMO") == 25
    assert [i.key for i in found] == [f"DEMO-{n}" for n in range(1, 26)]
    created = [i.fields.created for i in found]
    assert created == sorted(created)
    searches = server.requests_to(r"^/rest/api/2/search$")
    assert [(r.param("startAt"), r.param("maxResults")) for r in searches] == [
        ("0", "10"),
        ("10", "10"),
        ("20", "10"),
    ]
    assert len(found[2].raw["changelog"]["histories"]) == 55  # Server embeds everything

    # maxResults above the instance cap is clamped, and the response says so.
    clamped = jira.search_issues("project = DEMO", maxResults=5000, json_result=True)
    assert clamped["maxResults"] == 1000
    posted = jira.search_issues("project = DEMO ORDER BY key DESC", maxResults=3, use_post=True)
    assert [i.key for i in posted] == ["DEMO-25", "DEMO-24", "DEMO-23"]


def test_cloud_search_pages_with_next_page_token(cloud: FakeJiraServer) -> None:
    jira = cloud.client()
    found = []
    token = None
    while True:
        page = jira.enhanced_search_issues("project = DEMO", nextPageToken=token, maxResults=10)
        found += page
        token = page.nextPageToken
        if token is None:
            break
    assert [i.key for i in found] == [f"DEMO-{n}" for n in range(1, 26)]
    searches = cloud.requests_to(r"^/rest/api/2/search/jql$")
    assert len(searches) == 3
    assert [r.param("nextPageToken") is None for r in searches] == [True, False, False]
    # search_issues() on Cloud is rerouted to /search/jql by the library.
    assert len(jira.search_issues("project = DEMO", maxResults=False)) == 25
    assert jira.approximate_issue_count("project = DEMO") == 25

    last = jira.enhanced_search_issues("project = DEMO", maxResults=100, json_result=True)
    assert last["isLast"] is True and "nextPageToken" not in last


def test_cloud_search_quirks(cloud: FakeJiraServer) -> None:
    # The offset-paged search is gone from Cloud.
    assert raw(cloud, "/rest/api/2/search", jql="project = DEMO").status_code == 410
    # /search/jql returns bare ids unless fields are requested.
    bare = raw(cloud, "/rest/api/3/search/jql", jql="project = DEMO", maxResults=2).json()
    assert [i["fields"] for i in bare["issues"]] == [{}, {}]
    # Unbounded queries and foreign tokens are refused.
    assert raw(cloud, "/rest/api/3/search/jql", jql="ORDER BY created").status_code == 400
    token = raw(cloud, "/rest/api/3/search/jql", jql="project = DEMO", maxResults=2).json()["nextPageToken"]
    reused = raw(cloud, "/rest/api/3/search/jql", jql="project = OPS", nextPageToken=token)
    assert reused.status_code == 400
    # POST works too, with fields as a JSON list.
    jira = cloud.client()
    posted = jira.enhanced_search_issues("key in (DEMO-2, DEMO-3)", fields=["summary"], use_post=True)
    assert [(i.key, i.fields.summary) for i in posted] == [
        ("DEMO-2", "Guest checkout"),
        ("DEMO-3", "Totals wrong when a coupon is applied twice (v53)"),  # renamed by its history
    ]


def test_jql_filters_used_by_an_incremental_import(srv: FakeJiraServer) -> None:
    data = FakeJiraData.realistic()
    srv.data = data
    jira = srv.client()
    everything = jira.search_issues("project = DEMO ORDER BY updated ASC", maxResults=100)
    newest = max(datetime.fromisoformat(i.fields.updated) for i in everything)
    # Jira reads JQL dates in the *user's* time zone (alice: Europe/Paris).
    since = newest.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M")
    assert [i.key for i in jira.search_issues(f'project = DEMO AND updated >= "{since}"')] == [
        everything[-1].key
    ]

    data.edit("DEMO-11").change("bob", status="Done", at=newest + timedelta(hours=1))
    changed = jira.search_issues(f'project = DEMO AND updated > "{since}"')
    assert [i.key for i in changed] == ["DEMO-11"]
    assert changed[0].fields.status.name == "Done" and changed[0].fields.resolution.name == "Done"
    bugs = jira.search_issues("project = DEMO AND issuetype = Bug AND status != Done", maxResults=100)
    assert bugs and all(i.fields.issuetype.name == "Bug" and i.fields.status.name != "Done" for i in bugs)
    with pytest.raises(JIRAError) as err:
        jira.search_issues("project = DEMO OR project = OPS")
    assert err.value.status_code == 400


# --------------------------------------------------------------------------- issue payloads


def test_issue_payload_shape(srv: FakeJiraServer) -> None:
    jira = srv.client()
    story = jira.issue("DEMO-2", expand="renderedFields")
    f = story.fields
    assert (f.issuetype.name, f.status.name, f.status.statusCategory.key) == (
        "Story",
        "In Progress",
        "indeterminate",
    )
    assert f.reporter.displayName == "Alice Martin"
    assert f.customfield_10012 == 5.0
    if srv.cloud:  # Cloud has no epic link field: the epic is the story's parent.
        assert not hasattr(f, "customfield_10024") and f.parent.key == "DEMO-1"
    else:
        assert f.customfield_10024 == "DEMO-1"
    assert [s.key for s in f.subtasks] == ["DEMO-4", "DEMO-5"]
    assert jira.issue("DEMO-4").fields.parent.key == "DEMO-2"
    links = {(link.type.name, "out" if hasattr(link, "outwardIssue") else "in") for link in f.issuelinks}
    assert links == {("Blocks", "in"), ("Relates", "in")}
    assert "<script>alert(1)</script>" in story.raw["renderedFields"]["description"]
    assert story.raw["renderedFields"]["description"] == XSS_RENDERED
    assert "h2. Checkout flow" in f.description

    # The link to another project and the inactive user.
    external = jira.issue("DEMO-7").fields.issuelinks[0]
    assert external.outwardIssue.key == "OPS-1" and external.type.outward == "relates to"
    assert jira.issue("DEMO-10").fields.assignee.active is False

    sink = jira.issue("DEMO-9").raw["fields"]
    assert sink["customfield_10025"]["child"]["value"] == "France"
    assert [o["value"] for o in sink["customfield_10017"]] == ["Linux", "macOS", "Windows"]
    assert sink["customfield_10014"] == "2024-02-21T14:30:00.000+0000"
    # Empty custom multi-value fields are null, empty system lists are [].
    plain = jira.issue("DEMO-12").raw["fields"]
    assert plain["customfield_10018"] is None and plain["fixVersions"] == []

    user = sink["assignee"]
    assert "emailAddress" not in user  # carol hides her email
    if srv.cloud:
        assert "accountId" in user and "name" not in user and "key" not in user
    else:
        assert (user["name"], user["key"]) == ("carol", "JIRAUSER10103")


def test_api_v3_returns_atlassian_document_format(cloud: FakeJiraServer) -> None:
    fields = raw(cloud, "/rest/api/3/issue/DEMO-2").json()["fields"]
    assert fields["description"]["type"] == "doc"
    assert fields["description"]["content"][0] == {
        "type": "heading",
        "attrs": {"level": 2},
        "content": [{"type": "text", "text": "Checkout flow"}],
    }
    assert fields["comment"]["comments"][0]["body"]["type"] == "doc"


def test_wiki_rendering_escapes_html() -> None:
    assert wiki_to_html("a <b>x</b> & *bold*") == "<p>a &lt;b&gt;x&lt;/b&gt; &amp; <b>bold</b></p>"


# --------------------------------------------------------------------------- changelog


def test_cloud_embeds_only_40_histories_and_pages_the_rest(cloud: FakeJiraServer) -> None:
    jira = cloud.client()
    embedded = jira.issue("DEMO-3", expand="changelog").raw["changelog"]
    assert (embedded["total"], embedded["maxResults"], len(embedded["histories"])) == (55, 40, 40)

    full = all_histories(cloud, jira, "DEMO-3")
    assert len(full) == 55
    assert [h["id"] for h in full[-40:]] == [h["id"] for h in embedded["histories"]]  # the most recent 40
    pages = cloud.requests_to(r"/issue/DEMO-3/changelog$")
    assert [r.param("startAt") for r in pages] == ["0", "20", "40"]
    item = full[0]["items"][0]
    assert set(item) == {"field", "fieldtype", "fieldId", "from", "fromString", "to", "toString"}

    searched = jira.enhanced_search_issues("key = DEMO-3", expand="changelog", fields="summary")
    assert (
        searched[0].raw["changelog"]["total"] == 55 and len(searched[0].raw["changelog"]["histories"]) == 40
    )


def test_server_has_no_changelog_endpoint(server: FakeJiraServer) -> None:
    assert raw(server, "/rest/api/2/issue/DEMO-3/changelog").status_code == 404
    history = server.client().issue("DEMO-3", expand="changelog").raw["changelog"]["histories"][0]
    assert "fieldId" not in history["items"][0]  # Server changelog items have no fieldId


def test_changelog_replays_to_the_current_values(srv: FakeJiraServer) -> None:
    jira = srv.client()
    users = {u.account_id if srv.cloud else u.key: u for u in srv.data.users.values()}
    for issue in jira.search_issues("project = DEMO", maxResults=100):
        histories = all_histories(srv, jira, issue.key)
        assert [h["created"] for h in histories] == sorted(h["created"] for h in histories)
        fields = issue.raw["fields"]
        current = {
            "status": fields["status"]["id"],
            "priority": fields["priority"]["id"],
            "assignee": (fields["assignee"] or {}).get("accountId" if srv.cloud else "key"),
            "summary": fields["summary"],
            "labels": " ".join(fields["labels"]) or None,
        }
        for name, now in current.items():
            chain = [i for h in histories for i in h["items"] if i["field"] == name]
            value_key = "toString" if name in ("summary", "labels") else "to"
            for before, after in itertools.pairwise(chain):
                assert after["from" if value_key == "to" else "fromString"] == before[value_key], (
                    issue.key,
                    name,
                )
            if chain:
                assert chain[-1][value_key] == now, (issue.key, name)
        # Multi-value fields log one item per value added/removed: undoing them
        # newest first must always find (or miss) the value being undone.
        fix_versions = {v["id"] for v in fields["fixVersions"]}
        for h in reversed(histories):
            for i in reversed(h["items"]):
                if i["field"] != "Fix Version":
                    continue
                if i["to"]:
                    assert i["to"] in fix_versions, issue.key
                    fix_versions.remove(i["to"])
                else:
                    assert i["from"] not in fix_versions, issue.key
                    fix_versions.add(i["from"])
        for h in histories:
            if h["items"][0]["field"] == "assignee" and h["items"][0]["to"]:
                assert h["items"][0]["to"] in users


# --------------------------------------------------------------------------- comments & attachments


def test_comments_paging_and_rendering(srv: FakeJiraServer) -> None:
    jira = srv.client()
    collected = []
    start = 0
    while True:
        page = jira._get_json("issue/DEMO-2/comment", params={"startAt": start, "maxResults": 3})
        collected += page["comments"]
        start += len(page["comments"])
        if start >= page["total"]:
            break
    assert len(collected) == 7 and len(srv.requests_to(r"/issue/DEMO-2/comment$")) == 3
    carol = collected[2]
    assert carol["author"]["displayName"] == "Carol Diaz" and "emailAddress" not in carol["author"]
    assert collected[1]["updated"] > collected[1]["created"]
    assert collected[1]["updateAuthor"]["displayName"] == "Bob Nguyen"

    rendered = jira.comments("DEMO-2", expand="renderedBody")
    assert "<script>" in rendered[2].renderedBody
    assert rendered[6].renderedBody == "<p>Thanks all &lt;b&gt;not bold&lt;/b&gt; &amp; done.</p>"
    assert jira.comments("DEMO-2", order_by="-created")[0].id == collected[-1]["id"]
    embedded = jira.issue("DEMO-2").raw["fields"]["comment"]
    assert (embedded["total"], embedded["maxResults"], embedded["startAt"]) == (7, 7, 0)


def test_attachments_download_real_bytes(srv: FakeJiraServer) -> None:
    jira = srv.client()
    attachments = jira.issue("DEMO-2").fields.attachment
    assert [a.filename for a in attachments] == ["screenshot.png", "design notes v2.txt", "résumé final.pdf"]
    expected = {a.filename: a.content for a in srv.data.get_issue("DEMO-2").attachments}
    assert expected["screenshot.png"] == tiny_png()
    for attachment in attachments:
        body = attachment.get()
        assert body == expected[attachment.filename]
        assert attachment.size == len(body)
    assert attachments[0].author.displayName == "Alice Martin"
    assert attachments[0].mimeType == "image/png"
    meta = jira.attachment(attachments[1].id)
    assert meta.filename == "design notes v2.txt"
    if srv.cloud:
        # The content URL redirects to the media service.
        assert attachments[0].content.endswith(f"/rest/api/2/attachment/content/{attachments[0].id}")
        assert {r.status for r in srv.requests_to(r"/attachment/content/")} == {303}
        assert len(srv.requests_to(r"^/fake-media/")) == 3
    else:
        assert (
            "/secure/attachment/" in attachments[1].content
            and "design%20notes%20v2.txt" in attachments[1].content
        )


def test_user_lookup(srv: FakeJiraServer) -> None:
    jira = srv.client()
    carol = srv.data.users["carol"]
    user = jira.user(carol.account_id if srv.cloud else carol.handle)
    assert user.displayName == "Carol Diaz"
    assert not hasattr(user, "emailAddress")
    with pytest.raises(JIRAError) as err:
        jira.user("nobody")
    assert err.value.status_code == 404
    found = jira.search_users(query="car") if srv.cloud else jira.search_users(user="car")
    assert [u.displayName for u in found] == ["Carol Diaz"]


# --------------------------------------------------------------------------- failure injection


def test_rate_limit_then_success_is_retried_by_the_library(srv: FakeJiraServer) -> None:
    jira = srv.client()
    jira._session.max_retry_delay = 0.2  # the library waits 2 x Retry-After; keep the suite quick
    srv.fail_next(r"/project/DEMO$", 429, times=2)
    assert jira.project("DEMO").key == "DEMO"
    calls = srv.requests_to(r"/project/DEMO$")
    assert [r.status for r in calls] == [429, 429, 200]


def test_retry_after_is_honoured(cloud: FakeJiraServer) -> None:
    jira = cloud.client()
    cloud.fail_next(r"/search/jql$", 503, headers={"Retry-After": "1"})
    started = time.monotonic()
    assert len(jira.enhanced_search_issues("project = DEMO", maxResults=5)) == 5
    assert time.monotonic() - started >= 1  # 2 x Retry-After x jitter(0.5..1)


def test_server_errors_are_not_retried(srv: FakeJiraServer) -> None:
    jira = srv.client()
    srv.fail_next(r"/issue/DEMO-1$", 500, body={"errorMessages": ["boom"]})
    with pytest.raises(JIRAError) as err:
        jira.issue("DEMO-1")
    assert (err.value.status_code, err.value.text) == (500, "boom")
    assert jira.issue("DEMO-1").key == "DEMO-1"


def test_malformed_json_is_an_error_not_a_hang(srv: FakeJiraServer) -> None:
    jira = srv.client(timeout=5)
    srv.malformed(r"/issue/DEMO-1$")
    started = time.monotonic()
    with pytest.raises(ValueError):
        jira.issue("DEMO-1")
    assert time.monotonic() - started < 2
    assert jira.issue("DEMO-1").key == "DEMO-1"


def test_delay_makes_the_client_time_out(srv: FakeJiraServer) -> None:
    jira = srv.client(timeout=0.3)
    srv.delay(r"/project$", 5)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        jira.projects()
    assert time.monotonic() - started < 2


def test_captcha_lockout_on_server(server: FakeJiraServer) -> None:
    server.captcha_required = True
    with pytest.raises(JIRAError) as err:
        JIRA(server=server.url, basic_auth=(SERVER_USERNAME, SERVER_PASSWORD))
    assert err.value.status_code == 403
    assert "CAPTCHA_CHALLENGE" in err.value.text


def test_shutdown_leaves_no_thread_and_frees_the_port(data: FakeJiraData) -> None:
    before = set(threading.enumerate())
    srv = FakeJiraServer(data, "cloud").start()
    jira = srv.client()  # a keep-alive connection stays open
    jira.projects()
    srv.delay(r"/myself$", 30)
    outcome: list[BaseException] = []

    def call_slow_endpoint() -> None:
        # Plain requests: the jira library would retry a dropped connection for a minute.
        try:
            raw(srv, "/rest/api/2/myself")
        except requests.ConnectionError as exc:  # the connection is cut when the server stops
            outcome.append(exc)

    sleeper = threading.Thread(target=call_slow_endpoint)
    sleeper.start()
    time.sleep(0.2)
    port = int(srv.url.rsplit(":", 1)[1])
    started = time.monotonic()
    srv.stop()
    sleeper.join(5)
    assert time.monotonic() - started < 3
    assert outcome, "the in-flight request should have failed"
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


# --------------------------------------------------------------------------- generated data


def test_generated_dataset_is_lazy_and_consistent() -> None:
    data = FakeJiraData.generated(2000, changelog_per_issue=5, comments_per_issue=3, attachment_bytes=10_240)
    assert data.issue_count("BENCH") == 2000
    for n in (0, 8, 9, 1234, 1999):
        header = next(h for h in data.headers() if h.key == f"BENCH-{n + 1}")
        issue = data.get_issue(header.key)
        assert issue is not None and issue.updated == header.updated
        assert len(issue.histories) == 5 and len(issue.comments) == 3
        assert issue.attachments[0].size == len(issue.attachments[0].content) == 10_240
    assert data.get_issue("BENCH-10").parent_key == "BENCH-9"
    assert data.get_issue("BENCH-9").subtask_keys == ["BENCH-10"]

    with FakeJiraServer(data, "cloud") as srv:
        jira = srv.client()
        token, seen = None, 0
        # No timing here (a loaded machine would fail it): bench.jira_import measures the fake's speed.
        while True:
            page = jira.enhanced_search_issues(
                "project = BENCH",
                nextPageToken=token,
                maxResults=100,
                expand="changelog,renderedFields",
                json_result=True,
            )
            seen += len(page["issues"])
            assert all(len(i["changelog"]["histories"]) == 5 for i in page["issues"])
            token = page.get("nextPageToken")
            if token is None:
                break
        assert seen == 2000
        links = jira.issue("BENCH-4").fields.issuelinks
        assert [(link.type.name, link.outwardIssue.key) for link in links] == [("Relates", "BENCH-3")]
        attachment = jira.issue("BENCH-42").fields.attachment[0]
        assert attachment.get() == data.get_issue("BENCH-42").attachments[0].content


def test_builder_makes_targeted_datasets() -> None:
    data = FakeJiraData()
    data.add_user("alice", "Alice", "alice@example.com")
    data.add_project("TINY", "Tiny", lead="alice", versions=(("1.0", False),))
    issue = data.add_issue(
        "TINY", "Bug", "Broken", reporter="alice", created=datetime(2024, 5, 1, tzinfo=UTC)
    )
    issue.change("alice", {"Severity": "Major", "fixVersions": ["1.0"]})
    issue.change("alice", status="Done").comment("alice", "Fixed.")
    built = data.get_issue("TINY-1")
    assert built is not None
    assert built.current["status"] == "Done" and built.current["resolution"] == "Done"
    assert [len(h.changes) for h in built.histories] == [2, 2]
    with pytest.raises(KeyError):
        data.add_issue("TINY", "Bug", "x", reporter="alice", **{"Severity": "Not an option"})


# --------------------------------------------------------------------------- agile, work logs, edit screens


def test_the_jira_library_reads_the_fakes_boards_sprints_and_work_logs(srv: FakeJiraServer) -> None:
    jira = srv.client()
    boards = jira.boards(projectKeyOrID="DEMO")
    assert [(b.name, b.type) for b in boards] == [("DEMO board", "scrum"), ("DEMO kanban", "kanban")]
    sprints = jira.sprints(boards[0].id)
    assert [(s.name, s.state) for s in sprints] == [
        ("Sprint 1", "closed"),
        ("Sprint 2", "active"),
        ("Sprint 3", "future"),
    ]
    # A kanban board has no sprints: Jira answers 400.
    assert raw(srv, f"/rest/agile/1.0/board/{boards[1].id}/sprint").status_code == 400
    worklogs = jira.worklogs("DEMO-12")
    assert len(worklogs) == 25 and worklogs[0].timeSpentSeconds == 1800
    # The search embeds 20 of them, with the total.
    embedded = jira.issue("DEMO-12", fields="worklog").raw["fields"]["worklog"]
    assert (len(embedded["worklogs"]), embedded["total"]) == (20, 25)


def test_a_late_link_is_in_both_changelogs_and_sprints_in_the_dialects_form(srv: FakeJiraServer) -> None:
    jira = srv.client()
    items = [
        item
        for h in jira.issue("DEMO-15", expand="changelog").raw["changelog"]["histories"]
        for item in h["items"]
    ]
    assert {"field": "Link", "toString": "This issue is blocked by DEMO-12"}.items() <= next(
        i for i in items if i["field"] == "Link"
    ).items()
    value = jira.issue("DEMO-11", fields="customfield_10026").raw["fields"]["customfield_10026"]
    if srv.cloud:
        assert [s["name"] for s in value] == ["Sprint 1", "Sprint 2"] and value[0]["boardId"] == 1
    else:
        assert (
            value[0].startswith("com.atlassian.greenhopper.service.sprint.Sprint@")
            and "name=Sprint 1," in value[0]
        )
