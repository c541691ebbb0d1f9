"""The look again after commit at the shields near what a transaction changed, owed in a row
that commits with it, so that a look that fails is done by the next `shields_follow --pending`.
Going back drops the table: looks still owed are left to the night's `shields_follow`."""

import django.contrib.postgres.fields
import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shielding", "0004_override_seen_through"),
    ]

    operations = [
        migrations.CreateModel(
            name="ShieldsToFollow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("since", models.DateTimeField()),
                (
                    "children",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(), blank=True, default=list, size=None
                    ),
                ),
                (
                    "made_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
        ),
    ]
