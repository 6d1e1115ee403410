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
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_slug
from django.db.models import Q
from django.utils.text import slugify

from tracker import permissions, queues
from tracker.jira_import import discovery, run_loop, runs
from tracker.jira_import.client import connect
from tracker.jira_import.credentials import JiraCredentials
from tracker.jira_import.importer import Importer, Progress
from tracker.jira_import.url_guard import check_url
from tracker.models import JiraImport, JiraImportTracker, Project, Tracker, User
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


PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
MULTI, MONO = JiraImport.Layout.MULTI, JiraImport.Layout.MONO


@dataclass(frozen=True)
class TrackerNames:
    """What the requester named a tracker to be (the wizard's, the API's, the command's choice)."""

    name: str
    shortname: str
    color: str = PALETTE[0]


def _free(project: Project, name: str, shortname: str) -> bool:
    taken_trackers = Tracker.objects.filter(project=project).filter(Q(name=name) | Q(shortname=shortname))
    taken_imports = JiraImportTracker.objects.filter(project=project, active=True).filter(
        Q(name=name) | Q(shortname=shortname)
    )
    return not taken_trackers.exists() and not taken_imports.exists()


def _suggest(
    project: Project | None, candidates: list[tuple[str, str]], chosen: Iterable[TrackerNames] = ()
) -> tuple[str, str]:
    """The first (name, short name) of ``candidates`` free in the project and unlike those ``chosen``
    for the other trackers of the same import, else the first one.

    ``chosen``: two issue types that slugify alike ("Bug" and "bug", or "バグ" and "错误", both "jira")
    were offered the same names, which the form then refused; the user had to invent them.
    """
    cleaned = [(name.strip()[:100], slugify(short)[:25].strip("-") or "jira") for name, short in candidates]
    first_name, first_short = cleaned[0]
    numbered = [(f"{first_name[:95]} {n}", f"{first_short[:21]}-{n}") for n in range(2, 30)]
    names = {names.name.casefold() for names in chosen}
    shorts = {names.shortname for names in chosen}
    for name, short in cleaned + numbered:
        if name.casefold() in names or short in shorts:
            continue
        if project is None or _free(project, name, short):
            return name, short
    return cleaned[0]


def suggested_names(jira_project_name: str, jira_project_key: str, issue_type_name: str) -> tuple[str, str]:
    """A tracker name and short name for one issue type of a Jira project (the single-type form)."""
    name = f"{jira_project_name or jira_project_key} {issue_type_name}".strip()[:100]
    shortname = slugify(f"{jira_project_key}-{issue_type_name}")[:25].strip("-") or "jira"
    return name, shortname


def suggested_trackers(
    project: Project | None,
    *,
    jira_project_name: str,
    jira_project_key: str,
    issue_types: list[tuple[str, str]],
    layout: str,
) -> tuple[dict[str, TrackerNames], TrackerNames]:
    """Names for the trackers of a whole-project import: one per issue type (Jira's issue type names,
    each its color) or one for the project, and the Sprints tracker's; free names where possible."""
    key = jira_project_key
    trackers: dict[str, TrackerNames] = {}
    if layout == MONO:
        name, short = _suggest(project, [(jira_project_name or key, key), (f"{key} issues", f"{key}-issues")])
        trackers[MONO] = TrackerNames(name, short, PALETTE[0])
    else:
        for n, (type_id, type_name) in enumerate(issue_types):
            name, short = _suggest(
                project,
                [(type_name, type_name), (f"{key} {type_name}", f"{key}-{type_name}")],
                trackers.values(),
            )
            trackers[type_id] = TrackerNames(name, short, PALETTE[n % len(PALETTE)])
    name, short = _suggest(
        project, [("Sprints", "sprints"), (f"{key} sprints", f"{key}-sprints")], trackers.values()
    )
    return trackers, TrackerNames(name, short, "#7f7f7f")


