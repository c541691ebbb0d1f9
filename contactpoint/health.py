"""The health endpoint for load balancers: is the database answering?"""

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from contactpoint.routers import replica_connects


def _answers(alias: str) -> bool:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers a query, 503 when not. A replica that does not answer is
    reported but leaves the node healthy: search and record reads go to the primary meanwhile
    (``contactpoint.routers``), so a load balancer must not take every node out for it. Shows
    no data, so it is neither signed in to nor audited (see AccessControlMiddleware and
    AuditMiddleware)."""
    state = {"database": "up" if _answers("default") else "down"}
    if settings.READ_REPLICA:
        # As the search and record pages find it: a replica found down is not tried again for
        # a while, so a probe is not kept waiting for its connect_timeout every time.
        state["replica"] = "up" if replica_connects() else "down"
    if state["database"] == "down":
        return JsonResponse({"status": "unavailable", **state}, status=503)
    return JsonResponse({"status": "ok", **state})
