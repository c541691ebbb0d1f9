"""Whether a row waiting for review points to a child by its own id (the feed record was that
child's, or its id is their UPN or NHS number) or only by an NHS number it carries (a record of
an LA's system of its own): a purge of that child takes the first kind of row with them, as
its id is theirs. Rows already waiting are told apart as the import would have: a census, GP
or child benefit row points by its id; so does an LA's row whose record was the child's (held
for review as her record's row: it gave her facts), and one whose NHS number is no record's;
not one of a record never hers that carries her NHS number. Going back drops the mark.
"""

from typing import Any

from django.db import migrations, models

# The facts a feed record gives the child it is linked to, each naming it (``FedBy``).
FED = ("ChildIdentifier", "ChildName", "Address", "CareRelationship", "Involvement")


def by_id(apps: Any, schema_editor: Any) -> None:
    source_record = apps.get_model("directory", "SourceRecord")
    identifier = apps.get_model("directory", "ChildIdentifier")
    for row in source_record.objects.filter(pointed_to__isnull=False):
        number = row.payload.get("nhs_number", "")
        carries_one = identifier.objects.filter(kind="nhs_number", value=number).exists()
        was_hers = any(
            apps.get_model("directory", model).objects.filter(source_record_id=row.pk).exists()
            for model in FED
        )
        if row.source != "la_system" or was_hers or not carries_one:
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
