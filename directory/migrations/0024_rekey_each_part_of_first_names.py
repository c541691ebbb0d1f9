"""Search keys made afresh for the children with a first name of two or more parts.

A Mary-Jane was keyed as Mary and Maryjane only, so a search for Jane Hart without a date of
birth did not find her; ``matching.held_given_keys`` now keys each part of the first name, as
each part of a surname is. Only children with such a first name, on any name they are known
by, are keyed again (those migration 0021 chose, in batches of 5,000); undoing the migration
leaves the new keys, which the old code reads as well as its own.
"""

from importlib import import_module

from django.db import migrations


def rekey(apps, schema_editor):
    import_module("directory.migrations.0021_rekey_first_names_whole").rekey(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0023_rekey_more_nicknames"),
    ]

    operations = [
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
