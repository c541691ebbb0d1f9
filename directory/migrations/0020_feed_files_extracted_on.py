"""When each feed file was extracted, so that an older file imported late is known as older.

Files imported before keep null: they count as extracted when they were received."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0019_purged_feed_records"),
    ]

    operations = [
        migrations.AddField(
            model_name="feedimport",
            name="extracted_on",
            field=models.DateField(
                blank=True,
                help_text="When the source system extracted the file; null for a file imported before ContactPoint asked, taken as extracted when it was received",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="feedupload",
            name="extracted_on",
            field=models.DateField(blank=True, help_text="As FeedImport's", null=True),
        ),
    ]
