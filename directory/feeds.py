"""Feed file formats and their validation (docs/feeds.md describes them for suppliers).

Every row of a file is validated before anything is applied. A row becomes a ``FeedRow``: the
person it describes in one shape whatever the feed, plus the facts the feed gives about them.
"""

import csv
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from contactpoint.postcodes import normalise_postcode
from directory.csv_rows import (
    WRONG_WIDTH,
    CsvRows,
    cell_as_one_line,
    cell_problems,
    not_telephone_numbers,
    telephone_number_problems,
)
from directory.matching import Person
from directory.models import (
    Address,
    CareRelationship,
    ChildIdentifier,
    Gender,
    Involvement,
    SensitiveCategory,
    Service,
    Source,
)

FEED_SOURCES = (
    Source.SCHOOL_CENSUS,
    Source.CHILD_BENEFIT,
    Source.GP_REGISTRATION,
    Source.LA_SYSTEM,
)
# The feeds a local authority sends: its schools' census returns and its own systems' records.
# Child benefit and GP registrations come from national bodies (HMRC, the NHS), so only the
# national data-quality team uploads them: an LA's file cannot claim to be one.
LA_FEED_SOURCES = (Source.SCHOOL_CENSUS, Source.LA_SYSTEM)

PERSON = ("given_name", "family_name", "date_of_birth", "gender")
ADDRESS = ("address_line_1", "address_line_2", "town", "postcode")
COLUMNS: dict[str, tuple[str, ...]] = {
    Source.SCHOOL_CENSUS: ("upn", *PERSON, *ADDRESS, "school_urn", "entry_date"),
    Source.CHILD_BENEFIT: (
        "claim_reference", "child_number", *PERSON, *ADDRESS, "claimant_given_name",
        "claimant_family_name", "claimant_relationship", "claimant_phone", "claimant_country",
    ),
    Source.GP_REGISTRATION: ("nhs_number", *PERSON, *ADDRESS, "gp_practice_code", "registered_on"),
    Source.LA_SYSTEM: (
        "la_record_id", *PERSON, *ADDRESS, "nhs_number", "carer_given_name", "carer_family_name",
        "carer_relationship", "carer_parental_responsibility", "carer_phone", "service_kind",
        "service_started_on", "caf_held", "lead_professional", "sensitive_basis",
        "sensitive_reason", "address_status", "expected_return_by", "date_of_death",
        "consent_to_25", "former_given_name", "former_family_name",
    ),
}  # fmt: skip
# The column (or columns) of a feed's own id for a person.
RECORD_ID_COLUMN: dict[str, str] = {
    Source.SCHOOL_CENSUS: "upn", Source.CHILD_BENEFIT: "claim_reference and child_number",
    Source.GP_REGISTRATION: "nhs_number", Source.LA_SYSTEM: "la_record_id",
}  # fmt: skip
OPTIONAL = {
    "address_line_2", "claimant_phone", "claimant_country", "nhs_number", "carer_given_name",
    "carer_family_name", "carer_relationship", "carer_parental_responsibility", "carer_phone",
    "service_kind", "service_started_on", "caf_held", "lead_professional", "entry_date",
    "registered_on", "sensitive_basis", "sensitive_reason", "address_status",
    "expected_return_by", "date_of_death", "consent_to_25", "former_given_name",
    "former_family_name",
}  # fmt: skip
# Columns added to a feed's format later: a file may leave them out altogether.
ADDED_LATER = {
    "sensitive_basis", "sensitive_reason", "address_status", "expected_return_by",
    "date_of_death", "consent_to_25", "former_given_name", "former_family_name",
}  # fmt: skip
# Where an LA's row says the child lives, when it is not at an address.
ADDRESS_STATUSES = {Address.Kind.NO_KNOWN_ADDRESS, Address.Kind.LEFT_ENGLAND}

# Why a sensitive service is recorded, in the LA's words: a sentence or two, not a case note
# (the directory holds contact information only).
SENSITIVE_REASON_LONGEST = 500
# The longest value each column may hold: what the directory's fields store (names and
# towns 100, address lines 200, phones 40, a feed's record id 100). Codes, dates and flags
# are checked against their own formats.
LONGEST = {
    "address_line_1": 200, "address_line_2": 200, "claimant_phone": 40, "carer_phone": 40,
    "claim_reference": 60, "child_number": 20, "sensitive_reason": SENSITIVE_REASON_LONGEST,
}  # fmt: skip
LONGEST_OTHERWISE = 100
# A name has a letter, in any script: "." or "-" is a placeholder, which would become a child
# (or a carer) no one can find, and the search and record forms refuse it too.
NAMES = (
    "given_name", "family_name", "claimant_given_name", "claimant_family_name",
    "carer_given_name", "carer_family_name", "former_given_name", "former_family_name",
)  # fmt: skip

_UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_YES_NO = {"yes": True, "no": False}
_CODES = (
    "gender", "claimant_relationship", "carer_relationship", "service_kind", "sensitive_basis",
    "address_status",
)  # fmt: skip
_CARER_DETAILS = ("carer_given_name", "carer_relationship", "carer_phone")
_PHONES = ("claimant_phone", "carer_phone")
_LA_SERVICE_KINDS = {
    Service.Kind.HEALTH_VISITING, Service.Kind.SCHOOL_NURSING, Service.Kind.SOCIAL_CARE,
    Service.Kind.EARLY_HELP, Service.Kind.YOUTH_JUSTICE, Service.Kind.POLICE,
    Service.Kind.VOLUNTARY,
}  # fmt: skip


def upn_is_valid(upn: str) -> bool:
    """A unique pupil number: a check letter, then 12 digits (DfE's modulus 23 check)."""
    if not re.fullmatch(r"[A-Z][0-9]{12}", upn):
        return False
    total = sum(int(digit) * weight for weight, digit in enumerate(upn[1:], start=2))
    return _UPN_CHECK_LETTERS[total % 23] == upn[0]


def nhs_number_is_valid(number: str) -> bool:
    """Ten digits whose last is the modulus 11 check digit of the first nine."""
    if not re.fullmatch(r"[0-9]{10}", number):
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(number[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    return check != 10 and (0 if check == 11 else check) == int(number[9])


@dataclass
class FeedRow:
    """One valid row: who the person is, and what the feed says about them."""

    number: int
    record_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: str
    address: tuple[str, str, str, str] | None  # line 1, line 2, town, postcode
    identifiers: dict[str, str] = field(default_factory=dict)
    carer: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    payload: dict[str, str] = field(default_factory=dict)
    # What only an LA's own system knows (all optional).
    address_status: str = ""  # no address: Address.Kind.NO_KNOWN_ADDRESS or LEFT_ENGLAND
    expected_return_by: date | None = None
    date_of_death: date | None = None
    consent_to_25: bool | None = None
    former_name: tuple[str, str] | None = None  # given, family
    # A stored row's phone columns that are not telephone numbers, left out (``feed_row``).
    phones_left_out: tuple[str, ...] = ()

    def person(self) -> Person:
        """What record linkage compares, as Child.person() gives it for a held record."""
        # Names pair up by position: the name, then a former one (as Child.person() lists them).
        names = [
            (self.given_name, self.family_name),
            *([self.former_name] if self.former_name else []),
        ]
        return Person(
            family_names=tuple(family for _, family in names),
            given_names=tuple(given for given, _ in names),
            date_of_birth=self.date_of_birth,
            gender=self.gender,
            postcodes=(self.address[3],) if self.address else (),
        )


@dataclass
class Validation:
    rows: list[FeedRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number, message)
    rejected: dict[int, dict[str, str]] = field(default_factory=dict)
    rows_read: int = 0


class RowErrors(Exception):
    """What is wrong with a row, each problem a message."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def _date(
    values: dict[str, str], name: str, errors: list[str], *, today: date, extracted_on: date | None
) -> date | None:
    """A date the row says has happened (a birth, a start, a death): not after the day its
    file was extracted, which cannot record what came after it (a mistyped year, as a rule)."""
    text = values.get(name, "")
    if not text:
        return None
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        errors.append(f"{name}: {text!r} is not a real date in the form YYYY-MM-DD")
        return None
    if extracted_on is not None and parsed > extracted_on:
        errors.append(
            f"{name}: {text} is after {extracted_on:%-d %B %Y}, the date the file was "
            "extracted: a file cannot record what happened after it was made"
        )
        return None
    if parsed > today:
        errors.append(f"{name}: {text} is in the future")
        return None
    return parsed


def _flag(values: dict[str, str], name: str, errors: list[str]) -> bool:
    text = values.get(name, "").lower()
    if text and text not in _YES_NO:
        errors.append(f"{name}: {values[name]!r} is not yes or no")
    return _YES_NO.get(text, False)


def feed_row(
    source: str,
    number: int,
    values: dict[str, str],
    *,
    today: date,
    known: dict[str, set[str]],
    extracted_on: date | None = None,
    stored: bool = False,
) -> FeedRow:
    """A row read and checked; ``extracted_on``, its file's extract date, bounds the dates it
    gives (a row of a file imported before extract dates were asked for has none).
    ``stored``: a row kept when its file was imported, read again to be decided or separated."""
    elsewhere = values.get("address_status", "") in ADDRESS_STATUSES
    errors = [
        f"{name}: required but empty"
        for name in COLUMNS[source]
        if name not in OPTIONAL and not values.get(name) and not (elsewhere and name in ADDRESS)
    ]
    unreadable, values = cell_problems(values, LONGEST, LONGEST_OTHERWISE)
    errors.extend(unreadable)
    errors.extend(
        f"{name}: {values[name]!r} has no letters, so it is not a name"
        for name in NAMES
        if values.get(name) and not any(character.isalpha() for character in values[name])
    )
    spaced = re.fullmatch(r"([0-9]{3})[ -]?([0-9]{3})[ -]?([0-9]{4})", values.get("nhs_number", ""))
    if spaced:  # as the NHS shows it, "943 476 5919": one number, however a file spaces it
        values = {**values, "nhs_number": "".join(spaced.groups())}
    if values.get("upn"):  # one pupil's number whatever the case of its check letter
        values = {**values, "upn": values["upn"].upper()}
    # A code is the code in any case ("Female"), as yes and no already are.
    values = {**values, **{name: values[name].lower() for name in _CODES if values.get(name)}}
    if values.get("claimant_country"):
        values = {**values, "claimant_country": values["claimant_country"].upper()}
    born = _date(values, "date_of_birth", errors, today=today, extracted_on=extracted_on)
    if born and born < today - timedelta(days=26 * 365):
        errors.append(f"date_of_birth: {born} is more than 25 years ago; not a child")
    gender = values.get("gender", "")
    if gender and gender not in Gender.values:
        errors.append(f"gender: unknown code {gender!r} (use {', '.join(Gender.values)})")
    address = None
    if values.get("postcode"):
        postcode = normalise_postcode(values["postcode"])
        if postcode is None:
            errors.append(f"postcode: {values['postcode']!r} is not a UK postcode")
        else:
            address = (
                values.get("address_line_1", ""), values.get("address_line_2", ""),
                values.get("town", ""), postcode,
            )  # fmt: skip
    phones_left_out: list[str] = []
    if not stored:
        errors.extend(telephone_number_problems(values, *_PHONES))
    else:
        # A row kept from a file imported before phones were checked reads as it did (a review
        # waiting on it, a merge to separate), but "ask at reception" is no phone to apply.
        phones_left_out = not_telephone_numbers(values, *_PHONES)
        values = {**values, **dict.fromkeys(phones_left_out, "")}
    identifiers: dict[str, str] = {}
    carer: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    la_only: dict[str, Any] = {}
    if source == Source.SCHOOL_CENSUS:
        record_id = values.get("upn", "")
        if record_id and not upn_is_valid(record_id):
            errors.append(f"upn: {record_id!r} is not a valid unique pupil number")
        identifiers[ChildIdentifier.Kind.UNIQUE_PUPIL_NUMBER] = record_id
        urn = values.get("school_urn", "")
        if urn and urn not in known["school"]:
            errors.append(f"school_urn: unknown school {urn!r}")
        started = _date(values, "entry_date", errors, today=today, extracted_on=extracted_on)
        service = {"kind": "school", "identifier": urn, "started_on": started or born,
                   "dated": started is not None}  # fmt: skip
    elif source == Source.GP_REGISTRATION:
        record_id = values.get("nhs_number", "")
        if record_id and not nhs_number_is_valid(record_id):
            errors.append(f"nhs_number: {record_id!r} is not a valid NHS number")
        identifiers[ChildIdentifier.Kind.NHS_NUMBER] = record_id
        code = values.get("gp_practice_code", "")
        if code and code not in known["gp_practice"]:
            errors.append(f"gp_practice_code: unknown GP practice {code!r}")
        started = _date(values, "registered_on", errors, today=today, extracted_on=extracted_on)
        service = {"kind": "gp_practice", "identifier": code, "started_on": started or born,
                   "dated": started is not None}  # fmt: skip
    elif source == Source.CHILD_BENEFIT:
        record_id = f"{values.get('claim_reference', '')}/{values.get('child_number', '')}"
        if "/" in values.get("claim_reference", ""):
            # The id joins the two with "/": "AB/1" and "2" would be "AB" and "1/2", another
            # child, whose next row would update this one's record.
            errors.append("claim_reference: must not contain '/'")
        relationship = values.get("claimant_relationship", "")
        if relationship and relationship not in CareRelationship.Relationship.values:
            errors.append(f"claimant_relationship: unknown code {relationship!r}")
        country = values.get("claimant_country", "") or "GB"
        if not re.fullmatch(r"[A-Z]{2}", country):
            errors.append(f"claimant_country: {country!r} is not a two-letter country code")
        carer = {
            "given_name": values.get("claimant_given_name", ""),
            "family_name": values.get("claimant_family_name", ""),
            "relationship": relationship,
            "parental_responsibility": True,
            "phone": values.get("claimant_phone", ""),
            "country": country,
        }
    else:
        record_id = values.get("la_record_id", "")
        nhs = values.get("nhs_number", "")
        if nhs:
            if not nhs_number_is_valid(nhs):
                errors.append(f"nhs_number: {nhs!r} is not a valid NHS number")
            identifiers[ChildIdentifier.Kind.NHS_NUMBER] = nhs
        carer_given = [name for name in _CARER_DETAILS if values.get(name)]
        if carer_given and not values.get("carer_family_name"):
            # Else the carer the row names, and their phone, were left out without a word.
            errors.append(f"carer_family_name: required with {', '.join(carer_given)}")
        if values.get("carer_family_name"):
            relationship = values.get("carer_relationship", "")
            if not relationship:
                errors.append("carer_relationship: required with carer_family_name")
            elif relationship not in CareRelationship.Relationship.values:
                errors.append(f"carer_relationship: unknown code {relationship!r}")
            carer = {
                "given_name": values.get("carer_given_name", ""),
                "family_name": values["carer_family_name"],
                "relationship": relationship,
                "parental_responsibility": _flag(values, "carer_parental_responsibility", errors),
                "phone": values.get("carer_phone", ""),
                "country": "GB",
            }
        kind = values.get("service_kind", "")
        if kind:
            if kind not in _LA_SERVICE_KINDS and kind not in SensitiveCategory.values:
                errors.append(f"service_kind: unknown code {kind!r}")
            started = _date(
                values, "service_started_on", errors, today=today, extracted_on=extracted_on
            )
            service = {
                "kind": kind,
                "identifier": "",
                "started_on": started or born,
                "dated": started is not None,  # a start left out is not a start at birth
                "caf_held": _flag(values, "caf_held", errors),
                "lead_professional": _flag(values, "lead_professional", errors),
                "sensitive_basis": _sensitive_basis(values, kind, errors),
                **_sensitive_reason(values, kind, errors),
            }
            if service["lead_professional"] and kind in SensitiveCategory.values:
                errors.append(
                    "lead_professional: a sexual health, mental health or substance misuse "
                    "service cannot be the lead professional, because practitioners cannot see it"
                )
        elif said := [n for n in ("sensitive_basis", "sensitive_reason") if values.get(n)]:
            errors.extend(
                f"{name}: only for a sexual health, mental health or substance misuse service_kind"
                for name in said
            )
        else:
            # A service's start, or a lead or CAF it holds ("no" is any row's default), would
            # be left out without a word: whose service is it?
            orphaned = [
                name
                for name in ("service_started_on", "caf_held", "lead_professional")
                if values.get(name) and values[name].lower() != "no"
            ]
            if orphaned:
                errors.append(f"service_kind: required with {', '.join(orphaned)}")
        la_only = _la_only_facts(values, born, errors, today=today, extracted_on=extracted_on)
    if errors or born is None:
        raise RowErrors(errors or ["date_of_birth: required but empty"])
    return FeedRow(
        number=number,
        record_id=record_id,
        given_name=values["given_name"],
        family_name=values["family_name"],
        date_of_birth=born,
        gender=gender,
        address=address,
        identifiers=identifiers,
        carer=carer,
        service=service,
        payload=values,
        phones_left_out=tuple(phones_left_out),
        **la_only,
    )


def _sensitive_basis(values: dict[str, str], kind: str, errors: list[str]) -> str:
    """Why a sensitive service may be recorded (DESIGN.md): consent, or suspected harm."""
    basis = values.get("sensitive_basis", "")
    if kind in SensitiveCategory.values:
        if basis not in Involvement.SensitiveBasis.values:
            errors.append(
                "sensitive_basis: a sexual health, mental health or substance misuse service "
                "needs consent or significant_harm"
            )
        return basis
    if basis:
        errors.append(f"sensitive_basis: only for a sensitive service_kind, not {kind!r}")
    return ""


def _sensitive_reason(values: dict[str, str], kind: str, errors: list[str]) -> dict[str, str]:
    """The reason a sensitive service is recorded (DESIGN.md: "the reason is recorded"):
    required where significant harm is suspected, optional with consent. A significant_harm
    row read from a file always has the column (``_rows_check``); any other row without it (a
    file of the older format, or one stored before the column existed, read again for a review
    or a separation) says nothing of a reason, and leaves the one recorded as it is."""
    if "sensitive_reason" not in values:
        return {}
    reason = values["sensitive_reason"]
    if kind not in SensitiveCategory.values:
        if reason:
            errors.append(f"sensitive_reason: only for a sensitive service_kind, not {kind!r}")
        return {}
    harm = values.get("sensitive_basis") == Involvement.SensitiveBasis.SIGNIFICANT_HARM
    # One emptied as too long or not text is already reported: once is enough.
    reported = any(message.startswith("sensitive_reason:") for message in errors)
    if harm and not reason and not reported:
        errors.append(
            "sensitive_reason: required when sensitive_basis is significant_harm: say why "
            "significant harm is suspected"
        )
    return {"sensitive_reason": reason}


def _la_only_facts(
    values: dict[str, str],
    born: date | None,
    errors: list[str],
    *,
    today: date,
    extracted_on: date | None,
) -> dict[str, Any]:
    """An LA row's facts beyond the other feeds': where the child is when not at an address,
    death, consent to stay until 25, and a former name."""
    status = values.get("address_status", "")
    if status and status not in ADDRESS_STATUSES:
        errors.append(
            f"address_status: unknown code {status!r} (use {', '.join(ADDRESS_STATUSES)})"
        )
    elif status:
        errors.extend(
            f"{name}: must be empty when address_status is {status}"
            for name in ADDRESS
            if values.get(name)
        )
    back = values.get("expected_return_by", "")
    expected_return_by = None
    if back:
        try:
            expected_return_by = date.fromisoformat(back)
        except ValueError:
            errors.append(f"expected_return_by: {back!r} is not a real date in the form YYYY-MM-DD")
        else:
            # An expectation when the file was made: ahead of its extract date, not of today
            # (an older file's return date may have come since).
            made = extracted_on or today
            if status != Address.Kind.LEFT_ENGLAND:
                errors.append("expected_return_by: only when address_status is left_england")
            elif not made < expected_return_by <= made + timedelta(days=3 * 366):
                errors.append(
                    "expected_return_by: must be within the next 3 years"
                    if extracted_on is None
                    else f"expected_return_by: must be within the 3 years after "
                    f"{extracted_on:%-d %B %Y}, the date the file was extracted"
                )
    died = _date(values, "date_of_death", errors, today=today, extracted_on=extracted_on)
    if died and born and died < born:
        errors.append("date_of_death: before the date of birth")
    consent = _flag(values, "consent_to_25", errors) if values.get("consent_to_25") else None
    former_given, former_family = (
        values.get("former_given_name", ""),
        values.get("former_family_name", ""),
    )
    former = None
    if former_given or former_family:
        former = (
            former_given or values.get("given_name", ""),
            former_family or values.get("family_name", ""),
        )
    return {
        "address_status": status if status in ADDRESS_STATUSES else "",
        "expected_return_by": expected_return_by,
        "date_of_death": died,
        "consent_to_25": consent,
        "former_name": former,
    }


def feed_validate(
    source: str,
    text: str,
    *,
    today: date,
    known: dict[str, set[str]],
    extracted_on: date | None = None,
) -> Validation:
    """Checks every row; returns the valid rows and a row-numbered list of what is wrong.
    ``extracted_on``: the day the file was extracted, after which no date of a row may be.

    Row numbers count the header as row 1, as a spreadsheet shows them.
    """
    result = Validation()
    reader = CsvRows(text)
    try:
        if _header_checked(source, reader, result):
            _rows_check(
                source, reader, result, {}, today=today, known=known, extracted_on=extracted_on
            )
            if not result.rows_read and not result.errors:
                # Recorded as imported, a file that says nothing would refuse its resending.
                result.errors.append(
                    (2, "the file has no rows after the header: nothing to import")
                )
    except csv.Error as problem:
        # The CSV itself breaks (a cell of over 128 KB, say): nothing after it can be read, so
        # nothing of the file is imported, whatever the valid rows before.
        result.errors.append(_unreadable(reader, problem))
        result.rows, result.rows_read = [], 0
    return result


# A header is a few hundred characters: this much of a file holds it, however large the file,
# and more than the longest cell the CSV reader takes (128 KB), so that a file whose first cell
# is longer is refused for it here as it is when read whole.
HEADER_CHARACTERS = 2**18


def feed_header_validate(source: str, text: str) -> Validation:
    """The header alone checked, as ``feed_validate`` checks it: a file too large to check
    whole while its data manager waits is still told at once that it is not the feed's."""
    result = Validation()
    reader = CsvRows(text[:HEADER_CHARACTERS])
    try:
        _header_checked(source, reader, result)
    except csv.Error as problem:
        result.errors.append(_unreadable(reader, problem))
    return result


def _unreadable(reader: CsvRows, problem: csv.Error) -> tuple[int, str]:
    return reader.next_number, f"the file cannot be read as CSV from this row on ({problem})"


def _header_problems(source: str, header: Sequence[str]) -> list[str]:
    expected = COLUMNS[source]
    missing = [name for name in expected if name not in header and name not in ADDED_LATER]
    unknown = [name for name in header if name not in expected]
    repeated = sorted(name for name, times in Counter(header).items() if times > 1 and name)
    problems = []
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        named = (name or "a column with no name" for name in unknown)
        problems.append(f"unexpected columns: {', '.join(named)}")
    if repeated:
        problems.append(f"columns named twice: {', '.join(repeated)}")
    return problems


def _header_checked(source: str, reader: CsvRows, result: Validation) -> bool:
    header = reader.header
    problems = _header_problems(source, header)
    if not problems:
        return True
    # A file of another feed (the wrong feed chosen on upload): its columns are all wrong, and
    # the list of them does not say why.
    other = next((s for s in FEED_SOURCES if not _header_problems(s, header)), None)
    if other is not None:
        problems.append(
            f"these are the columns of a {Source(other).label.lower()} file, not a "
            f"{Source(source).label.lower()} file: check which feed the file comes from"
        )
    # Its own row, where blank lines come before it: "Row 1" would point at one of those.
    result.errors.append((reader.header_number, "header: " + "; ".join(problems)))
    return False


def _rows_check(
    source: str,
    reader: CsvRows,
    result: Validation,
    seen: dict[str, int],
    *,
    today: date,
    known: dict[str, set[str]],
    extracted_on: date | None,
) -> None:
    held: dict[tuple[str, str], int] = {}  # a row's NHS number or UPN: the first row giving it
    id_column = RECORD_ID_COLUMN[source]
    for number, cells, fits in reader:
        result.rows_read += 1
        if not fits:
            result.errors.append((number, WRONG_WIDTH))
            result.rejected[number] = cells
            continue
        values = {key: cell_as_one_line(value) for key, value in cells.items()}
        # Read as feed_row reads it: a code in any case ("Significant_Harm").
        basis = values.get("sensitive_basis", "").lower()
        if source == Source.LA_SYSTEM and basis == Involvement.SensitiveBasis.SIGNIFICANT_HARM:
            # A file without the column gives no reason, which a significant_harm row needs;
            # for a consent it says nothing, and the reason recorded before stays.
            values.setdefault("sensitive_reason", "")
        try:
            row = feed_row(
                source, number, values, today=today, known=known, extracted_on=extracted_on
            )
        except RowErrors as problem:
            result.errors.extend((number, message) for message in problem.messages)
            result.rejected[number] = values
            continue
        if row.record_id in seen:
            result.errors.append(
                (
                    number,
                    f"duplicate: the same person as row {seen[row.record_id]} ({row.record_id})",
                )
            )
            result.rejected[number] = values
            continue
        # Two records of the file with one NHS number: one of them has it wrong, and the second
        # would join the first's child by it (deterministic matching), whoever the rows name.
        shared = [
            f"{kind}: {value} is also row {held[kind, value]}'s, a different {id_column} in "
            "this file: the same child twice, or one of the two has it wrong"
            for kind, value in row.identifiers.items()
            if (kind, value) in held
        ]
        if shared:
            result.errors.extend((number, message) for message in shared)
            result.rejected[number] = values
            continue
        seen[row.record_id] = number
        held.update(dict.fromkeys(row.identifiers.items(), number))
        result.rows.append(row)


def error_report(errors: Iterable[tuple[int, str]]) -> str:
    return "\n".join(f"Row {number}: {message}" for number, message in errors)
