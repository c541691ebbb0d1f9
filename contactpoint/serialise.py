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
"""

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

from django.db import connection, transaction


class Turn(IntEnum):
    SIGN_IN_USERNAME = 1
    SEARCH = 2
    SIGN_IN_ADDRESS = 3  # a brief turn: counting the address's failures and attempts
    SIGN_IN_ADDRESS_ATTEMPT = 4  # held shared by each attempt from the address under way


def _in_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("a turn is held until the transaction ends: there must be one")


def wait_turn(kind: Turn, key: str) -> None:
    """Waits until no other transaction holds ``kind`` for ``key``, then holds it until this
    transaction ends. A request holds at most one turn, so no two can wait on each other."""
    _in_transaction()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [int(kind), key])


@contextmanager
def brief_turn(kind: Turn, key: str) -> Iterator[None]:
    """Holds ``kind`` for ``key`` only while the block runs. The block must not wait for
    anything else. It runs in a savepoint, so that an error in it leaves the transaction able
    to let the turn go (a turn left held would outlive the request on a kept connection)."""
    _in_transaction()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [int(kind), key])
    try:
        with transaction.atomic():
            yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [int(kind), key])


def attempt_join(kind: Turn, key: str) -> None:
    """Counts this transaction among the attempts under way for ``key`` until it ends."""
    _in_transaction()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, hashtext(%s))", [int(kind), key])


def attempts_under_way(kind: Turn, key: str) -> int:
    """How many other transactions have joined ``key`` and not yet ended. One that has just
    committed can still be counted for a moment, after what it wrote is visible: never fewer."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objid = hashtext(%s)::oid AND objsubid = 2"
            " AND pid <> pg_backend_pid()",
            [int(kind), key],
        )
        (count,) = cursor.fetchone()
    return int(count)
