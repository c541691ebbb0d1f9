"""A feed file too large to check while its data manager waits is kept unchecked, its rows not
counted until the waiting-feeds command checks and imports it.

Going back counts a file still waiting unchecked as having 0 rows: it is still checked as it
is imported.
"""

from django.db import migrations, models


def uncounted_as_none(apps, schema_editor):
    FeedUpload = apps.get_model("directory", "FeedUpload")
    FeedUpload.objects.filter(rows__isnull=True).update(rows=0)


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0026_review_set_aside"),
    ]

    operations = [
        migrations.AlterField(
            model_name="feedupload",
            name="rows",
            field=models.IntegerField(
                blank=True,
                help_text="Rows found; none until a file too large to check is",
                null=True,
            ),
        ),
        # Going back, runs first: the column cannot be made NOT NULL with nulls in it.
        migrations.RunPython(migrations.RunPython.noop, uncounted_as_none),
    ]
