"""The artifact form, generated from a tracker's fields.

It only shapes what the browser sends (option ids, user ids, artifact ids); the artifact service is
the one judge of whether values fit, and its errors are put back next to the fields by
:meth:`ArtifactForm.add_service_errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms

from tracker.models import Attachment, Changeset, Field, FieldType, User
from tracker.services.artifacts import with_defaults
from tracker.services.fields import RESERVED_FIELD_NAMES
from tracker.services.rendering import MARKDOWN
from tracker.services.rich_text import html_to_markdown, markdown_to_stored_html
from tracker.services.values import is_markdown_text
from tracker.web.artifact_form_fields import (
    ArtifactLinksField,
    MultilineTextField,
    MultipleFileField,
    as_list,
    initial_value,
    links_keeping_types,
    markdown_preview_attrs,
)
from tracker.web.forms import picker_attrs

RICH_TEXT_NOTE = (
    "Imported with formatting: shown here as Markdown, converted from it, and saved formatted again."
)

EMPTY_CHOICE = ("", "—")
TEXT_FORMAT = "text"  # a text field's value as typed; Markdown ones are stored rendered too (values.py)


@dataclass
class FieldRow:
    """A tracker field with its input, and for file fields the boxes to remove attachments."""

    field: Field
    bound: forms.BoundField
    remove: forms.BoundField | None
    # Text fields: the Text | Markdown choice stored with the value.
    text_format: forms.BoundField | None = None


class ArtifactForm(forms.Form):
    """One input per tracker field, named by the field's name; plus a comment box when editing.

    No input is ``required`` here: required fields are marked, and the service says when one is
    missing (an artifact edited without touching a required file field must not be refused).
    """

    comment_format_choices = [
        (Changeset.CommentFormat.TEXT, "Plain text"),
        (Changeset.CommentFormat.MARKDOWN, "Markdown"),
    ]
    text_format_choices = [(TEXT_FORMAT, "Text"), (MARKDOWN, "Markdown")]

    def __init__(
        self,
        *args: Any,
        tracker_fields: Sequence[Field],
        people: Iterable[User],
        current_values: Mapping[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
        with_comment: bool = False,
        rich_text: bool = False,
        comment_format: str = Changeset.CommentFormat.TEXT,
        preview_url: str = "",
        **kwargs: Any,
    ) -> None:
        if current_values is None:  # a new artifact: show the defaults the service will give it
            defaults = with_defaults(list(tracker_fields), {})
            current_values = {str(f.pk): defaults[f.name] for f in tracker_fields if f.name in defaults}
        kwargs.setdefault(
            "initial",
            {f.name: initial_value(f, current_values.get(str(f.pk))) for f in tracker_fields},
        )
        # An imported artifact's text fields hold sanitized HTML: edited as Markdown (rich_text module).
        self.rich_text = rich_text
        if rich_text:
            for f in tracker_fields:
                if f.type == FieldType.TEXT:
                    stored = current_values.get(str(f.pk))
                    # A Markdown value (the API may write one on an imported artifact) shows its source.
                    kwargs["initial"][f.name] = (
                        stored["source"] if is_markdown_text(stored) else html_to_markdown(stored or "")
                    )
        super().__init__(*args, **kwargs)
        self.tracker_fields = list(tracker_fields)
        people_choices = [(str(user.pk), user.display_name) for user in people]
        for field_ in self.tracker_fields:
            if field_.name in RESERVED_FIELD_NAMES:
                continue
            set_now = set(as_list(current_values.get(str(field_.pk)))) if field_.is_choice_field else set()
            form_field = self._form_field(field_, people_choices, set_now)
            if field_.required:
                # Marked for assistive technology; the service, not the browser, enforces it.
                form_field.widget.attrs["aria-required"] = "true"
            if rich_text and field_.type == FieldType.TEXT:
                form_field.help_text = " ".join(filter(None, [field_.help_text, RICH_TEXT_NOTE]))
                form_field.widget.attrs.update(markdown_preview_attrs(preview_url))
            elif field_.type == FieldType.TEXT:
                # Previewed only while "Markdown" is this field's chosen format.
                format_name = self.format_name(field_)
                form_field.widget.attrs.update(markdown_preview_attrs(preview_url, format_input=format_name))
                stored = current_values.get(str(field_.pk))
                self.fields[format_name] = forms.ChoiceField(
                    label=f"{field_.label} format",
                    choices=self.text_format_choices,
                    initial=MARKDOWN if is_markdown_text(stored) else TEXT_FORMAT,
                    required=False,
                    widget=forms.RadioSelect,
                )
            self.fields[field_.name] = form_field
            if field_.type == FieldType.FILES:
                kept_ids = set(as_list(current_values.get(str(field_.pk))))
                kept = [a for a in attachments if a.pk in kept_ids]
                if kept:
                    self.fields[self.remove_name(field_)] = forms.TypedMultipleChoiceField(
                        label="Remove attachments",
                        choices=[(str(a.pk), a.filename) for a in kept],
                        coerce=int,
                        required=False,
                        widget=forms.CheckboxSelectMultiple,
                    )
        if with_comment:
            self.fields["comment"] = MultilineTextField(
                label="Comment",
                required=False,
                strip=False,
                widget=forms.Textarea(
                    attrs={
                        "rows": 5,
                        "placeholder": "Add a comment (optional)",
                        # Previewed only while "Markdown" is the chosen format.
                        **markdown_preview_attrs(preview_url, format_input="comment_format"),
                    }
                ),
            )
            known_formats = {value for value, _label in self.comment_format_choices}
            self.fields["comment_format"] = forms.ChoiceField(
                label="Comment format",
                choices=self.comment_format_choices,
                # The format the person chose last time (remembered by the view).
                initial=comment_format if comment_format in known_formats else Changeset.CommentFormat.TEXT,
                required=False,
                widget=forms.RadioSelect,
            )

    @staticmethod
    def remove_name(field_: Field) -> str:
        return f"{field_.name}__remove"

    @staticmethod
    def format_name(field_: Field) -> str:
        return f"{field_.name}__format"

    def _text_value(self, field_: Field) -> Any:
        """A text field's value for the service: the text, or ``{"format": "markdown", "source": ...}``."""
        text = self.cleaned_data[field_.name]
        if text and self._chosen_format(field_) == MARKDOWN:
            return {"format": MARKDOWN, "source": text}
        return text

    def _chosen_format(self, field_: Field) -> str:
        # No choice sent (a client posting the form as it was before formats): the format it had.
        name = self.format_name(field_)
        return self.cleaned_data.get(name) or self.fields[name].initial

    def _text_changed(self, field_: Field) -> bool:
        return (
            field_.name in self.changed_data
            or self._chosen_format(field_) != self.fields[self.format_name(field_)].initial
        )

    @staticmethod
    def _form_field(
        field_: Field, people_choices: list[tuple[str, str]], set_now: set[Any] = frozenset()
    ) -> forms.Field:
        common: dict[str, Any] = {"label": field_.label, "required": False, "help_text": field_.help_text}
        kind = field_.type
        if kind == FieldType.STRING:
            return forms.CharField(widget=forms.TextInput(attrs={"maxlength": 255}), **common)
        if kind == FieldType.TEXT:
            return MultilineTextField(strip=False, widget=forms.Textarea(attrs={"rows": 6}), **common)
        if kind == FieldType.INTEGER:
            return forms.CharField(widget=forms.NumberInput(attrs={"step": 1}), **common)
        if kind == FieldType.FLOAT:
            return forms.CharField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
        if kind == FieldType.DATE:
            return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        if kind == FieldType.DATETIME:
            common["help_text"] = " ".join(filter(None, [field_.help_text, "Time in UTC."]))
            return forms.CharField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **common)
        if kind in (FieldType.SELECT, FieldType.MULTI_SELECT):
            # Options come prefetched (one query for the whole tracker).
            # A hidden value is not offered, except to an artifact that has it (so that saving keeps it).
            choices = [
                (str(option.pk), option.label)
                for option in field_.options.all()
                if not option.hidden or option.pk in set_now
            ]
            if kind == FieldType.SELECT:
                return forms.TypedChoiceField(
                    choices=[EMPTY_CHOICE, *choices], coerce=int, empty_value=None, **common
                )
            widget = forms.CheckboxSelectMultiple if len(choices) <= 8 else forms.SelectMultiple
            return forms.TypedMultipleChoiceField(choices=choices, coerce=int, widget=widget, **common)
        if kind == FieldType.USER:
            # field_.tracker is the tracker whose fields these are (no query): project_id is a column.
            return forms.TypedChoiceField(
                choices=[EMPTY_CHOICE, *people_choices],
                coerce=int,
                empty_value=None,
                widget=forms.Select(attrs=picker_attrs(field_.tracker.project_id, "assignee")),
                **common,
            )
        if kind == FieldType.USERS:
            return forms.TypedMultipleChoiceField(
                choices=people_choices,
                coerce=int,
                widget=forms.SelectMultiple(
                    attrs={
                        "size": min(max(len(people_choices), 2), 8),
                        **picker_attrs(field_.tracker.project_id, "cc"),
                    }
                ),
                **common,
            )
        if kind == FieldType.OPEN_LIST:
            common["help_text"] = common["help_text"] or "Separate labels with commas."
            return forms.CharField(**common)
        if kind == FieldType.FILES:
            return MultipleFileField(**common)
        if kind == FieldType.LINKS:
            common["help_text"] = common["help_text"] or "Artifact ids separated by commas, like 12, 15."
            return ArtifactLinksField(**common)
        raise ValueError(f"Unsupported field type {kind!r}")  # pragma: no cover - choices forbid it

    # What the service receives ---------------------------------------------------------------

    def values_for_creation(self) -> dict[str, Any]:
        return {
            f.name: self._text_value(f) if self.format_name(f) in self.fields else self.cleaned_data[f.name]
            for f in self.tracker_fields
            if f.name in self.fields and f.type != FieldType.FILES and self.cleaned_data.get(f.name)
        }

    def values_for_update(self, current_values: Mapping[str, Any]) -> dict[str, Any]:
        """Only the inputs the person changed: a value shown and sent back unchanged is no change."""
        changed = set(self.changed_data)
        values: dict[str, Any] = {}
        for field_ in self.tracker_fields:
            if field_.name not in self.fields:
                continue
            if field_.type == FieldType.FILES:
                removed = set(self.cleaned_data.get(self.remove_name(field_)) or [])
                if removed:
                    kept = as_list(current_values.get(str(field_.pk)))
                    values[field_.name] = [pk for pk in kept if pk not in removed]
            elif self.format_name(field_) in self.fields and self._text_changed(field_):
                # The text or only its format changed (the same words now meant as Markdown).
                values[field_.name] = self._text_value(field_)
            elif field_.name in changed and self.format_name(field_) not in self.fields:
                values[field_.name] = self.cleaned_data[field_.name]
                if self.rich_text and field_.type == FieldType.TEXT:
                    values[field_.name] = markdown_to_stored_html(values[field_.name])
                if field_.type == FieldType.LINKS:
                    values[field_.name] = links_keeping_types(
                        values[field_.name], current_values.get(str(field_.pk))
                    )
        return values

    def uploads(self) -> dict[str, list[Any]]:
        return {
            f.name: self.cleaned_data[f.name]
            for f in self.tracker_fields
            if f.type == FieldType.FILES and self.cleaned_data.get(f.name)
        }

    def note_dropped_files(self) -> None:
        """After an error, say next to each file field that its chosen files are gone: a browser never
        refills a file input, so they must be chosen again."""
        if not self.files:
            return
        for field_ in self.tracker_fields:
            chosen = [f.name for f in self.files.getlist(field_.name)] if field_.name in self.fields else []
            if field_.type == FieldType.FILES and chosen:
                self.add_error(
                    field_.name,
                    f"Nothing was saved, so choose the files again ({', '.join(chosen)}): a browser "
                    "does not keep them after an error.",
                )

    def add_service_errors(self, errors: Mapping[str, Sequence[str]]) -> None:
        for name, messages in errors.items():
            if name in self.fields:
                self.add_error(name, list(messages))
            elif name == "__all__":
                self.add_error(None, list(messages))
            else:
                self.add_error(None, [f"{name}: {message}" for message in messages])

    def field_rows(self) -> list[FieldRow]:
        return [
            FieldRow(
                field=f,
                bound=self[f.name],
                remove=self[self.remove_name(f)] if self.remove_name(f) in self.fields else None,
                text_format=self[self.format_name(f)] if self.format_name(f) in self.fields else None,
            )
            for f in self.tracker_fields
            if f.name in self.fields
        ]
