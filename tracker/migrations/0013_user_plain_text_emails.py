from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0009_jira_resync"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="plain_text_emails",
            field=models.BooleanField(
                default=False, help_text="Send me notification emails as plain text only (no HTML part)."
            ),
        ),
    ]
