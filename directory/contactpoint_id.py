"""The ContactPoint ID: a child's opaque, never-reused, check-digit-protected identifier.

PostgreSQL issues IDs (the ``contactpoint_id_next()`` function in migration 0001): it takes the
next value of a sequence, scrambles it with a keyed permutation so that IDs reveal neither order
nor count, and appends a Damm check digit, which catches every single-digit error and every
swap of adjacent digits. A sequence never repeats, so an ID is never reused, even after a purge.
Python only validates and formats what people type.
"""

import re

LENGTH = 12

# The Damm algorithm's quasigroup table (a weakly totally anti-symmetric quasigroup of order 10).
DAMM_TABLE = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_SEPARATORS = re.compile(r"[\s-]+")


def damm_check_digit(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = DAMM_TABLE[interim][int(digit)]
    return interim


def is_valid(value: str) -> bool:
    """True for twelve digits whose last is the Damm check digit of the rest."""
    return (
        len(value) == LENGTH
        and value.isascii()
        and value.isdigit()
        and (damm_check_digit(value) == 0)
    )


def normalise(value: str) -> str | None:
    """The stored form of a typed ID ("1234 5678 9012" or "1234-5678-9012"), or None if invalid."""
    candidate = _SEPARATORS.sub("", value.strip())
    return candidate if is_valid(candidate) else None


def has_length(value: str) -> bool:
    """Whether a typed ID is twelve digits once separators are taken out, right or not."""
    candidate = _SEPARATORS.sub("", value.strip())
    return len(candidate) == LENGTH and candidate.isascii() and candidate.isdigit()


def display(value: str) -> str:
    """Groups of four, as printed on screen and read over the phone."""
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
