"""Administering a tracker: its fields, their options and their order (its notification list:
tracker.services.notification_list).

Changing a field's name or type is not offered: stored values and the API refer to them. Fields and
values that history refers to are hidden, never deleted.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from tracker.models import ChangesetValue, Field, FieldOption, FieldType, Tracker
from tracker.models.trackers import OPTION_COLORS
from tracker.plain_text import text_problem
from tracker.services.trackers import FieldSpec
from tracker.services.trackers import add_field as _add_field

# Names the artifact form uses for itself: a field named so could not be told apart from them.
RESERVED_FIELD_NAMES = frozenset({"comment", "comment_format", "csrfmiddlewaretoken"})


class TrackerAdminError(Exception):
    """A change refused for a reason the administrator can fix; the message says how."""


def add_field(
    tracker: Tracker,
    *,
    name: str,
    label: str,
    type: str,
    required: bool = False,
    help_text: str = "",
    notify: bool = False,
) -> Field:
    """Add a field after the existing ones."""
    if name in RESERVED_FIELD_NAMES:
        raise TrackerAdminError(f"{name!r} is reserved by the artifact form; choose another name.")
    if tracker.fields.filter(name=name).exists():
        raise TrackerAdminError(f"This tracker already has a field named {name!r}.")
    last_rank = tracker.fields.aggregate(last=Max("rank"))["last"] or 0
    spec = FieldSpec(name=name, label=label, type=type, required=required, help_text=help_text, notify=notify)
    try:
        with transaction.atomic():
            return _add_field(tracker, spec, rank=last_rank + 10)
    except IntegrityError:
        # Two administrators adding the same name at once: the constraint decides.
        raise TrackerAdminError(f"This tracker already has a field named {name!r}.") from None


def update_field(
    field_: Field,
    *,
    label: str,
    required: bool,
    help_text: str,
    notify: bool,
    default_option_id: int | None = None,
) -> Field:
    """Save the field's settings; ``default_option_id`` (select fields) is one of its own values."""
    if default_option_id is not None and not (
        field_.is_choice_field and field_.options.filter(pk=default_option_id).exists()
    ):
        raise TrackerAdminError("Choose the default among this field's values (it may have been removed).")
    field_.label = label
    field_.required = required
    field_.help_text = help_text
    # Only people named in user fields can be notified; the flag means nothing elsewhere.
    field_.notify = notify and field_.is_user_field
    field_.default_option_id = default_option_id
    field_.save(update_fields=["label", "required", "help_text", "notify", "default_option"])
    return field_


@transaction.atomic
def move_field(field_: Field, *, up: bool) -> None:
    """Swap the field with its neighbour and rewrite every rank as 10, 20, 30...

    Rewriting them all repairs equal ranks (which would make "move" look like it does nothing).
    """
    fields = list(
        Field.objects.select_for_update().filter(tracker_id=field_.tracker_id).order_by("rank", "id")
    )
    index = next(i for i, f in enumerate(fields) if f.pk == field_.pk)
    other = index - 1 if up else index + 1
    if 0 <= other < len(fields):
        fields[index], fields[other] = fields[other], fields[index]
    for position, f in enumerate(fields, start=1):
        f.rank = position * 10
    Field.objects.bulk_update(fields, ["rank"])


def add_option(field_: Field, *, label: str, is_closed: bool = False) -> FieldOption:
    if not field_.is_choice_field:
        raise TrackerAdminError("Only select and multi-select fields have a list of values.")
    label = label.strip()
    if not label:
        raise TrackerAdminError("Give the value a label.")
    if field_.options.filter(label__iexact=label).exists():
        raise TrackerAdminError(f"{label!r} is already a value of this field.")
    last_rank = field_.options.aggregate(last=Max("rank"))["last"]
    try:
        with transaction.atomic():
            return FieldOption.objects.create(
                field=field_, label=label, is_closed=is_closed, rank=0 if last_rank is None else last_rank + 1
            )
    except IntegrityError:
        raise TrackerAdminError(f"{label!r} is already a value of this field.") from None


# Hiding and deleting. History is never rewritten (README, Architecture): a field or a value that some
# changeset refers to stays in the database, so that old changes keep their label; "delete" removes
# only what was never used, and the administrator is told to hide the rest.


