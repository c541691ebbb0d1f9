"""A row most likely about a record archived out of sight can be set aside with that record.

No one can see such a record or decide on the row, which otherwise waited in the review queue
until the record's purge. Going back makes each set-aside review deferred again, as it was.
"""

from django.db import migrations, models


def set_aside_deferred(apps, schema_editor):
    MatchReview = apps.get_model("directory", "MatchReview")
    MatchReview.objects.filter(status="set_aside").update(status="deferred")


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0025_feed_file_once_per_extract"),
    ]

    operations = [
        migrations.AlterField(
            model_name="matchreview",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Waiting for a decision"),
                    ("matched", "Matched to an existing child"),
                    ("created", "Made a new child"),
                    ("deferred", "Deferred"),
                    ("set_aside", "Set aside with a record archived out of sight"),
                ],
                default="open",
                max_length=20,
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, set_aside_deferred),
    ]
