"""Search keys made afresh for the children whose first name is one of the nicknames added.

A Sasha was keyed only as Sasha, so a search for Alexander or Alexandra did not find her; a Sam
only as Sam and Samuel, never as Samantha. ``matching._SHORT_FORMS`` now knows Sasha, Sam and
Sammy for Samantha, Chris for Christina and Christine, Tina, Jake, Tasha and Nat. Only a child
with such a first name, on any name she is known by, is keyed again; undoing the migration
leaves the new keys, which the old code reads as well as its own.
"""

from importlib import import_module

from django.db import migrations

# The nicknames added with this migration, as a first name.
ADDED_NICKNAMES = r"^\s*(SASHA|SAM|SAMMY|CHRIS|TINA|JAKE|TASHA|NAT)([\s\-\u2010-\u2015\u2212]|$)"


def rekey(apps, schema_editor):
    Child = apps.get_model("directory", "Child")
    ChildName = apps.get_model("directory", "ChildName")
    ids = set(Child.objects.filter(given_name__iregex=ADDED_NICKNAMES).values_list("pk", flat=True))
    ids |= set(
        ChildName.objects.filter(given_name__iregex=ADDED_NICKNAMES).values_list(
            "child_id", flat=True
        )
    )
    earlier = import_module("directory.migrations.0017_rekey_names_beyond_ascii")
    earlier.rekey_children(apps, ids)


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0022_rekey_children_of_several_names"),
    ]

    operations = [
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
