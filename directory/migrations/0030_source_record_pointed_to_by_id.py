"""Whether a row waiting for review points to a child by its own id (the feed record was that
child's, or its id is their UPN or NHS number) or only by an NHS number it carries (a record of
an LA's system of its own): a purge of that child takes the first kind of row with them, as
its id is theirs. Rows already waiting are told apart as the import would have: a census, GP
or child benefit row points by its id; an LA's row does unless its NHS number is the child's.
Going back drops the mark.
"""

from typing import Any

from django.db import migrations, models


def by_id(apps: Any, schema_editor: Any) -> None:
    source_record = apps.get_model("directory", "SourceRecord")
    identifier = apps.get_model("directory", "ChildIdentifier")
    for row in source_record.objects.filter(pointed_to__isnull=False):
        number = row.payload.get("nhs_number", "")
        carries_theirs = identifier.objects.filter(
            child_id=row.pointed_to_id, kind="nhs_number", value=number
        ).exists()
        if row.source != "la_system" or not carries_theirs:
            row.pointed_to_by_id = True
            row.save(update_fields=["pointed_to_by_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0029_source_record_pointed_to"),
    ]

    operations = [
        migrations.AddField(
            model_name="sourcerecord",
            name="pointed_to_by_id",
            field=models.BooleanField(
                default=False,
                help_text="Whether the feed's id for the person, not only an NHS number the row "
                "carries, is the pointed-to child's",
            ),
        ),
        migrations.RunPython(by_id, migrations.RunPython.noop),
    ]
