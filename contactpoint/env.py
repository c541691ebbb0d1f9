"""Typed readers for the environment variables that configure ContactPoint.

Every setting that differs between a developer's machine and production comes through one of
these, so that a typo in a variable's value fails at start-up rather than at the first request.
"""

import math
import os
from ipaddress import IPv4Network, IPv6Network, ip_network

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_optional(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """No setting is a negative number; many make sense only from 1 (``minimum``), and some
    only up to a ``maximum`` (a score out of 100, the years events are kept)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {number}")
    return number


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name} must be a finite number, not {value!r}")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (written in capitals), whatever the case it is given in."""
    value = os.environ.get(name, "").strip().upper() or default
    if value not in choices:
        said = os.environ[name]
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {said!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str) -> list[IPv4Network | IPv6Network]:
    """Comma-separated addresses or ranges (``10.20.30.0/24``); an entry that is neither, a
    range written with host bits ("10.0.0.5/8": which was meant?) or one that is everything
    ("0.0.0.0/0") stops start-up, rather than silently trusting the wrong addresses."""
    networks = []
    for item in env_list(name, []):
        try:
            network = ip_network(item, strict=True)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an IP address or range") from None
        mapped = network.network_address.ipv4_mapped if network.version == 6 else None
        if mapped is not None and network.prefixlen >= 96:
            # IPv4 written as IPv6 (::ffff:10.0.0.2), as a server bound to [::] shows it:
            # client_ip reads such an address as IPv4, so the range must be IPv4 too.
            network = ip_network(f"{mapped}/{network.prefixlen - 96}")
        if network.prefixlen < (8 if network.version == 4 else 32):
            raise ImproperlyConfigured(f"{name}: {item!r} is most of the internet, not proxies")
        networks.append(network)
    return networks
