"""Response headers that belong on every page."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control


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
