"""Forms of the web UI: trackers and their administration, members, preferences.

The artifact form, generated from a tracker's fields, is :mod:`tracker.web.artifact_forms`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.http import urlencode

from tracker.models import Field, FieldType, JiraImport, Membership, Project, User
from tracker.services.fields import RESERVED_FIELD_NAMES
from tracker.services.projects import RESERVED_SHORTNAMES


def picker_attrs(project_id: int, purpose: str, *, value: str = "id") -> dict[str, str]:
    """Widget attributes that tracker/static/tracker/js/pickers.js turns into an autocomplete asking
    the people endpoint (tracker/web/people.py); without JavaScript the input stays as it is.
    ``value`` is what the chosen person puts in the input: their ``id`` (selects) or ``username``."""
    query = urlencode({"project": project_id, "purpose": purpose})
    return {
        "data-autocomplete-url": f"{reverse('tracker:people-search')}?{query}",
        "data-autocomplete-value": value,
    }


# Trackers and their administration ----------------------------------------------------------------


class TrackerCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    shortname = forms.SlugField(
        label="Short name",
        max_length=25,
        help_text="Letters, digits, - and _. Used in references such as bug #42.",
    )
    color = forms.CharField(
        max_length=7,
        initial="#1f77b4",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a color like #1f77b4.")],
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text="Used for the tracker's badges.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, project: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self.project.trackers.filter(name__iexact=name).exists():
            raise forms.ValidationError("This project already has a tracker with this name.")
        if self._importing().filter(tracker_name__iexact=name).exists():
            raise forms.ValidationError("A Jira import in progress is creating a tracker with this name.")
        return name

    def clean_shortname(self) -> str:
        shortname = self.cleaned_data["shortname"]
        if self.project.trackers.filter(shortname__iexact=shortname).exists():
            raise forms.ValidationError("This project already has a tracker with this short name.")
        if self._importing().filter(tracker_shortname__iexact=shortname).exists():
            raise forms.ValidationError(
                "A Jira import in progress is creating a tracker with this short name."
            )
        return shortname

    def _importing(self) -> QuerySet[JiraImport]:
        """Imports that have reserved a tracker name in this project until they end."""
        return JiraImport.objects.filter(project=self.project, status__in=JiraImport.ACTIVE)


class FieldCreateForm(forms.Form):
    label = forms.CharField(max_length=100)
    name = forms.SlugField(max_length=50, help_text="Stable name used by the API; cannot be changed later.")
    type = forms.ChoiceField(choices=FieldType.choices)
    required = forms.BooleanField(required=False)
    help_text = forms.CharField(max_length=255, required=False)
    notify = forms.BooleanField(
        label="Notify the people named here", required=False, help_text="User fields only."
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if name in RESERVED_FIELD_NAMES:
            raise forms.ValidationError(f"{name!r} is reserved by the artifact form; choose another name.")
        return name


class FieldEditForm(forms.Form):
    label = forms.CharField(max_length=100)
    required = forms.BooleanField(required=False)
    help_text = forms.CharField(max_length=255, required=False)
    notify = forms.BooleanField(
        label="Notify the people named here",
        required=False,
        help_text="People chosen in this field get an email about every change.",
    )

    def __init__(self, *args: Any, field_: Field, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "label": field_.label,
                "required": field_.required,
                "help_text": field_.help_text,
                "notify": field_.notify,
                "default_option": field_.default_option_id,
            },
        )
        super().__init__(*args, **kwargs)
        if not field_.is_user_field:
            del self.fields["notify"]
        if field_.is_choice_field:
            self.fields["default_option"] = forms.TypedChoiceField(
                label="Default value",
                choices=[
                    ("", "No default"),
                    *((option.pk, option.label) for option in field_.options.filter(hidden=False)),
                ],
                coerce=int,
                empty_value=None,
                required=False,
                help_text="What a new artifact gets when it is created without a value here.",
            )


class FieldOptionForm(forms.Form):
    label = forms.CharField(label="New value", max_length=255)
    is_closed = forms.BooleanField(label="Means the work is done", required=False)


class NotificationEntryForm(forms.Form):
    identifier = forms.CharField(
        label="Member or email address",
        max_length=254,
        help_text="A member's username, or an email address (its owner confirms it first).",
    )
    on_creation_only = forms.BooleanField(label="On creation only", required=False)

    def __init__(self, *args: Any, project: Project | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if project is not None:
            self.fields["identifier"].widget.attrs.update(
                picker_attrs(project.pk, "notification_list", value="username")
            )


class ProjectCreateForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "shortname", "description", "is_public"]
        labels = {"shortname": "Short name", "is_public": "Public"}
        help_texts = {
            "shortname": "Letters, digits, - and _; in the project's address. Cannot be changed later.",
            "is_public": "Every logged-in user may read a public project; only members read a private one.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_shortname(self) -> str:
        shortname = self.cleaned_data["shortname"].lower()
        if shortname in RESERVED_SHORTNAMES:
            raise forms.ValidationError("This short name is reserved; choose another.")
        if Project.objects.filter(shortname__iexact=shortname).exists():
            raise forms.ValidationError("A project with this short name exists.")
        return shortname


class MemberAddForm(forms.Form):
    identifier = forms.CharField(
        label="Username", max_length=150, help_text="People are added by their username."
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)

    def __init__(self, *args: Any, project: Project | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if project is not None:
            self.fields["identifier"].widget.attrs.update(
                picker_attrs(project.pk, "member", value="username")
            )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["notify_own_changes", "plain_text_emails"]
        labels = {
            "notify_own_changes": "Email me about my own changes",
            "plain_text_emails": "Plain-text emails only",
        }
        help_texts = {
            "notify_own_changes": "Otherwise you only hear about what others change.",
            "plain_text_emails": "Notification emails without their HTML part.",
        }
