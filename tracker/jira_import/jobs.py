"""The RQ job of the jira_import queue. It carries the import's id only; the token stays in the database."""

from __future__ import annotations

import logging

from tracker.jira_import import runs, schedules, services, sync_runs, update_service
from tracker.models import JiraImport, JiraSyncRun
from tracker.queues import FinalFailure, on_final_failure

logger = logging.getLogger("tracker.jira_import")


def run_jira_import(import_id: int) -> str:
    """Run (or resume, after a killed worker) the import; returns its final status."""
    jira_import = JiraImport.objects.select_related("project", "requested_by").filter(pk=import_id).first()
    if jira_import is None:
        logger.warning("Jira import %s no longer exists; nothing to do.", import_id)
        return "missing"
    return str(services.run_import(jira_import).status)


@on_final_failure
def job_failed(failure: FinalFailure) -> None:
    """RQ's failure callback, also called for a job whose worker died (AbandonedJobError).

    A job with retries left runs again and resumes the import; once none are left, the import ends
    failed (its partial tracker removed, its token erased, its requester told).
    """
    if failure.abandoned:
        runs.fail_abandoned(failure.object_id)
    else:
        name = failure.error_name or "an error"
        runs.fail_abandoned(
            failure.object_id, f"The import's job failed ({name}); the details are in the worker's log."
        )


def run_jira_update(run_id: int) -> str:
    """Run (or resume, after a killed worker) an update from Jira; returns its final status."""
    sync_run = (
        JiraSyncRun.objects.select_related("jira_import", "jira_import__project", "requested_by")
        .filter(pk=run_id)
        .first()
    )
    if sync_run is None:
        logger.warning("Update %s from Jira no longer exists; nothing to do.", run_id)
        return "missing"
    return str(update_service.run_update(sync_run).status)


@on_final_failure
def update_job_failed(failure: FinalFailure) -> None:
    """RQ's failure callback of an update job: once no retry is left, the run ends failed."""
    if failure.abandoned:
        ended = sync_runs.fail_abandoned(failure.object_id, runs.WORKER_DIED.replace("import", "update"))
    else:
        name = failure.error_name or "an error"
        ended = sync_runs.fail_abandoned(
            failure.object_id, f"The update's job failed ({name}); the details are in the worker's log."
        )
    if ended is not None:
        schedules.record_outcome(ended)
