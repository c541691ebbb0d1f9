"""Requests that decide from what earlier requests wrote must not overlap.

The sign-in lockout counts committed failures, and the search limit counts committed
searches. Requests that ran side by side would each count the same rows and all go ahead:
twelve guesses at once would all be checked against a limit of five. So such a request first
takes a PostgreSQL advisory lock on its key, held until its transaction (the request's, with
its audit event) commits; the next request with that key waits, then counts what it wrote.

Where waiting for the whole request would queue too many people (a whole office signs in from
one address), a request instead holds the key only while it counts and joins those under way
(``brief_turn``, ``attempt_join``), and counts each attempt under way as a failure to come
(``attempts_under_way``).

Each lock's key is a 64-bit hash of its kind and key: with 32 bits, two of 300,000 addresses
already shared one, and one address's attempts counted against the other's. It is hashed
here, not by PostgreSQL: the query text, which a slow query's log line and
``pg_stat_activity`` show, then holds no username, address or child's id, only the hash.
"""

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import IntEnum

from django.db import OperationalError, connection, transaction


class Turn(IntEnum):
    SIGN_IN_USERNAME = 1
    SEARCH = 2
    SIGN_IN_ADDRESS = 3  # a brief turn: counting the address's failures and attempts
    SIGN_IN_ADDRESS_ATTEMPT = 4  # held shared by each attempt from the address under way
    CONTACT_REQUEST = 5  # a practitioner's request about a child: sent twice, kept once


# What each kind of hold runs, on the 64-bit key of ``lock_key``.
LOCKS = {
    function: f"SELECT {function}(%s::bigint)"
    for function in (
        "pg_advisory_xact_lock",
        "pg_advisory_xact_lock_shared",
        "pg_advisory_lock",
        "pg_advisory_unlock",
        "pg_try_advisory_lock",
    )
}


def lock_key(kind: Turn, key: str) -> int:
    """The lock's key: a signed 64-bit hash of the kind and key (BLAKE2b, unkeyed, so that
    every application server, whatever its ``SECRET_KEY``, takes the same lock)."""
    digest = hashlib.blake2b(f"{int(kind)}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _in_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("a turn is held until the transaction ends: there must be one")


class TurnTimeout(Exception):
    """Another request held the turn for longer than the caller would wait: most likely one
    on an application server that was lost, whose connection the database has not yet seen
    go (until then, a turn is held)."""


def _lock(function: str, kind: Turn, key: str, timeout: timedelta | None = None) -> None:
    if timeout is None:
        with connection.cursor() as cursor:
            cursor.execute(LOCKS[function], [lock_key(kind, key)])
        return
    try:
        # In a savepoint, so that a wait given up leaves the transaction usable.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout')")
            (before,) = cursor.fetchone()
            limit = f"{max(1, int(timeout.total_seconds() * 1000))}ms"  # 0 is no limit
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [limit])
            cursor.execute(LOCKS[function], [lock_key(kind, key)])
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise TurnTimeout from None
        raise


LOCK_NOT_AVAILABLE = "55P03"


def _try_lock(kind: Turn, key: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(LOCKS["pg_try_advisory_lock"], [lock_key(kind, key)])
        (taken,) = cursor.fetchone()
    return bool(taken)


def wait_turn(kind: Turn, key: str, *, timeout: timedelta | None = None) -> None:
    """Waits until no other transaction holds ``kind`` for ``key``, then holds it until this
    transaction ends (``TurnTimeout`` after ``timeout``, if given). A request waits for at most
    one turn at a time, so no two can wait on each other."""
    _in_transaction()
    _lock("pg_advisory_xact_lock", kind, key, timeout)


@contextmanager
def brief_turn(kind: Turn, key: str, *, timeout: timedelta | None = None) -> Iterator[None]:
    """Holds ``kind`` for ``key`` only while the block runs. The block must not wait for
    anything else. It runs in a savepoint, so that an error in it leaves the transaction able
    to let the turn go (a turn left held would outlive the request on a kept connection)."""
    _in_transaction()
    if timeout is None:
        _lock("pg_advisory_lock", kind, key)
    else:
        # Tried, not waited for under a lock_timeout: a session's lock granted just as its
        # wait timed out would be left held, and the savepoint's rollback would not free it.
        deadline = time.monotonic() + timeout.total_seconds()
        while not _try_lock(kind, key):
            if time.monotonic() >= deadline:
                raise TurnTimeout
            time.sleep(0.02)
    try:
        with transaction.atomic():
            yield
    finally:
        _lock("pg_advisory_unlock", kind, key)


def attempt_join(kind: Turn, key: str) -> None:
    """Counts this transaction among the attempts under way for ``key`` until it ends."""
    _in_transaction()
    _lock("pg_advisory_xact_lock_shared", kind, key)


def attempts_under_way(kind: Turn, key: str) -> int:
    """How many other transactions have joined ``key`` and not yet ended. One that has just
    committed can still be counted for a moment, after what it wrote is visible: never fewer.
    (``pg_locks`` shows a 64-bit key as its high and low 32 bits.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH k AS (SELECT %s::bigint AS key) SELECT count(*) FROM pg_locks, k"
            " WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid = ((k.key >> 32) & 4294967295)::oid"
            " AND objid = (k.key & 4294967295)::oid"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND pid <> pg_backend_pid()",
            [lock_key(kind, key)],
        )
        (count,) = cursor.fetchone()
    return int(count)
