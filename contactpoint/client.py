"""Who is on the other end of a request: the client's address, trusting only known proxies."""

import ipaddress
from typing import TypeAlias

from django.conf import settings
from django.http import HttpRequest

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IPAddress | None:
    """An address as a proxy writes it: bare, with a port ("203.0.113.5:51234",
    "[2001:db8::1]:443"), or IPv4 written as IPv6 ("::ffff:10.0.0.2", as a server bound to
    "[::]" sees an IPv4 client)."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """The client's IP address.

    ``X-Forwarded-For`` is believed only when the request came from a proxy in
    ``TRUSTED_PROXIES`` (addresses or ranges), and then only its hops up to the first address
    that is not itself a trusted proxy; anyone else could write any address into that header.
    Where every hop is a trusted proxy, the first is the client as far as anyone can tell.
    """
    remote = _address(request.META.get("REMOTE_ADDR", "") or "0.0.0.0")  # noqa: S104
    if remote is None or not _trusted(remote):
        return str(remote) if remote is not None else "0.0.0.0"  # noqa: S104
    hops = [
        part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    nearest = remote
    for text in reversed(hops):
        hop = _address(text)
        if hop is None:
            return str(nearest)
        nearest = hop
        if not _trusted(hop):
            return str(hop)
    return str(nearest)
