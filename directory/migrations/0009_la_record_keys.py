"""An LA system's record ids are kept under the LA's code ("E06000047/1001"), because each LA
numbers its own records. Records stored before under the bare id ("1001") are moved under the
code of the LA whose file first sent them, or else of the child they describe, so that the
LA's next file still finds them. A record of neither (an import by the command, before files
recorded their LA, still waiting for review) keeps its bare id. Backwards, the code is taken
off again wherever that leaves ids unique; if an id then still does not fit the 100 characters
ids had before, going back stops and says so.
"""

from django.db import migrations, models

LA_SYSTEM = "la_system"


def _la_records(apps):
    SourceRecord = apps.get_model("directory", "SourceRecord")
    return SourceRecord.objects.filter(source=LA_SYSTEM).select_related(
        "first_import__local_authority", "child__local_authority"
    )


def _owner_code(record) -> str | None:
    la = record.first_import.local_authority or (record.child and record.child.local_authority)
    return la.code if la else None


def _rekey(apps, new_key) -> None:
    records = _la_records(apps)
    taken = set(records.values_list("record_id", flat=True))
    for record in records.iterator():
        code = _owner_code(record)
        key = new_key(record.record_id, code) if code else None
        if key and key != record.record_id and key not in taken:
            taken.discard(record.record_id)
            taken.add(key)
            record.record_id = key
            record.save(update_fields=["record_id"])


def under_la_code(apps, schema_editor):
    _rekey(apps, lambda bare, code: bare if bare.startswith(f"{code}/") else f"{code}/{bare}")


def bare(apps, schema_editor):
    _rekey(apps, lambda key, code: key.removeprefix(f"{code}/"))
    too_long = [
        key for key in _la_records(apps).values_list("record_id", flat=True) if len(key) > 100
    ]
    if too_long:
        raise RuntimeError(
            f"Migration 0009 cannot be undone: {len(too_long)} LA record ids (such as "
            f"{too_long[0]!r}) keep their LA's code, as another LA holds the same bare id, and "
            "so do not fit the 100 characters ids had before. Keep 0009 applied."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0008_feed_import_local_authority"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sourcerecord",
            name="record_id",
            field=models.CharField(help_text="The feed's own id for the person", max_length=121),
        ),
        migrations.RunPython(under_la_code, bare),
    ]
