"""UK postcodes: validation and the one stored form ("SW1A 1AA")."""

import re
from functools import lru_cache

# Outward code (area, district, optional sub-district letter), then inward code (sector, unit).
# Letters never used in particular positions are excluded, as Royal Mail's format defines.
_POSTCODE = re.compile(
    r"^(?P<outward>[A-PR-UWYZ](?:[0-9][0-9A-HJKPS-UW]?|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?))"
    r"(?P<inward>[0-9][ABD-HJLNP-UW-Z]{2})$"
)
# The pattern the database enforces on stored postcodes (see Address and ParentCarer).
STORED_POSTCODE_PATTERN = r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$"


def normalise_postcode(value: str) -> str | None:
    """The postcode in stored form, or None if it is not a valid UK postcode."""
    compact = re.sub(r"\s+", "", value).upper()
    match = _POSTCODE.match(compact)
    if match is None:
        return None
    return f"{match['outward']} {match['inward']}"


def outward_code(postcode: str) -> str:
    """The part before the space: the postcode district ("SW1A")."""
    return postcode.split(" ", 1)[0]


_POSTCODE_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@lru_cache(maxsize=4096)
def one_slip_away(postcode: str) -> frozenset[str]:
    """The valid postcodes a slip from this one, in stored form: one character typed wrong
    ("ZE2 9QY" for "ZE2 9QX") or two side by side swapped ("ZE2 9XQ"). Kept once worked
    out: a home's are asked for by each look for records at or near it."""
    compact = postcode.replace(" ", "")
    slips = {
        compact[:at] + typed + compact[at + 1 :]
        for at in range(len(compact))
        for typed in _POSTCODE_CHARACTERS
    } | {
        compact[:at] + compact[at + 1] + compact[at] + compact[at + 2 :]
        for at in range(len(compact) - 1)
    }
    found = {normalise_postcode(slip) for slip in slips}
    return frozenset(slip for slip in found if slip and slip != postcode)