def field_is_used(field_: Field) -> bool:
    return ChangesetValue.objects.filter(field=field_).exists()


def set_field_hidden(field_: Field, *, hidden: bool) -> Field:
    if hidden and field_.is_title:
        raise TrackerAdminError("The title field cannot be hidden: every artifact shows it.")
    field_.hidden = hidden
    field_.save(update_fields=["hidden"])
    return field_


@transaction.atomic
def delete_field(field_: Field) -> None:
    """Delete a field that holds no value in any changeset; refuse (say "hide it") otherwise."""
    if field_.is_title:
        raise TrackerAdminError("The title field cannot be deleted: every artifact shows it.")
    if field_is_used(field_):
        raise TrackerAdminError(
            f"{field_.label} cannot be deleted: artifacts' history holds values of it. "
            "Hide it instead: it leaves the forms and lists, and the history keeps it."
        )
    field_.delete()


def option_is_used(option: FieldOption) -> bool:
    """Whether any changeset stored this value (a select stores the id, a multi-select a list of ids)."""
    values = ChangesetValue.objects.filter(field_id=option.field_id)
    if option.field.type == FieldType.SELECT:
        return values.filter(value=option.pk).exists()
    if connection.features.supports_json_field_contains:
        # PostgreSQL: one @> query, however many artifacts.
        return values.filter(value__contains=[option.pk]).exists()
    # SQLite has no JSON containment (Django's docs: "contains is not supported on Oracle and
    # SQLite" for JSONField, and features.supports_json_field_contains says so); read the lists.
    return any(
        isinstance(value, list) and option.pk in value
        for value in values.exclude(value=None).values_list("value", flat=True).iterator()
    )


def set_option_hidden(option: FieldOption, *, hidden: bool) -> FieldOption:
    with transaction.atomic():
        option.hidden = hidden
        option.save(update_fields=["hidden"])
        if hidden:
            # A hidden value is no longer offered, so it cannot be what new artifacts get.
            Field.objects.filter(pk=option.field_id, default_option=option).update(default_option=None)
    return option


@transaction.atomic
def delete_option(option: FieldOption) -> None:
    if option_is_used(option):
        raise TrackerAdminError(
            f"{option.label} cannot be deleted: artifacts have or had this value. "
            "Hide it instead: it is no longer offered, and stays where it is set and in the history."
        )
    option.delete()  # Field.default_option is SET_NULL


def update_option(option: FieldOption, *, label: str, is_closed: bool, color: str) -> FieldOption:
    """Rename a value, and set its closed flag and badge colour (a key of OPTION_COLORS or "").

    Stored values are option ids, so the new label shows everywhere at once, history and emails too.
    """
    label = label.strip()
    if not label:
        raise TrackerAdminError("Give the value a label.")
    problem = text_problem(label, max_length=FieldOption._meta.get_field("label").max_length)
    if problem:
        raise TrackerAdminError(problem)
    if color and color not in OPTION_COLORS:
        raise TrackerAdminError(f"Choose the colour among: {', '.join(OPTION_COLORS)}.")
    siblings = FieldOption.objects.filter(field_id=option.field_id).exclude(pk=option.pk)
    if siblings.filter(label__iexact=label).exists():
        raise TrackerAdminError(f"{label!r} is already a value of this field.")
    option.label = label
    option.is_closed = is_closed
    option.color = color
    try:
        with transaction.atomic():
            option.save(update_fields=["label", "is_closed", "color"])
    except IntegrityError:
        raise TrackerAdminError(f"{label!r} is already a value of this field.") from None
    return option


@transaction.atomic
def move_option(option: FieldOption, *, up: bool) -> None:
    """Swap the value with its neighbour; ranks are rewritten 1, 2, 3... (see move_field)."""
    options = list(
        FieldOption.objects.select_for_update().filter(field_id=option.field_id).order_by("rank", "id")
    )
    index = next(i for i, o in enumerate(options) if o.pk == option.pk)
    other = index - 1 if up else index + 1
    if 0 <= other < len(options):
        options[index], options[other] = options[other], options[index]
    for position, o in enumerate(options, start=1):
        o.rank = position
    FieldOption.objects.bulk_update(options, ["rank"])
