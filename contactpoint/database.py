"""Which PostgreSQL server ContactPoint uses.

With ``DATABASE_URL`` set, that server. Without it, a private PostgreSQL started from the
``pgserver`` wheel with its data in ``var/pgdata``, so that ``make run`` and ``make test`` need no
system database. The embedded server keeps running after the process that started it exits, so
gunicorn workers, management commands and the test run all share it; ``python -m
contactpoint.database stop`` stops it.
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

# pgserver asks platformdirs for a runtime folder, which warns (even at exit) when
# XDG_RUNTIME_DIR is unset.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")

EMBEDDED_DATABASE = "contactpoint"
EMBEDDED_DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "pgdata"


def embedded_server_url(data_dir: Path = EMBEDDED_DATA_DIR) -> str:
    """Start (or attach to) the embedded server and return its URL."""
    import pgserver

    # Run as root, pgserver runs postgres as its own system user, which must be able to reach
    # the data folder through var/. The data folder itself stays private (PostgreSQL refuses
    # to start on one that others can read).
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.parent.chmod(data_dir.parent.stat().st_mode | 0o755)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    _prepare_server(str(server.get_uri()), EMBEDDED_DATABASE)
    return str(server.get_uri(EMBEDDED_DATABASE))


# What the server's own log (var/pgdata/log) keeps of an error: its message, but neither the
# refused row's values (DETAIL) nor the failed statement with its values written in
# (STATEMENT), either of which may hold a child's name. A production server must say the same
# (server_log_check, docs/deployment.md).
SERVER_LOG_SETTINGS = {"log_error_verbosity": "terse", "log_min_error_statement": "panic"}


def server_log_check(**kwargs: Any) -> list[Any]:
    """``check --deploy``: the server ContactPoint uses keeps children's details out of its log
    (``SERVER_LOG_SETTINGS``), as the embedded one does."""
    from django.core.checks import Error
    from django.db import connection

    with connection.cursor() as cursor:
        held = {}
        for setting in SERVER_LOG_SETTINGS:
            cursor.execute("SELECT current_setting(%s)", [setting])
            held[setting] = cursor.fetchone()[0]
    wrong = [
        f"{key} = '{value}'" for key, value in SERVER_LOG_SETTINGS.items() if held[key] != value
    ]
    if not wrong:
        return []
    return [
        Error(
            "The database server's log would keep the values of a row it refuses and the "
            "statements that fail, which may hold a child's name: set " + ", ".join(wrong),
            id="contactpoint.E001",
        )
    ]


def _prepare_server(maintenance_url: str, name: str) -> None:
    """Creates the database if missing, and keeps children's details out of the server's log."""
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not found:
            connection.execute(f'CREATE DATABASE "{name}"')
        changed = False
        for setting, value in SERVER_LOG_SETTINGS.items():
            held = connection.execute("SELECT current_setting(%s)", [setting]).fetchone()
            if held is None or held[0] != value:
                connection.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
                changed = True
        if changed:
            connection.execute("SELECT pg_reload_conf()")


def stop_embedded_server(data_dir: Path = EMBEDDED_DATA_DIR) -> None:
    """Stops the server at once, whoever else is using it (``make db-stop``, the fault test)."""
    # pgserver keeps its PostgreSQL binaries here; its own stop waits for other handles.
    from pgserver._commands import POSTGRES_BIN_PATH

    if not (data_dir / "postmaster.pid").exists():
        return
    subprocess.run(  # noqa: S603 - fixed arguments
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "stop", "-m", "fast", "-w"],
        check=True,
        capture_output=True,
        user="pgserver" if os.geteuid() == 0 else None,
    )


def database_config(url: str, *, connect_timeout: int = 5) -> dict[str, Any]:
    """Turn ``postgresql://user:password@host:port/name?host=/socket`` into Django settings."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured("DATABASE_URL must be a postgresql:// URL")
    query = parse_qs(parts.query)
    host = query.pop("host", [parts.hostname or ""])[0]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        # A server that takes the connection and never answers would hold each worker (and
        # the health check) until gunicorn kills it: give up (after 5 s) unless the URL says.
        "OPTIONS": {
            "connect_timeout": str(connect_timeout),
            **{key: values[0] for key, values in query.items()},
        },
    }


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "url":
        print(embedded_server_url())
        return 0
    if command == "stop":
        stop_embedded_server()
        return 0
    print("usage: python -m contactpoint.database url|stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
