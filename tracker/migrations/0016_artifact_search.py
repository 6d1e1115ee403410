"""Indexes for finding artifacts (tracker.services.artifact_query).

On every database, the list's sort orders within a tracker. On PostgreSQL only (nothing on SQLite):

- ``current_values`` containment (``@>``), the way equality filters on a field are written, with the
  jsonb_path_ops GIN operator class (smaller and faster than the default one, and it serves ``@>``);
- full-text search of the artifacts' string values (title, description, text fields) and of the
  comments: GIN indexes on the very expressions of tracker.services.query_expressions.
"""

import django.db.models.deletion
from django.conf import settings
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
    dependencies = [("tracker", "0015_field_visibility"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

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
        # Saved queries of the artifact list (tracker.services.saved_queries).
        migrations.CreateModel(
            name="SavedQuery",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("query_string", models.CharField(blank=True, max_length=2000)),
                (
                    "shared",
                    models.BooleanField(default=False, help_text="Shown to everyone who may read the tracker."),
                ),
                ("created_on", models.DateTimeField(auto_now_add=True)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="saved_queries",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "tracker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="saved_queries",
                        to="tracker.tracker",
                    ),
                ),
            ],
            options={
                "ordering": ["tracker", "name", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("tracker", "owner", "name"), name="saved_query_name_unique")
                ],
            },
        ),
    ]
