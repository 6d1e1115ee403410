"""An import's page, its JSON status for the poller, cancelling, and the project page's pending imports."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from tests.support.jira import pending_import
from tracker.jira_import import vault
from tracker.models import JiraImport, Project, Tracker, User
from tracker.services.trackers import TrackerSpec, create_tracker


def detail_url(jira_import: JiraImport) -> str:
    return reverse("tracker:jira-import-detail", args=[jira_import.pk])


def status_url(jira_import: JiraImport) -> str:
    return reverse("tracker:jira-import-status", args=[jira_import.pk])


def cancel_url(jira_import: JiraImport) -> str:
    return reverse("tracker:jira-import-cancel", args=[jira_import.pk])


def finished(project: Project, requester: User, **fields: object) -> JiraImport:
    """A done import whose tracker exists, with the engine's counts and reports."""
    tracker = create_tracker(project, TrackerSpec(name="Demo Project Bug", shortname="demo-bug"))
    values: dict[str, object] = {
        "status": JiraImport.Status.DONE,
        "tracker": tracker,
        "token_encrypted": "",
        "progress_done": 25,
        "progress_total": 25,
        "started_at": timezone.now(),
        "ended_at": timezone.now(),
        "counts": {"issues": 25, "changesets": 140, "comments": 31, "attachments": 4, "links": 6},
        "skipped": [
            {"field": "Epic Link", "reason": "unsupported type com.pyxis.greenhopper.jira:gh-epic-link"}
        ],
        "user_report": {
            "matched": [{"jira": "Alice Jira", "user": "alice"}],
            "email_hidden": ["Carol Hidden"],
            "no_account": [{"jira": "Erin Elsewhere", "email": "erin@elsewhere.example"}],
        },
    }
    values.update(fields)
    return pending_import(project, requester, **values)


# The import's page ------------------------------------------------------------------------------------


def test_a_pending_import_shows_its_status_reserved_names_and_a_cancel_button(
    client_as, public_project: Project, alice: User
) -> None:
    jira_import = pending_import(public_project, alice)
    page = client_as(alice).get(detail_url(jira_import)).content.decode()
    assert "Pending" in page
    assert "Waiting for a backend worker" in page
    assert "Counting the issues" in page
    assert "are reserved until the import ends" in page
    assert "Demo Project Bug" in page and "demo-bug" in page
    assert 'id="cancel-import"' in page
    assert "Permissions are not imported" in page
    # The poller is wired to the JSON status, and the page refreshes itself without JavaScript.
    assert f'data-jira-import-status="{status_url(jira_import)}"' in page
    assert 'http-equiv="refresh"' in page
    assert jira_import.token_encrypted not in page


def test_a_running_import_shows_its_progress(client_as, public_project: Project, alice: User) -> None:
    jira_import = pending_import(
        public_project, alice, status=JiraImport.Status.RUNNING, progress_done=12, progress_total=25
    )
    page = client_as(alice).get(detail_url(jira_import)).content.decode()
    assert "Running" in page
    assert 'Imported <span data-field="done">12</span> / <span data-field="total">25</span> issues' in page
    assert '<progress max="25" value="12"' in page


def test_a_done_import_shows_the_tracker_counts_skipped_fields_and_people(
    client_as, public_project: Project, alice: User
) -> None:
    jira_import = finished(public_project, alice)
    page = client_as(alice).get(detail_url(jira_import)).content.decode()
    assert reverse("tracker:tracker-detail", args=[jira_import.tracker_id]) in page
    assert "<dt>Changesets</dt><dd>140</dd>" in page
    assert "<dt>Issues</dt><dd>25</dd>" in page
    assert "Epic Link" in page and "unsupported type" in page
    assert "Alice Jira is <strong>alice</strong>" in page
    assert "Carol Hidden" in page
    assert "Erin Elsewhere (erin@elsewhere.example)" in page
    assert "data-jira-import-status" not in page
    assert 'id="cancel-import"' not in page


def test_readers_see_the_import_but_neither_emails_nor_a_cancel_button(
    client_as, public_project: Project, alice: User, bob: User, dave: User
) -> None:
    done = finished(public_project, alice)
    active = pending_import(public_project, alice, tracker_name="Other", tracker_shortname="other")
    for reader in (bob, dave):
        client = client_as(reader)
        page = client.get(detail_url(done)).content.decode()
        assert "Erin Elsewhere" in page
        assert "erin@elsewhere.example" not in page
        assert 'id="cancel-import"' not in client.get(detail_url(active)).content.decode()


def test_imports_of_a_private_project_do_not_exist_for_outsiders(
    client_as, private_project: Project, alice: User, dave: User
) -> None:
    jira_import = pending_import(private_project, alice)
    client = client_as(dave)
    assert client.get(detail_url(jira_import)).status_code == 404
    assert client.get(status_url(jira_import)).status_code == 404
    assert client.post(cancel_url(jira_import)).status_code == 404
    assert JiraImport.objects.get().status == JiraImport.Status.PENDING


def test_a_failed_import_shows_its_error(client_as, public_project: Project, alice: User) -> None:
    jira_import = pending_import(
        public_project,
        alice,
        status=JiraImport.Status.FAILED,
        token_encrypted="",
        ended_at=timezone.now(),
        error="Jira at jira.example.com refused these credentials (401 Unauthorized).",
    )
    page = client_as(alice).get(detail_url(jira_import)).content.decode()
    assert "The import failed and nothing of it was kept." in page
    assert "refused these credentials (401 Unauthorized)" in page


# The JSON status ---------------------------------------------------------------------------------------


