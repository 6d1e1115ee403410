"""The RQ job of the jira_import queue. It carries the import's id only; the token stays in the database."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from rq.exceptions import AbandonedJobError
from rq.job import Job

from tracker.jira_import import runs, schedules, services, sync_runs, update_service
from tracker.models import JiraImport, JiraSyncRun
from tracker.queues import final_failure_id

logger = logging.getLogger("tracker.jira_import")


def run_jira_import(import_id: int) -> str:
    """Run (or resume, after a killed worker) the import; returns its final status."""
    jira_import = JiraImport.objects.select_related("project", "requested_by").filter(pk=import_id).first()
    if jira_import is None:
        logger.warning("Jira import %s no longer exists; nothing to do.", import_id)
        return "missing"
    return str(services.run_import(jira_import).status)


def job_failed(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ's failure callback, also called for a job whose worker died (AbandonedJobError).

    A job with retries left runs again and resumes the import; once none are left, the import ends
    failed (its partial tracker removed, its token erased, its requester told).
    """
    import_id = final_failure_id(job)
    if import_id is None:
        return
    if exc_type is not None and issubclass(exc_type, AbandonedJobError):
        runs.fail_abandoned(import_id)
    else:
        name = exc_type.__name__ if exc_type else "an error"
        runs.fail_abandoned(
            import_id, f"The import's job failed ({name}); the details are in the worker's log."
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


def update_job_failed(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ's failure callback of an update job: once no retry is left, the run ends failed."""
    run_id = final_failure_id(job)
    if run_id is None:
        return
    if exc_type is not None and issubclass(exc_type, AbandonedJobError):
        ended = sync_runs.fail_abandoned(run_id, runs.WORKER_DIED.replace("import", "update"))
    else:
        name = exc_type.__name__ if exc_type else "an error"
        ended = sync_runs.fail_abandoned(
            run_id, f"The update's job failed ({name}); the details are in the worker's log."
        )
    if ended is not None:
        schedules.record_outcome(ended)
