-- ContactPoint's production database roles (docs/deployment.md).
--
-- Run as the owner role, which created the tables by running the migrations, with psql:
--   psql "$OWNER_DATABASE_URL" -v app_role=contactpoint_app -f docs/database-roles.sql
-- The application (gunicorn, and every scheduled command but audit_partitions and
-- audit_retention) connects as app_role. Re-run after every migration and every audit_partitions run (both as the owner).

GRANT USAGE ON SCHEMA public TO :"app_role";
-- Only the owner creates tables. This takes effect only where the owner owns the database and
-- its public schema (PostgreSQL 15 and later, with the database created by or for the owner).
-- On PostgreSQL 14 the public schema belongs to the bootstrap superuser and lets every role
-- create tables in it: a superuser must run this statement there (or make the owner the
-- schema's owner first), or the application's role can create tables.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";

-- The audit tables are read and appended to, never changed: the application's role may not
-- UPDATE, DELETE or TRUNCATE them, whatever the code does (the triggers refuse it as well).
REVOKE UPDATE, DELETE, TRUNCATE ON
    audit_event, audit_event_digest, audit_seal, auditlog_logentry, audit_change_digest
FROM :"app_role";

-- Their monthly partitions get nothing at all: reads and inserts go through the parent tables,
-- which is where PostgreSQL checks them, and a partition must not be changed directly.
SELECT set_config('contactpoint.app_role', :'app_role', false);
DO $$
DECLARE
    partition regclass;
BEGIN
    FOR partition IN
        SELECT inhrelid::regclass FROM pg_inherits
        WHERE inhparent IN ('audit_event'::regclass, 'audit_event_digest'::regclass)
    LOOP
        EXECUTE format(
            'REVOKE ALL ON %s FROM %I', partition, current_setting('contactpoint.app_role')
        );
    END LOOP;
END
$$;
