import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0011_notification_batches"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="plain_text_emails",
            field=models.BooleanField(
                default=False, help_text="Send me notification emails as plain text only (no HTML part)."
            ),
        ),
        migrations.AddField(
            model_name="field",
            name="default_option",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="tracker.fieldoption",
            ),
        ),
    ]
