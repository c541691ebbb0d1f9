"""How names, dates and postcodes are compared: one module for search and for feed matching.

Keys (computed here, stored in ``NameKey`` and indexed by PostgreSQL, no extension needed) pick
a small set of candidates; ``score()`` then ranks each candidate from 0 to 100. Tolerated:
case, accents, hyphens, apostrophes and spaces; double-barrelled and multi-part surnames;
phonetic spellings (Mohammed/Muhammad, Catherine/Kathryn, via Metaphone); nicknames
(Bill/William, Kate/Catherine); former and other known names; day and month swapped, one digit
wrong, or only the year right in a date of birth; a postcode's outward code alone.
"""

import contextlib
import math
import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import jellyfish

_SHORT_FORMS = {
    "WILLIAM": "BILL BILLY WILL WILLIE LIAM",
    "CATHERINE": "KATE KATIE CATH CATHY KAT KITTY",
    "KATHERINE": "KATE KATIE KATH KATHY",
    "ELIZABETH": "LIZ LIZZIE LIZZY BETH BETTY ELIZA ELSIE LIBBY",
    "ALEXANDER": "ALEX ALFIE SANDY XANDER SASHA",
    "ALEXANDRA": "ALEX LEXI SANDRA SASHA",
    "THOMAS": "TOM TOMMY",
    "JOSEPH": "JOE JOEY",
    "SAMUEL": "SAM SAMMY",
    "SAMANTHA": "SAM SAMMY",
    "CHRISTINA": "CHRIS TINA",
    "CHRISTINE": "CHRIS",
    "JACOB": "JAKE",
    "NATASHA": "TASHA NAT",
    "BENJAMIN": "BEN BENJI BENNY",
    "ISABELLA": "BELLA IZZY ISSY",
    "ISABELLE": "BELLE IZZY ISSY",
    "MATILDA": "TILLY TILDA",
    "EDWARD": "ED EDDIE TED TEDDY NED",
    "DANIEL": "DAN DANNY",
    "JESSICA": "JESS JESSIE",
    "SEBASTIAN": "SEB SEBBY",
    "CHARLOTTE": "LOTTIE CHARLIE",
    "THEODORE": "THEO TEDDY",
    "ROBERT": "ROB ROBBIE BOB BOBBY BERT",
    "RICHARD": "RICH RICHIE RICK RICKY DICK",
    "MARGARET": "MAGGIE MEG PEGGY",
    "JAMES": "JIM JIMMY JAMIE",
    "JONATHAN": "JON JONNY",
    "NICHOLAS": "NICK NICKY",
    "MICHAEL": "MIKE MICKY MIKEY",
    "CHRISTOPHER": "CHRIS KIT",
    "ANTHONY": "TONY ANT",
    "FREDERICK": "FRED FREDDIE FREDDY",
    "HENRY": "HARRY HAL",
    "MOHAMMED": "MO MOH",
    "ABIGAIL": "ABBIE ABBY",
    "VICTORIA": "VICKY TORI",
    "REBECCA": "BECKY BECCA",
    "ELEANOR": "ELLIE NELL",
    "FLORENCE": "FLO FLOSSIE",
    "ALFRED": "ALF ALFIE",
    "ARCHIBALD": "ARCHIE",
    "NATHANIEL": "NATE NAT",
    "JOHN": "JACK JOHNNY",
    "CHARLES": "CHARLIE CHARLEY CHAS",
    "OLIVER": "OLLIE OLLY",
    "AMELIA": "MILLIE MILLY",
    "MILLICENT": "MILLIE MILLY",
    "ANDREW": "ANDY DREW",
    "SARAH": "SALLY SADIE",
    "MARY": "MOLLY POLLY",
    "PENELOPE": "PENNY",
    "EVELYN": "EVIE",
    "PATRICK": "PADDY PAT",
    "HARRIET": "HATTIE",
    "MATTHEW": "MATT MATTY",
    "JOSHUA": "JOSH",
    "MAXIMILIAN": "MAX",
    "JENNIFER": "JEN JENNY",
    "DAVID": "DAVE DAVY",
    "PETER": "PETE",
    "STEPHEN": "STEVE",
    "STEVEN": "STEVE",
    "SUSAN": "SUE SUSIE",
    "FRANCIS": "FRANK FRANKIE",
    "FRANCES": "FRAN FRANKIE",
}
# Nicknames and short forms, each to the names it may be short for (Kate: Catherine or Katherine).
NICKNAMES: dict[str, frozenset[str]] = {}
for _full, _short in _SHORT_FORMS.items():
    for _nickname in _short.split():
        NICKNAMES[_nickname] = NICKNAMES.get(_nickname, frozenset()) | {_full}

