-- ContactPoint's production database roles (docs/deployment.md).
--
-- Run as the owner role, which created the tables by running the migrations, with psql:
--   psql "$OWNER_DATABASE_URL" -v app_role=contactpoint_app -f docs/database-roles.sql
-- The application (gunicorn, and the audit_partitions, audit_seal and audit_verify commands)
-- connects as app_role. Re-run after every migration that adds a table.

GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";

-- The audit tables are read and appended to, never changed: the application's role may not
-- UPDATE, DELETE or TRUNCATE them, whatever the code does (the triggers refuse it as well).
REVOKE UPDATE, DELETE, TRUNCATE ON
    audit_event, audit_event_digest, audit_seal, auditlog_logentry
FROM :"app_role";