def test_the_status_json_gives_the_poller_status_and_progress(
    client_as, public_project: Project, alice: User, bob: User
) -> None:
    jira_import = pending_import(
        public_project, alice, status=JiraImport.Status.RUNNING, progress_done=7, progress_total=25
    )
    response = client_as(bob).get(status_url(jira_import))
    assert response.status_code == 200
    assert response.json() == {
        "id": jira_import.pk,
        "status": "running",
        "status_label": "Running",
        "active": True,
        "cancel_requested": False,
        "progress_done": 7,
        "progress_total": 25,
        "tracker_url": None,
    }


def test_the_status_json_of_a_done_import_links_its_tracker(
    client_as, public_project: Project, alice: User
) -> None:
    jira_import = finished(public_project, alice)
    data = client_as(alice).get(status_url(jira_import)).json()
    assert data["active"] is False
    assert data["tracker_url"] == reverse("tracker:tracker-detail", args=[jira_import.tracker_id])


# Cancelling ---------------------------------------------------------------------------------------------


def test_an_admin_cancels_a_pending_import_and_its_token_is_erased(
    client_as, public_project: Project, alice: User, redis_clean
) -> None:
    jira_import = pending_import(public_project, alice)
    client = client_as(alice)
    response = client.post(cancel_url(jira_import))
    assert response["Location"] == detail_url(jira_import)
    jira_import.refresh_from_db()
    assert jira_import.status == JiraImport.Status.CANCELLED
    assert jira_import.token_encrypted == ""
    page = client.get(detail_url(jira_import)).content.decode()
    assert "The import is cancelled." in page
    assert "The import was cancelled and nothing of it was kept." in page
    # The names are free again.
    assert "demo-bug" not in client.get(reverse("tracker:project-detail", args=["demo"])).content.decode()


def test_cancelling_a_running_import_asks_it_to_stop(
    client_as, public_project: Project, alice: User, redis_clean
) -> None:
    jira_import = pending_import(public_project, alice, status=JiraImport.Status.RUNNING)
    client = client_as(alice)
    client.post(cancel_url(jira_import))
    jira_import.refresh_from_db()
    assert (jira_import.status, jira_import.cancel_requested) == (JiraImport.Status.RUNNING, True)
    page = client.get(detail_url(jira_import)).content.decode()
    assert "stops after the issues it is writing" in page
    assert "Cancelling…" in page


def test_a_member_who_is_not_admin_cannot_cancel(
    client_as, public_project: Project, alice: User, bob: User
) -> None:
    jira_import = pending_import(public_project, alice)
    assert client_as(bob).post(cancel_url(jira_import)).status_code == 403
    assert JiraImport.objects.get().status == JiraImport.Status.PENDING


def test_an_ended_import_cannot_be_cancelled(client_as, public_project: Project, alice: User) -> None:
    jira_import = finished(public_project, alice)
    client = client_as(alice)
    response = client.post(cancel_url(jira_import), follow=True)
    assert "This import has already ended (done)." in response.content.decode()
    assert JiraImport.objects.get().status == JiraImport.Status.DONE
    assert client.get(cancel_url(jira_import)).status_code == 405


# The project page ------------------------------------------------------------------------------------


def test_the_project_page_lists_active_imports_with_progress_as_reserved_trackers(
    client_as, public_project: Project, alice: User, bob: User, bugs: Tracker
) -> None:
    running = pending_import(
        public_project, alice, status=JiraImport.Status.RUNNING, progress_done=3, progress_total=25
    )
    finished(public_project, alice, tracker_name="Done one", tracker_shortname="done-one")
    page = client_as(bob).get(reverse("tracker:project-detail", args=["demo"])).content.decode()
    assert 'id="pending-imports"' in page
    assert f'id="pending-import-{running.pk}"' in page
    assert "<strong>Demo Project Bug</strong> <code>demo-bug</code>" in page
    assert "Imported <span" in page and ">3</span> / <span" in page
    assert detail_url(running) in page
    assert "are reserved until the import ends" in page
    assert "jira_progress.js" in page
    # Ended imports are not pending: the done one is an ordinary tracker now.
    assert "Done one" not in page


def test_a_recent_failure_is_shown_to_admins_only(
    client_as, public_project: Project, alice: User, bob: User
) -> None:
    failed = pending_import(
        public_project,
        alice,
        status=JiraImport.Status.FAILED,
        token_encrypted="",
        ended_at=timezone.now(),
        error="Cannot connect to jira.example.com when listing the projects.",
    )
    url = reverse("tracker:project-detail", args=["demo"])
    assert "Cannot connect to jira.example.com" in client_as(alice).get(url).content.decode()
    assert f"pending-import-{failed.pk}" not in client_as(bob).get(url).content.decode()


def test_a_project_without_imports_shows_nothing_more(
    client_as, public_project: Project, alice: User
) -> None:
    page = client_as(alice).get(reverse("tracker:project-detail", args=["demo"])).content.decode()
    assert "pending-imports" not in page
    assert "jira_progress.js" not in page


def test_the_token_blob_is_never_shown(client_as, public_project: Project, alice: User) -> None:
    jira_import = pending_import(public_project, alice)
    assert vault.decrypt(jira_import.token_encrypted)
    client = client_as(alice)
    for url in (
        detail_url(jira_import),
        status_url(jira_import),
        reverse("tracker:project-detail", args=["demo"]),
    ):
        body = client.get(url).content.decode()
        assert jira_import.token_encrypted not in body
        assert "fake-cloud-api-token" not in body
