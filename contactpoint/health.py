"""The health endpoint for load balancers: is the database answering?"""

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def _answers(alias: str) -> bool:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers a query (and the read replica, where there is one, since
    search and record pages need it), 503 when not. Shows no data, so it is neither signed in
    to nor audited (see AccessControlMiddleware and AuditMiddleware)."""
    databases = {"database": "default"}
    if settings.READ_REPLICA:
        databases["replica"] = "replica"
    state = {name: "up" if _answers(alias) else "down" for name, alias in databases.items()}
    if "down" in state.values():
        return JsonResponse({"status": "unavailable", **state}, status=503)
    return JsonResponse({"status": "ok", **state})