_NOT_LETTERS = re.compile(r"[^A-Z]")
# Hyphens, and the dashes a word processor puts in their place in a double-barrelled name.
_PART_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
# Letters that do not decompose into a letter and an accent, so that dropping what is not
# ASCII would drop the letter itself ("Wałęsa" would key as "WAESA", never as "Walesa").
_UNDECOMPOSED = str.maketrans(
    {
        "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "ẞ": "SS", "Æ": "AE", "æ": "ae",
        "Œ": "OE", "œ": "oe", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "TH", "þ": "th",
        "\u0131": "i",  # dotless i
        "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t", "ĸ": "k",
    }
)  # fmt: skip


def normalise(name: str) -> str:
    """Upper-case ASCII letters only: "Zoë O'Brien-Smith" becomes "ZOEOBRIENSMITH", and
    "Michał Wałęsa" "MICHALWALESA"."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_UNDECOMPOSED))
    return _NOT_LETTERS.sub("", decomposed.encode("ascii", "ignore").decode().upper())


def name_parts(name: str) -> list[str]:
    """The name whole, and each part of a double-barrelled or multi-part name."""
    whole = normalise(name)
    parts = [normalise(part) for part in _PART_SEPARATORS.split(name)]
    return list(dict.fromkeys([whole, *(part for part in parts if len(part) > 1)]))


def given_forms(name: str) -> set[str]:
    """The name itself and every name it may be short for."""
    normalised = normalise(name)
    return {normalised, *NICKNAMES.get(normalised, ())}


# As long as NameKey's columns: a 100-letter name's key is longer, and the child, or the whole
# feed file she came in, could not be saved. Cut alike on both sides, keys still agree.
KEY_LENGTH = 40


def phonetic(normalised: str) -> str:
    """The Metaphone key; a name Metaphone spells as nothing (vowels alone, "Ee") is its
    own key, or a child with that surname would have no key to be found by."""
    return (jellyfish.metaphone(normalised) or normalised)[:KEY_LENGTH] if normalised else ""


def family_keys(family_name: str) -> set[str]:
    return {phonetic(part) for part in name_parts(family_name)} - {""}


def given_keys(given_name: str) -> set[str]:
    """Keys of the first name, and of the whole name joined: Mary-Jane is found as Mary, and
    as Maryjane, which keys alike however its parts are written."""
    first = _PART_SEPARATORS.split(given_name.strip())[0] if given_name.strip() else ""
    forms = given_forms(first) | given_forms(given_name)
    return {phonetic(form) for form in forms} - {""}


def held_given_keys(given_name: str) -> set[str]:
    """``given_keys``, and those of each part of a first name of two or more: Mary-Jane and
    Mary Jane are found as Jane too, as Okafor-Hart is as Hart. Stored, never searched for: a
    Mary-Jane searched for scores only against Mary-Jane, Mary and Maryjane, so keying the
    search by Jane would bring in only children it cannot list."""
    parts = name_parts(given_name)[1:]
    return set().union(given_keys(given_name), *(given_keys(part) for part in parts))


def _one_letter_off(normalised: str) -> set[str]:
    """Spellings one slip from this one: a letter left out, two neighbours swapped, or a
    letter too many (Tompson, Smtih, Hughs for Thompson, Smith, Hughes)."""
    left_out = {normalised[:i] + normalised[i + 1 :] for i in range(len(normalised))}
    swapped = {
        normalised[:i] + normalised[i + 1] + normalised[i] + normalised[i + 2 :]
        for i in range(len(normalised) - 1)
    }
    added = {
        normalised[:i] + letter + normalised[i:]
        for i in range(len(normalised) + 1)
        for letter in string.ascii_uppercase
    }
    return left_out | swapped | added


def misspelt_family_keys(family_name: str) -> set[str]:
    """The surname's keys and those of every spelling one slip from it, or from a part of it:
    Metaphone keys Thompson and Tompson, or Khan and Kahn, apart. Searched for, never stored."""
    parts = name_parts(family_name)
    slips = {phonetic(slip) for part in parts for slip in _one_letter_off(part)}
    return (family_keys(family_name) | slips) - {""}


def misspelt_given_keys(given_name: str) -> set[str]:
    """As ``misspelt_family_keys`` for a first name: Sean and Shaun, Aisha and Ayesha."""
    # The first part in letters the keys can read: one in another script reads as nothing,
    # and the slips of nothing are every one-letter name (Jay, Kay, Ray ...).
    parts = (normalise(part) for part in _PART_SEPARATORS.split(given_name))
    first = next((part for part in parts if part), "")
    slips = {phonetic(slip) for slip in _one_letter_off(first)} if first else set()
    return (given_keys(given_name) | slips) - {""}


def date_variants(day: date, earliest: date, latest: date) -> set[date]:
    """Dates a mistyped ``day`` may have been meant as: day and month swapped, or one digit
    of the eight in DDMMYYYY wrong; only real dates between ``earliest`` and ``latest``."""
    typed = day.strftime("%d%m%Y")
    variants = {day}
    if day.day <= 12:
        with contextlib.suppress(ValueError):
            variants.add(date(day.year, day.day, day.month))
    for position in range(8):
        for digit in "0123456789":
            candidate = typed[:position] + digit + typed[position + 1 :]
            try:
                variants.add(date(int(candidate[4:]), int(candidate[2:4]), int(candidate[:2])))
            except ValueError:
                continue
    return {variant for variant in variants if earliest <= variant <= latest}


def _digits_differ_by_one(a: date, b: date) -> bool:
    x, y = a.strftime("%d%m%Y"), b.strftime("%d%m%Y")
    return sum(1 for p, q in zip(x, y, strict=True) if p != q) == 1


def date_agreement(searched: date, held: date) -> float:
    if searched == held:
        return 1.0
    swapped = (searched.day, searched.month) == (held.month, held.day)
    if swapped and searched.year == held.year:
        return 0.85
    if _digits_differ_by_one(searched, held):
        return 0.75
    if (searched.year, searched.month) == (held.year, held.month):
        return 0.5
    if searched.year == held.year:
        return 0.4
    return 0.0


def name_similarity(searched: str, held: Iterable[str]) -> float:
    """Best Jaro-Winkler similarity of the searched name to any held name or part of one."""
    query = normalise(searched)
    best = 0.0
    for name in held:
        for part in name_parts(name):
            if query == part:
                return 1.0
            similarity = jellyfish.jaro_winkler_similarity(query, part)
            if phonetic(query) == phonetic(part):
                similarity = max(similarity, 0.92)
            best = max(best, similarity)
    return best


def surname_similarity(searched: str, held: Iterable[str]) -> float:
    """``name_similarity`` of the surname searched, or of either half of a double-barrelled
    one: Amelia Okafor-Hart may be held as Amelia Hart. A half alone counts a little less than
    the whole name, which ranks first; every half held is the whole name, in any order."""
    held = tuple(held)
    whole = name_similarity(searched, held)
    halves = name_parts(searched)[1:]
    if whole == 1.0 or not halves:
        return whole
    each = [name_similarity(half, held) for half in halves]
    return 1.0 if min(each) == 1.0 else max(whole, 0.95 * max(each))


def given_similarity(searched: str, held: Iterable[str]) -> float:
    """1.0 for the same name or a nickname of it; as sound-alike spellings (0.92) a nickname
    of a name that sounds like the one held (Mo: Mohammed, so Muhammad); else as names."""
    query = given_forms(searched.split()[0]) if searched.split() else set()
    sounds = {phonetic(form) for form in query} - {""}
    best = 0.0
    for name in held:
        # The first name held whole and each of its parts: Mary Jane is a Jane, as Mary-Jane.
        parts = [_first(name), *name_parts(name)]
        forms = set().union(*(given_forms(part) for part in parts)) - {""}
        if query & forms:
            return 1.0
        # Without a nickname on either side, name_similarity below compares the same sounds.
        if (len(query) > 1 or len(forms) > 1) and sounds & {phonetic(f) for f in forms}:
            best = max(best, 0.92)
        best = max(best, name_similarity(searched.split()[0], [name]))
    return best


@dataclass(frozen=True)
class Criteria:
    surname: str = ""
    forename: str = ""
    date_of_birth: date | None = None
    dob_from: date | None = None
    dob_to: date | None = None
    postcode: str = ""  # normalised, or an outward code alone
    gender: str = ""


@dataclass(frozen=True)
class Candidate:
    family_names: tuple[str, ...]
    given_names: tuple[str, ...]
    date_of_birth: date
    gender: str
    postcodes: tuple[str, ...]


# How much each agreement counts; only the criteria given are weighed.
WEIGHTS = {"surname": 35, "forename": 25, "date_of_birth": 25, "postcode": 10, "gender": 5}


def _alike(similarity: float) -> float:
    """Names less alike than this are different names, not misspellings: Jaro-Winkler gives
    unrelated names 0.5 to 0.7, which would otherwise let a common surname and a near birthday
    carry a child with any first name over the threshold."""
    return similarity if similarity >= 0.8 else 0.0


# A searched date of birth rules out a child born in another month, unless the difference is
# a typing error (a digit, or day and month swapped). Being born in the same year is no
# evidence at national scale: every common name has several children born in any year, and
# they would crowd out the child searched for. Unsure of the date, search a range instead.
DATE_OF_BIRTH_FLOOR = 0.5


# A name agreeing only through a nickname (Kate: Catherine) or one part of a name (Smith:
# Abbott-Smith) is the same name, but the child held under the name as typed ranks above her:
# a point less out of 100 even when the name weighs least (25 of 100).
THROUGH_ANOTHER_FORM = 0.96


def _as_typed(similarity: float, searched: str, held: Iterable[str]) -> float:
    if similarity == 1.0 and searched not in {normalise(name) for name in held}:
        return THROUGH_ANOTHER_FORM
    return similarity


def _first(name: str) -> str:
    return name.split()[0] if name.split() else ""


def score(criteria: Criteria, candidate: Candidate) -> int:
    """How well a candidate matches, from 0 to 100 (0: ruled out by the date of birth or
    the range)."""
    parts: list[tuple[int, float]] = []
    if criteria.surname:
        similar = surname_similarity(criteria.surname, candidate.family_names)
        typed = normalise(criteria.surname)
        similar = _alike(_as_typed(similar, typed, candidate.family_names))
        parts.append((WEIGHTS["surname"], similar))
    if criteria.forename:
        similar = given_similarity(criteria.forename, candidate.given_names)
        typed = normalise(_first(criteria.forename))
        firsts = [_first(name) for name in candidate.given_names]
        parts.append((WEIGHTS["forename"], _alike(_as_typed(similar, typed, firsts))))
    if criteria.date_of_birth:
        born = date_agreement(criteria.date_of_birth, candidate.date_of_birth)
        if born < DATE_OF_BIRTH_FLOOR:
            return 0
        parts.append((WEIGHTS["date_of_birth"], born))
    elif criteria.dob_from and criteria.dob_to:
        # A range is already the searcher's allowance for not knowing the date: a child born
        # outside it is ruled out like one born on another date.
        if not criteria.dob_from <= candidate.date_of_birth <= criteria.dob_to:
            return 0
        parts.append((WEIGHTS["date_of_birth"], 1.0))
    if criteria.postcode:
        parts.append((WEIGHTS["postcode"], _postcode_agreement(criteria.postcode, candidate)))
    if criteria.gender and candidate.gender in {"female", "male"}:
        parts.append((WEIGHTS["gender"], 1.0 if criteria.gender == candidate.gender else 0.0))
    total = sum(weight for weight, _ in parts)
    return round(100 * sum(weight * value for weight, value in parts) / total) if total else 0


def _postcode_agreement(searched: str, candidate: Candidate) -> float:
    if searched in candidate.postcodes:
        return 1.0
    outward = searched.split(" ")[0]
    return 0.6 if any(code.split(" ")[0] == outward for code in candidate.postcodes) else 0.0


def search_keys(names: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """(family key, given key) pairs for a child's (given name, family name) pairs: each of
    her surnames with each of her first names, whichever names they come from. ``score``
    compares the surname searched with all her surnames and the first name with all her first
    names, so Amelia Okafor, formerly Kayla Hart, scores 100 as Amelia Hart and must be found
    as her too."""
    names = list(names)
    families = set().union(*(family_keys(family_name) for _, family_name in names))
    givens = set().union(*(held_given_keys(given_name) for given_name, _ in names)) or {""}
    return {(family, given) for family in families for given in givens}


# Record linkage for the data feeds (Fellegi-Sunter) --------------------------------------------
#
# Each field is compared to an agreement level; each level has m (how often it occurs when the
# two records are the same child) and u (how often when they are not). A level adds
# log2(m / u) to the match weight. The defaults are measured with
# `manage.py feed_match_evaluation` on a labelled set (README "Data feeds").

DEFAULT_LEVELS: dict[str, dict[str, tuple[float, float]]] = {
    "family_name": {"exact": (0.90, 0.01), "close": (0.07, 0.02), "different": (0.03, 0.97)},
    "given_name": {"exact": (0.89, 0.02), "close": (0.10, 0.02), "different": (0.01, 0.96)},
    "date_of_birth": {
        "exact": (0.93, 0.003),
        "close": (0.05, 0.01),
        "year": (0.01, 0.08),
        "different": (0.01, 0.907),
    },
    "gender": {"same": (0.98, 0.5), "different": (0.02, 0.5)},
    "postcode": {"exact": (0.80, 0.005), "district": (0.05, 0.05), "different": (0.15, 0.945)},
}


@dataclass(frozen=True)
class Person:
    """What the linkage compares: one record's names, birth date, gender and postcodes."""

    family_names: tuple[str, ...]
    given_names: tuple[str, ...]
    date_of_birth: date
    gender: str
    postcodes: tuple[str, ...]


