"""Each imported file records whose it is, so that an LA's data managers review its records.

Files imported before are given the local authority of the data manager who imported them
(where that was an LA's data manager), so that the reviews they left waiting stay in that
LA's queue; files imported by the command stay with the national team.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def owner_from_importer(apps, schema_editor):
    FeedImport = apps.get_model("directory", "FeedImport")
    Organisation = apps.get_model("accounts", "Organisation")
    las = Organisation.objects.filter(kind="local_authority")
    importers_la = las.filter(users=OuterRef("imported_by")).values("pk")[:1]
    FeedImport.objects.filter(imported_by__isnull=False).update(
        local_authority=Subquery(importers_la)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_home_postcode"),
        ("directory", "0007_remove_held_for_review"),
    ]

    operations = [
        migrations.AddField(
            model_name="feedimport",
            name="local_authority",
            field=models.ForeignKey(
                blank=True,
                help_text="Whose file it is: its records are reviewed by that LA's data managers",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.organisation",
            ),
        ),
        # Backwards, the column goes and nothing needs undoing.
        migrations.RunPython(owner_from_importer, migrations.RunPython.noop),
    ]
