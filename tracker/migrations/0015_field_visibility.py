from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0014_artifact_link_targets"),
    ]

    operations = [
        migrations.AddField(
            model_name="field",
            name="hidden",
            field=models.BooleanField(default=False, help_text="Hidden from forms and lists; history keeps it."),
        ),
        migrations.AddField(
            model_name="fieldoption",
            name="hidden",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="fieldoption",
            name="color",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
    ]
