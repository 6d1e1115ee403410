"""The Jira import wizard: Jira site and credentials -> Jira project -> issue type and tracker -> start.

Alice administers the public project "demo"; bob is a member of it; dave is a member of nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.urls import reverse

from tests.support.fake_jira import SERVER_PASSWORD, SERVER_USERNAME, FakeJiraData, FakeJiraServer
from tests.support.jira import BUG, STORY, cloud_login, login_for, server_login, token_of
from tests.support.jira_wizard import Wizard, sessions_decoded, wizard_state
from tests.support.redis_server import free_port
from tracker.jira_import import vault
from tracker.models import JiraImport, Project, Tracker, User


@pytest.fixture(params=["cloud", "server"])
def jira(request: pytest.FixtureRequest) -> Iterator[FakeJiraServer]:
    with FakeJiraServer(FakeJiraData.realistic(), flavor=request.param) as srv:
        yield srv


def form_errors(response) -> dict[str | None, list[str]]:
    form = response.context["form"]
    return {key: list(messages) for key, messages in form.errors.items()}


# The happy path ---------------------------------------------------------------------------------------


def test_an_admin_goes_through_the_three_steps_and_the_import_starts(
    wizard: Wizard, jira: FakeJiraServer, alice: User, public_project: Project, redis_clean
) -> None:
    # Step 1: the credentials are checked by listing the projects they see.
    response = wizard.connect(login_for(jira))
    assert response.status_code == 302
    assert response["Location"] == wizard.url("project")

    # Step 2: the projects are offered by name and key.
    page = wizard.get("project").content.decode()
    assert "Demo Project (DEMO)" in page
    assert "Operations (OPS)" in page
    response = wizard.post("project", {"jira_project": "DEMO"})
    assert response["Location"] == wizard.url("issue-type")

    # Step 3: the project's issue types, and names prefilled from Jira for the first standard type.
    page = wizard.get("issue-type")
    html = page.content.decode()
    for name in ("Task", "Bug", "Story", "Epic", "Sub-task"):
        assert f">{name}<" in html or f">{name} <" in html
    assert "Permissions are not imported" in html
    page = wizard.get("issue-type", issue_type=BUG)
    assert page.context["form"].initial["tracker_name"] == "Demo Project Bug"
    assert page.context["form"].initial["tracker_shortname"] == "demo-bug"

    response = wizard.start(BUG, tracker_color="#aa3300")

    # It should create a pending import and show its page.
    jira_import = JiraImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tracker:jira-import-detail", args=[jira_import.pk])
    assert jira_import.status == JiraImport.Status.PENDING
    assert jira_import.project == public_project
    assert jira_import.requested_by == alice
    assert jira_import.jira_url == jira.url
    assert jira_import.flavor == jira.flavor
    assert (jira_import.jira_project_key, jira_import.issue_type_id) == ("DEMO", BUG)
    assert jira_import.issue_type_name == "Bug"
    assert (jira_import.tracker_name, jira_import.tracker_shortname) == ("Demo Project Bug", "demo-bug")
    assert jira_import.tracker_color == "#aa3300"
    assert vault.decrypt(jira_import.token_encrypted) == token_of(jira)
    # ... and forget the wizard's credentials.
    assert wizard_state(wizard.client) == {}
    detail = wizard.client.get(response["Location"]).content.decode()
    assert "Pending" in detail
    assert "The import of DEMO started" in detail


def test_jira_server_with_a_user_name_and_password(
    wizard: Wizard, server: FakeJiraServer, redis_clean
) -> None:
    response = wizard.connect(
        server_login(server, deployment="server_password", username=SERVER_USERNAME, token=SERVER_PASSWORD)
    )
    assert response.status_code == 302
    wizard.choose_project("OPS")
    wizard.start(BUG)
    jira_import = JiraImport.objects.get()
    assert (jira_import.username, jira_import.jira_project_key) == (SERVER_USERNAME, "OPS")
    assert jira_import.tracker_name == "Operations Bug"
    # It should have authenticated with basic auth, never as anonymous.
    assert {r.auth_scheme for r in server.requests} == {"basic"}


def test_a_personal_access_token_goes_as_a_bearer_token_whatever_user_name_was_typed(
    wizard: Wizard, server: FakeJiraServer
) -> None:
    wizard.connect(server_login(server, username="someone"))
    assert wizard_state(wizard.client)["username"] == ""
    assert {r.auth_scheme for r in server.requests} == {"bearer"}


def test_choosing_another_issue_type_suggests_names_for_it(wizard: Wizard, cloud: FakeJiraServer) -> None:
    wizard.connect(cloud_login(cloud))
    wizard.choose_project("DEMO")
    page = wizard.get("issue-type", issue_type=STORY)
    assert page.context["form"].initial == {
        "issue_type_id": STORY,
        "tracker_name": "Demo Project Story",
        "tracker_shortname": "demo-story",
    }
    assert "Import the Story issues" in page.content.decode()
    # An issue type that Jira did not list falls back to the first standard one.
    page = wizard.get("issue-type", issue_type="999")
    assert page.context["chosen_name"] == "Task"


# Step 1 failures: messages on the form, never a 500 ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://jira.example.com", "The Jira URL must start with http:// or https://."),
        ("jira.example.com", "The Jira URL must start with http:// or https://."),
        ("https://", "The Jira URL has no host name."),
        ("http://[::1", "This is not a valid URL."),
        ("https://user:pw@jira.example.com", "Do not put credentials in the URL"),
        ("https://no-such-host.invalid", "cannot be found; check the Jira URL."),
    ],
)
def test_a_bad_url_is_explained_next_to_the_url(
    wizard: Wizard, cloud: FakeJiraServer, url: str, message: str
) -> None:
    response = wizard.connect(cloud_login(cloud, url=url))
    assert response.status_code == 200
    errors = form_errors(response)
    assert any(message in text for text in errors["url"]), errors
    assert wizard_state(wizard.client) == {}


def test_an_internal_host_is_refused_unless_allowed(wizard: Wizard, cloud: FakeJiraServer, settings) -> None:
    settings.JIRA_ALLOWED_HOSTS = []
    response = wizard.connect(cloud_login(cloud))
    errors = form_errors(response)
    assert "127.0.0.1 resolves to an internal address" in errors["url"][0]
    assert "JIRA_ALLOWED_HOSTS" in errors["url"][0]
    # It should not have sent a single request there.
    assert cloud.requests == []


def test_an_unreachable_host_is_explained(wizard: Wizard, cloud: FakeJiraServer) -> None:
    port = free_port()
    response = wizard.connect(cloud_login(cloud, url=f"http://127.0.0.1:{port}"))
    errors = form_errors(response)
    assert f"Cannot connect to 127.0.0.1:{port}" in errors["url"][0]


def test_wrong_credentials_are_explained_next_to_the_token(wizard: Wizard, jira: FakeJiraServer) -> None:
    response = wizard.connect(login_for(jira, token="not-the-token"))
    errors = form_errors(response)
    assert "refused these credentials (401 Unauthorized)" in errors["token"][0]
    assert wizard_state(wizard.client) == {}


def test_a_forbidden_answer_is_explained_on_the_form(wizard: Wizard, cloud: FakeJiraServer) -> None:
    cloud.fail_next(r"/project", 403)
    response = wizard.connect(cloud_login(cloud))
    errors = form_errors(response)
    assert "403 Forbidden" in errors["__all__"][0]
    assert "Browse Projects" in response.content.decode()


def test_a_site_that_is_not_jira_is_explained_next_to_the_url(wizard: Wizard, cloud: FakeJiraServer) -> None:
    cloud.fail_next(r"/serverInfo", 404, body="<html>Not here</html>")
    response = wizard.connect(cloud_login(cloud))
    assert "404 Not Found" in form_errors(response)["url"][0]


def test_credentials_that_see_no_project_cannot_go_on(wizard: Wizard, cloud: FakeJiraServer) -> None:
    cloud.forbid_project("DEMO")
    cloud.forbid_project("OPS")
    response = wizard.connect(cloud_login(cloud))
    assert "These credentials see no Jira project" in form_errors(response)["__all__"][0]


def test_jira_cloud_needs_the_email_address(wizard: Wizard, cloud: FakeJiraServer) -> None:
    response = wizard.connect(cloud_login(cloud, username=""))
    assert form_errors(response) == {"username": ["Give your Atlassian account's email address."]}
    assert cloud.requests == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("token", "ключ-доступа", "Use only Latin-1 characters here"),
        ("username", "алиса@example.com", "Use only Latin-1 characters here"),
        ("token", "two\nlines", "Remove the control characters"),
    ],
)
def test_credentials_that_cannot_travel_in_a_header_are_form_errors(
    wizard: Wizard, cloud: FakeJiraServer, field: str, value: str, message: str
) -> None:
    response = wizard.connect(cloud_login(cloud, **{field: value}))
    assert response.status_code == 200
    assert message in form_errors(response)[field][0]
    assert cloud.requests == []


# Step 2 and 3 failures --------------------------------------------------------------------------------


def test_a_project_that_became_forbidden_is_explained(wizard: Wizard, jira: FakeJiraServer) -> None:
    wizard.connect(login_for(jira))
    jira.forbid_project("DEMO")
    response = wizard.choose_project("DEMO")
    assert response.status_code == 200
    assert "403 Forbidden" in form_errors(response)["__all__"][0]


def test_a_project_that_vanished_is_explained_next_to_the_project(
    wizard: Wizard, jira: FakeJiraServer
) -> None:
    wizard.connect(login_for(jira))
    jira.forbid_project("DEMO", status=404)
    response = wizard.choose_project("DEMO")
    errors = form_errors(response)
    assert errors == {
        "jira_project": ["No Jira project with the key DEMO is visible with these credentials."]
    }


def test_a_project_that_was_not_offered_cannot_be_chosen(wizard: Wizard, cloud: FakeJiraServer) -> None:
    wizard.connect(cloud_login(cloud))
    response = wizard.choose_project("NOPE")
    assert "Select a valid choice" in form_errors(response)["jira_project"][0]


def test_names_already_taken_are_form_errors(
    wizard: Wizard, cloud: FakeJiraServer, bugs: Tracker, redis_clean
) -> None:
    wizard.connect(cloud_login(cloud))
    wizard.choose_project("DEMO")
    response = wizard.start(BUG, tracker_name="Bugs", tracker_shortname="bug")
    assert response.status_code == 200
    errors = form_errors(response)
    assert "already has a tracker" in errors["tracker_name"][0]
    assert "already used in this project" in errors["tracker_shortname"][0]
    assert not JiraImport.objects.exists()
    # The wizard goes on: the credentials are still there for another try.
    assert wizard_state(wizard.client)["jira_project_key"] == "DEMO"


def test_credentials_revoked_before_the_start_are_explained(wizard: Wizard, cloud: FakeJiraServer) -> None:
    wizard.connect(cloud_login(cloud))
    wizard.choose_project("DEMO")
    cloud.credentials.api_token = "a-new-token"
    response = wizard.start(BUG)
    assert response.status_code == 200
    assert "refused these credentials" in form_errors(response)["__all__"][0]
    assert not JiraImport.objects.exists()


def test_a_project_that_vanished_before_the_start_is_explained(wizard: Wizard, jira: FakeJiraServer) -> None:
    wizard.connect(login_for(jira))
    wizard.choose_project("DEMO")
    form = wizard.get("issue-type", issue_type=BUG).context["form"]
    jira.forbid_project("DEMO", status=404)
    response = wizard.post(
        "issue-type",
        {
            "issue_type_id": BUG,
            "tracker_name": form.initial["tracker_name"],
            "tracker_shortname": form.initial["tracker_shortname"],
            "tracker_color": "#1f77b4",
        },
    )
    assert response.status_code == 200
    assert form_errors(response) == {
        "__all__": ["No Jira project with the key DEMO is visible with these credentials."]
    }
    assert not JiraImport.objects.exists()


def test_jira_going_away_between_steps_is_explained(wizard: Wizard, cloud: FakeJiraServer) -> None:
    wizard.connect(cloud_login(cloud))
    cloud.stop()
    response = wizard.choose_project("DEMO")
    assert response.status_code == 200
    assert "Cannot connect to 127.0.0.1" in form_errors(response)["__all__"][0]


def test_later_steps_without_credentials_send_back_to_the_first(wizard: Wizard) -> None:
    for step in ("project", "issue-type"):
        response = wizard.get(step)
        assert response["Location"] == wizard.url("start")
    page = wizard.client.get(wizard.url("start")).content.decode()
    assert "Enter the Jira URL and credentials first." in page


def test_credentials_left_unused_for_an_hour_are_forgotten(wizard: Wizard, cloud: FakeJiraServer) -> None:
    wizard.connect(cloud_login(cloud))
    session = wizard.client.session
    session["jira_import_wizard"]["saved_at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    session.save()
    assert wizard.get("project")["Location"] == wizard.url("start")
    assert wizard_state(wizard.client) == {}


def test_the_wizard_of_one_project_is_not_used_for_another(
    wizard: Wizard, cloud: FakeJiraServer, private_project: Project
) -> None:
    wizard.connect(cloud_login(cloud))
    other = Wizard(wizard.client, private_project)
    assert other.get("project")["Location"] == other.url("start")


# The token stays secret -------------------------------------------------------------------------------


def test_the_token_is_never_in_a_page_nor_in_clear_in_the_session(
    wizard: Wizard, jira: FakeJiraServer, redis_clean
) -> None:
    token = token_of(jira)
    # A failing step 1 shows the form again: the token field comes back empty.
    response = wizard.connect(login_for(jira, username="x", url="ftp://nope"))
    assert 'name="token"' in response.content.decode()
    wizard.connect(login_for(jira))
    stored = wizard_state(wizard.client)["token_encrypted"]
    assert vault.decrypt(stored) == token
    assert all(token not in data for data in sessions_decoded())
    wizard.choose_project("DEMO")
    wizard.post("issue-type", {"issue_type_id": BUG, "tracker_name": "", "tracker_shortname": "x"})
    assert all(token not in data for data in sessions_decoded())
    wizard.start(BUG)

    assert wizard.pages and all(token not in page for page in wizard.pages)
    assert all(stored not in page for page in wizard.pages)
    # Once the import started, the session holds no credentials at all.
    assert all("token_encrypted" not in data for data in sessions_decoded())
    detail = wizard.client.get(reverse("tracker:jira-import-detail", args=[JiraImport.objects.get().pk]))
    assert token not in detail.content.decode()


def test_opening_the_first_step_again_forgets_the_credentials(wizard: Wizard, cloud: FakeJiraServer) -> None:
    wizard.connect(cloud_login(cloud))
    page = wizard.get("start")
    assert wizard_state(wizard.client) == {}
    # The URL and email are offered again, the token is not.
    assert page.context["form"].initial == {
        "url": cloud.url,
        "username": "alice@example.com",
        "deployment": "cloud",
    }


def test_abandoning_the_wizard_forgets_the_credentials(
    wizard: Wizard, cloud: FakeJiraServer, public_project: Project
) -> None:
    wizard.connect(cloud_login(cloud))
    wizard.choose_project("DEMO")
    response = wizard.post("abandon", {})
    assert response["Location"] == reverse("tracker:project-detail", args=[public_project.shortname])
    assert wizard_state(wizard.client) == {}
    assert all("token_encrypted" not in data for data in sessions_decoded())


# Only project administrators --------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["start", "project", "issue-type"])
def test_a_member_who_is_not_admin_is_refused(
    client_as, public_project: Project, bob: User, step: str
) -> None:
    wizard = Wizard(client_as(bob), public_project)
    assert wizard.get(step).status_code == 403
    assert wizard.post(step, {"url": "https://jira.example.com", "token": "x"}).status_code == 403


def test_a_non_member_gets_403_on_a_public_project_and_404_on_a_private_one(
    client_as, public_project: Project, private_project: Project, dave: User
) -> None:
    client = client_as(dave)
    assert Wizard(client, public_project).get("start").status_code == 403
    assert Wizard(client, private_project).get("start").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(client, public_project: Project) -> None:
    response = client.get(reverse("tracker:jira-import-start", args=["demo"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("tracker:login"))


def test_the_tracker_creation_page_links_to_the_wizard(
    client_as, public_project: Project, alice: User
) -> None:
    page = client_as(alice).get(reverse("tracker:tracker-create", args=["demo"])).content.decode()
    assert f'href="{reverse("tracker:jira-import-start", args=["demo"])}"' in page


# Imports unavailable ----------------------------------------------------------------------------------


def test_the_wizard_says_why_imports_are_unavailable_and_offers_no_form(
    wizard: Wizard, cloud: FakeJiraServer, redis_down: str
) -> None:
    page = wizard.get("start").content.decode()
    assert "Backend workers are unavailable" in page
    assert "Redis" in page
    assert 'name="token"' not in page
    # A form posted anyway does not reach Jira.
    response = wizard.post("start", cloud_login(cloud))
    assert response.status_code == 200
    assert cloud.requests == []


def test_a_start_while_redis_is_down_is_refused_with_the_reason(
    wizard: Wizard, cloud: FakeJiraServer, settings
) -> None:
    wizard.connect(cloud_login(cloud))
    wizard.choose_project("DEMO")
    form = wizard.get("issue-type", issue_type=BUG).context["form"]
    url = f"redis://127.0.0.1:{free_port()}/0"
    queue = settings.JIRA_IMPORT_QUEUE
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, queue: {**settings.RQ_QUEUES[queue], "URL": url}}
    response = wizard.post(
        "issue-type",
        {
            "issue_type_id": BUG,
            "tracker_name": form.initial["tracker_name"],
            "tracker_shortname": form.initial["tracker_shortname"],
            "tracker_color": "#1f77b4",
        },
    )
    assert response.status_code == 200
    assert "Backend workers are unavailable" in response.content.decode()
    assert not JiraImport.objects.exists()
