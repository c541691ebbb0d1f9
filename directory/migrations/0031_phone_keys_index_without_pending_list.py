"""The index that finds a parent or carer by a phone number takes each insert into itself rather
than into a pending list: every look read the whole list through until a vacuum merged it,
8 ms a look after a bulk load (seed_demo, a large feed file) where 0.2 ms does, and a shield
is followed by a look for each number. The index is built again; going back builds it as it
was.
"""

import django.contrib.postgres.indexes
from django.db import migrations

import directory.models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0030_source_record_pointed_to_by_id"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="parentcarer",
            name="parentcarer_phone_keys",
        ),
        migrations.AddIndex(
            model_name="parentcarer",
            index=django.contrib.postgres.indexes.GinIndex(
                directory.models.PhoneKeys("phone"), fastupdate=False, name="parentcarer_phone_keys"
            ),
        ),
    ]