def agreement(incoming: Person, existing: Person) -> dict[str, str | None]:
    """Each field's agreement level (None where either record lacks the field)."""
    family = name_similarity(incoming.family_names[0], existing.family_names)
    given = given_similarity(incoming.given_names[0], existing.given_names)
    dob = date_agreement(incoming.date_of_birth, existing.date_of_birth)
    known = {"female", "male"}
    postcodes = set(incoming.postcodes), set(existing.postcodes)
    districts = [{postcode.split(" ")[0] for postcode in side} for side in postcodes]
    return {
        "family_name": "exact" if family == 1.0 else "close" if family >= 0.9 else "different",
        "given_name": "exact" if given == 1.0 else "close" if given >= 0.9 else "different",
        "date_of_birth": "exact" if dob == 1.0 else "close" if dob >= 0.75
        else "year" if dob >= 0.4 else "different",
        "gender": None if not {incoming.gender, existing.gender} <= known
        else "same" if incoming.gender == existing.gender else "different",
        "postcode": None if not all(postcodes)
        else "exact" if postcodes[0] & postcodes[1]
        else "district" if districts[0] & districts[1]
        else "different",
    }  # fmt: skip


def match_weight(
    levels: dict[str, str | None], table: dict[str, dict[str, tuple[float, float]]]
) -> float:
    total = 0.0
    for field_name, level in levels.items():
        if level is not None:
            m, u = table[field_name][level]
            total += math.log2(m / u)
    return round(total, 2)
