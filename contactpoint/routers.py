"""Reads of search and record pages may go to a streaming replica; everything else, and every
write (audit events above all), goes to the primary."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)
# Directory reads only. Shields are always read on the primary: a replica a moment behind must
# never show a child who has just been shielded unmasked.
REPLICATED_APPS = frozenset({"directory"})


@contextmanager
def replica_reads() -> Iterator[None]:
    """Within this block, directory reads are served by the replica.

    Used only by the search and record pages, which read and never write those tables; a
    replica may lag the primary by a moment, which they can bear.
    """
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


class PrimaryReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        # Without a replica, a second connection to the primary would only add a connection,
        # and its health check, to every search and record page.
        replicated = model._meta.app_label in REPLICATED_APPS
        if settings.READ_REPLICA and _replica_reads.get() and replicated:
            return "replica"
        return "default"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == "default"
