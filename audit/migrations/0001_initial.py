"""The audit tables, made append-only by PostgreSQL itself.

- ``audit_event``: one row per request, partitioned by month (``audit_create_month`` makes a
  month's partitions; ``audit_partitions`` calls it ahead of time).
- ``audit_event_digest``: each event's SHA-256, written when its day is sealed, partitioned
  alongside, so that verification can name the very event that was altered, inserted or removed.
- ``audit_seal``: one hash-chained seal per closed day.
- Triggers refuse UPDATE, DELETE and TRUNCATE on all of these and on django-auditlog's change
  log. In production the application's database role is also granted only SELECT and INSERT on
  them (docs/deployment.md); old months leave only by dropping whole partitions.
"""

from django.db import migrations, models

APPEND_ONLY = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""

EVENTS = """
CREATE SEQUENCE audit_event_id_seq AS bigint;

CREATE TABLE audit_event (
    id bigint NOT NULL DEFAULT nextval('audit_event_id_seq'),
    occurred_at timestamptz NOT NULL DEFAULT statement_timestamp(),
    request_id uuid,
    user_id bigint,
    username varchar(150) NOT NULL DEFAULT '',
    roles varchar(30)[] NOT NULL DEFAULT '{}',
    organisation_id bigint,
    action varchar(30) NOT NULL,
    method varchar(10) NOT NULL DEFAULT '',
    path varchar(500) NOT NULL DEFAULT '',
    status smallint,
    ip_address inet,
    user_agent varchar(500) NOT NULL DEFAULT '',
    child_id bigint,
    child_contactpoint_id varchar(12) NOT NULL DEFAULT '',
    child_shielded boolean,
    child_local_authority_id bigint,
    search_criteria jsonb,
    result_ids varchar(12)[] NOT NULL DEFAULT '{}',
    result_count integer,
    reason text NOT NULL DEFAULT '',
    detail jsonb,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
ALTER SEQUENCE audit_event_id_seq OWNED BY audit_event.id;

CREATE INDEX audit_event_user ON audit_event (user_id, occurred_at);
CREATE INDEX audit_event_organisation ON audit_event (organisation_id, occurred_at);
CREATE INDEX audit_event_action ON audit_event (action, occurred_at);
CREATE INDEX audit_event_child ON audit_event (child_id, occurred_at) WHERE child_id IS NOT NULL;
CREATE INDEX audit_event_results ON audit_event USING gin (result_ids);
CREATE INDEX audit_event_occurred ON audit_event (occurred_at);

CREATE TABLE audit_event_digest (
    event_id bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    digest bytea NOT NULL,
    PRIMARY KEY (event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_event_digest_append_only BEFORE UPDATE OR DELETE ON audit_event_digest
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_event_digest_no_truncate BEFORE TRUNCATE ON audit_event_digest
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- A month's partitions of both tables; a partition can be truncated on its own, so each gets
-- its own TRUNCATE trigger (row triggers are inherited from the parent).
CREATE FUNCTION audit_create_month(month_start date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first_day date := date_trunc('month', month_start)::date;
    next_month date := (date_trunc('month', month_start) + interval '1 month')::date;
    suffix text := to_char(first_day, '"y"YYYY"m"MM');
    base text;
BEGIN
    FOREACH base IN ARRAY ARRAY['audit_event', 'audit_event_digest'] LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            base || '_' || suffix, base, first_day, next_month
        );
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER %I BEFORE TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()',
            base || '_no_truncate', base || '_' || suffix
        );
    END LOOP;
END $$;

-- What is sealed of an event: every column, in a fixed order, times in UTC, so the digest does
-- not depend on the session's time zone or on columns added later.
CREATE FUNCTION audit_event_digest_of(e audit_event) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(json_build_array(
        e.id, e.occurred_at AT TIME ZONE 'UTC', e.request_id, e.user_id, e.username, e.roles,
        e.organisation_id, e.action, e.method, e.path, e.status, host(e.ip_address),
        e.user_agent, e.child_id, e.child_contactpoint_id, e.child_shielded,
        e.child_local_authority_id, e.search_criteria, e.result_ids, e.result_count, e.reason,
        e.detail
    )::text, 'UTF8'))
$$;

SELECT audit_create_month((date_trunc('month', now()) + make_interval(months => m))::date)
FROM generate_series(-1, 12) AS m;
"""

SEALS_AND_CHANGE_LOG = """
CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER auditlog_logentry_append_only BEFORE UPDATE OR DELETE ON auditlog_logentry
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER auditlog_logentry_no_truncate BEFORE TRUNCATE ON auditlog_logentry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
"""

DROP_ALL = """
DROP TRIGGER auditlog_logentry_no_truncate ON auditlog_logentry;
DROP TRIGGER auditlog_logentry_append_only ON auditlog_logentry;
DROP FUNCTION audit_event_digest_of;
DROP FUNCTION audit_create_month(date);
DROP TABLE audit_event_digest;
DROP TABLE audit_event;
DROP FUNCTION audit_refuse_change() CASCADE;
"""


class Migration(migrations.Migration):
    initial = True
    dependencies = [("auditlog", "0017_add_actor_email")]

    operations = [
        migrations.RunSQL(APPEND_ONLY + EVENTS, DROP_ALL),
        migrations.CreateModel(
            name="AuditEvent",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False))],
            options={
                "db_table": "audit_event",
                "managed": False,
                "ordering": ["-occurred_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                ("day", models.DateField(primary_key=True, serialize=False)),
                ("event_count", models.BigIntegerField()),
                ("events_hash", models.CharField(max_length=64)),
                ("previous_seal_hash", models.CharField(max_length=64)),
                ("seal_hash", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"db_table": "audit_seal", "ordering": ["day"]},
        ),
        migrations.RunSQL(SEALS_AND_CHANGE_LOG, migrations.RunSQL.noop),
    ]
