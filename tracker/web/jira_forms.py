"""The forms of the Jira import wizard: where and as whom to connect, which project, which issue type.

They only shape what the browser sends (the credentials' characters are checked by
``tracker.jira_import.credentials``). Jira itself (through ``tracker.jira_import.discovery``) and the
import service are the judges of the URL, the credentials and the tracker's names; their errors are
put on the form by :func:`add_jira_error` (next to the field the error names) and
``add_service_errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from tracker.jira_import.credentials import TOKEN_MAX_LENGTH, JiraCredentials, validate_header_safe
from tracker.jira_import.errors import JiraAccessError
from tracker.jira_import.url_guard import RefusedURL

CLOUD = "cloud"
SERVER_TOKEN = "server_token"
SERVER_PASSWORD = "server_password"
DEPLOYMENTS = [
    (CLOUD, "Jira Cloud: your Atlassian account's email address and an API token"),
    (SERVER_TOKEN, "Jira Server or Data Center: a personal access token"),
    (SERVER_PASSWORD, "Jira Server or Data Center: your user name and password"),
]


class JiraConnectForm(forms.Form):
    """Step 1: the Jira site and the credentials the import will use."""

    url = forms.CharField(
        label="Jira URL",
        max_length=500,
        help_text="The address of the Jira site, such as https://your-company.atlassian.net.",
        widget=forms.TextInput(
            attrs={"placeholder": "https://", "autocomplete": "url", "spellcheck": "false"}
        ),
    )
    deployment = forms.ChoiceField(
        label="Deployment and sign-in",
        choices=DEPLOYMENTS,
        initial=CLOUD,
        widget=forms.RadioSelect,
    )
    username = forms.CharField(
        label="Email address or user name",
        max_length=255,
        required=False,
        help_text="Jira Cloud: your email address. Jira Server: your user name (not needed with a "
        "personal access token).",
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
        validators=[validate_header_safe],
    )
    # render_value=False: a form shown again after an error never puts the secret back in the page.
    token = forms.CharField(
        label="API token, personal access token or password",
        max_length=TOKEN_MAX_LENGTH,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Kept encrypted on this server until the import ends, then erased.",
        validators=[validate_header_safe],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        deployment = data.get("deployment")
        if deployment == SERVER_TOKEN:
            data["username"] = ""  # an empty user name is what makes the token a Bearer token
        elif deployment in (CLOUD, SERVER_PASSWORD) and not data.get("username"):
            what = "your Atlassian account's email address" if deployment == CLOUD else "your Jira user name"
            self.add_error("username", f"Give {what}.")
        return data

    def credentials(self) -> JiraCredentials:
        data = self.cleaned_data
        return JiraCredentials(
            url=data["url"].strip(), username=data["username"].strip(), token=data["token"]
        )


class JiraProjectForm(forms.Form):
    """Step 2: one of the Jira projects the credentials can see."""

    jira_project = forms.ChoiceField(label="Jira project")

    def __init__(self, *args: Any, projects: Sequence[Sequence[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["jira_project"].choices = [(key, f"{name} ({key})") for key, name in projects]


class JiraTrackerForm(forms.Form):
    """Step 3: the issue type to import and the new tracker's names."""

    issue_type_id = forms.ChoiceField(widget=forms.HiddenInput)
    tracker_name = forms.CharField(label="Tracker name", max_length=100)
    tracker_shortname = forms.SlugField(
        label="Short name",
        max_length=25,
        help_text="Letters, digits, - and _. Used in references such as bug #42.",
    )
    tracker_color = forms.CharField(
        label="Color",
        max_length=7,
        initial="#1f77b4",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a color like #1f77b4.")],
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text="Used for the tracker's badges.",
    )

    def __init__(self, *args: Any, issue_types: Sequence[Sequence[Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["issue_type_id"].choices = [(type_id, name) for type_id, name, _subtask in issue_types]

    def add_service_errors(self, error: ValidationError) -> None:
        """The import service's name checks, next to the fields they are about."""
        messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for key, texts in messages.items():
            target = key if key in self.fields else None
            for text in texts:
                self.add_error(target, text)


# The wizard's form fields that stand for the API's names.
FORM_FIELDS = {"jira_project_key": "jira_project"}


def add_jira_error(form: forms.Form, error: JiraAccessError | RefusedURL) -> None:
    """Put a Jira failure on the form, next to the field it names when the form has that field."""
    target = FORM_FIELDS.get(error.field or "", error.field)
    form.add_error(target if target in form.fields else None, str(error))


class JiraWholeProjectForm(forms.Form):
    """Step 3, the whole project: which issue types (all by default), the layout, the trackers' names.

    Every name field is on the page (no JavaScript needed); only those of the chosen layout and
    issue types are used. The names are prefilled with Jira's issue type names.
    """

    all_issue_types = forms.BooleanField(label="All issue types", required=False, initial=True)
    issue_types = forms.MultipleChoiceField(
        label="Or only these issue types", required=False, widget=forms.CheckboxSelectMultiple
    )
    layout = forms.ChoiceField(
        label="Trackers",
        choices=[
            ("multi", "One tracker per issue type, linked to each other"),
            ("mono", "One tracker for all, with an Issue type field"),
        ],
        initial="multi",
        widget=forms.RadioSelect,
    )

    def __init__(
        self,
        *args: Any,
        issue_types: Sequence[Sequence[Any]],
        suggested: dict[str, tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.type_ids = [str(type_id) for type_id, _name, _subtask in issue_types]
        self.fields["issue_types"].choices = [(str(t), name) for t, name, _ in issue_types]
        for key, (name, short) in suggested.items():
            label = dict(self.fields["issue_types"].choices).get(
                key, {"mono": "The tracker", "sprints": "Sprints"}.get(key, key)
            )
            # Required in clean(), for the trackers the chosen layout and issue types make only: an
            # issue type Jira names "" must not block an import that leaves it out.
            self.fields[f"name_{key}"] = forms.CharField(
                label=f"{label}: tracker name", max_length=100, initial=name, required=False
            )
            self.fields[f"short_{key}"] = forms.SlugField(
                label=f"{label}: short name", max_length=25, initial=short, required=False
            )

    def chosen(self) -> list[str]:
        data = self.cleaned_data
        return [] if data.get("all_issue_types") else [str(t) for t in data.get("issue_types") or []]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("all_issue_types") and not data.get("issue_types"):
            self.add_error("issue_types", "Choose at least one issue type, or all of them.")
        made = ["mono"] if data.get("layout") == "mono" else (self.chosen() or self.type_ids)
        for key in [*made, "sprints"]:
            for field in (f"name_{key}", f"short_{key}"):
                if field in self.fields and not data.get(field) and field not in self.errors:
                    self.add_error(field, forms.Field.default_error_messages["required"])
        return data

    def names(self, key: str) -> tuple[str, str]:
        return self.cleaned_data.get(f"name_{key}", ""), self.cleaned_data.get(f"short_{key}", "")
