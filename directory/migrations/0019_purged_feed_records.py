"""Keyed digests of the feed records of purged children, so an old file cannot bring them back."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0018_feed_file_sent_again"),
    ]

    operations = [
        migrations.CreateModel(
            name="PurgedFeedRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(max_length=64, unique=True)),
                ("purged_on", models.DateField()),
            ],
        ),
    ]
