"""Telephone numbers: the one rule for a number someone will ring, whether a person types it
into a form or a feed file brings it."""

import re

# A number as people write one: digits, spaces, brackets, dots and hyphens, "+" first for a
# country code, and perhaps an extension ("ext 214", "x214").
_TELEPHONE = re.compile(
    r"\+?[0-9 ().-]+?(?:\s*(?:ext\.?|extension|x)\s*[0-9]{1,6})?", re.IGNORECASE
)
_EXTENSION = re.compile(r"(?:ext\.?|extension|x)\s*[0-9]{1,6}$", re.IGNORECASE)
# What a telephone number looks like, for a message that asks for one.
EXAMPLES = "01632 960 001, 07700 900 982 or +44 808 157 0192"


def telephone_number_is_valid(text: str) -> bool:
    """A UK number of 10 or 11 digits, or an international one of up to 15 after its "+",
    as GOV.UK's telephone input asks for one."""
    digits = sum(c.isdigit() for c in _EXTENSION.sub("", text) if c.isascii())
    # Without its "+", a number is a UK one: "01632 960 0012" is a digit too many, not foreign.
    longest = 15 if text.startswith("+") else 11
    return bool(_TELEPHONE.fullmatch(text)) and 10 <= digits <= longest
