"""The documented production role can read and append to the audit tables, and nothing more."""

from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import Action, AuditEvent
from tests.personas import this_months_audit_partition

pytestmark = pytest.mark.django_db

ROLE = "contactpoint_app_test"


def as_application_role(sql: str, params=()) -> None:
    # On failure the savepoint's rollback also undoes SET LOCAL ROLE.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {ROLE}")
        cursor.execute(sql, params)
        cursor.execute("RESET ROLE")


@pytest.fixture
def application_role():
    """The role, granted exactly what docs/database-roles.sql grants (rolled back afterwards)."""
    script = (Path(settings.BASE_DIR) / "docs" / "database-roles.sql").read_text()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE} NOLOGIN")
        for statement in psql_statements(script):
            # What psql does with -v app_role=...: :"name" is an identifier, :'name' a literal.
            cursor.execute(
                statement.replace(':"app_role"', ROLE).replace(":'app_role'", f"'{ROLE}'")
            )


def psql_statements(script: str) -> list[str]:
    """The script's statements, as psql sends them: split at a semicolon ending a line, except
    inside a dollar-quoted body; comments dropped."""
    statements, current, quoted = [], [], False
    for line in script.splitlines():
        if line.lstrip().startswith("--"):
            continue
        current.append(line)
        quoted ^= line.count("$$") % 2 == 1
        if not quoted and line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    assert not "\n".join(current).strip(), "the script ends with a statement"
    return statements


def test_it_appends_and_reads_events(application_role):
    as_application_role(
        "INSERT INTO audit_event (occurred_at, action) VALUES (%s, %s)",
        [timezone.now(), Action.PAGE_VIEW],
    )
    as_application_role("SELECT count(*) FROM audit_event")
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM this_months_partition",
        "TRUNCATE this_months_partition",
        "UPDATE this_months_partition SET username = 'x'",
        "SELECT count(*) FROM this_months_partition",
        "CREATE TABLE public.sneaky (id int)",
        "UPDATE audit_event SET username = 'x'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "DELETE FROM auditlog_logentry",
        "UPDATE audit_seal SET seal_hash = ''",
        "DELETE FROM audit_event_digest",
        "UPDATE audit_change_digest SET digest = ''",
    ],
)
def test_it_cannot_change_or_remove_audit_rows(application_role, statement):
    """Nor reach a monthly partition directly, nor create a table of its own."""
    partition = this_months_audit_partition()
    with pytest.raises(DatabaseError, match="permission denied"):
        as_application_role(statement.replace("this_months_partition", partition))


def test_it_can_still_change_the_directory(application_role):
    as_application_role("UPDATE directory_child SET given_name = given_name")
