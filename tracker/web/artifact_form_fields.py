"""The form fields and value conversions the artifact form is built from (tracker.web.artifact_forms).

How a stored value becomes a form's initial value and back: artifact ids typed as text, several files,
multi-line text kept as typed, links keeping their types, the Markdown preview's attributes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.dateparse import parse_datetime

from tracker.models import Field, FieldType
from tracker.plain_numbers import is_plain_number
from tracker.services.values import is_markdown_text


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; the service checks their sizes."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item]


def parse_artifact_ids(text: str) -> list[int]:
    ids: list[int] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip().lstrip("#")
        if not part:
            continue
        if not is_plain_number(part):
            raise forms.ValidationError(
                "Enter artifact ids separated by commas, like 12, 15.", code="invalid_links"
            )
        if int(part) not in ids:
            ids.append(int(part))
    return ids


class ArtifactLinksField(forms.CharField):
    def clean(self, value: Any) -> list[int]:
        return parse_artifact_ids(super().clean(value) or "")

    def has_changed(self, initial: Any, data: Any) -> bool:
        # "12, 15" and "12,15" name the same links: compare the ids, not the text.
        try:
            return parse_artifact_ids(initial or "") != parse_artifact_ids(data or "")
        except forms.ValidationError:
            return True


class MultilineTextField(forms.CharField):
    """Browsers send textarea lines ending with CRLF: store them as LF, like every other client."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return text.replace("\r\n", "\n").replace("\r", "\n")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def initial_value(field_: Field, stored: Any) -> Any:
    """The stored value as the form input shows it (and as the browser sends it back unchanged)."""
    if stored is None:
        return None
    kind = field_.type
    if kind == FieldType.DATETIME:
        moment = parse_datetime(stored) if isinstance(stored, str) else None
        if moment is None:
            return None
        moment = moment.astimezone(dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M" if moment.second == 0 else "%Y-%m-%dT%H:%M:%S")
    if kind in (FieldType.MULTI_SELECT, FieldType.USERS):
        return [str(item) for item in as_list(stored)]
    if kind in (FieldType.SELECT, FieldType.USER):
        return str(stored)
    if kind == FieldType.OPEN_LIST:
        return ", ".join(as_list(stored))
    if kind == FieldType.LINKS:
        return ", ".join(str(link["artifact"]) for link in as_list(stored) if "artifact" in link)
    if kind == FieldType.FILES:
        return None
    if kind == FieldType.TEXT and is_markdown_text(stored):
        return stored["source"]  # editing shows the Markdown the person wrote
    return str(stored)


def links_keeping_types(ids: list[int], current: Any) -> list[dict[str, Any]]:
    """The links to these artifacts, each keeping the type ("relates", "blocks") it already had.

    Links to issues outside the platform (kept by the Jira import) are not in the form's id list:
    they are carried over untouched.
    """
    types = {link["artifact"]: link.get("type", "") for link in as_list(current) if "artifact" in link}
    outside = [link for link in as_list(current) if "artifact" not in link]
    return [{"artifact": pk, "type": types.get(pk, "")} for pk in ids] + outside


def markdown_preview_attrs(preview_url: str, format_input: str = "") -> dict[str, str]:
    """What makes markdown_preview.js add "Write | Preview" tabs to a textarea (nothing without a URL).

    ``format_input``: the name of the radio buttons choosing the text's format; the preview is offered
    only while their value is Markdown.
    """
    if not preview_url:
        return {}
    attrs = {"data-markdown-preview": preview_url}
    if format_input:
        attrs["data-format-input"] = format_input
    return attrs
