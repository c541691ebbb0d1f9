"""Response headers that belong on every page, and the change log's view of the client."""

from collections.abc import Callable

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control

from contactpoint.client import client_ip


class NoStoreMiddleware:
    """Nothing the application renders may be kept by a browser or a proxy cache: almost
    every page shows a child, a user or an audit event. Static files (served by WhiteNoise
    before this runs) keep their long cache lifetimes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True, max_age=0)
        return response


class ChangeLogMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, with the client's address as the access log has it.

    Its own reading believes the first ``X-Forwarded-For`` hop from anyone, so a client could
    write any address into the change log; and it stores ``X-Forwarded-Port``, which a client
    could set beyond what the column holds, failing the audited change with it.
    """

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str:
        return client_ip(request)

    @staticmethod
    def _get_remote_port(request: HttpRequest) -> None:
        return None
