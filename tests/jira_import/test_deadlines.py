"""Every request to Jira has a wall-clock deadline, connect to last byte, and a cancel cuts one short.

The fake Jira "trickles" here: it sends its answer one byte at a time, each well within any socket
timeout, so only a deadline on the whole request can end it (requests' own timeout never fires).
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.support.jira import credentials_for, new_import, wait_for
from tracker.jira_import import services
from tracker.models import Artifact, JiraImport, Tracker

pytestmark = pytest.mark.slow


def test_a_lookup_says_jira_did_not_answer_within_the_deadline_and_frees_the_worker(
    cloud, public_project, alice, live_server, settings
) -> None:
    settings.JIRA_REQUEST_TIMEOUT = 3
    settings.ALLOWED_HOSTS = ["*"]
    cloud.trickle(r"/project/search$", seconds_per_byte=1.0)
    token = Token.objects.create(user=alice).key
    credentials = credentials_for(cloud)
    answer: dict[str, object] = {}

    def look_up() -> None:
        started = time.monotonic()
        response = requests.post(
            f"{live_server.url}/api/jira/projects/",
            json={"url": credentials.url, "username": credentials.username, "token": credentials.token},
            headers={"Authorization": f"Token {token}"},
            timeout=60,
        )
        answer.update(status=response.status_code, body=response.json(), took=time.monotonic() - started)

    thread = threading.Thread(target=look_up)
    thread.start()
    wait_for(lambda: cloud.requests_to(r"/project/search$"), timeout=10)
    # Meanwhile the site answers other requests at once, and so does the Jira site itself.
    started = time.monotonic()
    other = requests.get(f"{live_server.url}/api/projects/", headers={"Authorization": f"Token {token}"})
    assert other.status_code == 200 and time.monotonic() - started < 1.5
    assert requests.get(f"{cloud.url}/rest/api/2/serverInfo", timeout=5).status_code == 200
    thread.join(timeout=30)

    # It should answer with the deadline's message, within the deadline and 2 seconds.
    assert answer["status"] == 400, answer
    assert "did not answer in 3 s" in answer["body"]["url"][0]
    assert answer["took"] < 3 + 2


def test_an_import_fetching_a_trickling_page_fails_at_the_deadline(
    cloud, public_project, alice, mailoutbox, settings
) -> None:
    jira_import = new_import(cloud, public_project, alice)
    settings.JIRA_REQUEST_TIMEOUT = 2
    settings.JIRA_MAX_RETRIES = 0
    cloud.trickle(r"/search/jql$", seconds_per_byte=0.5)
    started = time.monotonic()
    jira_import = services.run_import(jira_import)
    assert time.monotonic() - started < 2 + 3
    assert jira_import.status == "failed"
    assert "did not answer in 2 s when reading which fields the issues of DEMO carry" in jira_import.error
    assert not Tracker.objects.filter(project=public_project).exists()


def test_an_import_can_be_cancelled_in_the_middle_of_a_trickling_download(
    cloud, public_project, alice, redis_clean, worker_env, start_worker, settings
) -> None:
    # A deadline far away: only the cancel can end the download.
    env = {**worker_env, "JIRA_REQUEST_TIMEOUT": "600"}
    cloud.trickle(r"/(secure/attachment|fake-media)/", seconds_per_byte=0.5)
    jira_import = services.start_import(
        project=public_project,
        requested_by=alice,
        credentials=credentials_for(cloud),
        jira_project_key="DEMO",
        issue_type_id="10003",  # stories: DEMO-2 has attachments
        tracker_name="Jira stories",
        tracker_shortname="jstory",
    )
    worker = start_worker(env, burst=False)
    wait_for(lambda: cloud.requests_to(r"/(secure/attachment|fake-media)/"), timeout=60)
    time.sleep(1.5)  # well into the download, which would take minutes
    cancelled_at = time.monotonic()
    services.cancel_import(JiraImport.objects.get(pk=jira_import.pk), by=alice)

    def gone() -> bool:
        row = JiraImport.objects.get(pk=jira_import.pk)
        return row.status == "cancelled" and not Tracker.objects.filter(project=public_project).exists()

    wait_for(gone, timeout=10)
    assert time.monotonic() - cancelled_at < 10
    assert not Artifact.objects.exists()
    worker.kill()


def test_look_ups_leave_no_watchdog_thread_behind_even_when_they_fail(cloud, settings) -> None:
    from tracker.jira_import import discovery
    from tracker.jira_import.errors import JiraAccessError

    def watchdogs() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "jira-request-watchdog" and t.is_alive())

    before = watchdogs()
    assert discovery.list_projects(credentials_for(cloud))
    cloud.fail_next(r"/serverInfo$", 401)
    try:
        discovery.list_projects(credentials_for(cloud))
    except JiraAccessError as error:
        assert error.status == 401
    else:  # pragma: no cover - the fake answered 401
        raise AssertionError("the look-up should have failed")
    wait_for(lambda: watchdogs() == before, timeout=5)
