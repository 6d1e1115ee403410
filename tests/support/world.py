"""Small trackers for the tests that need field types beyond the ``bugs`` and ``tasks`` defaults."""

from __future__ import annotations

from tracker.models import FieldType, Project, Tracker
from tracker.services.trackers import FieldSpec, TrackerSpec, create_tracker

# One field of each type (and a notifying one), by name: a test asks for the ones it talks about.
TYPED_FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("details", "Details", FieldType.TEXT),
        FieldSpec("effort", "Effort", FieldType.INTEGER),
        FieldSpec("ratio", "Ratio", FieldType.FLOAT),
        FieldSpec("due", "Due", FieldType.DATE),
        FieldSpec("seen", "Seen at", FieldType.DATETIME),
        FieldSpec("severity", "Severity", FieldType.SELECT, options=("Minor", "Major")),
        FieldSpec("os", "OS", FieldType.MULTI_SELECT, options=("Linux", "macOS")),
        FieldSpec("owner", "Owner", FieldType.USER),
        FieldSpec("reviewers", "Reviewers", FieldType.USERS),
        FieldSpec("watchers", "Watchers", FieldType.USERS, notify=True),
        FieldSpec("labels", "Labels", FieldType.OPEN_LIST),
        FieldSpec("files", "Files", FieldType.FILES),
        FieldSpec("links", "Links", FieldType.LINKS),
    )
}

# "watchers" is a second users field, there for its notify flag.
ONE_OF_EACH_TYPE = tuple(name for name in TYPED_FIELDS if name != "watchers")


def typed_tracker(project: Project, *fields: str | FieldSpec, shortname: str = "typed") -> Tracker:
    """A tracker with a required title, then ``fields`` in that order (ranks follow it).

    A field is a name from TYPED_FIELDS or a FieldSpec of the test's own; without any, one of each
    type. The tracker is named after its shortname ("typed" -> "Typed").
    """
    specs = [TYPED_FIELDS[f] if isinstance(f, str) else f for f in fields or ONE_OF_EACH_TYPE]
    title = FieldSpec("title", "Title", FieldType.STRING, required=True, is_title=True)
    return create_tracker(
        project, TrackerSpec(name=shortname.capitalize(), shortname=shortname, fields=[title, *specs])
    )
