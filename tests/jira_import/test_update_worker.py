"""An update from Jira in a real worker: killed mid-way and retried, it ends as an uninterrupted one."""

from __future__ import annotations

from typing import Any

import django_rq
import pytest

from tests.jira_import.test_update import change_jira, update, whole_import
from tests.support.jira import token_of, wait_for
from tracker import queues
from tracker.jira_import import update_service
from tracker.models import (
    Attachment,
    Changeset,
    ChangesetValue,
    Field,
    FieldOption,
    FieldType,
    JiraImport,
    JiraIssueRecord,
    JiraSyncRun,
    TimeEntry,
)

pytestmark = pytest.mark.slow


def state(jira_import: JiraImport) -> dict[str, Any]:
    """Everything the import's artifacts hold, by Jira key (artifact ids read as keys)."""
    keys = dict(
        JiraIssueRecord.objects.filter(jira_import=jira_import).values_list("artifact_id", "jira_issue_key")
    )

    options = dict(FieldOption.objects.values_list("pk", "label"))
    files = dict(Attachment.objects.values_list("pk", "filename"))

    def named(field_: Field, value: Any) -> Any:
        """A value with what differs between two imports of the same issues (row ids) as names."""
        if isinstance(value, list):
            return [named(field_, v) for v in value]
        if isinstance(value, dict) and "artifact" in value:
            return {**value, "artifact": keys.get(value["artifact"], "sprint")}
        if field_.is_choice_field and isinstance(value, int):
            return options[value]
        if field_.type == FieldType.FILES and isinstance(value, int):
            return files[value]
        return value

    found: dict[str, Any] = {}
    for artifact_id, key in keys.items():
        changesets = Changeset.objects.filter(artifact_id=artifact_id).order_by("submitted_on", "pk")
        found[key] = [
            (
                c.submitted_on,
                c.comment,
                sorted(
                    (v.field.name, repr(named(v.field, v.value)))
                    for v in ChangesetValue.objects.filter(changeset=c).select_related("field")
                ),
            )
            for c in changesets
        ] + sorted(
            (t.started_on, t.seconds, t.comment) for t in TimeEntry.objects.filter(artifact_id=artifact_id)
        )
    return found


def test_a_worker_killed_mid_update_and_retried_leaves_what_an_uninterrupted_update_leaves(
    cloud, public_project, private_project, alice, redis_clean, worker_env, start_worker
) -> None:
    reference = whole_import(cloud, public_project, alice)
    interrupted = whole_import(cloud, private_project, alice)
    change_jira(cloud)
    expected = update(cloud, reference, alice)

    # Small, slow pages: the kill lands between two of them.
    env = {**worker_env, "JIRA_IMPORT_PAGE_SIZE": "2"}
    cloud.delay(r"/search/jql$", 1.0)
    sync_run = update_service.start_update(interrupted, requested_by=alice, token=token_of(cloud))
    first = start_worker(env, burst=False)
    wait_for(lambda: JiraSyncRun.objects.get(pk=sync_run.pk).progress_done >= 2, timeout=90)
    first.kill()  # SIGKILL to the worker and its work horse: no cleanup of any kind runs
    sync_run.refresh_from_db()
    assert sync_run.status == "running" and sync_run.counts  # a page or more is in

    # The job runs again (as RQ does for an abandoned job with retries left).
    django_rq.get_queue("jira_import").enqueue(queues.JIRA_UPDATE_JOB.function, sync_run.pk)
    cloud.clear_faults()
    output = start_worker(env).wait()

    sync_run.refresh_from_db()
    assert sync_run.status == "done", (sync_run.message, output)
    assert sync_run.token_encrypted == ""
    assert sync_run.counts == expected.counts
    assert [(m["key"], m["reason"]) for m in sync_run.missing] == [
        (m["key"], m["reason"]) for m in expected.missing
    ]
    assert state(interrupted) == state(reference)
