"""Telephone numbers: the one rule for a number someone will ring, whether a person types it
into a form or a feed file brings it."""

import re

# A number as people write one: digits, spaces, brackets, dots and hyphens, "+" first for a
# country code, and perhaps an extension ("ext 214", "x214").
_TELEPHONE = re.compile(
    r"\+?[0-9 ().-]+?(?:\s*(?:ext\.?|extension|x)\s*[0-9]{1,6})?", re.IGNORECASE
)
_EXTENSION = re.compile(r"(?:ext\.?|extension|x)\s*[0-9]{1,6}$", re.IGNORECASE)
# Between two numbers in one cell of a feed: "/", ";", "," or "or" (not a dash, which may
# be inside a number: "0191 - 383 3000").
_BETWEEN_NUMBERS = re.compile(r"\s*[/;,]\s*|\s+or\s+", re.IGNORECASE)
# What a telephone number looks like, for a message that asks for one.
EXAMPLES = "01632 960 001, 07700 900 982 or +44 808 157 0192"


def telephone_number_is_valid(text: str) -> bool:
    """A UK number of 10 or 11 digits from its 0, or an international one of up to 15 after
    its "+", as GOV.UK's telephone input asks for one."""
    digits = "".join(c for c in _EXTENSION.sub("", text) if c.isascii() and c.isdigit())
    if not _TELEPHONE.fullmatch(text):
        return False
    if text.startswith("+"):
        return 10 <= len(digits) <= 15
    # Without its "+", a number is a UK one: "01632 960 0012" is a digit too many, not foreign,
    # and "7700 900982" a mobile whose 0 a spreadsheet took off, which no one can ring.
    return digits.startswith("0") and 10 <= len(digits) <= 11


def telephone_numbers_are_valid(text: str) -> bool:
    """One number or more, as a council's system may keep a parent's mobile and home numbers
    in one field ("07700 900982 / 01632 960001"): each must be one someone can ring."""
    return all(telephone_number_is_valid(number) for number in _BETWEEN_NUMBERS.split(text))
