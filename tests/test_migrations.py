"""Every migration can be undone: on a scratch database, all are applied, every app is taken back
to zero, nothing of ours is left behind, and all apply again."""

import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection

# Run in a process of its own, whose default database is the scratch one.
MIGRATE_DOWN_AND_UP = """
import django
django.setup()
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader
call_command("migrate", interactive=False, verbosity=0)
call_command("audit_partitions", verbosity=0)
for label in sorted(MigrationLoader(None).migrated_apps):
    call_command("migrate", label, "zero", interactive=False, verbosity=0)
print("down")
"""
MIGRATE_UP = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
"""


def server_url(database: str) -> str:
    """A DATABASE_URL (contactpoint/database.py) for another database on the test's server."""
    config = connection.settings_dict
    user = quote(config["USER"] or "")
    password = quote(config["PASSWORD"] or "")
    host = config["HOST"] or ""
    port = f":{config['PORT']}" if config["PORT"] else ""
    if host.startswith("/"):  # a Unix socket folder
        return f"postgresql://{user}:{password}@{port}/{database}?host={quote(host)}"
    return f"postgresql://{user}:{password}@{host}{port}/{database}"


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = f"contactpoint_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url("postgres"), autocommit=True) as maintenance:
        maintenance.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server_url(name)
        finally:
            maintenance.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run_django(script: str, database_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "contactpoint.settings",
            "DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def leftovers(database_url: str) -> dict[str, list[str]]:
    """What the migrations made that is still in the public schema."""
    with psycopg.connect(database_url) as scratch:
        found = {
            kind: [row[0] for row in scratch.execute(sql).fetchall()]
            for kind, sql in {
                "tables": "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'django_migrations'",
                "functions": "SELECT proname FROM pg_proc p JOIN pg_namespace n "
                "ON n.oid = p.pronamespace WHERE nspname = 'public'",
                "sequences": "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' "
                "AND sequencename <> 'django_migrations_id_seq'",
                "views": "SELECT viewname FROM pg_views WHERE schemaname = 'public'",
            }.items()
        }
        applied = scratch.execute("SELECT app, name FROM django_migrations").fetchall()
    found["applied"] = [f"{app}.{name}" for app, name in applied]
    return found


def test_every_migration_reverses_and_applies_again(scratch_database):
    assert "down" in run_django(MIGRATE_DOWN_AND_UP, scratch_database)
    assert leftovers(scratch_database) == {
        "tables": [],
        "functions": [],
        "sequences": [],
        "views": [],
        "applied": [],
    }

    run_django(MIGRATE_UP, scratch_database)
    with psycopg.connect(scratch_database) as scratch:
        tables = {row[0] for row in scratch.execute("SELECT tablename FROM pg_tables").fetchall()}
    assert {"directory_child", "audit_event", "shielding_shield", "accounts_user"} <= tables