def _check_names(project: Project, planned: list[runs.PlannedTracker]) -> None:
    """Each tracker's names valid, free, and different from the others' of the import."""
    errors: dict[str, list[str]] = {}
    seen_names: set[str] = set()
    seen_shorts: set[str] = set()
    for planned_tracker in planned:
        try:
            validate_names(project, planned_tracker.name, planned_tracker.shortname, planned_tracker.color)
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                errors.setdefault(key, []).extend(messages)
        if planned_tracker.name in seen_names:
            errors.setdefault("tracker_name", []).append(
                f"Two trackers cannot both be named {planned_tracker.name!r}."
            )
        if planned_tracker.shortname in seen_shorts:
            errors.setdefault("tracker_shortname", []).append(
                f"Two trackers cannot both have the short name {planned_tracker.shortname!r}."
            )
        seen_names.add(planned_tracker.name)
        seen_shorts.add(planned_tracker.shortname)
    if errors:
        raise ValidationError(errors)


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
        or JiraImportTracker.objects.filter(project=project, name=name, active=True).exists()
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
            JiraImportTracker.objects.filter(project=project, shortname=shortname, active=True).exists()
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
    issue_type_id: str | None = None,
    tracker_name: str = "",
    tracker_shortname: str = "",
    tracker_color: str = "#1f77b4",
    issue_type_ids: list[str] | None = None,
    layout: str = MULTI,
    trackers: dict[str, TrackerNames] | None = None,
    sprints_tracker: TrackerNames | None = None,
) -> JiraImport:
    """A pending import, checked against Jira and our names.

    Two forms: one issue type (``issue_type_id`` with ``tracker_name``/``tracker_shortname``), or a
    whole project: ``issue_type_ids`` (None or empty: all of them), ``layout`` (MULTI: one tracker
    per issue type, MONO: one tracker for all), and optionally the names: ``trackers`` by issue type
    id (or by MONO) and ``sprints_tracker``; missing names are suggested.

    Raises ValidationError (keyed by ``tracker_name``, ``tracker_shortname``, ``tracker_color``,
    ``issue_type_ids``), RefusedURL, JiraAccessError or PermissionDenied.
    """
    if requested_by is not None and not permissions.can_admin_project(requested_by, project):
        raise PermissionDenied("Only an administrator of the project can import a tracker from Jira.")
    if layout not in (MULTI, MONO):
        raise ValidationError({"layout": ["Choose one tracker per issue type, or one tracker for all."]})
    url = check_url(credentials.url)
    credentials = JiraCredentials(url, credentials.username.strip(), credentials.token)
    single = issue_type_id is not None
    if single:
        tracker_name, tracker_shortname = tracker_name.strip(), tracker_shortname.strip()
        validate_names(project, tracker_name, tracker_shortname, tracker_color)
    client = connect(credentials, interactive=True)
    try:
        key = discovery.check_project_key(jira_project_key)
        jira_project = discovery.project(client, key)
        available = discovery.issue_types(client, key)
        if single:
            chosen = [discovery.issue_type(client, key, str(issue_type_id))]
        else:
            wanted = [str(t).strip() for t in issue_type_ids or []]
            unknown = sorted(set(wanted) - {t.id for t in available})
            if unknown:
                raise ValidationError(
                    {
                        "issue_type_ids": [
                            f"The Jira project {key} has no issue type with id {', '.join(unknown)}."
                        ]
                    }
                )
            chosen = [t for t in available if not wanted or t.id in wanted]
            if not chosen:
                raise ValidationError(
                    {"issue_type_ids": [f"The Jira project {key} has no issue type to import."]}
                )
    finally:
        client.close()
    jira_project_name = str(jira_project.get("name") or key)
    types = [(t.id, t.name) for t in chosen]
    suggested, sprints_names = suggested_trackers(
        project, jira_project_name=jira_project_name, jira_project_key=key, issue_types=types, layout=layout
    )
    if single:
        planned = [runs.PlannedTracker(tracker_name, tracker_shortname, tracker_color, (chosen[0].id,))]
    elif layout == MONO:
        names = (trackers or {}).get(MONO) or suggested[MONO]
        planned = [
            runs.PlannedTracker(
                names.name.strip(), names.shortname.strip(), names.color, tuple(t for t, _ in types)
            )
        ]
    else:
        planned = []
        for type_id, _ in types:
            names = (trackers or {}).get(type_id) or suggested[type_id]
            planned.append(
                runs.PlannedTracker(names.name.strip(), names.shortname.strip(), names.color, (type_id,))
            )
    sprints_names = sprints_tracker or sprints_names
    planned.append(
        runs.PlannedTracker(
            sprints_names.name.strip(),
            sprints_names.shortname.strip(),
            sprints_names.color,
            role=JiraImportTracker.Role.SPRINTS,
        )
    )
    _check_names(project, planned)
    return runs.create(
        project=project,
        requested_by=requested_by,
        credentials=credentials,
        flavor=client.flavor,
        jira_project_key=key,
        jira_project_name=jira_project_name,
        issue_types=types,
        layout=MONO if layout == MONO and not single else MULTI,
        trackers=planned,
    )


def start_import(**kwargs: Any) -> JiraImport:
    """Create the import (:func:`create_import`'s arguments) and hand it to the jira_import workers
    (ImportUnavailable when Redis is down)."""
    available, reason = import_available()
    if not available:
        raise ImportUnavailable(reason)
    jira_import = create_import(**kwargs)
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


IMPORT = run_loop.RunKind[JiraImport](
    name="Jira import",
    noun="import",
    claim=runs.claim,
    of=lambda jira_import: jira_import.jira_project_key,
    engine=Importer,
    timeout_message=(
        "The import took longer than the backend worker allows for one job; a project this large "
        "can be imported with manage.py import_jira, which has no time limit."
    ),
)


def run_import(jira_import: JiraImport, *, progress: Progress | None = None) -> JiraImport:
    """Run the import now, in this process (the worker's job and ``manage.py import_jira`` call it).

    Returns the import as it ended (done, failed or cancelled), or as another run left it.
    """
    return run_loop.run(IMPORT, jira_import, progress)
