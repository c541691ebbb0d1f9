"""The register of schools and GP practices that feed rows name by URN and practice code
(``manage.py import_services``; the format is in docs/feeds.md). Without it, every school census
and GP registration row would be refused as naming an unknown school or practice.

A register file is checked whole, row by row, and applied whole or not at all: each row adds
its service or brings an existing one (the same kind and code) up to date.
"""

import csv
import re
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import Organisation
from contactpoint.postcodes import normalise_postcode
from directory.csv_rows import (
    WRONG_WIDTH,
    CsvRows,
    cell_as_one_line,
    cell_problems,
    telephone_number_problems,
)
from directory.models import Service, Source

COLUMNS = (
    "kind", "identifier", "name", "address_line_1", "address_line_2", "town", "postcode",
    "phone", "email", "local_authority",
)  # fmt: skip
REQUIRED = ("kind", "identifier", "name")
LONGEST = {"name": 200, "address_line_1": 200, "address_line_2": 200, "town": 100, "phone": 40}
# The services rows name by code: a school (or early years setting or college) by its URN,
# a GP practice by its ODS code.
CODES = {
    Service.Kind.SCHOOL: re.compile(r"^[0-9]{6}$"),
    Service.Kind.EARLY_YEARS: re.compile(r"^[0-9]{6}$"),
    Service.Kind.FURTHER_EDUCATION: re.compile(r"^[0-9]{6}$"),
    Service.Kind.GP_PRACTICE: re.compile(r"^[A-Z][0-9]{5}$"),
}


@dataclass
class RegisterCheck:
    services: list[dict[str, object]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def register_check(text: str) -> RegisterCheck:
    """Every row checked; row numbers count the header as row 1."""
    result = RegisterCheck()
    reader = CsvRows(text)
    try:
        if reader.header != list(COLUMNS):
            result.errors.append((1, f"header: the columns must be {', '.join(COLUMNS)}"))
            return result
        las = dict(
            Organisation.objects.filter(kind=Organisation.Kind.LOCAL_AUTHORITY).values_list(
                "code", "pk"
            )
        )
        seen: dict[tuple[str, str], int] = {}
        for number, cells, fits in reader:
            problems, service = _row(cells, las) if fits else ([WRONG_WIDTH], {})
            key = (str(service.get("kind", "")), str(service.get("identifier", "")))
            if not problems and key in seen:
                problems.append(f"the same {key[0]} {key[1]} as row {seen[key]}")
            result.errors.extend((number, problem) for problem in problems)
            if not problems:
                seen[key] = number
                result.services.append(service)
    except csv.Error as problem:
        result.errors.append(
            (reader.next_number, f"the file cannot be read as CSV from this row on ({problem})")
        )
    return result


def _row(cells: dict[str, str], las: dict[str, int]) -> tuple[list[str], dict]:
    values = {name: cell_as_one_line(value) for name, value in cells.items()}
    problems = [f"{name}: required but empty" for name in REQUIRED if not values[name]]
    unreadable, values = cell_problems(values, LONGEST, 100)
    problems.extend(unreadable)
    kind, code = values["kind"], values["identifier"].upper()
    if kind and kind not in CODES:
        problems.append(f"kind: {kind!r} is not one of {', '.join(CODES)}")
    elif kind and code and not CODES[Service.Kind(kind)].match(code):
        what = "an ODS code like A81001" if kind == Service.Kind.GP_PRACTICE else "a 6-digit URN"
        problems.append(f"identifier: {values['identifier']!r} is not {what}")
    postcode = ""
    if values["postcode"]:
        postcode = normalise_postcode(values["postcode"]) or ""
        if not postcode:
            problems.append(f"postcode: {values['postcode']!r} is not a UK postcode")
    problems.extend(telephone_number_problems(values, "phone"))  # one unreadable is empty now
    if values["email"]:
        try:
            validate_email(values["email"])
        except ValidationError:
            problems.append(f"email: {values['email']!r} is not an email address")
    la = las.get(values["local_authority"]) if values["local_authority"] else None
    if values["local_authority"] and la is None:
        problems.append(
            f"local_authority: no local authority has the code {values['local_authority']!r}"
        )
    service = {
        "kind": kind, "identifier": code, "name": values["name"],
        "line_1": values["address_line_1"], "line_2": values["address_line_2"],
        "town": values["town"], "postcode": postcode, "phone": values["phone"],
        "email": values["email"], "local_authority_id": la,
    }  # fmt: skip
    return problems, service


@transaction.atomic
def register_apply(services: list[dict[str, object]], *, file_name: str) -> Counter[str]:
    """Adds each service, or brings the existing one of the same kind and code up to date,
    one save each (the change log records them)."""
    done: Counter[str] = Counter()
    for number, facts in enumerate(services, start=2):
        existing = Service.objects.filter(kind=facts["kind"], identifier=facts["identifier"])
        service = existing.first() or Service(
            source=Source.SERVICE_REGISTER, source_reference=f"{file_name[:150]} row {number}"
        )
        changed = {name: value for name, value in facts.items() if getattr(service, name) != value}
        if service.pk is not None and not changed:
            done["unchanged"] += 1
            continue
        done["updated" if service.pk else "added"] += 1
        for name, value in changed.items():
            setattr(service, name, value)
        service.save()
    return done
