"""Indexes for finding artifacts (tracker.services.artifact_query).

On every database, the list's sort orders within a tracker. On PostgreSQL only (nothing on SQLite):

- ``current_values`` containment (``@>``), the way equality filters on a field are written, with the
  jsonb_path_ops GIN operator class (smaller and faster than the default one, and it serves ``@>``);
- full-text search of the artifacts' string values (title, description, text fields) and of the
  comments: GIN indexes on the very expressions of tracker.services.query_expressions.
"""

from django.db import migrations, models

# Written out, not imported: a migration must not change when the code does. The test
# tests/services/test_artifact_query.py::test_the_search_indexes_match_the_search_expressions keeps
# these equal to query_expressions' ARTIFACT_DOCUMENT_SQL and COMMENT_DOCUMENT_SQL.
ARTIFACT_DOCUMENT = "jsonb_to_tsvector('simple'::regconfig, current_values, '[\"string\"]'::jsonb)"
COMMENT_DOCUMENT = "to_tsvector('simple'::regconfig, comment)"

INDEXES = {
    "artifact_values_gin": "tracker_artifact USING gin (current_values jsonb_path_ops)",
    "artifact_document_gin": f"tracker_artifact USING gin (({ARTIFACT_DOCUMENT}))",
    "changeset_comment_gin": f"tracker_changeset USING gin (({COMMENT_DOCUMENT}))",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("tracker", "0009_jira_resync")]

    operations = [
        migrations.AddIndex(
            model_name="artifact",
            index=models.Index(fields=["tracker", "id"], name="artifact_tracker_id"),
        ),
        migrations.AddIndex(
            model_name="artifact",
            index=models.Index(fields=["tracker", "last_updated_on", "id"], name="artifact_tracker_updated_id"),
        ),
        migrations.AddIndex(
            model_name="artifact",
            index=models.Index(fields=["tracker", "submitted_on", "id"], name="artifact_tracker_submitted_id"),
        ),
        migrations.AddIndex(
            model_name="artifact",
            index=models.Index(fields=["tracker", "title", "id"], name="artifact_tracker_title_id"),
        ),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
