"""Who is on the other end of a request: the client's address, trusting only known proxies."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's IP address.

    ``X-Forwarded-For`` is believed only when the request came from a proxy listed in
    ``TRUSTED_PROXIES``, and then only its hops up to the first address that is not itself a
    trusted proxy; anyone else could write any address into that header.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104
    trusted = settings.TRUSTED_PROXIES
    if remote not in trusted:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote
        if hop not in trusted:
            return hop
    return remote
