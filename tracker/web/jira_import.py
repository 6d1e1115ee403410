"""The Jira import wizard, for project administrators (the pages of an import: `jira_import_pages`).

The wizard has three steps, each a page of its own: 1. the Jira URL and credentials, checked by listing
the Jira projects; 2. one of those projects, whose issue types are then listed; 3. the issue type and
the new tracker's names, and the import starts. Between steps the token lives in the (database-backed)
session, encrypted with the import's vault key, never in a page; it is dropped when the import starts,
when the wizard is abandoned or started over, and when it is left unused for WIZARD_MAX_AGE.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from tracker import permissions
from tracker.jira_import import discovery, services, vault
from tracker.jira_import.credentials import JiraCredentials
from tracker.jira_import.errors import JiraAccessError
from tracker.jira_import.url_guard import RefusedURL
from tracker.models import JiraImport, Project
from tracker.web.access import project_or_404
from tracker.web.jira_forms import (
    JiraConnectForm,
    JiraProjectForm,
    JiraTrackerForm,
    JiraWholeProjectForm,
    add_jira_error,
)

SESSION_KEY = "jira_import_wizard"
WIZARD_MAX_AGE = dt.timedelta(hours=1)
JIRA_ERRORS = (JiraAccessError, RefusedURL)


# The wizard's state in the session --------------------------------------------------------------


@dataclass
class WizardState:
    """What the steps so far established. JSON-serializable: sessions are stored as JSON."""

    project_id: int
    url: str
    username: str
    deployment: str
    token_encrypted: str = field(repr=False)
    saved_at: str = ""
    projects: list[list[str]] = field(default_factory=list)  # [key, name]
    jira_project_key: str = ""
    jira_project_name: str = ""
    issue_types: list[list[Any]] = field(default_factory=list)  # [id, name, subtask]

    @classmethod
    def load(cls, request: HttpRequest, project: Project) -> WizardState | None:
        """The state of this project's wizard; None when there is none, or it is stale or broken."""
        raw = request.session.get(SESSION_KEY)
        if not isinstance(raw, dict):
            return None
        try:
            state = cls(**raw)
            saved_at = dt.datetime.fromisoformat(state.saved_at)
        except (TypeError, ValueError):
            clear_wizard(request)
            return None
        if timezone.now() - saved_at > WIZARD_MAX_AGE:
            clear_wizard(request)
            return None
        return state if state.project_id == project.pk else None

    def save(self, request: HttpRequest) -> None:
        self.saved_at = timezone.now().isoformat()
        request.session[SESSION_KEY] = asdict(self)

    @sensitive_variables("token")
    def credentials(self) -> JiraCredentials:
        return JiraCredentials(self.url, self.username, vault.decrypt(self.token_encrypted))

    def issue_type_name(self, type_id: str) -> str:
        return next((name for tid, name, _ in self.issue_types if tid == type_id), type_id)


