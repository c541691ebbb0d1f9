"""An LA system's record ids are kept under the LA's code ("E06000047/1001"), because each LA
numbers its own records. Records stored before under the bare id ("1001") are moved under the
code of the LA whose file first sent them, or else of the child they describe, so that the
LA's next file still finds them. A record of neither (an import by the command, before files
recorded their LA, still waiting for review) keeps its bare id. Backwards, the code is taken
off again wherever that leaves ids unique; if an id then still does not fit the 100 characters
ids had before, going back stops and says so. One statement each way, for any number of rows.
"""

from django.db import migrations, models

# Each LA-system record with the code of the LA it belongs to, if any is known.
OWNERS = """
    SELECT r.id, r.record_id, coalesce(file_la.code, child_la.code) AS code
    FROM directory_sourcerecord r
    JOIN directory_feedimport f ON f.id = r.first_import_id
    LEFT JOIN accounts_organisation file_la ON file_la.id = f.local_authority_id
    LEFT JOIN directory_child c ON c.id = r.child_id
    LEFT JOIN accounts_organisation child_la ON child_la.id = c.local_authority_id
    WHERE r.source = 'la_system'
"""

UNDER_LA_CODE = f"""
WITH owners AS ({OWNERS})
UPDATE directory_sourcerecord r SET record_id = o.code || '/' || o.record_id
FROM owners o
WHERE r.id = o.id AND o.code IS NOT NULL
  AND left(o.record_id, length(o.code) + 1) <> o.code || '/'
  AND NOT EXISTS (
      SELECT 1 FROM directory_sourcerecord t
      WHERE t.source = 'la_system' AND t.record_id = o.code || '/' || o.record_id
  )
"""  # noqa: S608 - fixed text, no input

# Of records that would share a bare id, only the first (oldest) takes it.
BARE = f"""
WITH owners AS ({OWNERS}),
stripped AS (
    SELECT id, substr(record_id, length(code) + 2) AS bare,
           row_number() OVER (PARTITION BY substr(record_id, length(code) + 2) ORDER BY id) AS nth
    FROM owners
    WHERE code IS NOT NULL AND left(record_id, length(code) + 1) = code || '/'
)
UPDATE directory_sourcerecord r SET record_id = s.bare
FROM stripped s
WHERE r.id = s.id AND s.nth = 1
  AND NOT EXISTS (
      SELECT 1 FROM directory_sourcerecord t WHERE t.source = 'la_system' AND t.record_id = s.bare
  )
"""  # noqa: S608 - fixed text, no input


def under_la_code(apps, schema_editor):
    schema_editor.execute(UNDER_LA_CODE)


def bare(apps, schema_editor):
    schema_editor.execute(BARE)
    SourceRecord = apps.get_model("directory", "SourceRecord")
    too_long = list(
        SourceRecord.objects.filter(source="la_system", record_id__regex=r"^.{101,}$").values_list(
            "record_id", flat=True
        )[:1000]
    )
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
