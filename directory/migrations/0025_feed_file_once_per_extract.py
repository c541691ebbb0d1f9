"""The same file extracted later is a newer extract, imported as a file of its own.

A source system with nothing changed extracts the same bytes again: refused as "imported
before", its later date was lost and a file extracted in between stayed the newer word on its
records. A file is now imported once for each day it was extracted. Going back stops while the
same file is held for two extract dates: the old rule (one import for each file) cannot hold
them, and deleting one would lose who sent what.
"""

import datetime

from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Coalesce


def one_extract_each(apps, schema_editor):
    FeedImport = apps.get_model("directory", "FeedImport")
    twice = (
        FeedImport.objects.filter(resend_of__isnull=True)
        .values("source", "file_sha256")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    if twice:
        raise RuntimeError(
            f"Migration 0025 cannot be undone: {twice} files are imported for more than one "
            "extract date, which the rule of before (one import for each file) cannot hold. "
            "Keep 0025 applied."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0024_rekey_each_part_of_first_names"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="feedimport", name="feed_file_once"),
        migrations.AddConstraint(
            model_name="feedimport",
            constraint=models.UniqueConstraint(
                models.F("source"),
                models.F("file_sha256"),
                Coalesce("extracted_on", models.Value(datetime.date(1, 1, 1))),
                condition=models.Q(("resend_of__isnull", True)),
                name="feed_file_once_per_extract",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, one_extract_each),
    ]
