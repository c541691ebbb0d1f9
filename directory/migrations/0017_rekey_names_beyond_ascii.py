"""Search keys made afresh for the children whose names the keys misread.

Keys made before ``matching.normalise`` read letters such as Ł, Ø, ß and Æ dropped them
("Wałęsa" was keyed as "WAESA", never found as "Walesa"); a name joined by a dash rather than
a hyphen (an en dash from a word processor) was keyed whole only; a surname, or a part of one,
that Metaphone spells as nothing ("Ee", "Ooi") had no key, and such a first name was keyed as
none, also for a child whom the rest of her names keyed (Ooi-Hart); and a first name that is
one of the common nicknames added then (Jack, Millie) was not keyed as the name it shortens.
Only those children's keys change, so only they are keyed again; undoing the migration leaves
the new keys, which the old code reads as well as its own.
"""

from collections import defaultdict

from django.db import migrations
from django.db.models import Exists, OuterRef, Q

# Anything but printable ASCII: more than needs rekeying, never less.
BEYOND_ASCII = r"[^ -~]"
# A name part of vowels (and W, Y, H) only, which Metaphone may spell as nothing: more than
# needs rekeying, never less ("Ooi-Hart" was keyed only as Hart, "Ee" as no first name).
SPELT_AS_NOTHING = r"(^|[\s-])([^A-Za-z\s-]|[AEIOUWYHaeiouwyh])+([\s-]|$)"
# The nicknames added to matching._SHORT_FORMS with this migration, as a first name.
ADDED_NICKNAMES = (
    r"^\s*(JACK|JOHNNY|CHARLIE|CHARLEY|CHAS|OLLIE|OLLY|MILLIE|MILLY|ANDY|DREW|SALLY|SADIE"
    r"|MOLLY|POLLY|PENNY|EVIE|PADDY|PAT|HATTIE|MATT|MATTY|JOSH|MAX|JEN|JENNY|DAVE|DAVY|PETE"
    r"|STEVE|SUE|SUSIE|FRANK|FRANKIE|FRAN)([\s-]|$)"
)


def rekey(apps, schema_editor):
    Child = apps.get_model("directory", "Child")
    ChildName = apps.get_model("directory", "ChildName")
    NameKey = apps.get_model("directory", "NameKey")
    beyond = (
        Q(given_name__regex=BEYOND_ASCII)
        | Q(family_name__regex=BEYOND_ASCII)
        | Q(given_name__iregex=ADDED_NICKNAMES)
        | Q(given_name__regex=SPELT_AS_NOTHING)
        | Q(family_name__regex=SPELT_AS_NOTHING)
    )
    ids = set(Child.objects.filter(beyond).values_list("pk", flat=True))
    ids |= set(ChildName.objects.filter(beyond).values_list("child_id", flat=True))
    keyless = ~Exists(NameKey.objects.filter(child_id=OuterRef("pk")))
    ids |= set(Child.objects.filter(keyless).values_list("pk", flat=True))
    rekey_children(apps, ids)


def rekey_children(apps, ids):
    """The search keys of these children made afresh (migration 0020 uses it too)."""
    # The keys are the application's own computation, as the search reads them.
    from directory.matching import search_keys

    Child = apps.get_model("directory", "Child")
    ChildName = apps.get_model("directory", "ChildName")
    NameKey = apps.get_model("directory", "NameKey")
    ordered = sorted(ids)
    for start in range(0, len(ordered), 5000):
        batch = ordered[start : start + 5000]
        names: dict[int, list[tuple[str, str]]] = defaultdict(list)
        births = {}
        for pk, given, family, born in Child.objects.filter(pk__in=batch).values_list(
            "pk", "given_name", "family_name", "date_of_birth"
        ):
            names[pk].append((given, family))
            births[pk] = born
        for child_id, given, family in ChildName.objects.filter(child_id__in=batch).values_list(
            "child_id", "given_name", "family_name"
        ):
            names[child_id].append((given, family))
        NameKey.objects.filter(child_id__in=batch).delete()
        NameKey.objects.bulk_create(
            [
                NameKey(child_id=pk, family_key=family, given_key=given, date_of_birth=births[pk])
                for pk in births
                for family, given in search_keys(names[pk])
            ],
            batch_size=5000,
        )
    if ordered:
        print(f"\n  Search keys made afresh for {len(ordered)} children.")


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0016_facts_name_the_feed_record"),
    ]

    operations = [
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
