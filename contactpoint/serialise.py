"""Requests that decide from what earlier requests wrote must not overlap.

The sign-in lockout counts committed failures, and the search limit counts committed
searches. Requests that ran side by side would each count the same rows and all go ahead:
twelve guesses at once would all be checked against a limit of five. So such a request first
takes a PostgreSQL advisory lock on its key, held until its transaction (the request's, with
its audit event) commits; the next request with that key waits, then counts what it wrote.
"""

from enum import IntEnum

from django.db import connection


class Turn(IntEnum):
    SIGN_IN_USERNAME = 1
    SEARCH = 2


def wait_turn(kind: Turn, key: str) -> None:
    """Waits until no other transaction holds ``kind`` for ``key``, then holds it until this
    transaction ends. A request holds at most one turn, so no two can wait on each other."""
    if not connection.in_atomic_block:
        raise RuntimeError("a turn is held until the transaction ends: there must be one")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [int(kind), key])
