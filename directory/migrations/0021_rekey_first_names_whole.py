"""Search keys made afresh for the children with a first name of two or more parts.

A first name such as Mary-Jane was keyed only as Mary, so a search for Maryjane (or, for a
child held as Maryjane, one for Mary-Jane) did not find her; ``matching.given_keys`` now keys
the whole name joined as well. Only children with such a first name, on any name they are
known by, are keyed again; undoing the migration leaves the new keys, which the old code
reads as well as its own.
"""

from importlib import import_module

from django.db import migrations

# A first name with a space, hyphen or dash between two parts: more than needs rekeying,
# never less.
OF_PARTS = r"\S[\s\-\u2010-\u2015\u2212]+\S"


def rekey(apps, schema_editor):
    Child = apps.get_model("directory", "Child")
    ChildName = apps.get_model("directory", "ChildName")
    ids = set(Child.objects.filter(given_name__regex=OF_PARTS).values_list("pk", flat=True))
    ids |= set(
        ChildName.objects.filter(given_name__regex=OF_PARTS).values_list("child_id", flat=True)
    )
    earlier = import_module("directory.migrations.0017_rekey_names_beyond_ascii")
    earlier.rekey_children(apps, ids)


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0020_feed_files_extracted_on"),
    ]

    operations = [
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