def clear_wizard(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


# Steps --------------------------------------------------------------------------------------------


def _admin_project(request: HttpRequest, shortname: str) -> Project:
    project = project_or_404(request, shortname)
    permissions.access_to(request.user, project).require_admin()
    return project


def _page(request: HttpRequest, template: str, project: Project, **context: Any) -> HttpResponse:
    available, reason = services.import_available()
    return render(
        request,
        template,
        {"project": project, "available": available, "unavailable_reason": reason, **context},
    )


def _restart(request: HttpRequest, project: Project, message: str) -> HttpResponse:
    clear_wizard(request)
    messages.warning(request, message)
    return redirect("tracker:jira-import-start", shortname=project.shortname)


@login_required
@sensitive_post_parameters("token")
def import_start(request: HttpRequest, shortname: str) -> HttpResponse:
    """Step 1: the Jira site and credentials, checked by listing the projects they can see."""
    project = _admin_project(request, shortname)
    previous = WizardState.load(request, project)
    if request.method == "POST":
        form = JiraConnectForm(request.POST)
        available, _ = services.import_available()
        if available and form.is_valid():
            credentials = form.credentials()
            try:
                jira_projects = discovery.list_projects(credentials)
            except JIRA_ERRORS as error:
                add_jira_error(form, error)
            else:
                if not jira_projects:
                    form.add_error(
                        None,
                        "These credentials see no Jira project: check that the account has the Browse "
                        "Projects permission in the project to import.",
                    )
                else:
                    WizardState(
                        project_id=project.pk,
                        url=credentials.url.rstrip("/"),
                        username=credentials.username,
                        deployment=form.cleaned_data["deployment"],
                        token_encrypted=vault.encrypt(credentials.token),
                        projects=[[p.key, p.name] for p in jira_projects],
                    ).save(request)
                    return redirect("tracker:jira-import-project", shortname=project.shortname)
    else:
        # Opening step 1 starts over: the stored token goes; the URL and user name are offered again.
        initial = (
            {"url": previous.url, "username": previous.username, "deployment": previous.deployment}
            if previous
            else {}
        )
        clear_wizard(request)
        form = JiraConnectForm(initial=initial)
    return _page(request, "tracker/jira/step_connect.html", project, form=form, step=1)


@login_required
def import_project(request: HttpRequest, shortname: str) -> HttpResponse:
    """Step 2: one of the Jira projects; its issue types are read from Jira."""
    project = _admin_project(request, shortname)
    state = WizardState.load(request, project)
    if state is None:
        return _restart(request, project, "Enter the Jira URL and credentials first.")
    form = JiraProjectForm(
        request.POST or None,
        projects=state.projects,
        initial={"jira_project": state.jira_project_key or None},
    )
    if request.method == "POST" and form.is_valid():
        key = form.cleaned_data["jira_project"]
        try:
            issue_types = discovery.list_issue_types(state.credentials(), key)
        except JIRA_ERRORS as error:
            add_jira_error(form, error)
        except vault.TokenUnavailable:
            return _restart(request, project, "Your Jira credentials have expired; enter them again.")
        else:
            if not issue_types:
                form.add_error("jira_project", f"The Jira project {key} has no issue type to import.")
            else:
                state.jira_project_key = key
                state.jira_project_name = dict(map(tuple, state.projects)).get(key, key)
                state.issue_types = [[t.id, t.name, t.subtask] for t in issue_types]
                state.save(request)
                return redirect("tracker:jira-import-issue-type", shortname=project.shortname)
    return _page(request, "tracker/jira/step_project.html", project, form=form, state=state, step=2)


def _default_issue_type(state: WizardState, requested: str | None) -> str:
    ids = [type_id for type_id, _, _ in state.issue_types]
    if requested in ids:
        return str(requested)
    standard = [type_id for type_id, _, subtask in state.issue_types if not subtask]
    return (standard or ids)[0]


def _suggested(project: Project, state: WizardState) -> dict[str, tuple[str, str]]:
    """Prefilled names of every tracker the whole-project form may create (Jira's type names)."""
    types = [(str(t), name) for t, name, _ in state.issue_types]
    common = {"jira_project_name": state.jira_project_name, "jira_project_key": state.jira_project_key}
    multi, sprints = services.suggested_trackers(project, issue_types=types, layout=services.MULTI, **common)
    mono, _ = services.suggested_trackers(project, issue_types=types, layout=services.MONO, **common)
    names = {key: (n.name, n.shortname) for key, n in multi.items()}
    names["mono"] = (mono[services.MONO].name, mono[services.MONO].shortname)
    names["sprints"] = (sprints.name, sprints.shortname)
    return names


def _start_whole(
    request: HttpRequest, project: Project, state: WizardState, form: JiraWholeProjectForm
) -> JiraImport | None:
    layout = form.cleaned_data["layout"]
    chosen = form.chosen() or [str(t) for t, _, _ in state.issue_types]
    keys = [services.MONO] if layout == services.MONO else chosen
    trackers = {
        key: services.TrackerNames(*form.names(key), services.PALETTE[n % len(services.PALETTE)])
        for n, key in enumerate(keys)
    }
    try:
        return services.start_import(
            project=project,
            requested_by=request.user,
            credentials=state.credentials(),
            jira_project_key=state.jira_project_key,
            issue_type_ids=form.chosen(),
            layout=layout,
            trackers=trackers,
            sprints_tracker=services.TrackerNames(*form.names("sprints"), "#7f7f7f"),
        )
    except ValidationError as error:
        messages_ = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for texts in messages_.values():
            for text in texts:
                form.add_error(None, text)
    except services.ImportUnavailable as error:
        form.add_error(None, str(error))
    except JIRA_ERRORS as error:
        add_jira_error(form, error)
    except vault.TokenUnavailable:
        form.add_error(None, "Your Jira credentials have expired: start over and enter them again.")
    return None


@login_required
def import_issue_type(request: HttpRequest, shortname: str) -> HttpResponse:
    """Step 3: the whole project (issue types, layout, names), or one issue type only (links, so the
    names follow it without JavaScript), then start."""
    project = _admin_project(request, shortname)
    state = WizardState.load(request, project)
    if state is None:
        return _restart(request, project, "Enter the Jira URL and credentials first.")
    if not state.issue_types:
        return redirect("tracker:jira-import-project", shortname=project.shortname)
    suggested = _suggested(project, state)
    whole = JiraWholeProjectForm(
        request.POST if request.method == "POST" and "issue_type_id" not in request.POST else None,
        issue_types=state.issue_types,
        suggested=suggested,
    )
    if request.method == "POST" and "issue_type_id" not in request.POST:
        available, reason = services.import_available()
        if not available:
            whole.add_error(None, reason)
        elif whole.is_valid():
            started = _start_whole(request, project, state, whole)
            if started is not None:
                clear_wizard(request)
                messages.success(
                    request,
                    f"The import of {state.jira_project_key} started: it runs in the background, and "
                    "you will get an email when it ends.",
                )
                return redirect("tracker:jira-import-detail", pk=started.pk)
        chosen = _default_issue_type(state, request.GET.get("issue_type"))
        name, short = services.suggested_names(
            state.jira_project_name, state.jira_project_key, state.issue_type_name(chosen)
        )
        form = JiraTrackerForm(
            initial={"issue_type_id": chosen, "tracker_name": name, "tracker_shortname": short},
            issue_types=state.issue_types,
        )
    elif request.method == "POST":
        form = JiraTrackerForm(request.POST, issue_types=state.issue_types)
        chosen = _default_issue_type(state, request.POST.get("issue_type_id"))
        available, reason = services.import_available()
        if not available:
            form.add_error(None, reason)
        elif form.is_valid():
            started = _start(request, project, state, form)
            if started is not None:
                clear_wizard(request)
                messages.success(
                    request,
                    f"The import of {state.jira_project_key} started: it runs in the background, and "
                    "you will get an email when it ends.",
                )
                return redirect("tracker:jira-import-detail", pk=started.pk)
    else:
        chosen = _default_issue_type(state, request.GET.get("issue_type"))
        name, short = services.suggested_names(
            state.jira_project_name, state.jira_project_key, state.issue_type_name(chosen)
        )
        form = JiraTrackerForm(
            initial={"issue_type_id": chosen, "tracker_name": name, "tracker_shortname": short},
            issue_types=state.issue_types,
        )
    return _page(
        request,
        "tracker/jira/step_issue_type.html",
        project,
        form=form,
        whole=whole,
        suggested_keys=list(suggested),
        state=state,
        chosen=chosen,
        chosen_name=state.issue_type_name(chosen),
        step=3,
    )


def _start(
    request: HttpRequest, project: Project, state: WizardState, form: JiraTrackerForm
) -> JiraImport | None:
    data = form.cleaned_data
    try:
        return services.start_import(
            project=project,
            requested_by=request.user,
            credentials=state.credentials(),
            jira_project_key=state.jira_project_key,
            issue_type_id=data["issue_type_id"],
            tracker_name=data["tracker_name"],
            tracker_shortname=data["tracker_shortname"],
            tracker_color=data["tracker_color"],
        )
    except ValidationError as error:
        form.add_service_errors(error)
    except services.ImportUnavailable as error:
        form.add_error(None, str(error))
    except JIRA_ERRORS as error:
        add_jira_error(form, error)
    except vault.TokenUnavailable:
        form.add_error(None, "Your Jira credentials have expired: start over and enter them again.")
    return None


@login_required
@require_POST
def import_abandon(request: HttpRequest, shortname: str) -> HttpResponse:
    """Leave the wizard: the stored credentials are dropped at once."""
    project = project_or_404(request, shortname)
    clear_wizard(request)
    messages.info(request, "The Jira import was abandoned; your Jira credentials were forgotten.")
    return redirect("tracker:project-detail", shortname=project.shortname)
