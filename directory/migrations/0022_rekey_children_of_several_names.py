"""Search keys made afresh for the children who hold more than one name.

A child's keys paired a surname only with the first name of the same name, while the score
compares the surname searched with all her surnames and the first name with all of her first
names: Amelia Okafor, formerly Kayla Hart, scored 100 for Hart and Amelia but was found only
with her date of birth. ``matching.search_keys`` now pairs each of her surnames with each of her
first names. Only a child with a former or "known as" name holds more than one, so only those
children are keyed again; undoing the migration leaves the new keys, which the old code reads
as well as its own.
"""

from importlib import import_module

from django.db import migrations


def rekey(apps, schema_editor):
    ChildName = apps.get_model("directory", "ChildName")
    ids = set(ChildName.objects.values_list("child_id", flat=True).distinct())
    earlier = import_module("directory.migrations.0017_rekey_names_beyond_ascii")
    earlier.rekey_children(apps, ids)


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0021_rekey_first_names_whole"),
    ]

    operations = [
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
