"""The RQ job of the jira_import queue. It carries the import's id only; the token stays in the database."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from rq.exceptions import AbandonedJobError
from rq.job import Job

from tracker.jira_import import runs, services
from tracker.models import JiraImport
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
