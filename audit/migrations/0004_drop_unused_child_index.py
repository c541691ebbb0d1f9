"""The access log's index on the child's database id is dropped: no query asks for events by
it (a child's history asks by ContactPoint ID, which outlives the record's purge, and has its
own index since ``0003``), and every event with a child went into it, on the write every page
makes. Going back builds it again.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_child_history_indexes")]

    operations = [
        migrations.RunSQL(
            "DROP INDEX audit_event_child",
            "CREATE INDEX audit_event_child ON audit_event (child_id, occurred_at) "
            "WHERE child_id IS NOT NULL",
        )
    ]
