"""Indexes for a child's access and change history (``selectors.child_history`` and
``child_changes``), and for the event search by ContactPoint ID.

- ``audit_event_child_contactpoint``: the events whose child is this one. The history asks for
  events naming the child as their child or among their results; the results had an index, the
  child did not, so every history read every partition of the log: 62 ms on 400,000 events,
  0.2 ms with it, and the log grows by every page every practitioner opens. A partitioned
  index: each month's partition made since gets its own.
- ``auditlog_logentry_child_ids``: the change-log entries naming the child (``child_ids`` in
  their additional data), which was read whole for each history too.

Going back drops both.
"""

from django.db import migrations

INDEXES = """
CREATE INDEX audit_event_child_contactpoint ON audit_event (child_contactpoint_id, occurred_at)
    WHERE child_contactpoint_id <> '';
CREATE INDEX auditlog_logentry_child_ids ON auditlog_logentry
    USING gin ((additional_data -> 'child_ids') jsonb_path_ops);
"""

DROP_INDEXES = """
DROP INDEX auditlog_logentry_child_ids;
DROP INDEX audit_event_child_contactpoint;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_seal_the_change_log")]

    operations = [migrations.RunSQL(INDEXES, DROP_INDEXES)]
