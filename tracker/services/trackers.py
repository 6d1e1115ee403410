"""Creating trackers and their fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from tracker.models import Field, FieldOption, FieldType, Project, Tracker


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str
    required: bool = False
    help_text: str = ""
    notify: bool = False
    is_title: bool = False
    options: Sequence[str] = ()
    closed_options: Sequence[str] = ()


DEFAULT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("title", "Title", FieldType.STRING, required=True, is_title=True),
    FieldSpec("description", "Description", FieldType.TEXT),
    FieldSpec(
        "status",
        "Status",
        FieldType.SELECT,
        options=("New", "In progress", "Done"),
        closed_options=("Done",),
    ),
    FieldSpec("assigned_to", "Assigned to", FieldType.USER, notify=True),
    FieldSpec("cc", "CC", FieldType.USERS, notify=True, help_text="People to keep informed."),
)


@dataclass
class TrackerSpec:
    name: str
    shortname: str
    description: str = ""
    color: str = "#1f77b4"
    fields: Sequence[FieldSpec] = field(default_factory=lambda: DEFAULT_FIELDS)


def add_field(tracker: Tracker, spec: FieldSpec, *, rank: int) -> Field:
    field_ = Field.objects.create(
        tracker=tracker,
        name=spec.name,
        label=spec.label,
        type=spec.type,
        required=spec.required,
        help_text=spec.help_text,
        notify=spec.notify and spec.type in (FieldType.USER, FieldType.USERS),
        is_title=spec.is_title,
        rank=rank,
    )
    FieldOption.objects.bulk_create(
        [
            FieldOption(field=field_, label=label, rank=index, is_closed=label in spec.closed_options)
            for index, label in enumerate(spec.options)
        ]
    )
    return field_


@transaction.atomic
def create_tracker(project: Project, spec: TrackerSpec) -> Tracker:
    """Create a tracker with its fields (the default ones unless the spec lists others)."""
    tracker = Tracker.objects.create(
        project=project,
        name=spec.name,
        shortname=spec.shortname,
        description=spec.description,
        color=spec.color,
    )
    for rank, field_spec in enumerate(spec.fields, start=1):
        add_field(tracker, field_spec, rank=rank * 10)
    return tracker


def title_field(tracker: Tracker) -> Field | None:
    return tracker.fields.filter(is_title=True).first()


class EmailAddressTaken(Exception):
    """Another tracker already answers to that address."""


def set_email_creation(tracker: Tracker, *, enabled: bool, local_part: str = "") -> Tracker:
    """Turn create-by-email on or off for the tracker, at ``<local_part or shortname>@`` the gateway's
    domain. The caller checks ``permissions.may_set_email_creation`` first; raises EmailAddressTaken."""
    local_part = local_part.strip().lower()
    address = local_part or tracker.shortname.lower()
    clash = Tracker.objects.exclude(pk=tracker.pk).filter(accepts_email=True)
    if enabled and (
        clash.filter(email_local_part=address).exists()
        or clash.filter(email_local_part="", shortname__iexact=address).exists()
    ):
        raise EmailAddressTaken(f"Another tracker already receives email at {address}@; choose another name.")
    tracker.accepts_email = enabled
    tracker.email_local_part = local_part
    tracker.save(update_fields=["accepts_email", "email_local_part"])
    return tracker
