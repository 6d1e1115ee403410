"""The import in the background: a real worker, a worker killed mid-import, cancelling, stale imports."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from tests.support.jira import BUG, credentials_for, new_import, wait_for
from tests.support.smtp import SMTPServer
from tracker import queues
from tracker.jira_import import services
from tracker.models import Artifact, Attachment, Changeset, JiraImport, Tracker

pytestmark = pytest.mark.slow


def start(jira, project, requester, **kwargs) -> JiraImport:
    return services.start_import(
        project=project,
        requested_by=requester,
        credentials=credentials_for(jira),
        jira_project_key="DEMO",
        issue_type_id=BUG,
        tracker_name=kwargs.get("name", "Jira bugs"),
        tracker_shortname=kwargs.get("shortname", "jbug"),
    )


@pytest.fixture
def smtp() -> SMTPServer:
    server = SMTPServer()
    try:
        yield server
    finally:
        server.stop()


def test_a_real_worker_imports_and_emails_the_requester(
    jira, public_project, alice, bob, redis_clean, worker_env, start_worker, smtp
) -> None:
    jira_import = start(jira, public_project, alice)
    assert jira_import.status == "pending" and jira_import.job_id

    output = start_worker({**worker_env, **smtp.env()}).wait()

    jira_import.refresh_from_db()
    assert jira_import.status == "done", (jira_import.error, output)
    assert jira_import.counts["issues"] == 7 and jira_import.progress_done == jira_import.progress_total == 7
    assert jira_import.token_encrypted == ""
    bug = Artifact.objects.get(
        tracker=jira_import.tracker, jira_issue_id=str(jira.data.get_issue("DEMO-3").id)
    )
    assert bug.changesets.count() == 1 + 55 + 2
    assert jira_import.flavor == jira.flavor
    # The requester's email went through the real mail server, and no one else got any.
    assert [r.rcpt_tos for r in smtp.received] == [["alice@example.com"]]
    assert "Jira import done" in smtp.received[0].message["Subject"]
    assert f"https://tuleap.example.com/trackers/{jira_import.tracker_id}/" in smtp.received[0].part(
        "text/plain"
    )


def test_a_worker_killed_mid_import_is_resumed_without_duplicates(
    cloud, public_project, alice, redis_clean, worker_env, start_worker, smtp
) -> None:
    # Small, slow pages: the kill lands between two of them.
    env = {**worker_env, **smtp.env(), "JIRA_IMPORT_PAGE_SIZE": "2"}
    cloud.delay(r"/search/jql$", 1.0)
    jira_import = start(cloud, public_project, alice)

    first = start_worker(env, burst=False)
    wait_for(lambda: JiraImport.objects.get(pk=jira_import.pk).progress_done >= 2, timeout=90)
    first.kill()  # SIGKILL to the worker and its work horse: no cleanup of any kind runs

    jira_import.refresh_from_db()
    partial = Artifact.objects.filter(tracker=jira_import.tracker).count()
    assert jira_import.status == "running" and 2 <= partial < 7

    # The job runs again (as RQ does for an abandoned job with retries left).
    django_rq.get_queue("jira_import").enqueue(queues.JIRA_IMPORT_JOB.function, jira_import.pk)
    cloud.clear_faults()
    output = start_worker(env).wait()

    jira_import.refresh_from_db()
    assert jira_import.status == "done", (jira_import.error, output)
    artifacts = Artifact.objects.filter(tracker=jira_import.tracker)
    assert artifacts.count() == 7
    assert max(Counter(artifacts.values_list("jira_issue_id", flat=True)).values()) == 1
    bug = artifacts.get(jira_issue_id=str(cloud.data.get_issue("DEMO-3").id))
    assert bug.changesets.count() == 1 + 55 + 2  # not one changeset twice
    assert Changeset.objects.filter(artifact__tracker=jira_import.tracker).count() == 81
    assert jira_import.counts["issues"] == 7
    assert len(smtp.received) == 1


def test_a_pending_import_can_be_cancelled(
    cloud, public_project, alice, redis_clean, worker_env, start_worker
) -> None:
    jira_import = start(cloud, public_project, alice)

    services.cancel_import(jira_import, by=alice)

    assert jira_import.status == "cancelled" and jira_import.token_encrypted == ""
    # The names are free again, and a worker finds nothing to do.
    start_worker(worker_env).wait()
    assert not Tracker.objects.filter(name="Jira bugs").exists()
    assert start(cloud, public_project, alice).status == "pending"


def test_a_running_import_can_be_cancelled_and_leaves_nothing(
    cloud, public_project, alice, mailoutbox, settings
) -> None:
    settings.JIRA_IMPORT_PAGE_SIZE = 2
    jira_import = new_import(cloud, public_project, alice)
    seen: list[int] = []

    def alice_clicks_cancel_after_the_first_page(done: int, total: int) -> None:
        seen.append(Artifact.objects.count())
        if done:
            services.cancel_import(JiraImport.objects.get(pk=jira_import.pk), by=alice)

    services.run_import(jira_import, progress=alice_clicks_cancel_after_the_first_page)

    jira_import.refresh_from_db()
    assert seen[-1] == 2  # the first page was written before the cancel
    assert jira_import.status == "cancelled" and jira_import.token_encrypted == ""
    assert not Tracker.objects.filter(name="Jira bugs").exists() and not Artifact.objects.exists()
    assert mailoutbox == []  # she cancelled it herself


def test_only_the_requester_or_an_administrator_may_cancel(cloud, public_project, alice, carol) -> None:
    from django.core.exceptions import PermissionDenied

    jira_import = new_import(cloud, public_project, alice)
    with pytest.raises(PermissionDenied):
        services.cancel_import(jira_import, by=carol)
    jira_import.refresh_from_db()
    assert jira_import.status == "pending"


def test_stale_imports_are_cancelled_with_an_email(
    cloud, public_project, alice, bob, mailoutbox, settings
) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tracker.services.trackers import TrackerSpec, create_tracker

    waiting = new_import(cloud, public_project, alice, name="Waiting", shortname="waiting")
    stuck = new_import(cloud, public_project, alice, name="Stuck", shortname="stuck")
    young = new_import(cloud, public_project, alice, name="Young", shortname="young")
    # The stuck one had started: a partial tracker and a file (its worker died long ago).
    partial = create_tracker(public_project, TrackerSpec(name="Stuck", shortname="stuck"))
    default_storage.save(f"attachments/{partial.pk}/jira/1/log.bin", ContentFile(b"partial"))
    JiraImport.objects.filter(pk=stuck.pk).update(status="running", tracker=partial, run_token="dead-run")
    long_ago = timezone.now() - timedelta(days=1, hours=1)
    JiraImport.objects.filter(pk__in=[waiting.pk, stuck.pk]).update(created_at=long_ago)

    cancelled = services.cancel_stale_imports(timedelta(days=1))

    assert sorted(j.pk for j in cancelled) == sorted([waiting.pk, stuck.pk])
    for jira_import in cancelled:
        assert jira_import.status == "cancelled" and jira_import.token_encrypted == ""
        assert "Cancelled by the system check" in jira_import.error
    assert not Tracker.objects.filter(pk=partial.pk).exists()
    assert not default_storage.exists(f"attachments/{partial.pk}/jira/1/log.bin")
    young.refresh_from_db()
    assert young.status == "pending" and young.token_encrypted
    # Each requester hears why.
    assert sorted(m.subject for m in mailoutbox) == [
        "Jira import cancelled: DEMO (Bug) into Stuck",
        "Jira import cancelled: DEMO (Bug) into Waiting",
    ]
    assert "pending or running for more than 24 hours" in mailoutbox[0].body
    # A run still alive somewhere would stop at its next page without writing more.
    assert JiraImport.objects.get(pk=stuck.pk).run_token == ""


def test_without_redis_no_import_is_started(cloud, public_project, alice, settings) -> None:
    from tests.support.redis_server import free_port

    settings.RQ_QUEUES = {
        **settings.RQ_QUEUES,
        "jira_import": {**settings.RQ_QUEUES["jira_import"], "URL": f"redis://127.0.0.1:{free_port()}/0"},
    }
    available, reason = services.import_available()
    assert not available and "cannot be reached" in reason
    with pytest.raises(services.ImportUnavailable, match="cannot be reached"):
        start(cloud, public_project, alice)
    assert not JiraImport.objects.exists()


def test_the_job_payload_is_the_import_id_only(cloud, public_project, alice, redis_clean) -> None:
    jira_import = start(cloud, public_project, alice)
    job = django_rq.get_queue("jira_import").fetch_job(jira_import.job_id)
    assert job.func_name == queues.JIRA_IMPORT_JOB.function
    assert job.args == (jira_import.pk,) and job.kwargs == {}
    assert Attachment.objects.count() == 0
