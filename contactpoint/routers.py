"""Reads of search and record pages may go to a streaming replica; everything else, and every
write (audit events above all), goes to the primary. While the replica cannot be reached, those
reads go to the primary too: the service is slower, not down."""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)
# Directory reads only. Shields are always read on the primary: a replica a moment behind must
# never show a child who has just been shielded unmasked.
REPLICATED_APPS = frozenset({"directory"})
# After the replica fails to connect, this worker reads on the primary for this long before
# trying it again, so that an outage costs one connection attempt, not one a request.
REPLICA_RETRY_SECONDS = 30.0
_replica_down_until = 0.0  # time.monotonic(), in this process


def replica_connects() -> bool:
    """Whether the replica takes a connection, or still holds a usable one (the health check
    ``CONN_HEALTH_CHECKS`` makes once a request); False for this worker for a while once not,
    without trying it again (each try may wait for ``connect_timeout``)."""
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    try:
        connections["replica"].cursor().close()  # connects; sends no query
    except DatabaseError as error:
        _replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
        logger.warning(
            "read replica unavailable (%s): reads go to the primary for %.0f s",
            type(error).__name__,
            REPLICA_RETRY_SECONDS,
        )
        return False
    return True


@contextmanager
def replica_reads() -> Iterator[None]:
    """Within this block, directory reads are served by the replica, while it takes
    connections.

    Used only by the search and record pages, which read and never write those tables; a
    replica may lag the primary by a moment, which they can bear.
    """
    token = _replica_reads.set(settings.READ_REPLICA and replica_connects())
    try:
        yield
    finally:
        _replica_reads.reset(token)


class PrimaryReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        # Without a replica, a second connection to the primary would only add a connection,
        # and its health check, to every search and record page.
        if _replica_reads.get() and model._meta.app_label in REPLICATED_APPS:
            return "replica"
        return "default"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == "default"
