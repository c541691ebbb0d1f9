"""Seal django-auditlog's change log with the access log.

- ``audit_change_digest``: each change-log entry's SHA-256, written when its day is sealed, so
  that verification can name the very entry that was altered, inserted or removed. Append-only
  like the other audit tables; retention deletes its rows with the entries they describe.
- ``audit_seal.change_count`` and ``changes_hash``: the day's entries and the hash of their
  digests, chained into the seal hash. Seals made before this migration have neither.
"""

from django.db import migrations, models

CHANGE_DIGESTS = """
CREATE TABLE audit_change_digest (
    entry_id bigint PRIMARY KEY,
    logged_at timestamptz NOT NULL,
    digest bytea NOT NULL
);
CREATE INDEX audit_change_digest_logged ON audit_change_digest (logged_at);

CREATE TRIGGER audit_change_digest_append_only BEFORE UPDATE OR DELETE ON audit_change_digest
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_change_digest_no_truncate BEFORE TRUNCATE ON audit_change_digest
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- What is sealed of a change-log entry: every column, in a fixed order, times in UTC, so the
-- digest does not depend on the session's time zone or on columns django-auditlog adds later.
CREATE FUNCTION audit_change_digest_of(l auditlog_logentry) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(json_build_array(
        l.id, l.timestamp AT TIME ZONE 'UTC', l.content_type_id, l.object_pk, l.object_id,
        l.object_repr, l.serialized_data, l.action, l.changes_text, l.changes, l.actor_id,
        l.actor_email, l.cid, host(l.remote_addr), l.remote_port, l.additional_data
    )::text, 'UTF8'))
$$;
"""

# Undoing this migration drops what seals made since then hashed, leaving them unverifiable.
KEEP_SEALS_VERIFIABLE = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_seal WHERE changes_hash IS NOT NULL) THEN
        RAISE EXCEPTION 'seals cover the change log: undoing this migration would break them';
    END IF;
END $$;
"""

DROP_CHANGE_DIGESTS = """
DROP FUNCTION audit_change_digest_of;
DROP TABLE audit_change_digest;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunSQL(CHANGE_DIGESTS, DROP_CHANGE_DIGESTS),
        migrations.AddField(
            model_name="auditseal", name="change_count", field=models.BigIntegerField(null=True)
        ),
        migrations.AddField(
            model_name="auditseal",
            name="changes_hash",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunSQL(migrations.RunSQL.noop, KEEP_SEALS_VERIFIABLE),
    ]
