"""Every way an import can fail: a clear message, no partial tracker, no files, the token erased."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from tests.support.fake_jira import FakeJiraData, FakeJiraServer
from tests.support.jira import BUG, TASK, credentials_for, new_import, pending_row, token_of
from tracker.jira_import import discovery, services
from tracker.jira_import.errors import JiraAccessError
from tracker.jira_import.url_guard import RefusedURL
from tracker.models import Artifact, Attachment, JiraImport, Tracker

# The search endpoint of either dialect (Cloud's /search/jql, Server's /search), not the issue count.
SEARCH = r"/search(/jql)?$"


def assert_run_fails_cleanly(
    jira_import: JiraImport, message: str, mailoutbox, media: Path, *, key: str = "DEMO"
) -> None:
    """Run the import: it fails with ``message``, leaves nothing behind and tells the requester."""
    services.run_import(jira_import)
    jira_import.refresh_from_db()
    assert jira_import.status == "failed"
    assert message in jira_import.error
    # Nothing partial is left, and the token is gone.
    assert jira_import.tracker is None
    assert not Tracker.objects.filter(name=jira_import.tracker_name).exists()
    assert not Artifact.objects.exists() and not Attachment.objects.exists()
    assert not list((media / "attachments").rglob("*.*")) if (media / "attachments").exists() else True
    assert jira_import.token_encrypted == ""
    # The requester is told, in plain words, with the names involved.
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.subject == f"Jira import failed: {key} (Bug) into Jira bugs"
    for text in (
        message,
        jira_import.jira_url,
        f"Jira project: {key}",
        "Issue type: Bug",
        "Tracker: Jira bugs (jbug)",
    ):
        assert text in email.body


# -- refused before anything is created (the wizard's checks) --------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://jira.example.com", "must start with http:// or https://"),
        ("not a url", "must start with http:// or https://"),
        ("https://", "no host name"),
    ],
)
def test_a_bad_url_is_refused_before_anything_is_created(url, message, public_project, alice) -> None:
    with pytest.raises(RefusedURL, match=message):
        services.create_import(
            project=public_project,
            requested_by=alice,
            credentials=credentials_for_url(url),
            jira_project_key="DEMO",
            issue_type_id=BUG,
            tracker_name="Jira bugs",
            tracker_shortname="jbug",
        )
    assert not JiraImport.objects.exists()


def credentials_for_url(url: str):
    from tracker.jira_import.credentials import JiraCredentials

    return JiraCredentials(url, "alice@example.com", "secret-token-123")


def test_an_internal_host_is_refused_unless_allowed(cloud, public_project, alice, settings) -> None:
    settings.JIRA_ALLOWED_HOSTS = []
    with pytest.raises(RefusedURL, match=r"127\.0\.0\.1 resolves to an internal address"):
        new_import(cloud, public_project, alice)
    assert not cloud.requests  # not even one request reached it
    assert not JiraImport.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token": "wrong-token"}, "refused these credentials (401 Unauthorized)"),
        ({"key": "NOPE"}, "No Jira project with the key NOPE is visible with these credentials."),
    ],
)
def test_wrong_credentials_or_an_unknown_project_are_refused_with_a_clear_message(
    change, message, jira, public_project, alice
) -> None:
    change = dict(change)
    key = change.pop("key", "DEMO")
    with pytest.raises(JiraAccessError, match=message.replace("(", r"\(").replace(")", r"\)")):
        services.create_import(
            project=public_project,
            requested_by=alice,
            credentials=credentials_for(jira, **change),
            jira_project_key=key,
            issue_type_id=BUG,
            tracker_name="Jira bugs",
            tracker_shortname="jbug",
        )
    assert not JiraImport.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token": "ключ-токен"}, "The token has characters Jira credentials cannot contain"),
        ({"username": "алиса@example.com"}, "The user name has characters Jira credentials cannot contain"),
        ({"token": "token\r\nX-Injected: 1"}, "The token contains control characters"),
    ],
)
def test_credentials_that_http_cannot_carry_are_refused_not_crashed_on(change, message, cloud) -> None:
    # requests would raise UnicodeEncodeError building the Authorization header: say so instead.
    with pytest.raises(JiraAccessError, match=message):
        discovery.list_projects(credentials_for(cloud, **change))
    assert not cloud.requests_to(r"/project")


def test_a_forbidden_project_is_refused_with_a_clear_message(public_project, alice) -> None:
    with (
        FakeJiraServer(FakeJiraData.realistic(), "cloud", forbidden_projects=("DEMO",)) as jira,
        pytest.raises(JiraAccessError, match=r"403 Forbidden"),
    ):
        new_import(jira, public_project, alice)


def test_the_tracker_names_must_be_free_among_trackers_and_active_imports(
    cloud, public_project, alice, bugs
) -> None:
    with pytest.raises(ValidationError) as taken:
        new_import(cloud, public_project, alice, name="Bugs", shortname="bug")
    assert set(taken.value.message_dict) == {"tracker_name", "tracker_shortname"}

    new_import(cloud, public_project, alice, name="Jira bugs", shortname="jbug")
    with pytest.raises(ValidationError) as reserved:
        new_import(cloud, public_project, alice, name="Jira bugs", shortname="jbug")
    assert "already" in reserved.value.message_dict["tracker_name"][0]
    assert "already used" in reserved.value.message_dict["tracker_shortname"][0]

    with pytest.raises(ValidationError) as invalid:
        new_import(cloud, public_project, alice, name="", shortname="not a slug!")
    assert set(invalid.value.message_dict) == {"tracker_name", "tracker_shortname"}


def test_only_a_project_administrator_may_import(cloud, public_project, bob) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        new_import(cloud, public_project, bob)


# -- failing while running: the import ends failed, cleanly -----------------------------------------


def test_an_unreachable_host_fails_the_import(public_project, alice, mailoutbox, settings) -> None:
    from tests.support.redis_server import free_port

    settings.JIRA_RETRY_MAX_DELAY = 0
    jira_import = pending_row(
        f"http://127.0.0.1:{free_port()}", public_project, alice, token="some-token-0001"
    )
    assert_run_fails_cleanly(jira_import, "Cannot connect to 127.0.0.1:", mailoutbox, settings.MEDIA_ROOT)


def test_a_host_refused_when_the_import_runs_fails_it(
    cloud, public_project, alice, mailoutbox, settings
) -> None:
    jira_import = new_import(cloud, public_project, alice)
    settings.JIRA_ALLOWED_HOSTS = []  # an administrator withdrew the exception meanwhile
    assert_run_fails_cleanly(jira_import, "resolves to an internal address", mailoutbox, settings.MEDIA_ROOT)


def test_credentials_revoked_before_the_run_fail_it_with_401(
    jira, public_project, alice, mailoutbox, settings
) -> None:
    jira_import = pending_row(
        jira.url, public_project, alice, token="revoked-token", username="alice@example.com"
    )
    assert_run_fails_cleanly(
        jira_import, "refused these credentials (401 Unauthorized)", mailoutbox, settings.MEDIA_ROOT
    )


def test_a_project_gone_before_the_run_fails_it_with_404(
    jira, public_project, alice, mailoutbox, settings
) -> None:
    jira_import = pending_row(jira.url, public_project, alice, token=token_of(jira), key="GONE")
    if jira.cloud:
        JiraImport.objects.filter(pk=jira_import.pk).update(username="alice@example.com")
        jira_import.refresh_from_db()
    assert_run_fails_cleanly(
        jira_import,
        "No Jira project with the key GONE is visible with these credentials.",
        mailoutbox,
        settings.MEDIA_ROOT,
        key="GONE",
    )


def test_a_rate_limit_is_waited_out_then_the_import_succeeds(jira, public_project, alice, mailoutbox) -> None:
    jira_import = new_import(jira, public_project, alice)
    jira.fail_next(SEARCH, 429, times=1, headers={"Retry-After": "1"})

    started = time.monotonic()
    services.run_import(jira_import)
    waited = time.monotonic() - started

    jira_import.refresh_from_db()
    assert jira_import.status == "done", jira_import.error
    assert [r.status for r in jira.requests_to(SEARCH)][:2] == [429, 200]
    assert waited >= 1.0  # Retry-After: 1 was honoured (the library waits 1 to 2 seconds)
    assert jira_import.counts["issues"] == 7


def test_a_retry_after_that_is_no_number_is_waited_by_our_own_schedule(
    jira, public_project, alice, mailoutbox
) -> None:
    jira_import = new_import(jira, public_project, alice)
    # Headers are Latin-1: "²" arrives as it was sent, and str.isdigit() says yes to it.
    jira.fail_next(SEARCH, 429, times=1, headers={"Retry-After": "²"})

    services.run_import(jira_import)

    jira_import.refresh_from_db()
    assert jira_import.status == "done", jira_import.error
    assert [r.status for r in jira.requests_to(SEARCH)][:2] == [429, 200]


def test_a_gateway_error_is_retried(jira, public_project, alice, mailoutbox, settings) -> None:
    settings.JIRA_RETRY_MAX_DELAY = 0
    jira_import = new_import(jira, public_project, alice)
    jira.fail_next(SEARCH, 502, times=2)
    assert services.run_import(jira_import).status == "done"


def test_a_timeout_fails_the_import(jira, public_project, alice, mailoutbox, settings) -> None:
    jira_import = new_import(jira, public_project, alice)
    settings.JIRA_REQUEST_TIMEOUT = 1
    settings.JIRA_MAX_RETRIES = 1
    settings.JIRA_RETRY_MAX_DELAY = 0
    jira.delay(SEARCH, 3)
    assert_run_fails_cleanly(
        jira_import,
        "did not answer in 1 s when reading which fields the issues of DEMO carry",
        mailoutbox,
        settings.MEDIA_ROOT,
    )
    assert len(jira.requests_to(SEARCH)) == 2  # tried again once, then gave up


@pytest.mark.parametrize(
    ("break_jira", "message"),
    [
        pytest.param(lambda jira: jira.forbid_project("DEMO"), "403 Forbidden", id="access-lost-403"),
        pytest.param(
            lambda jira: jira.malformed(SEARCH),
            "sent an answer that is not valid JSON when reading which fields",
            id="malformed-json",
        ),
        pytest.param(
            lambda jira: jira.fail_next(SEARCH, 200, body={"issues": "not a list"}),
            "unexpected shape when reading which fields",
            id="wrong-shape",
        ),
    ],
)
def test_jira_going_wrong_after_the_checks_fails_the_import(
    break_jira, message, jira, public_project, alice, mailoutbox, settings
) -> None:
    jira_import = new_import(jira, public_project, alice)
    break_jira(jira)
    assert_run_fails_cleanly(jira_import, message, mailoutbox, settings.MEDIA_ROOT)


def test_a_failure_after_some_pages_removes_everything_already_written(
    public_project, alice, mailoutbox, settings
) -> None:
    settings.JIRA_IMPORT_PAGE_SIZE = 2
    # Tasks are BENCH-1, 3, 7, 11 and 12: three pages, each issue with a file.
    data = FakeJiraData.generated(12, changelog_per_issue=2, comments_per_issue=1, attachment_bytes=512)
    written: list[int] = []
    with FakeJiraServer(data, "server") as jira:
        jira_import = services.create_import(
            project=public_project,
            requested_by=alice,
            credentials=credentials_for(jira),
            jira_project_key="BENCH",
            issue_type_id=TASK,
            tracker_name="Jira tasks",
            tracker_shortname="jtask",
        )

        # The file of BENCH-11, on the second page, cannot be downloaded.
        jira.fail_next(r"/secure/attachment/\d+/log-11\.bin$", 500, times=100)

        def count_files(done: int, total: int) -> None:
            written.append(Attachment.objects.count())

        services.run_import(jira_import, progress=count_files)
    jira_import.refresh_from_db()
    assert written[-1] == 2  # the first page was in, with its files, when the second one failed
    assert jira_import.status == "failed"
    assert "failed with a server error (500) when downloading log-11.bin of BENCH-11" in jira_import.error
    assert not Tracker.objects.filter(name="Jira tasks").exists() and not Artifact.objects.exists()
    assert not list((Path(settings.MEDIA_ROOT) / "attachments").rglob("*.bin"))


def test_a_search_that_hands_the_same_page_back_fails_the_import(
    cloud, public_project, alice, mailoutbox, settings, monkeypatch
) -> None:
    """A Jira (or a caching proxy) ignoring nextPageToken: the worker read the first page until the job's
    timeout, its progress counting past the issues there are."""
    settings.JIRA_IMPORT_PAGE_SIZE = 2  # DEMO has more issues than that: there is a next page
    monkeypatch.setattr(FakeJiraServer, "_decode_token", lambda self, token, jql: 0)
    assert_run_fails_cleanly(
        new_import(cloud, public_project, alice, BUG),
        "sent the same page of issues twice",
        mailoutbox,
        Path(settings.MEDIA_ROOT),
    )
    # The survey's one page (its pages are larger), then the import's first page and its repetition.
    assert len(cloud.requests_to(SEARCH)) == 3
