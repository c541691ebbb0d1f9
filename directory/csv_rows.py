"""A feed or register file's rows, numbered as a spreadsheet shows them, and what its report
says of a cell both kinds of file check alike."""

import csv
import io
import re
from collections.abc import Iterator
from typing import NamedTuple

from contactpoint.telephone_numbers import EXAMPLES, telephone_numbers_are_valid

WRONG_WIDTH = "the row has a different number of fields from the header"
NEVER_CLOSED = 'a quote (") that opens a value in this row is never closed'
# Python's own wording for the other ways a CSV breaks, and what a data manager can do.
_READABLE = {
    "',' expected after '\"'": (
        'a value in this row has text after its closing quote ("): put the whole value in '
        "quotes, with each quote inside it written twice"
    ),
    "field larger than field limit": "a value in this row is longer than 128 KB",
}


_BREAK = re.compile(r"[^\S ]")  # any space but the plain one: a line break, a tab
# A character that is not text (an escape, a bell), left once a cell's line breaks are spaces.
_CONTROL = re.compile(r"[\x01-\x1f\x7f-\x9f]")


def cell_as_one_line(value: str) -> str:
    """A cell as one line: a line break in a spreadsheet cell (Alt+Enter in Excel) is layout, and
    kept it put a break in a name or an address line, one saved with CR and one with LF apart."""
    value = value.strip()
    return " ".join(value.split()) if _BREAK.search(value) else value


def cell_problems(
    values: dict[str, str], longest: dict[str, int], otherwise: int
) -> tuple[list[str], dict[str, str]]:
    """What a report says of cells (as one line) too long for their column (``longest``, else
    ``otherwise``) or holding a null or control character, which no name, number or code has;
    and the cells with those emptied, so that nothing checks, or quotes, them any further."""
    problems = []
    for name, value in values.items():
        most = longest.get(name, otherwise)
        if len(value) > most:
            problems.append(f"{name}: longer than {most} characters")
        elif "\x00" in value:
            problems.append(f"{name}: contains a null character")
        elif _CONTROL.search(value):
            problems.append(f"{name}: contains a control character, which no name or code has")
        else:
            continue
        values = {**values, name: ""}
    return problems, values


def not_telephone_numbers(values: dict[str, str], *columns: str) -> list[str]:
    """Those of these columns whose cell holds something that is not a telephone number
    ("call me", "n/a"), which would be shown on child records as one. An empty cell is no
    number, which each of these columns allows; so are several numbers, each one someone can
    ring, between "/", ";", "," or "or"."""
    return [
        column
        for column in columns
        if values.get(column) and not telephone_numbers_are_valid(values[column])
    ]


def telephone_number_problems(values: dict[str, str], *columns: str) -> list[str]:
    """What a report says of each column ``not_telephone_numbers`` finds."""
    return [
        f"{column}: {values[column]!r} is not a telephone number (write one like {EXAMPLES}; "
        'several between "/")'
        for column in not_telephone_numbers(values, *columns)
    ]


class CsvRow(NamedTuple):
    number: int
    # Each column's cell ("" for a cell the row lacks; cells beyond the header left out).
    values: dict[str, str]
    # As many cells as the header has columns, or more, all empty (else: WRONG_WIDTH).
    fits: bool


class _ReadableErrors:
    """The CSV reader, whose errors a data manager can act on."""

    def __init__(self, reader: Iterator[list[str]]) -> None:
        self._reader = reader

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        try:
            return next(self._reader)
        except csv.Error as problem:
            if str(problem) == "unexpected end of data":
                raise csv.Error(NEVER_CLOSED) from None
            for said, readable in _READABLE.items():
                if str(problem).startswith(said):
                    raise csv.Error(readable) from None
            raise


class CsvRows:
    """The header is row 1 (or the line it is on, after blank ones) and every line after it
    counts, a blank one too (a spreadsheet shows an empty row there); blank rows are then left
    out, also one of empty cells only (a spreadsheet saves a row it once held, or a cleared
    one, as ",,,,"). Lines may end however the file was saved: CR (Excel for Mac), LF or CR LF.
    ``csv.Error`` is raised by reading the header or the rows, where the CSV itself breaks:
    also a quote never closed, which a lenient reader would take as one cell holding every line
    after it (rows silently lost)."""

    def __init__(self, text: str) -> None:
        self._reader = _ReadableErrors(csv.reader(io.StringIO(text, newline=""), strict=True))
        self._number = 0
        self._header: list[str] | None = None

    @property
    def header(self) -> list[str]:
        """The first row that is not blank, read on first use (it may raise ``csv.Error``)."""
        if self._header is None:
            self._header = []
            for cells in self._reader:
                self._number += 1
                if _filled(cells):
                    # Names as a reader sees them: "upn, Given_Name" names given_name, and the
                    # empty columns a spreadsheet may save after the last name are none.
                    self._header = [name.strip().lower() for name in cells]
                    while not self._header[-1]:
                        self._header.pop()
                    break
        return self._header

    @property
    def header_number(self) -> int:
        """The row the header is on: 1, or later where blank lines come before it."""
        _ = self.header
        return max(self._number, 1) if self._header else 1

    @property
    def next_number(self) -> int:
        """The row being read next: where the CSV broke, if it did."""
        return self._number + 1

    def __iter__(self) -> Iterator[CsvRow]:
        header = self.header
        for cells in self._reader:
            self._number += 1
            if _filled(cells):
                padded = [*cells, *[""] * (len(header) - len(cells))]
                values = dict(zip(header, padded, strict=False))
                beyond = cells[len(header) :]
                fits = len(cells) == len(header) or (bool(beyond) and not _filled(beyond))
                yield CsvRow(self._number, values, fits)


def _filled(cells: list[str]) -> bool:
    """Whether a row holds anything: not blank, nor empty cells only."""
    return any(cell.strip() for cell in cells)
