"""Comments are rendered once, when stored: ``Changeset.comment_html``, filled here for existing rows.

Imported rich text (the text values of artifacts imported from Jira) was sanitized when stored, but
images from other sites were kept: it is sanitized again so that they become links.
"""

from django.db import migrations, models

BATCH = 500


def render_stored(apps, schema_editor):
    # The renderer of today, on purpose: what is stored must be what the current code would store.
    from tracker.services.rendering import render_comment, sanitize_html

    Changeset = apps.get_model("tracker", "Changeset")
    batch = []
    for changeset in (
        Changeset.objects.exclude(comment="")
        .only("id", "comment", "comment_format")
        .iterator(chunk_size=BATCH)
    ):
        changeset.comment_html = render_comment(changeset.comment, changeset.comment_format)
        batch.append(changeset)
        if len(batch) >= BATCH:
            Changeset.objects.bulk_update(batch, ["comment_html"])
            batch = []
    Changeset.objects.bulk_update(batch, ["comment_html"])

    Field = apps.get_model("tracker", "Field")
    Artifact = apps.get_model("tracker", "Artifact")
    ChangesetValue = apps.get_model("tracker", "ChangesetValue")
    text_fields = list(Field.objects.filter(type="text").values_list("pk", flat=True))
    if not text_fields:
        return
    values = ChangesetValue.objects.filter(
        field_id__in=text_fields, changeset__artifact__jira_issue_id__isnull=False
    ).only("id", "value")
    batch = []
    for row in values.iterator(chunk_size=BATCH):
        if isinstance(row.value, str) and row.value:
            row.value = sanitize_html(row.value)
            batch.append(row)
        if len(batch) >= BATCH:
            ChangesetValue.objects.bulk_update(batch, ["value"])
            batch = []
    ChangesetValue.objects.bulk_update(batch, ["value"])
    keys = [str(pk) for pk in text_fields]
    batch = []
    for artifact in (
        Artifact.objects.filter(jira_issue_id__isnull=False)
        .only("id", "current_values")
        .iterator(chunk_size=BATCH)
    ):
        changed = False
        for key in keys:
            value = artifact.current_values.get(key)
            if isinstance(value, str) and value:
                artifact.current_values[key] = sanitize_html(value)
                changed = True
        if changed:
            batch.append(artifact)
        if len(batch) >= BATCH:
            Artifact.objects.bulk_update(batch, ["current_values"])
            batch = []
    Artifact.objects.bulk_update(batch, ["current_values"])


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="changeset",
            name="comment_html",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(render_stored, migrations.RunPython.noop, elidable=True),
    ]
