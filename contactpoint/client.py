"""Who is on the other end of a request: the client's address, trusting only known proxies."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """The client's IP address.

    ``X-Forwarded-For`` is believed only when the request came from a proxy in
    ``TRUSTED_PROXIES`` (addresses or ranges), and then only its hops up to the first address
    that is not itself a trusted proxy; anyone else could write any address into that header.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104
    if not _trusted(remote):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote
        if not _trusted(hop):
            return hop
    return remote
