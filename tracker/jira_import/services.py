"""The Jira import's service functions: what the wizard, the REST API and ``manage.py import_jira`` call.

Checking and starting an import (:func:`create_import`, :func:`start_import`, with the tracker's names
checked by :func:`validate_names`), cancelling one (:func:`cancel_import`), running one in this process
(:func:`run_import`, the worker's job) and the system check's cleanup (:func:`cancel_stale_imports`).
The job carries the import's id only (its queue and options are in :mod:`tracker.queues`); every
change of an import's row is made by :mod:`tracker.jira_import.runs`, which encrypts the token and
erases it when the import ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
import uuid

import redis
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_slug
from django.utils.text import slugify
from rq.timeouts import JobTimeoutException

from tracker import permissions, queues
from tracker.jira_import import discovery, runs, vault
from tracker.jira_import.client import JiraAccessError, JiraCredentials, connect
from tracker.jira_import.deadline import RequestCancelled
from tracker.jira_import.importer import Importer, Progress
from tracker.jira_import.runs import ImportCancelled, ImportFailed, RunSuperseded
from tracker.jira_import.url_guard import RefusedURL, check_url
from tracker.models import JiraImport, Project, Tracker, User
from tracker.models.trackers import color_validator

logger = logging.getLogger("tracker.jira_import")


class ImportUnavailable(Exception):
    """Imports cannot be started now (Redis, the workers' queue, cannot be reached); the message says so."""


UNAVAILABLE = (
    "Jira imports run in the backend workers, and their queue (Redis) cannot be reached right now; "
    "try again later, or ask an administrator to check Redis."
)


def import_available() -> tuple[bool, str]:
    """Whether an import can be started now, and why not."""
    try:
        queues.jira_import_queue().connection.ping()
    except (redis.RedisError, OSError):
        return False, UNAVAILABLE
    return True, ""


def suggested_names(jira_project_name: str, jira_project_key: str, issue_type_name: str) -> tuple[str, str]:
    """A tracker name and short name for the wizard's form, from the Jira project and issue type."""
    name = f"{jira_project_name or jira_project_key} {issue_type_name}".strip()[:100]
    shortname = slugify(f"{jira_project_key}-{issue_type_name}")[:25].strip("-") or "jira"
    return name, shortname


def validate_names(project: Project, name: str, shortname: str, color: str) -> None:
    """The tracker's names must be valid and free among the trackers and the active imports."""
    errors: dict[str, list[str]] = {}
    name, shortname = (name or "").strip(), (shortname or "").strip()
    if not name:
        errors["tracker_name"] = ["Give the tracker a name."]
    elif len(name) > 100:
        errors["tracker_name"] = ["A tracker name has at most 100 characters."]
    elif (
        Tracker.objects.filter(project=project, name=name).exists()
        or JiraImport.objects.filter(
            project=project, tracker_name=name, status__in=JiraImport.ACTIVE
        ).exists()
    ):
        errors["tracker_name"] = [f"The project already has a tracker (or an import) named {name!r}."]
    try:
        validate_slug(shortname)
        if len(shortname) > 25:
            raise ValidationError("too long")
    except ValidationError:
        errors["tracker_shortname"] = [
            "A short name has 1 to 25 letters, digits, hyphens or underscores (it is used in references)."
        ]
    else:
        taken = Tracker.objects.filter(project=project, shortname=shortname).exists() or (
            JiraImport.objects.filter(
                project=project, tracker_shortname=shortname, status__in=JiraImport.ACTIVE
            ).exists()
        )
        if taken:
            errors["tracker_shortname"] = [f"The short name {shortname!r} is already used in this project."]
    try:
        color_validator(color)
    except ValidationError:
        errors["tracker_color"] = ["Use a color like #1f77b4."]
    if errors:
        raise ValidationError(errors)


def create_import(
    *,
    project: Project,
    requested_by: User | None,
    credentials: JiraCredentials,
    jira_project_key: str,
    issue_type_id: str,
    tracker_name: str,
    tracker_shortname: str,
    tracker_color: str = "#1f77b4",
) -> JiraImport:
    """A pending import, checked against Jira and our names.

    Raises ValidationError (keyed by ``tracker_name``, ``tracker_shortname``, ``tracker_color``),
    RefusedURL, JiraAccessError or PermissionDenied.
    """
    if requested_by is not None and not permissions.can_admin_project(requested_by, project):
        raise PermissionDenied("Only an administrator of the project can import a tracker from Jira.")
    url = check_url(credentials.url)
    credentials = JiraCredentials(url, credentials.username.strip(), credentials.token)
    tracker_name, tracker_shortname = tracker_name.strip(), tracker_shortname.strip()
    validate_names(project, tracker_name, tracker_shortname, tracker_color)
    client = connect(credentials, interactive=True)
    try:
        key = discovery.check_project_key(jira_project_key)
        jira_project = discovery.project(client, key)
        issue_type = discovery.issue_type(client, key, str(issue_type_id))
    finally:
        client.close()
    return runs.create(
        project=project,
        requested_by=requested_by,
        credentials=credentials,
        flavor=client.flavor,
        jira_project_key=key,
        jira_project_name=str(jira_project.get("name") or key),
        issue_type_id=issue_type.id,
        issue_type_name=issue_type.name,
        tracker_name=tracker_name,
        tracker_shortname=tracker_shortname,
        tracker_color=tracker_color,
    )


def start_import(
    *,
    project: Project,
    requested_by: User | None,
    credentials: JiraCredentials,
    jira_project_key: str,
    issue_type_id: str,
    tracker_name: str,
    tracker_shortname: str,
    tracker_color: str = "#1f77b4",
) -> JiraImport:
    """Create the import and hand it to the jira_import workers (ImportUnavailable when Redis is down)."""
    available, reason = import_available()
    if not available:
        raise ImportUnavailable(reason)
    jira_import = create_import(
        project=project,
        requested_by=requested_by,
        credentials=credentials,
        jira_project_key=jira_project_key,
        issue_type_id=issue_type_id,
        tracker_name=tracker_name,
        tracker_shortname=tracker_shortname,
        tracker_color=tracker_color,
    )
    job_id = f"jira-import-{jira_import.pk}-{uuid.uuid4().hex[:12]}"
    runs.record_job(jira_import, job_id)
    try:
        queues.enqueue_jira_import(jira_import.pk, job_id=job_id, project_key=jira_import.jira_project_key)
    except (redis.RedisError, OSError):
        # The row was committed before the enqueue (so the worker finds it): take it back.
        runs.withdraw(jira_import)
        raise ImportUnavailable(UNAVAILABLE) from None
    logger.info("Jira import %s enqueued as job %s.", jira_import.pk, job_id)
    return jira_import


def cancel_import(jira_import: JiraImport, *, by: User | None) -> None:
    """Cancel a pending import now; ask a running one to stop (it removes what it wrote)."""
    if not permissions.may_cancel_import(by, jira_import):
        raise PermissionDenied(
            "Only the requester or an administrator of the project can cancel this import."
        )
    if runs.cancel(jira_import):
        _drop_job(jira_import.job_id)


def _drop_job(job_id: str) -> None:
    if not job_id:
        return
    try:
        queues.cancel_jira_job(job_id)
    except Exception as error:  # the job may be gone already; the run checks the status anyway
        logger.info("Jira import job %s could not be cancelled in RQ: %s", job_id, type(error).__name__)


def cancel_stale_imports(max_age: dt.timedelta) -> list[JiraImport]:
    """Cancel imports pending or running for longer than ``max_age``, and email their requesters."""
    cancelled = runs.cancel_stale(max_age)
    for jira_import in cancelled:
        _drop_job(jira_import.job_id)
    return cancelled


def _describe(error: BaseException) -> str:
    """A log-safe account of an unexpected error: types and frames; messages only of our own code.

    The messages of the jira library's and requests' exceptions can hold request headers.
    """
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__
        if module.split(".")[0] in {"jira", "requests", "urllib3", "http"}:
            parts.append(f"{module}.{type(current).__name__} (message withheld)")
        else:
            parts.append(f"{module}.{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    frames = "".join(traceback.format_tb(error.__traceback__))
    return " <- ".join(parts) + "\n" + frames


def run_import(jira_import: JiraImport, *, progress: Progress | None = None) -> JiraImport:
    """Run the import now, in this process (the worker's job and ``manage.py import_jira`` call it).

    Returns the import as it ended (done, failed or cancelled), or as another run left it.
    """
    run = runs.claim(jira_import)
    if run is None:
        return jira_import  # cancelled while pending, or ended already
    logger.info("Jira import %s of %s started.", jira_import.pk, jira_import.jira_project_key)
    outcome, message = JiraImport.Status.DONE, ""
    engine: Importer | None = None
    try:
        if jira_import.cancel_requested:
            raise ImportCancelled
        credentials = JiraCredentials(
            jira_import.jira_url, jira_import.username, vault.decrypt(jira_import.token_encrypted)
        )
        engine = Importer(run, credentials, progress)
        engine.run()
    except RunSuperseded:
        logger.info("Jira import %s: another run has taken over; this one stops.", jira_import.pk)
        jira_import.refresh_from_db()
        return jira_import
    except (ImportCancelled, RequestCancelled):
        outcome = JiraImport.Status.CANCELLED
    except (JiraAccessError, RefusedURL, vault.TokenUnavailable, ImportFailed) as error:
        outcome, message = JiraImport.Status.FAILED, str(error)
    except JobTimeoutException:
        outcome = JiraImport.Status.FAILED
        message = (
            "The import took longer than the backend worker allows for one job; a project this large "
            "can be imported with manage.py import_jira, which has no time limit."
        )
    except Exception as error:
        outcome = JiraImport.Status.FAILED
        message = (
            f"The import stopped on an unexpected error ({type(error).__name__}); the administrators "
            "will find the details in the worker's log."
        )
        logger.error("Jira import %s failed unexpectedly: %s", jira_import.pk, _describe(error))
    finally:
        if engine is not None and engine.client is not None:
            engine.client.close()
    return run.finish(outcome, message)
