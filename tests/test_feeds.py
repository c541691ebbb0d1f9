"""Feed files: validated whole, applied all-or-nothing, matched deterministically then by
weights, reviewed by data managers, merged and unmerged; and a shield always follows the child."""

import csv
import hashlib
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organisation
from accounts.roles import Role
from audit.models import Action, AuditEvent
from directory.contactpoint_id import display
from directory.feed_import import (
    feed_import,
    refused_because,
    review_version,
    waiting_uploads_import,
)
from directory.feed_views import ARCHIVED_OUT_OF_SIGHT, DECISION_NEEDED
from directory.feeds import (
    ADDED_LATER,
    COLUMNS,
    error_report,
    nhs_number_is_valid,
    upn_is_valid,
)
from directory.linkage_evaluation import evaluate
from directory.models import (
    EXTRACTED_BEFORE,
    Address,
    CareRelationship,
    Child,
    ChildIdentifier,
    FeedImport,
    FeedUpload,
    Involvement,
    MatchReview,
    Merge,
    ParentCarer,
    Service,
    Source,
    SourceRecord,
    years_before,
)
from directory.services import (
    children_merge,
    children_unmerge,
    involvement_record_mine,
    lifecycle_apply,
)
from shielding.models import Shield
from shielding.policy import is_shielded
from shielding.services import shield_create
from tests.commands import run_manage
from tests.feed_forms import extracted_today, extracted_today_argument, import_feed_today
from tests.personas import (
    CONFIRM,
    ada,
    dana,
    decide,
    feed_review,
    make_address,
    make_carer,
    make_child,
    make_service,
    make_user,
    merge_asked_by_nat,
    northshire,
    operator,
    priya,
    rebuild_keys,
    sam,
    shield,
    sign_in,
    southshire,
)

pytestmark = pytest.mark.django_db

UPN_1, UPN_2 = "A352214300101", "M352214300102"


def upn(body: str) -> str:
    total = sum(int(d) * w for w, d in enumerate(body, start=2))
    return "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23] + body


def census(*rows: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS[Source.SCHOOL_CENSUS])
    writer.writeheader()
    for row in rows:
        values = {
            "upn": upn("352214300101"), "given_name": "Olivia", "family_name": "Brennan",
            "date_of_birth": "2015-09-12", "gender": "female", "address_line_1": "14 Ashgrove Road",
            "address_line_2": "", "town": "Northtown", "postcode": "NE1 4ST",
            "school_urn": "100000", "entry_date": "2020-09-03",
        }  # fmt: skip
        values.update(row)
        writer.writerow(values)
    return out.getvalue().encode()


GP_OLIVIA = {
    "nhs_number": "9434765005", "given_name": "Olivia", "family_name": "Brennan",
    "date_of_birth": "2015-09-12", "gender": "female", "address_line_1": "14 Ashgrove Road",
    "address_line_2": "", "town": "Northtown", "postcode": "NE1 4ST",
    "gp_practice_code": "A81001", "registered_on": "2016-01-04",
}  # fmt: skip


def gp_registration(**cells: str) -> bytes:
    """A GP registration file of one row: Olivia, at practice A81001."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS[Source.GP_REGISTRATION])
    writer.writeheader()
    writer.writerow(GP_OLIVIA | cells)
    return out.getvalue().encode()


def national_id_file(source: str, **cells: str) -> bytes:
    """A census or GP registration file of one row: Olivia, by her UPN or NHS number."""
    return census(cells) if source == Source.SCHOOL_CENSUS else gp_registration(**cells)


@pytest.fixture
def school():
    return make_service(Service.Kind.SCHOOL, name="Northshire Primary", identifier="100000")


def la_system(*more: dict[str, str], **cells: str) -> bytes:
    """An LA system file: Zed's row with ``cells`` over it, then a row for each of ``more``
    (its cells over Zed's)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS[Source.LA_SYSTEM])
    writer.writeheader()
    values = dict.fromkeys(COLUMNS[Source.LA_SYSTEM], "")
    values.update(
        la_record_id="1001", given_name="Zed", family_name="Quill", date_of_birth="2012-01-01",
        gender="male", address_line_1="1 North Road", town="Northtown", postcode="NE1 1AA",
    )  # fmt: skip
    for row in (cells, *more):
        writer.writerow(values | row)
    return out.getvalue().encode()


def child_benefit(*rows: dict[str, str]) -> bytes:
    """A child benefit file: a row for each of ``rows``, its cells over Olivia's, whose
    mother Kirsty claims."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS[Source.CHILD_BENEFIT])
    writer.writeheader()
    olivia = {
        "claim_reference": "CHB1001", "child_number": "1", "given_name": "Olivia",
        "family_name": "Brennan", "date_of_birth": "2015-09-12", "gender": "female",
        "address_line_1": "14 Ashgrove Road", "address_line_2": "", "town": "Northtown",
        "postcode": "NE1 4ST", "claimant_given_name": "Kirsty", "claimant_family_name": "Brennan",
        "claimant_relationship": "mother", "claimant_phone": "", "claimant_country": "",
    }  # fmt: skip
    for row in rows:
        writer.writerow(olivia | row)
    return out.getvalue().encode()


def child_benefit_import(content: bytes):
    return feed_import(
        source=Source.CHILD_BENEFIT, file_name="cb.csv", content=content,
        local_authority=northshire(), by=None,
    )  # fmt: skip


def la_import(content: bytes, la: Organisation | None = None, name: str = "la.csv"):
    return feed_import(
        source=Source.LA_SYSTEM, file_name=name, content=content,
        local_authority=la or northshire(), by=None,
    )  # fmt: skip


def load(content: bytes, **options):
    return feed_import(
        source=Source.SCHOOL_CENSUS, file_name="census.csv", content=content,
        local_authority=northshire(), by=None, **options,
    )  # fmt: skip


class TestIdentifierChecks:
    def test_unique_pupil_numbers_and_nhs_numbers_have_check_characters(self):
        assert upn_is_valid(upn("352214300101"))
        assert not upn_is_valid("Z352214300101") or upn("352214300101")[0] == "Z"
        assert nhs_number_is_valid("9434765005")
        assert not nhs_number_is_valid("9434765006")


class TestValidation:
    def test_every_error_is_reported_by_row_and_nothing_is_imported(self, school):
        content = census(
            {},
            {"upn": upn("352214300102"), "date_of_birth": "2015-13-01"},
            {"upn": upn("352214300103"), "postcode": "NOT A CODE"},
            {"upn": upn("352214300104"), "family_name": ""},
            {"upn": upn("352214300105"), "gender": "boy"},
            {"upn": upn("352214300106"), "school_urn": "999999"},
            {},
            {"upn": "X000000000000"},
        )
        outcome = load(content)
        errors = dict(outcome.validation.errors) | {}
        report = "\n".join(f"{n}: {m}" for n, m in outcome.validation.errors)
        assert "3: date_of_birth: '2015-13-01' is not a real date" in report
        assert "4: postcode: 'NOT A CODE' is not a UK postcode" in report
        assert "5: family_name: required but empty" in report
        assert "6: gender: unknown code 'boy'" in report
        assert "7: school_urn: unknown school '999999'" in report
        assert "8: duplicate: the same person as row 2" in report
        assert "9: upn: 'X000000000000' is not a valid unique pupil number" in report
        assert errors
        assert outcome.feed_import is None and not Child.objects.exists()
        assert not FeedImport.objects.exists()

    def test_overlong_values_and_null_characters_are_errors_not_failures(self, school):
        content = census(
            {"given_name": "O" * 101},
            {"upn": upn("352214300102"), "address_line_1": "a\x00b"},
            {"upn": upn("352214300103"), "town": "T" * 100},
        )
        outcome = load(content, skip_invalid=True)
        report = "\n".join(f"{n}: {m}" for n, m in outcome.validation.errors)
        assert "2: given_name: longer than 100 characters" in report
        assert "3: address_line_1: contains a null character" in report
        assert list(outcome.validation.rejected) == [2, 3]
        assert Child.objects.get().addresses.get().town == "T" * 100

    def test_a_name_without_a_letter_is_an_error(self, school):
        """A placeholder name ("." or "-") made a child no search can find."""
        content = census(
            {"given_name": "."},
            {"upn": upn("352214300102"), "family_name": "- -"},
            {"upn": upn("352214300103"), "given_name": "Zoë", "family_name": "O'Brien-王"},
            {"upn": upn("352214300104"), "given_name": "محمد", "date_of_birth": "2016-02-02"},
        )
        outcome = load(content, skip_invalid=True)
        assert outcome.validation.errors == [
            (2, "given_name: '.' has no letters, so it is not a name"),
            (3, "family_name: '- -' has no letters, so it is not a name"),
        ]
        assert sorted(Child.objects.values_list("given_name", flat=True)) == ["Zoë", "محمد"]
        errors = la_import(la_system(carer_family_name="?", carer_relationship="mother"))
        assert errors.validation.errors == [
            (2, "carer_family_name: '?' has no letters, so it is not a name")
        ]

    def test_two_records_of_a_file_with_one_nhs_number_are_an_error(self, school):
        """The second would join the first's child by the NHS number, whoever each row names."""
        header, zed = la_system(nhs_number="9434765005").decode().splitlines()
        ann = zed.replace("1001", "1002").replace("Zed", "Ann").replace("2012-01-01", "2013-03-03")
        outcome = la_import(f"{header}\n{zed}\n{ann}\n".encode())
        assert outcome.validation.errors == [
            (
                3,
                "nhs_number: 9434765005 is also row 2's, a different la_record_id in this file: "
                "the same child twice, or one of the two has it wrong",
            )
        ]
        assert not Child.objects.exists()

    def test_a_pupil_number_in_lower_case_is_the_same_number(self, school):
        """A check letter typed in lower case was "not a valid unique pupil number"."""
        assert dict(load(census({})).counts) == {"new_child": 1}
        lower = load(census({"upn": upn("352214300101").lower()}))
        assert lower.validation.errors == [] and dict(lower.counts) == {"unchanged": 1}

    def test_a_code_is_read_in_any_case(self):
        """A code written "Female" or "Social_Care" was unknown; yes and no were in any case."""
        outcome = la_import(
            la_system(gender="Male", service_kind="Social_Care", carer_family_name="Quill",
                      carer_relationship="MOTHER", lead_professional="Yes")
        )  # fmt: skip
        assert outcome.validation.errors == [] and dict(outcome.counts) == {"new_child": 1}
        assert Involvement.objects.get().service.kind == Service.Kind.SOCIAL_CARE

    def test_an_nhs_number_spaced_as_the_nhs_shows_it_is_the_same_number(self):
        """The NHS writes a number "943 476 5005": a GP file sending it so was refused whole;
        and a file spacing it and one not are the same person."""
        make_service(Service.Kind.GP_PRACTICE, name="Northtown Surgery", identifier="A81001")

        def gp(content: bytes, name: str):
            return feed_import(
                source=Source.GP_REGISTRATION, file_name=name, content=content,
                local_authority=northshire(), by=None,
            )  # fmt: skip

        first = gp(gp_registration(nhs_number="943 476 5005"), "gp.csv")
        assert first.validation.errors == [] and dict(first.counts) == {"new_child": 1}
        again = gp(gp_registration(), "gp2.csv")
        assert dict(again.counts) == {"unchanged": 1}
        assert ChildIdentifier.objects.get().value == "9434765005"
        olivia = {k: v for k, v in GP_OLIVIA.items() if k in COLUMNS[Source.LA_SYSTEM]}
        spaced_la = la_import(la_system(**{**olivia, "nhs_number": "943-476-5005"}))
        assert dict(spaced_la.counts) == {"matched_by_identifier": 1}

    def test_a_column_named_twice_is_refused_not_read_from_one_of_them(self, school):
        """Which of two "given_name" columns is the child's name? Neither is guessed."""
        header, row = census({}).decode().splitlines()
        content = f"{header},given_name\n{row},Olive\n".encode()
        outcome = load(content)
        assert outcome.validation.errors == [(1, "header: columns named twice: given_name")]
        assert not Child.objects.exists()

    def test_a_bad_header_after_blank_lines_is_reported_on_its_own_row(self, school):
        """Two blank lines above the header: "Row 1" would send her to an empty line."""
        header, row = census({}).decode().splitlines()
        outcome = load(f"\n\n{header},given_name\n{row},Olive\n".encode())
        assert outcome.validation.errors == [(3, "header: columns named twice: given_name")]
        assert refused_because(outcome, skip_invalid=False).startswith(
            "The file cannot be read as this feed's file: correct its header"
        )

    def test_a_header_is_read_as_a_person_reads_it(self, school):
        """Spaces around a name ("upn, given_name") were part of it, so every column was
        "missing" and "unexpected" at once; and the empty columns a spreadsheet saves after
        the last one were "unexpected columns: " (a name that cannot be seen)."""
        header, row = census({}).decode().splitlines()
        spaced = ", ".join(header.split(",")) + " "
        assert load(f"{spaced}\n{row}\n".encode()).validation.errors == []
        assert load(f"{header.upper()}\n{row}\n".encode()).validation.errors == []
        other = {"upn": upn("352214300102"), "given_name": "Amy", "date_of_birth": "2016-05-01"}
        amy = census(other).decode().splitlines()[1]
        outcome = load(f"{header},,\n{row},,\n{amy},\n".encode())
        assert outcome.validation.errors == []
        assert dict(outcome.counts) == {"unchanged": 1, "new_child": 1}
        outcome = load(f"{header},,family\n{row},,x\n".encode())
        assert outcome.validation.errors == [
            (1, "header: unexpected columns: a column with no name, family")
        ]

    def test_a_file_of_another_feed_is_named_as_such(self, school):
        """The wrong feed chosen on upload: every column is wrong, and the report says why."""
        (_, problem), = load(la_system()).validation.errors  # fmt: skip
        assert problem.startswith("header: missing columns: upn,")
        assert problem.endswith(
            "; these are the columns of a local authority system file, not a school census "
            "file: check which feed the file comes from"
        )
        (_, problem), = load(b"upn,given_name\n").validation.errors  # fmt: skip
        assert "these are the columns" not in problem

    def test_a_header_of_many_columns_is_refused(self, school):
        """A header of 200,000 columns (a file of one line, checked while the page waits):
        counting each name by reading the header again took minutes, and the page hung."""
        header = ",".join(f"c{n}" for n in range(200_000)).encode()
        errors = load(header + b"\n").validation.errors
        assert [number for number, _ in errors] == [1]

    @pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
    def test_rows_are_numbered_as_a_spreadsheet_shows_them_however_lines_end(self, school, ending):
        """A blank line is a row of its own in a spreadsheet, and a file saved with CR line
        endings (Excel for Mac's "CSV (Macintosh)") is read like any other."""
        lines = census({}, {"upn": upn("352214300102"), "gender": "boy"}).decode().splitlines()
        content = ending.join([lines[0], lines[1], "", lines[2], ""]).encode()
        errors = load(content).validation.errors
        assert [(n, m[:26]) for n, m in errors] == [(4, "gender: unknown code 'boy'")]

    def test_a_line_break_in_a_cell_is_a_space(self, school):
        """A spreadsheet cell of two lines (Alt+Enter) kept its break in the address line; and
        the same file saved with other line endings then changed the child's address."""
        content = census({"address_line_1": "Flat 2\r\n14 Ashgrove Road", "given_name": "Olivia\t"})
        assert dict(load(content).counts) == {"new_child": 1}
        again = load(content.replace(b"\r\n14", b"\n14"))
        assert dict(again.counts) == {"unchanged": 1}
        assert Address.objects.get().line_1 == "Flat 2 14 Ashgrove Road"

    def test_a_control_character_is_an_error_not_a_name(self, school):
        """A terminal's escape was kept in a child's name; a vertical tab (a line break in some
        systems' cells) is a space, as a line break is."""
        content = census(
            {"given_name": "Oli\x1b[31mvia"},
            {"upn": upn("352214300102"), "town": "North\x0btown"},
        )
        outcome = load(content, skip_invalid=True)
        assert outcome.validation.errors == [
            (2, "given_name: contains a control character, which no name or code has")
        ]
        assert Address.objects.get().town == "North town"

    def test_a_row_of_empty_cells_is_a_blank_row(self, school):
        """A spreadsheet saves a row it once held, or one cleared, as commas only: the sheet
        shows it blank, and it was read as a row with every required value missing."""
        lines = census({}, {"upn": upn("352214300102"), "gender": "boy"}).decode().splitlines()
        content = "\r\n".join([lines[0], lines[1], ",,,,,,,,,,", lines[2], " , ,", ""])
        errors = load(content.encode()).validation.errors
        assert [(n, m[:26]) for n, m in errors] == [(4, "gender: unknown code 'boy'")]
        outcome = load(content.encode(), skip_invalid=True)
        assert dict(outcome.counts) == {"new_child": 1} and list(outcome.validation.rejected) == [4]

    def test_a_file_with_a_header_only_is_refused_not_recorded_as_imported(self, school):
        """Recorded as imported, it would refuse the same file sent again with its rows."""
        outcome = load(census())
        assert outcome.validation.errors == [
            (2, "the file has no rows after the header: nothing to import")
        ]
        assert outcome.feed_import is None and not FeedImport.objects.exists()

    def test_a_file_whose_csv_breaks_is_refused_whole(self, school, client):
        """A cell over Python's CSV limit (128 KB) stops the reader: nothing after it can be
        read, so none of the file is imported, even with the valid rows left in."""
        content = census({}, {"upn": upn("352214300102"), "town": "T" * 140_000}, {})
        outcome = load(content, skip_invalid=True)
        assert outcome.feed_import is None and not Child.objects.exists()
        assert (
            "3: the file cannot be read as CSV from this row on (a value in this row is "
            "longer than 128 KB)" in "\n".join(f"{n}: {m}" for n, m in outcome.validation.errors)
        )
        sign_in(client, dana())
        upload = SimpleUploadedFile("wide.csv", content, content_type="text/csv")
        page = client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "school_census",
                "local_authority": northshire().pk,
                "file": upload,
            },
        )
        assert page.status_code == 200 and "cannot be read as CSV" in page.content.decode()

    def test_a_quote_never_closed_refuses_the_file_not_the_rows_after_it(self, school):
        """A lenient reader takes an unclosed quote as one cell running to the end of the file:
        with rows with errors left out, every row after it was silently lost."""
        lines = census(
            {}, {"upn": upn("352214300102"), "given_name": "Amy"},
            {"upn": upn("352214300103"), "given_name": "Bea"},
        ).decode().splitlines()  # fmt: skip
        lines[2] = lines[2].replace("Amy", '"Amy')
        outcome = load("\n".join([*lines, ""]).encode(), skip_invalid=True)
        assert outcome.validation.errors == [
            (
                3,
                "the file cannot be read as CSV from this row on "
                '(a quote (") that opens a value in this row is never closed)',
            )
        ]
        assert outcome.feed_import is None and not Child.objects.exists()

    def test_text_after_a_closing_quote_refuses_the_file_saying_how_to_mend_it(self, school):
        """A lenient reader would join '"Amy" Jo' into one name; which was meant is unknown,
        so nothing is imported, and the data manager is told how to write the value."""
        lines = census({}, {"upn": upn("352214300102"), "given_name": "Amy"}).decode()
        outcome = load(lines.replace("Amy", '"Amy" Jo').encode(), skip_invalid=True)
        assert outcome.validation.errors == [
            (
                3,
                "the file cannot be read as CSV from this row on (a value in this row has text "
                'after its closing quote ("): put the whole value in quotes, with each quote '
                "inside it written twice)",
            )
        ]
        assert outcome.feed_import is None and not Child.objects.exists()

    def test_a_long_file_name_is_kept_short_where_facts_name_it(self, school):
        outcome = feed_import(
            source=Source.SCHOOL_CENSUS, file_name="N" * 250 + ".csv", content=census({}),
            local_authority=northshire(), by=None,
        )  # fmt: skip
        assert dict(outcome.counts) == {"new_child": 1}
        assert Child.objects.get().source_reference == "N" * 150 + " row 2"

    def test_skip_invalid_imports_the_rest(self, school):
        content = census({}, {"upn": upn("352214300102"), "date_of_birth": "someday"})
        outcome = load(content, skip_invalid=True)
        assert outcome.feed_import is not None and Child.objects.count() == 1
        assert list(outcome.validation.rejected) == [3]

    def test_a_file_whose_every_row_is_left_out_is_not_recorded_as_imported(self):
        """Its schools not yet in the register, a census file left out every row: recorded as
        imported, it was then refused as "imported before" once the register held them."""
        content = census({}, {"upn": upn("352214300102"), "given_name": "Amy"})
        outcome = load(content, skip_invalid=True)
        assert outcome.feed_import is None and not FeedImport.objects.exists()
        assert [m for _, m in outcome.validation.errors] == [
            "school_urn: unknown school '100000'"
        ] * 2
        make_service(Service.Kind.SCHOOL, name="Northshire Primary", identifier="100000")
        outcome = load(content, skip_invalid=True)
        assert not outcome.already_imported and outcome.feed_import is not None

    def test_a_file_saved_with_a_byte_order_mark_names_the_row_that_is_not_utf8(self, school):
        """Excel's "CSV UTF-8" starts the file with a byte-order mark: the row that is not UTF-8
        is still the one named (the mark is not counted as text before it), and a name such
        as "Renées" just before the bad byte is not cut in half (that was a server error)."""
        mark = b"\xef\xbb\xbf"
        assert load(mark + census({}) + "Ëmma".encode("cp1252")).validation.errors[0][0] == 3
        row = census({}, {"upn": upn("352214300102"), "given_name": "Renées"}).decode()
        head, _, tail = row.partition("Renées")
        broken = mark + head.encode() + "Renées".encode() + b"\xff" + tail.encode()
        assert load(broken).validation.errors[0][0] == 3

    def test_finding_the_row_that_is_not_utf8_needs_little_memory(self, school):
        """A large file saved in Windows' encoding, its one "Zoë" at the end: finding her row
        read the whole text before it at once, four to six times the file in memory (183 MB
        for a 47 MB upload); now a line at a time. Old Mac files end lines with "\\r" alone."""
        import tracemalloc

        lines = census({}, *({"upn": upn(f"3522143{n:05d}")} for n in range(20_000)))
        for newline in (b"\n", b"\r"):
            content = lines.replace(b"\r\n", newline).replace(b"\n", newline) + "Zoë".encode(
                "cp1252"
            )
            tracemalloc.start()
            ((number, _),) = load(content).validation.errors
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert number == 20_003
            # Two bytes a byte: the failed decode's own buffer, and no more (it was six).
            assert peak < 3 * len(content), f"{peak:,} bytes to read {len(content):,}"

    def test_a_wrong_header_or_encoding_is_refused(self, school):
        assert "missing columns: upn" in load(b"pupil,given_name\n1,x\n").validation.errors[0][1]
        assert load("upn\nÉ".encode("latin-1")).not_utf8

    def test_a_file_that_is_not_utf8_says_what_it_is_and_where(self, school):
        """ "The file is not UTF-8 text" (row 1) left a data manager to find one "Zoë" saved in
        Windows' encoding among thousands of rows, or to guess that a workbook is not CSV."""
        lines = census({}, {"upn": upn("352214300102"), "given_name": "Zoë"}).decode()
        assert load(lines.encode("cp1252")).validation.errors == [
            (
                3,
                "this row is not UTF-8 text, so nor is the file: save it from the spreadsheet "
                'as "CSV UTF-8 (Comma delimited)"',
            )
        ]
        quoted = census({"address_line_1": "1 Road\nFlat 2"}, {"upn": upn("352214300102")})
        assert load(quoted + "Zoë".encode("latin-1")).validation.errors[0][0] == 4
        wide = census({"town": "T" * 140_000}) + "Zoë".encode("latin-1")
        assert load(wide).validation.errors[0][1].startswith("the file is not UTF-8 text: save")
        for content, start in [
            (b"PK\x03\x04\x14\x00\x06\x00\xff", "the file is a spreadsheet workbook (.xlsx)"),
            (b"\x1f\x8b\x08\x00\xff", "the file is compressed (gzip)"),
            (lines.encode("utf-16"), "the file is UTF-16 text"),
        ]:
            ((number, message),) = load(content).validation.errors
            assert number == 1 and message.startswith(start)
        assert not Child.objects.exists()

    def test_a_carer_without_a_family_name_is_an_error_not_left_out(self):
        """A carer's first name, relationship and phone without a family name were left out
        without a word; and a carer without a relationship was "unknown code ''"."""
        outcome = la_import(la_system(carer_given_name="Jane", carer_phone="01632 960001"))
        assert outcome.validation.errors == [
            (2, "carer_family_name: required with carer_given_name, carer_phone")
        ]
        outcome = la_import(la_system(carer_family_name="Quill"))
        assert outcome.validation.errors == [
            (2, "carer_relationship: required with carer_family_name")
        ]
        assert not Child.objects.exists()

    def test_a_lead_professional_without_a_service_is_an_error_not_left_out(self):
        """A row saying the LA's service leads, with no service named, was imported without
        the lead (or the start, or the CAF) and without a word."""
        outcome = la_import(la_system(lead_professional="yes", service_started_on="2020-01-01"))
        assert outcome.validation.errors == [
            (2, "service_kind: required with service_started_on, lead_professional")
        ]
        defaults = la_import(la_system(lead_professional="no", caf_held="No"))
        assert defaults.validation.errors == [] and dict(defaults.counts) == {"new_child": 1}

    def test_a_claim_reference_with_a_slash_is_an_error(self):
        """A child benefit record is kept as claim/child: "AB/1" child "2" and "AB" child "1/2"
        were one record, so the second child's row updated the first child."""
        outcome = child_benefit_import(
            child_benefit({"claim_reference": "AB/1", "child_number": "2"})
        )
        assert outcome.validation.errors == [(2, "claim_reference: must not contain '/'")]


class TestPhoneNumbers:
    """A feed's phone is shown on child records as the number to ring a parent or carer on:
    "call me" or "ask at reception" is an error of its row, as the forms refuse it, and a file
    with one changes nothing."""

    def held(self) -> tuple[int, int, int, list[tuple[str, str]]]:
        phones = ParentCarer.objects.order_by("pk").values_list("family_name", "phone")
        return (
            Child.objects.count(), ParentCarer.objects.count(), CareRelationship.objects.count(),
            list(phones),
        )  # fmt: skip

    @pytest.mark.parametrize(
        "phone",
        [
            "call me", "ask at reception", "n/a", "960123", "01632 960 0012", "7700 900982",
            "07700 900982 / call me", "07700 900982 or", "/", "07700 900982, 7700 900983",
        ],
    )  # fmt: skip
    def test_a_carer_phone_that_is_not_a_number_is_an_error_and_nothing_changes(self, phone):
        mother = {"carer_family_name": "Quill", "carer_relationship": "mother"}
        la_import(la_system(**mother, carer_phone="07700 900123"))
        before = self.held()
        ada = {"la_record_id": "1002", "given_name": "Ada", **mother, "carer_phone": phone}
        outcome = la_import(la_system(ada, **mother, carer_phone="07700 900456"))
        assert error_report(outcome.validation.errors) == (
            f"Row 3: carer_phone: {phone!r} is not a telephone number (write one like "
            '01632 960 001, 07700 900 982 or +44 808 157 0192; several between "/")'
        )
        assert outcome.feed_import is None and self.held() == before

    def test_a_claimant_phone_that_is_not_a_number_is_an_error_and_nothing_changes(self):
        child_benefit_import(child_benefit({}))
        before = self.held()
        outcome = child_benefit_import(
            child_benefit(
                {"claimant_phone": "07700 900456"},
                {"child_number": "2", "given_name": "Mia", "claimant_phone": "call me"},
            )
        )
        assert error_report(outcome.validation.errors) == (
            "Row 3: claimant_phone: 'call me' is not a telephone number (write one like "
            '01632 960 001, 07700 900 982 or +44 808 157 0192; several between "/")'
        )
        assert outcome.feed_import is None and self.held() == before

    @pytest.mark.parametrize(
        "phone",
        [
            "01632 960 001", "07700900982", "(01632) 960-001", "0191 383.3000",
            "+44 808 157 0192", "+44 (0)191 383 3000", "+91 20 2612 0000", "01632 960001 ext 214",
            "01632 960001 x21", "07700 900982 / 01632 960001", "07700 900982 or 01632 960001",
            "07700900982;+448081570192,01632960001 x2",
        ],
    )  # fmt: skip
    def test_a_phone_written_as_people_write_one_is_imported(self, phone):
        la_import(
            la_system(carer_family_name="Quill", carer_relationship="mother", carer_phone=phone)
        )
        child_benefit_import(child_benefit({"claimant_phone": phone}))
        assert sorted(ParentCarer.objects.values_list("family_name", "phone")) == [
            ("Brennan", phone),
            ("Quill", phone),
        ]

    def test_an_empty_phone_is_no_phone(self):
        la_import(la_system(carer_family_name="Quill", carer_relationship="mother"))
        child_benefit_import(child_benefit({"claimant_phone": ""}))
        assert list(ParentCarer.objects.values_list("phone", flat=True)) == ["", ""]

    def waiting_since_before_the_check(self, phone: str) -> MatchReview:
        """A row with a mother and her phone, waiting for review since before phones were
        checked (stored as its file gave it)."""
        review = feed_review(make_child())
        record = review.source_record
        record.payload = {
            **record.payload, "carer_family_name": "Hart", "carer_relationship": "mother",
            "carer_phone": phone,
        }  # fmt: skip
        record.save()
        return review

    def test_a_row_stored_before_phones_were_checked_is_decided_without_its_bad_phone(self, client):
        """A row waiting for review since before the check: Dana decides it as before, rather
        than a page saying it cannot be read any more. Its carer is recorded, but not "ask at
        reception" as her telephone number, and Dana and the access log are told so."""
        review = self.waiting_since_before_the_check("ask at reception")
        sign_in(client, dana())
        decided = decide(client, review, "new")
        assert "cannot be read any more" not in decided.content.decode()
        assert MatchReview.objects.get().status == MatchReview.Status.CREATED
        assert list(ParentCarer.objects.values_list("family_name", "phone")) == [("Hart", "")]
        told = client.get(decided.url).content.decode()
        assert (
            "Your decision has been recorded. The row&#x27;s carer_phone is not a telephone "
            "number, so it was not added to the record" in told
        ), told
        event = AuditEvent.objects.get(action=Action.CHANGE, detail__review=review.pk)
        assert (event.detail or {})["not_applied"] == ["carer_phone"]

    def test_a_stored_rows_good_phone_is_applied_when_decided(self, client):
        review = self.waiting_since_before_the_check("07700 900123")
        sign_in(client, dana())
        told = client.get(decide(client, review, "new").url).content.decode()
        assert "not a telephone number" not in told
        assert ParentCarer.objects.get().phone == "07700 900123"

    def test_data_managers_can_list_the_records_whose_carer_phone_is_no_number(self):
        """Phones a feed applied before the check stay as they were received; a command lists,
        per LA, the records to put right, by ContactPoint ID only."""
        amy, mia = make_child(given_name="Amy"), make_child(given_name="Mia")
        ben = make_child(given_name="Ben", local_authority=southshire())
        for child, phone in ((amy, "ask at reception"), (mia, "07700 900123"), (ben, "n/a")):
            make_carer(child, phone=phone)
        code, out, _ = manage("carer_phones_to_check")
        assert code == 0
        assert out.splitlines() == [
            f"{amy.local_authority.name}: 1 to check",
            f"  {display(amy.contactpoint_id)}  mother",
            "Southshire: 1 to check",
            f"  {display(ben.contactpoint_id)}  mother",
        ]
        assert "reception" not in out and "Quill" not in out
        assert ParentCarer.objects.filter(phone="ask at reception").exists()
        # The records it named are an access event, as any read of them is.
        listed = AuditEvent.objects.get(detail__action="carer_phones_to_check")
        assert sorted(listed.result_ids) == sorted([amy.contactpoint_id, ben.contactpoint_id])
        code, out, _ = manage("carer_phones_to_check", "--local-authority", southshire().code)
        assert out.splitlines()[0] == "Southshire: 1 to check"
        with pytest.raises(CommandError, match="No local authority has the code 'E99'"):
            manage("carer_phones_to_check", "--local-authority", "E99")


class TestImportCommand:
    def write(self, tmp_path, content: bytes):
        path = tmp_path / "census.csv"
        path.write_bytes(content)
        return path

    def test_a_file_with_errors_is_rejected_with_exit_code_1(self, tmp_path, school, capsys):
        path = self.write(tmp_path, census({"postcode": "nope"}))
        with pytest.raises(SystemExit) as exited:
            import_feed_today("--source", "school_census", str(path))
        assert exited.value.code == 1
        err = capsys.readouterr().err
        assert "Row 2: postcode: 'nope' is not a UK postcode" in err and "was rejected" in err

    def test_the_same_file_with_another_extract_date_says_the_date_was_not_used(
        self, tmp_path, school, capsys
    ):
        path = self.write(tmp_path, census({}))
        import_feed_today("--source", "school_census", str(path))
        earlier = timezone.localdate() - timedelta(days=3)
        call_command(
            "import_feed", "--source", "school_census", "--extracted-on", earlier.isoformat(),
            str(path),
        )  # fmt: skip
        out = capsys.readouterr().out
        assert (
            f"census.csv was imported before, as extracted on {timezone.localdate()}, so it "
            f"keeps that date: --extracted-on {earlier} was not used." in out
        )

    def test_the_same_file_extracted_later_is_imported_as_the_newer_extract(
        self, tmp_path, school, capsys
    ):
        path = self.write(tmp_path, census({}))
        earlier = timezone.localdate() - timedelta(days=3)
        call_command(
            "import_feed", "--source", "school_census", "--extracted-on", earlier.isoformat(),
            str(path),
        )  # fmt: skip
        import_feed_today("--source", "school_census", str(path))
        out = capsys.readouterr().out
        assert (
            f"census.csv was imported before, as extracted on {earlier}: it is imported again "
            f"as extracted on {timezone.localdate()}." in out
        )
        assert "Read 1 row of census.csv: 1 unchanged." in out
        dates = FeedImport.objects.order_by("extracted_on").values_list("extracted_on", flat=True)
        assert list(dates) == [earlier, timezone.localdate()]

    def test_skip_invalid_writes_the_rejected_rows_to_a_report(self, tmp_path, school, capsys):
        path = self.write(tmp_path, census({}, {"upn": upn("352214300102"), "gender": "x"}))
        import_feed_today(
            "--source",
            "school_census",
            "--skip-invalid",
            str(path),
        )
        report = list(csv.reader((tmp_path / "census.csv.rejected.csv").open()))
        assert report[0][:3] == ["row", "errors", "upn"]
        assert report[1][0] == "3" and report[1][1].startswith("gender: unknown code 'x'")
        assert "Read 1 row of" in capsys.readouterr().out

    @pytest.mark.parametrize("report", ["a-folder", "no-such-folder/rejected.csv"])
    def test_a_report_that_cannot_be_written_stops_the_import_before_it_starts(
        self, tmp_path, school, report
    ):
        """The valid rows were imported and then the report failed, as a traceback: Dana
        read that as nothing imported, and the rows left out were written nowhere."""
        from django.core.management.base import CommandError

        (tmp_path / "a-folder").mkdir()
        path = self.write(tmp_path, census({}, {"upn": upn("352214300102"), "gender": "x"}))
        with pytest.raises(CommandError, match="cannot be written, for the rows left out"):
            import_feed_today(
                "--source", "school_census", "--skip-invalid",
                "--report", str(tmp_path / report), str(path),
            )  # fmt: skip
        assert not FeedImport.objects.exists() and not Child.objects.exists()

    @pytest.mark.parametrize(
        ("rows", "options", "told"),
        [
            ([{"gender": "x"}], [], "1 row has errors. Nothing has been imported. Correct the "
             "file, or use --skip-invalid."),
            ([{"gender": "x"}, {"upn": upn("352214300102"), "gender": "y"}], ["--skip-invalid"],
             "2 rows have errors. Nothing has been imported. Correct the file."),
        ],
    )  # fmt: skip
    def test_a_rejected_file_is_told_what_would_import_it(
        self, tmp_path, school, capsys, rows, options, told
    ):
        """--skip-invalid is offered only where it would import something."""
        path = self.write(tmp_path, census(*rows))
        with pytest.raises(SystemExit) as exited:
            import_feed_today("--source", "school_census", *options, str(path))
        assert exited.value.code == 1
        assert f"census.csv was rejected: {told}" in capsys.readouterr().err
        assert not FeedImport.objects.exists()

    def test_the_rejected_rows_never_hand_a_spreadsheet_a_formula(self, tmp_path, school):
        """The report is opened in a spreadsheet, and a file's cells are anyone's text."""
        formula = '=HYPERLINK("http://example.com","Open")'
        path = self.write(
            tmp_path,
            census(
                {},
                {"upn": upn("352214300102"), "given_name": formula, "gender": "x"},
                {"upn": upn("352214300103"), "family_name": "-2+3", "postcode": "nope"},
            ),
        )
        import_feed_today(
            "--source",
            "school_census",
            "--skip-invalid",
            str(path),
        )
        report = list(csv.reader((tmp_path / "census.csv.rejected.csv").open()))
        assert report[1][3] == "'" + formula and report[2][4] == "'-2+3"
        cells = [cell for line in report for cell in line]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]

    def test_importing_the_same_file_again_changes_nothing(self, tmp_path, school, capsys):
        path = self.write(tmp_path, census({}))
        import_feed_today("--source", "school_census", str(path))
        before = (Child.objects.count(), Address.objects.count(), Involvement.objects.count())
        import_feed_today("--source", "school_census", str(path))
        assert "imported before; nothing has changed" in capsys.readouterr().out
        assert (
            Child.objects.count(),
            Address.objects.count(),
            Involvement.objects.count(),
        ) == before

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            (["--source", "tax_records", "x.csv"], "invalid choice: 'tax_records'"),
            (["--source", "school_census", "/no/such/file.csv"], "is not a file"),
            (["--source", "child_benefit", "README.md"], "--local-authority is needed"),
        ],
    )
    def test_bad_arguments_are_one_line_and_exit_code_2(self, arguments, message):
        result = run_manage("import_feed", *extracted_today_argument(), *arguments)
        assert result.returncode == 2 and message in result.stderr
        assert result.stderr.strip().count("\n") == 0


def test_a_row_sent_again_with_the_columns_added_later_is_unchanged():
    """A file may leave out the columns added to the LA format later; the same row sent with
    them, empty, changes nothing, and was counted "updated"."""
    header, row = la_system().decode().splitlines()
    kept = [n for n, name in enumerate(header.split(",")) if name not in ADDED_LATER]
    short = [",".join(line.split(",")[n] for n in kept) for line in (header, row)]
    assert dict(la_import("\n".join(short).encode(), name="a.csv").counts) == {"new_child": 1}
    again = la_import(f"{header}\n{row}\n".encode(), name="b.csv")
    assert dict(again.counts) == {"unchanged": 1}


class TestARowCannotGiveADateAfterItsFileWasExtracted:
    """A file extracted on one day cannot truthfully say a child was born, started school,
    registered with a GP or died after it: such a date (a mistyped year, as a rule) was
    accepted as long as it was not after the day of the import."""

    @pytest.mark.parametrize(
        ("source", "column", "cells"),
        [
            (Source.LA_SYSTEM, "date_of_birth", {}),
            (Source.LA_SYSTEM, "service_started_on", {"service_kind": "social_care"}),
            (Source.LA_SYSTEM, "date_of_death", {}),
            (Source.SCHOOL_CENSUS, "date_of_birth", {}),
            (Source.SCHOOL_CENSUS, "entry_date", {}),
            (Source.GP_REGISTRATION, "date_of_birth", {}),
            (Source.GP_REGISTRATION, "registered_on", {}),
            (Source.CHILD_BENEFIT, "date_of_birth", {}),
        ],
    )
    def test_the_row_is_refused_naming_the_column_and_the_extract_date(self, source, column, cells):
        make_service(Service.Kind.SCHOOL, name="Northshire Primary", identifier="100000")
        make_service(Service.Kind.GP_PRACTICE, name="Northtown Surgery", identifier="A81001")
        extracted = timezone.localdate() - timedelta(days=10)
        later = extracted + timedelta(days=3)
        row = dict.fromkeys(COLUMNS[source], "") | {
            "la_record_id": "1001", "upn": upn("352214300101"), "nhs_number": "9434765005",
            "claim_reference": "CB1", "child_number": "1", "given_name": "Zed",
            "family_name": "Quill", "date_of_birth": "2012-01-01", "gender": "male",
            "address_line_1": "1 North Road", "town": "Northtown", "postcode": "NE1 1AA",
            "school_urn": "100000", "gp_practice_code": "A81001", "claimant_given_name": "Jo",
            "claimant_family_name": "Quill", "claimant_relationship": "mother",
            **cells, column: later.isoformat(),
        }  # fmt: skip
        out = io.StringIO()
        writer = csv.DictWriter(out, COLUMNS[source], extrasaction="ignore")
        writer.writeheader()
        writer.writerow(row)
        outcome = feed_import(
            source=source, file_name="late.csv", content=out.getvalue().encode(),
            local_authority=northshire(), by=None, extracted_on=extracted,
        )  # fmt: skip
        assert outcome.validation.errors == [
            (
                2,
                f"{column}: {later.isoformat()} is after {extracted:%-d %B %Y}, the date the "
                "file was extracted: a file cannot record what happened after it was made",
            )
        ]
        assert outcome.feed_import is None
        assert not Child.objects.exists() and not SourceRecord.objects.exists()

    def test_with_rows_left_out_the_others_are_imported_and_the_page_says_why(self, client, school):
        extracted = timezone.localdate() - timedelta(days=10)
        later = (extracted + timedelta(days=1)).isoformat()
        content = census({}, {"upn": UPN_2, "given_name": "Mia", "entry_date": later})
        sign_in(client, dana())
        form = {
            "source": "school_census", "local_authority": northshire().pk, "skip_invalid": "on",
            "extracted_on_0": extracted.day, "extracted_on_1": extracted.month,
            "extracted_on_2": extracted.year,
            "file": SimpleUploadedFile("census.csv", content, content_type="text/csv"),
        }  # fmt: skip
        page = client.post(reverse("directory:feeds"), form).content.decode()
        assert f"entry_date: {later} is after {extracted:%-d %B %Y}" in page
        assert list(Child.objects.values_list("given_name", flat=True)) == ["Olivia"]
        assert FeedImport.objects.get().left_out == [3]

    def test_a_row_waiting_for_review_with_a_later_date_cannot_be_decided(self, client):
        """Stored before its date was checked against its file's extract date: a decision
        read it without that date, and made a record of a service begun after the file."""
        review = feed_review(make_child())
        record = review.source_record
        extracted = timezone.localdate() - timedelta(days=10)
        record.payload = {
            **record.payload, "service_kind": "early_help",
            "service_started_on": (extracted + timedelta(days=3)).isoformat(),
        }  # fmt: skip
        record.save()
        FeedImport.objects.filter(pk=record.last_import_id).update(extracted_on=extracted)
        sign_in(client, dana())
        page = decide(client, review, "new").content.decode()
        assert "cannot be read any more" in page and "service_started_on" in page
        assert MatchReview.objects.get().status == MatchReview.Status.OPEN
        assert Child.objects.count() == 1

    def test_an_expected_return_between_the_extract_date_and_today_is_taken(self):
        """Left England, expected back: an expectation when the file was made. An older
        file's return date, ahead then and passed since, was refused as not in the future."""
        extracted = timezone.localdate() - timedelta(days=30)
        back = (extracted + timedelta(days=10)).isoformat()
        outcome = feed_import(
            source=Source.LA_SYSTEM, file_name="la.csv", local_authority=northshire(), by=None,
            content=la_system(address_status="left_england", expected_return_by=back,
                              address_line_1="", town="", postcode=""),
            extracted_on=extracted,
        )  # fmt: skip
        assert outcome.validation.errors == []
        current = Child.objects.get().addresses.get(ended_on__isnull=True)
        assert current.expected_return_by.isoformat() == back

    def test_an_expected_return_on_or_before_the_extract_date_is_refused(self):
        extracted = timezone.localdate() - timedelta(days=30)
        outcome = feed_import(
            source=Source.LA_SYSTEM, file_name="la.csv", local_authority=northshire(), by=None,
            content=la_system(address_status="left_england",
                              expected_return_by=extracted.isoformat(),
                              address_line_1="", town="", postcode=""),
            extracted_on=extracted,
        )  # fmt: skip
        assert outcome.validation.errors == [
            (
                2,
                f"expected_return_by: must be within the 3 years after {extracted:%-d %B %Y}, "
                "the date the file was extracted",
            )
        ]


class TestAllOrNothing:
    def test_an_interrupted_import_leaves_nothing_behind(self, school):
        rows = [{"upn": upn(f"3522143001{n:02d}"), "given_name": f"Child{n}"} for n in range(5)]

        done = []

        def interrupt_after_two(rows: int) -> None:
            done.append(rows)
            if len(done) == 3:
                raise KeyboardInterrupt  # as Ctrl+C in the middle of a file

        with pytest.raises(KeyboardInterrupt):
            load(census(*rows), progress=interrupt_after_two)
        assert not Child.objects.exists() and not FeedImport.objects.exists()


class TestAFeedsIdIsOneChilds:
    """An LA's system that gives a record id it used before to another child ("1001", Zed's,
    now Ada's): applied, Ada became a name Zed is known by and Zed's home became hers."""

    ADA = {
        "given_name": "Ada", "family_name": "Brennan", "date_of_birth": "2019-05-05",
        "gender": "female", "address_line_1": "7 South Road", "postcode": "NE2 1AB",
    }  # fmt: skip

    def zed(self) -> tuple[object, ...]:
        """Who Zed's record says he is, and where."""
        zed = Child.objects.get(given_name="Zed")
        names = list(zed.other_names.values_list("given_name", "family_name"))
        homes = list(zed.addresses.filter(ended_on__isnull=True).values_list("line_1", "postcode"))
        return zed.date_of_birth, zed.gender, names, homes

    def test_a_row_for_another_child_under_an_id_already_used_is_refused(self):
        la_import(la_system(), name="a.csv")
        before = self.zed()
        outcome = la_import(la_system(**self.ADA), name="b.csv")
        assert outcome.feed_import is None
        assert error_report(outcome.validation.errors) == (
            "Row 2: la_record_id: '1001' was sent before for a child with another name and "
            "date of birth. A record id stays one child's: check it, and give a new child an "
            "id of its own"
        )
        assert self.zed() == before
        assert before[3] == [("1 North Road", "NE1 1AA")]

    def test_left_out_the_rest_of_the_file_imports(self):
        la_import(la_system(), name="a.csv")
        before = self.zed()
        mia = {**self.ADA, "la_record_id": "1002", "given_name": "Mia"}
        outcome = feed_import(
            source=Source.LA_SYSTEM, file_name="b.csv", content=la_system(mia, **self.ADA),
            local_authority=northshire(), by=None, skip_invalid=True,
        )  # fmt: skip
        assert dict(outcome.counts) == {"new_child": 1}
        assert [number for number, _ in outcome.validation.errors] == [2]
        assert self.zed() == before

    @pytest.mark.parametrize(
        "corrected",
        [{"date_of_birth": "2012-10-01"}, {"given_name": "Zeb", "family_name": "Brennan"}],
    )
    def test_a_childs_details_corrected_under_her_id_still_apply(self, corrected):
        la_import(la_system(), name="a.csv")
        outcome = la_import(la_system(**corrected), name="b.csv")
        assert dict(outcome.counts) == {"updated": 1}

    # Zed's sister: his surname, another first name and birthday, her own home.
    MIA = {
        "given_name": "Mia", "date_of_birth": "2014-06-01", "gender": "female",
        "address_line_1": "3 West Road", "postcode": "NE3 3AA",
    }  # fmt: skip

    def test_a_row_that_may_be_a_sister_under_his_id_waits_for_a_data_manager(self, client):
        """Mia under Zed's id "1001" looks like his first name and birthday both corrected:
        taken so, Mia became a name Zed is known by and her home his. A data manager decides,
        offered Zed; Mia made a record of her own, the id's later rows are hers."""
        la_import(la_system(), name="a.csv")
        before = self.zed()
        outcome = la_import(la_system(**self.MIA), name="b.csv")
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        assert self.zed() == before
        review = MatchReview.objects.get()
        zed = Child.objects.get(given_name="Zed")
        assert zed.pk in [candidate["child_id"] for candidate in review.candidates]
        sign_in(client, dana())
        decide(client, review, "new")
        mia = Child.objects.get(given_name="Mia")
        assert list(mia.addresses.values_list("line_1", flat=True)) == ["3 West Road"]
        assert self.zed() == before
        moved = la_import(la_system(**{**self.MIA, "address_line_1": "5 West Road"}), name="c.csv")
        assert dict(moved.counts) == {"updated": 1}
        assert self.zed() == before

    def test_a_twin_sister_under_his_id_waits_for_a_data_manager_too(self):
        """Mia, Zed's twin: his surname and birthday, another first name, a girl. Taken as his
        first name and gender corrected at once, Mia became a name Zed is known by and her home
        replaced his. On his NHS number, a new record of hers joined him so too."""
        la_import(la_system(nhs_number="9434765005"), name="a.csv")
        before = self.zed()
        twin = {**self.MIA, "date_of_birth": "2012-01-01"}
        outcome = la_import(la_system(**twin), name="b.csv")
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        assert self.zed() == before
        by_number = {**twin, "la_record_id": "2001", "nhs_number": "9434765005"}
        outcome = la_import(la_system(**by_number), southshire(), "c.csv")
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        assert self.zed() == before

    def test_his_first_name_corrected_alone_is_still_his(self):
        la_import(la_system(), name="a.csv")
        outcome = la_import(la_system(given_name="Xavier"), name="b.csv")
        assert dict(outcome.counts) == {"updated": 1}

    def test_a_sister_under_a_shielded_childs_id_is_shielded_as_a_record_of_her_own(self, client):
        """Her home may be his refuge: the data manager decides blind to where he lives."""
        la_import(la_system(), name="a.csv")
        shield(Child.objects.get(given_name="Zed"))
        la_import(la_system(**self.MIA), name="b.csv")
        sign_in(client, dana())
        decide(client, MatchReview.objects.get(), "new")
        assert is_shielded(Child.objects.get(given_name="Mia"))
        assert self.zed()[3] == [("1 North Road", "NE1 1AA")]

    def test_a_data_manager_may_find_it_is_him_corrected(self, client):
        la_import(la_system(), name="a.csv")
        la_import(la_system(**self.MIA), name="b.csv")
        zed = Child.objects.get(given_name="Zed")
        sign_in(client, dana())
        decide(client, MatchReview.objects.get(), f"match:{zed.contactpoint_id}")
        assert zed.other_names.filter(given_name="Mia", family_name="Quill").exists()
        later = la_system(**{**self.MIA, "address_line_1": "5 West Road"})
        assert dict(la_import(later, name="c.csv").counts) == {"updated": 1}
        assert not MatchReview.objects.filter(status=MatchReview.Status.OPEN).exists()

    def test_a_row_that_may_be_a_sister_under_his_nhs_number_waits_too(self):
        la_import(la_system(nhs_number="9434765005"), name="a.csv")
        before = self.zed()
        row = {**self.MIA, "la_record_id": "2001", "nhs_number": "9434765005"}
        outcome = la_import(la_system(**row), southshire(), "b.csv")
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        assert self.zed() == before
        zed = Child.objects.get(given_name="Zed")
        assert zed.pk in [c["child_id"] for c in MatchReview.objects.get().candidates]

    def test_dana_finding_her_a_new_child_is_told_zed_keeps_his_nhs_number(self, client):
        """A number is one child's: Mia's new record cannot have it too, and it stays with Zed,
        who held it (other feeds may have given it him). Dana was told neither as she decided
        nor after ("Your decision has been recorded"), so she believed Mia's record had it."""
        la_import(la_system(nhs_number="9434765005"), name="a.csv")
        row = {**self.MIA, "la_record_id": "2001", "nhs_number": "9434765005"}
        la_import(la_system(**row), name="b.csv")
        zed, review = Child.objects.get(given_name="Zed"), MatchReview.objects.get()
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert (
            "The new record will not have the row&#x27;s NHS number, 9434765005: it stays with "
            f"{zed.contactpoint_id_display}." in page
        )
        told = client.get(decide(client, review, "new").url).content.decode()
        assert (
            "Your decision has been recorded. The new record does not have the row&#x27;s NHS "
            "number, 9434765005, as a number is one child&#x27;s: it stays with the record that "
            f"held it, ContactPoint ID {zed.contactpoint_id_display}. If it is the new "
            "child&#x27;s, ask whoever sent the row to check it" in told
        ), told
        mia = Child.objects.get(given_name="Mia")
        assert not mia.identifiers.exists()
        assert list(zed.identifiers.values_list("value", flat=True)) == ["9434765005"]

    @pytest.mark.usefixtures("school")
    def test_beside_a_shielded_child_the_pupil_number_she_keeps_is_not_shown(self, client):
        """Olivia is shielded; a census row sends Mia (another first name and birthday) under
        her UPN, and waits. The review page hides the row's record id beside her, as a pupil
        number names the school: telling Dana that the UPN stays with Olivia's record, and
        which it is, would name her school. Dana is told only that another record keeps it,
        as she decides and after."""
        load(census({}))
        olivia = Child.objects.get()
        shield(olivia)
        number = upn("352214300101")
        outcome = load(census({"given_name": "Mia", "date_of_birth": "2017-03-20"}))
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        review = MatchReview.objects.get()
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "Hidden: a possible match is shielded" in page
        assert number not in page
        assert (
            "The new record will not have the row&#x27;s unique pupil number: another record "
            "keeps it." in page
        )
        told = client.get(decide(client, review, "new").url).content.decode()
        assert number not in told
        assert (
            "The new record does not have the row&#x27;s unique pupil number, as a number is "
            "one child&#x27;s: it stays with the record that held it. If it is the new "
            "child&#x27;s, ask whoever sent the row to check it" in told
        ), told
        assert list(olivia.identifiers.values_list("value", flat=True)) == [number]

    def test_dana_is_not_told_of_a_record_out_of_her_sight_that_keeps_the_number(self, client):
        """Zed's record, holding the NHS number, was archived two years ago: out of Dana's
        sight, it is not on the row's page, nor named in the hint beside "make a new record".
        The message after her decision named it all the same, with its ContactPoint ID."""
        la_import(la_system(nhs_number="9434765005"), name="a.csv")
        zed = Child.objects.get(given_name="Zed")
        mia = make_child(given_name="Mia", family_name="Quill", date_of_birth=date(2014, 6, 1))
        make_address(mia, "NE3 3AA", line_1="3 West Road")
        rebuild_keys(mia)
        row = {**self.MIA, "la_record_id": "2001", "nhs_number": "9434765005"}
        la_import(la_system(**row), name="b.csv")
        review = MatchReview.objects.get()
        assert review.candidates[0]["child_id"] == mia.pk, "not archived out of sight: new allowed"
        assert zed.pk in [c["child_id"] for c in review.candidates]
        Child.objects.filter(pk=zed.pk).update(
            status=Child.Status.ARCHIVED, archived_on=years_before(timezone.localdate(), 2)
        )
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert zed.contactpoint_id_display not in page
        assert "9434765005: another record keeps it" in page
        told = client.get(decide(client, review, "new").url).content.decode()
        assert "Your decision has been recorded" in told
        assert zed.contactpoint_id_display not in told, "a record she may not see is not named"
        assert list(zed.identifiers.values_list("value", flat=True)) == ["9434765005"]
        assert not Child.objects.get(
            given_name="Mia", source_records__isnull=False
        ).identifiers.exists()

    @pytest.mark.parametrize("feed", [Source.GP_REGISTRATION, Source.LA_SYSTEM])
    def test_a_row_for_another_child_under_her_nhs_number_is_refused(self, feed):
        """A new record (a GP's, another LA's) with Zed's NHS number, mistyped or reused, for
        Ada, who shares none of his names and not his birthday: it joined Zed, shielded as he
        is, and her home became his."""
        la_import(la_system(nhs_number="9434765005"), name="a.csv")
        shield(Child.objects.get(given_name="Zed"))
        before = self.zed()
        ada = {**self.ADA, "nhs_number": "943 476 5005", "town": "Southtown"}
        if feed == Source.GP_REGISTRATION:
            make_service(Service.Kind.GP_PRACTICE, name="Southtown Surgery", identifier="A81001")
            outcome = feed_import(
                source=feed, file_name="gp.csv", content=gp_registration(**ada),
                local_authority=southshire(), by=None,
            )  # fmt: skip
        else:
            outcome = la_import(la_system(la_record_id="2001", **ada), southshire(), "b.csv")
        assert outcome.feed_import is None
        assert error_report(outcome.validation.errors) == (
            "Row 2: nhs_number: '9434765005' was sent before for a child with another name and "
            "date of birth. An NHS number or UPN is one child's alone: check it"
        )
        assert self.zed() == before
        assert SourceRecord.objects.count() == 1


class TestMatching:
    def test_a_pupil_number_seen_before_updates_the_same_child(self, school):
        load(census({}))
        child = Child.objects.get()
        load(census({"address_line_1": "3 New Street", "postcode": "NE2 1AB"}))
        assert Child.objects.count() == 1
        current = child.addresses.filter(ended_on__isnull=True)
        assert [a.postcode for a in current] == ["NE2 1AB"]
        assert child.addresses.filter(postcode="NE1 4ST", ended_on__isnull=False).exists()

    def test_a_feeds_move_ends_its_old_home_even_when_another_feed_gave_the_new_one(self, school):
        load(census({}))  # 14 Ashgrove Road
        child = Child.objects.get()
        make_address(child, "NE2 1AB", line_1="3 New Street", source=Source.LA_SYSTEM)
        load(census({"address_line_1": "3 New Street", "postcode": "NE2 1AB"}))
        current = child.addresses.filter(ended_on__isnull=True)
        assert [(a.postcode, a.source) for a in current] == [("NE2 1AB", Source.LA_SYSTEM)]

    def test_a_feeds_home_says_since_when_it_is_recorded_not_that_she_moved_in_then(
        self, school, client
    ):
        """No feed gives the day a child moved in: her record says since when ContactPoint
        has recorded her home, not "Since" the day its file came as if she moved in that day."""
        load(census({}))
        load(census({"address_line_1": "3 New Street", "postcode": "NE2 1AB"}))
        child = Child.objects.get()
        sign_in(client, priya())
        url = reverse("directory:child_record", args=[child.contactpoint_id])
        page = client.get(url + "?past=1").content.decode()
        homes = page.split("Where the child lives", 1)[1].split("<h2", 1)[0]
        today = timezone.localdate()
        assert f"Recorded since {today:%-d %B %Y}" in homes, homes
        assert re.search(r"\bSince\b", homes) is None, "no claim of a move-in day"
        assert f"(recorded {today:%b %Y} to {today:%b %Y})" in homes, "a past home alike"

    def test_an_older_census_row_does_not_move_a_child_back_to_the_school_she_left(self, school):
        load(census({}))  # at school 100000 since 2020
        make_service(Service.Kind.SCHOOL, name="Northshire Academy", identifier="100001")
        load(census({"school_urn": "100001", "entry_date": "2026-04-20"}))
        load(census({"entry_date": "2020-09-03", "town": "Old Town"}))  # last autumn's file
        current = Child.objects.get().involvements.filter(ended_on__isnull=True)
        assert [i.service.name for i in current] == ["Northshire Academy"]

    def test_a_census_row_without_an_entry_date_still_moves_a_child_to_her_new_school(self, school):
        load(census({}))  # at school 100000 since 2020
        make_service(Service.Kind.SCHOOL, name="Northshire Academy", identifier="100001")
        load(census({"school_urn": "100001", "entry_date": ""}))
        current = Child.objects.get().involvements.filter(ended_on__isnull=True)
        assert [i.service.name for i in current] == ["Northshire Academy"]

    def test_an_nhs_number_links_records_from_different_feeds(self, school):
        child = make_child(
            given_name="Olivia", family_name="Brennan", date_of_birth=date(2015, 9, 12)
        )
        ChildIdentifier.objects.create(child=child, kind="nhs_number", value="9434765005")
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(COLUMNS[Source.GP_REGISTRATION])
        make_service(Service.Kind.GP_PRACTICE, name="Quayside Surgery", identifier="P81000")
        writer.writerow(
            [
                "9434765005",
                "Livvy",
                "Brenan",
                "2015-09-12",
                "female",
                "1 A Road",
                "",
                "T",
                "NE1 4ST",
                "P81000",
                "2016-01-01",
            ]
        )
        outcome = feed_import(
            source=Source.GP_REGISTRATION,
            file_name="gp.csv",
            content=rows.getvalue().encode(),
            local_authority=None,
            by=None,
        )
        assert outcome.counts == {"matched_by_identifier": 1}
        assert child.involvements.get().service.name == "Quayside Surgery"

    def test_a_confident_match_joins_the_existing_child(self, school):
        child = make_child(
            given_name="Olivia", family_name="Brennan", date_of_birth=date(2015, 9, 12)
        )
        make_address(child, "NE1 4ST")
        rebuild_keys(child)
        outcome = load(census({}))
        assert outcome.counts == {"matched_automatically": 1}
        assert Child.objects.count() == 1
        assert child.identifiers.get().value == upn("352214300101")
        assert child.involvements.get().service == school

    def test_a_new_child_with_no_la_to_look_after_them_is_a_row_error(self, school):
        """A file imported with no LA, naming a school that has none either."""
        make_service(Service.Kind.SCHOOL, name="Free School", identifier="200000",
                     local_authority=None)  # fmt: skip
        content = census(
            {},
            {"upn": upn("352214300102"), "given_name": "Zara", "family_name": "Quill",
             "date_of_birth": "2013-02-03", "school_urn": "200000"},
        )  # fmt: skip

        def imported(**options):
            return feed_import(
                source=Source.SCHOOL_CENSUS, file_name="census.csv", content=content,
                local_authority=None, by=None, **options,
            )  # fmt: skip

        refused = imported()
        assert refused.feed_import is None and not Child.objects.exists()
        report = error_report(refused.validation.errors)
        assert "Row 3: a new child, and no local authority to look after them" in report
        assert dict(imported(skip_invalid=True).counts) == {"new_child": 1}

    def test_a_child_who_moves_to_another_la_has_one_current_home(self, school):
        """Each feed record answers for its own facts, but an LA's system speaks for the
        child now: the LA she left stops sending rows, and its home (or its "no known
        address") is past once the new LA's record gives hers."""
        nhs = "9434765005"
        la_import(la_system(la_record_id="1", nhs_number=nhs), name="n.csv")
        child = Child.objects.get()
        elsewhere = {"address_line_1": "", "town": "", "postcode": "",
                     "address_status": "no_known_address"}  # fmt: skip
        la_import(la_system(la_record_id="1", nhs_number=nhs, **elsewhere), name="n2.csv")
        la_import(la_system(la_record_id="7", nhs_number=nhs, **elsewhere), southshire(), "s.csv")
        assert [a.kind for a in child.addresses.filter(ended_on__isnull=True)] == [
            "no_known_address"
        ]
        south = {"address_line_1": "9 South Street", "town": "Southtown", "postcode": "SE1 1AA"}
        la_import(la_system(la_record_id="7", nhs_number=nhs, **south), southshire(), "s2.csv")
        assert Child.objects.count() == 1
        current = child.addresses.filter(ended_on__isnull=True)
        assert [a.postcode for a in current] == ["SE1 1AA"]

    def test_a_feed_never_changes_a_practitioners_own_involvement(self, school):
        """Priya records her work with the LA's social care; the LA's own row about that
        service (a CAF, the lead) is the feed's involvement, beside hers, not a change to it."""
        la_import(la_system(la_record_id="9", service_kind="social_care"), name="a.csv")
        child = Child.objects.get()
        social = Service.objects.get(kind="social_care")
        involvement_record_mine(
            child=child, practitioner=priya(), role="Social worker", service=social,
            started_on=date(2025, 2, 1), caf_held=False, lead_professional=False,
        )  # fmt: skip
        Involvement.objects.filter(practitioner__isnull=True).delete()
        la_import(
            la_system(la_record_id="9", service_kind="social_care", caf_held="yes",
                      lead_professional="yes"),
            name="b.csv",
        )  # fmt: skip
        hers = child.involvements.get(practitioner__username="priya")
        assert (hers.caf_held, hers.lead_professional, hers.role) == (False, False, "Social worker")
        feeds = child.involvements.get(practitioner__isnull=True, ended_on__isnull=True)
        assert (feeds.caf_held, feeds.lead_professional) == (True, True)

    def test_twins_in_one_census_file_stay_two_children(self, school):
        """Ella and Ellie: the same surname, birthday, school and home, and names a typo
        apart; but each has her own pupil number, so the second waits for a person."""
        outcome = load(
            census(
                {"upn": upn("352214300101"), "given_name": "Ella"},
                {"upn": upn("352214300102"), "given_name": "Ellie"},
            )
        )
        assert outcome.counts == {"new_child": 1, "waiting_for_review": 1}
        assert Child.objects.get().given_name == "Ella"
        assert Child.objects.get().identifiers.count() == 1

    def test_a_boy_is_never_joined_to_a_girl_without_a_person_deciding(self, school):
        louis = make_child(
            given_name="Louis", family_name="Brennan", gender="male",
            date_of_birth=date(2015, 9, 12),
        )  # fmt: skip
        make_address(louis, "NE1 4ST")
        rebuild_keys(louis)
        outcome = load(census({"given_name": "Louise"}))  # female, the same home and birthday
        assert outcome.counts == {"waiting_for_review": 1}
        assert not louis.identifiers.exists()

    def test_an_uncertain_match_waits_for_a_data_manager(self, school, client):
        child = make_child(
            given_name="Olivia", family_name="Brennan", date_of_birth=date(2015, 9, 12)
        )
        make_address(child, "NE9 9ZZ")
        rebuild_keys(child)
        outcome = load(census({"given_name": "Olive"}))
        assert outcome.counts == {"waiting_for_review": 1}
        assert (
            Child.objects.count() == 1 and not child.addresses.filter(postcode="NE1 4ST").exists()
        )
        sign_in(client, dana())
        review = MatchReview.objects.get()
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert child.contactpoint_id_display in page and "Olive" in page and "NE9 9ZZ" in page
        # The row's gender as the candidate's is shown, not as its file spells the code.
        assert '<td class="govuk-table__cell">Female</td>' in page and ">female<" not in page
        decide(client, review, f"match:{child.contactpoint_id}")
        review.refresh_from_db()
        assert review.status == "matched" and child.addresses.filter(postcode="NE1 4ST").exists()

    def test_each_possible_match_says_in_words_how_close_it_is(self, client):
        """Dana reads "Strong match", "Possible match" or "Weak match" under each candidate,
        and what they mean, not a linkage weight: a number only the import's thresholds give a
        meaning to."""
        strong = make_child()
        possible = make_child(date_of_birth=date(2015, 11, 2))  # only the year agrees
        weak = make_child(given_name="Zoe", date_of_birth=date(2009, 1, 1))
        review = feed_review(strong)
        review.candidates += [{"child_id": child.pk, "weight": 0.0} for child in (possible, weak)]
        review.save(update_fields=["candidates"])
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        said = re.findall(r'<span class="govuk-hint">(\w+ match)</span></th>', page)
        assert said == ["Strong match", "Possible match", "Weak match"]
        assert "a weak match agrees on little" in page and "weight" not in page

    def test_an_unknown_child_is_created(self, school):
        outcome = load(census({}))
        assert outcome.counts == {"new_child": 1}
        child = Child.objects.get()
        assert (child.given_name, child.source, child.local_authority) == (
            "Olivia",
            "school_census",
            school.local_authority,
        )
        assert child.addresses.get().source_reference == "census.csv row 2"


class TestTheShieldFollowsTheChild:
    def shielded(self):
        child = make_child(
            given_name="Olivia", family_name="Brennan", date_of_birth=date(2015, 9, 12)
        )
        make_address(child, "ZE2 9QX", line_1="Zqxv Secret Lane")
        rebuild_keys(child)
        shield(child)
        return child

    def waiting_beside_another_girl(self):
        """A shielded girl, another girl, and an LA row waiting for review with the other girl
        its only candidate (born a day apart, in her district; the shielded one years apart)."""
        hidden = self.shielded()
        other = make_child(given_name="Olivia", family_name="Marsh", date_of_birth=date(2011, 4, 2))
        make_address(other, "NE3 3AA")
        rebuild_keys(other)
        first = {"given_name": "Olivia", "family_name": "Marsh", "date_of_birth": "2011-04-03"}
        la_import(la_system(**first, postcode="NE3 3AB"))
        return hidden, other, first, MatchReview.objects.get()

    @pytest.mark.parametrize(
        "row",
        [
            {},
            {"address_line_1": "77 Hidden Way", "postcode": "NE7 7HW"},
            {"given_name": "Olive", "address_line_1": "77 Hidden Way", "postcode": "NE7 7HW"},
            {
                "family_name": "Brenan",
                "date_of_birth": "2015-12-09",
                "address_line_1": "77 Hidden Way",
                "postcode": "NE7 7HW",
            },
            {"family_name": "Quinn", "address_line_1": "77 Hidden Way", "postcode": "NE7 7HW"},
        ],
    )
    def test_a_feed_record_of_a_shielded_child_never_shows_unmasked(self, school, client, row):
        original = self.shielded()
        load(census(row))
        sign_in(client, priya())
        html = client.post(
            reverse("directory:search"),
            {
                "surname": row.get("family_name", "Brennan"),
                "forename": row.get("given_name", "Olivia"),
            },
        ).content.decode()
        for child in Child.objects.exclude(status="merged"):
            page = client.get(
                reverse("directory:child_record", args=[child.contactpoint_id])
            ).content.decode()
            assert "Hidden Way" not in page and "NE7" not in page and "Zqxv" not in page
        assert "Hidden Way" not in html and "NE7" not in html
        assert original.shields.filter(lifted_at__isnull=True).exists()

    def test_a_review_never_shows_a_shielded_candidates_postcode(self, school, client):
        original = self.shielded()
        load(census({"given_name": "Olive"}))
        review = MatchReview.objects.get()
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert original.contactpoint_id_display in page and "Shielded" in page
        assert "ZE2" not in page and "Zqxv" not in page

    def test_neither_the_outcome_nor_the_review_says_whether_a_guessed_postcode_is_hers(
        self, school, client
    ):
        """A data manager who knows a shielded child's names and date of birth uploads rows
        with a misspelt surname and guessed postcodes: hers, her district's, and elsewhere."""
        self.shielded()
        outcomes, strengths = [], []
        for n, guess in enumerate(("ZE2 9QX", "ZE2 1AA", "NE7 7HW")):
            row = {"family_name": "Brenan", "postcode": guess, "upn": upn(f"35221430010{n}")}
            outcomes.append(dict(load(census(row)).counts))
        sign_in(client, dana())
        for review in MatchReview.objects.order_by("pk"):
            page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
            assert "A possible match is shielded" in page
            strengths.append(re.findall(r'<span class="govuk-hint">(\w+ match)</span>', page))
        assert outcomes[0] == outcomes[1] == outcomes[2], outcomes
        assert len(strengths) == 3 and strengths[0], strengths
        assert strengths[0] == strengths[1] == strengths[2], strengths

    def test_a_shielded_review_does_not_say_its_matches_are_ranked_by_postcode(
        self, school, client
    ):
        """Beside a shielded candidate postcodes are not compared, as the page says: its hint
        does not tell Dana that they rank the matches, which would make her read a strong
        match's missing postcode agreement as a weaker match."""
        self.shielded()
        load(census({"family_name": "Brenan", "postcode": "ZE2 9QX"}))
        sign_in(client, dana())
        review = MatchReview.objects.get()
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "postcodes are not compared" in page
        assert "date of birth and gender agree" in page
        assert "gender and postcode agree" not in page

    def test_the_order_of_the_candidates_does_not_say_where_the_hidden_row_lives(
        self, school, client
    ):
        """Beside a shielded girl, two other girls of her name and birthday, in NE3 and NE5:
        rows whose postcodes are hidden list them in the same order, whichever district the
        row gave (ranked by the hidden postcode, the order told the data manager)."""
        self.shielded()
        for postcode in ("NE3 3AA", "NE5 5AA"):
            other = make_child(
                given_name="Olivia", family_name="Brennan", date_of_birth=date(2015, 9, 12)
            )
            make_address(other, postcode)
            rebuild_keys(other)
        for n, guess in enumerate(("NE3 1ZZ", "NE5 1ZZ")):
            row = {"family_name": "Brenan", "postcode": guess, "upn": upn(f"35221430010{n}")}
            load(census(row))
        sign_in(client, dana())
        orders = []
        for review in MatchReview.objects.order_by("pk"):
            page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
            assert "A possible match is shielded" in page
            orders.append(re.findall(r'value="match:(\d+)"', page))
        assert len(orders) == 2 and len(orders[0]) == 3 and orders[0] == orders[1], orders

    def test_which_candidates_are_kept_does_not_say_where_the_hidden_row_lives(self, school):
        """Beside a shielded girl, six others of her name and birthday in NE3 and one in NE5:
        a review keeps six of them, and the same six whichever district the hidden row gave
        (chosen by the hidden postcode, the one left out told the data manager)."""
        hidden = self.shielded()
        for postcode in ("NE3 3AA", "NE3 3AB", "NE3 3AD", "NE3 3AE", "NE3 3AF", "NE3 3AG"):
            other = make_child(
                given_name="Olivia", family_name="Brennan", date_of_birth=date(2015, 9, 12)
            )
            make_address(other, postcode)
            rebuild_keys(other)
        other = make_child(
            given_name="Olivia", family_name="Brennan", date_of_birth=date(2015, 9, 12)
        )
        make_address(other, "NE5 5AA")
        rebuild_keys(other)
        for n, guess in enumerate(("NE3 1ZZ", "NE5 1ZZ")):
            row = {"family_name": "Brenan", "postcode": guess, "upn": upn(f"35221430010{n}")}
            load(census(row))
        kept = [
            {c["child_id"] for c in review.candidates}
            for review in MatchReview.objects.order_by("pk")
        ]
        assert len(kept) == 2 and kept[0] == kept[1], kept
        assert hidden.pk in kept[0] and len(kept[0]) >= 6

    @staticmethod
    def assert_the_queue_and_page_hide_where_the_row_lives(client, review: MatchReview) -> None:
        """Dana's review queue and the review's page show neither the row's postcode nor its
        pupil number (which names the school)."""
        sign_in(client, dana())
        for url in (
            reverse("directory:review_queue"),
            reverse("directory:review", args=[review.pk]),
        ):
            page = client.get(url).content.decode()
            assert "NE7 7HW" not in page and upn("352214300101") not in page, url

    @staticmethod
    def shielded_by_sam(child: Child) -> None:
        shield_create(
            child=child, by=sam(), reason="domestic_abuse", justification="Fled violence",
            review_on=timezone.localdate() + timedelta(days=90),
        )  # fmt: skip

    @staticmethod
    def olivia_and_six_alike_in_ne7(surname: str = "Brennan", postcode: str = "") -> Child:
        """Olivia Brennan at her secret home, and six girls of her name (or ``surname``) and
        birthday in NE7 (or each at her own home at ``postcode``), enough to keep her off the
        shortlist of a row from NE7."""
        her = make_child(
            given_name="Olivia", family_name="Brennan", date_of_birth=date(2015, 9, 12)
        )
        make_address(her, "ZE2 9QX", line_1="Zqxv Secret Lane")
        rebuild_keys(her)
        for n in range(6):
            other = make_child(
                given_name="Olivia", family_name=surname, date_of_birth=date(2015, 9, 12)
            )
            make_address(other, postcode or f"NE7 7H{'ABDEFG'[n]}", line_1=f"{n + 1} Mill Lane")
            rebuild_keys(other)
        return her

    def test_a_row_that_could_be_a_girl_shielded_since_it_came_has_its_postcode_hidden(
        self, school, client
    ):
        """Six girls of her name and birthday in NE7 kept her off the row's shortlist; she is
        shielded while it waits. The page says the row could be a shielded child: it must
        not show where the row lives."""
        her = self.olivia_and_six_alike_in_ne7()
        load(census({"postcode": "NE7 7HW", "address_line_1": "77 Hidden Way"}))
        review = MatchReview.objects.get()
        assert her.pk not in {c["child_id"] for c in review.candidates}
        shield(her)
        # As when a file held the row while her shield went on, so it was not compared
        # afresh: the queue hides its pupil number all the same.
        self.assert_the_queue_and_page_hide_where_the_row_lives(client, review)
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "could be a shielded child" in page

    def test_a_row_like_a_child_who_is_not_shielded_shields_nothing(self, school):
        """Twins: the school's next file names Olivia's pupil number with her sister's first
        name. Ruby is not shielded: nothing is shielded, and Olivia's record stays in sight."""
        load(census({}))
        ruby = make_child(given_name="Ruby", family_name="Brennan", date_of_birth=date(2015, 9, 12))
        make_address(ruby, "NE1 4ST")
        rebuild_keys(ruby)
        load(census({"given_name": "Ruby"}))
        assert not Shield.objects.exists()

    def test_the_queue_shows_the_pupil_number_of_a_row_no_shielded_child_could_be(
        self, school, client
    ):
        """A shielded girl of another name born the same day is no reason to hide it: Dana
        finds the pupil in the school's own records by that number."""
        self.olivia_and_six_alike_in_ne7()
        other = make_child(
            given_name="Zainab", family_name="Okoro", date_of_birth=date(2015, 9, 12)
        )
        rebuild_keys(other)
        shield(other)
        load(census({"postcode": "NE7 7HW", "address_line_1": "77 Hidden Way"}))
        assert MatchReview.objects.count() == 1
        sign_in(client, dana())
        page = client.get(reverse("directory:review_queue")).content.decode()
        assert upn("352214300101") in page

    @pytest.mark.parametrize("born", ["2015-09-12", "20150912", "2015-W37-6", "2015W376"])
    def test_shielding_her_puts_her_on_the_shortlist_of_a_row_that_could_be_her(
        self, school, client, born
    ):
        """As above, but Sam shields her: the row is compared afresh, offers her, and the
        queue hides its pupil number (which names the school) as the page hides its postcode."""
        her = self.olivia_and_six_alike_in_ne7()
        # The date as the file wrote it: ISO 8601's basic form is read as the same date.
        row = {"postcode": "NE7 7HW", "address_line_1": "77 Hidden Way", "date_of_birth": born}
        load(census(row))
        review = MatchReview.objects.get()
        review.status = MatchReview.Status.DEFERRED
        review.save()
        self.shielded_by_sam(her)
        review.refresh_from_db()
        assert her.pk in {c["child_id"] for c in review.candidates}
        assert review.status == MatchReview.Status.OPEN
        self.assert_the_queue_and_page_hide_where_the_row_lives(client, review)

    def test_shielding_a_girl_already_on_the_shortlist_chooses_it_without_the_rows_postcode(
        self, school, client
    ):
        """Six girls named Olivia Brenan live at the row's postcode, NE7 7HW, and Olivia
        Brennan at ZE2 9QX: by the postcode, the row kept the six on its shortlist and Olivia
        off it. Sam then shields one of the six: the review hides the row's postcode from then
        on, so which records it offers must not depend on it either (six records at NE7 7HW
        beside a hidden postcode say where the row lives). Without it, Olivia comes first."""
        her = self.olivia_and_six_alike_in_ne7(surname="Brenan", postcode="NE7 7HW")
        load(census({"postcode": "NE7 7HW", "address_line_1": "77 Hidden Way"}))
        review = MatchReview.objects.get()
        assert her.pk not in {c["child_id"] for c in review.candidates}
        at_ne7 = Child.objects.get(pk=review.candidates[0]["child_id"])
        self.shielded_by_sam(at_ne7)
        review.refresh_from_db()
        assert her.pk in {c["child_id"] for c in review.candidates}
        assert at_ne7.pk in {c["child_id"] for c in review.candidates}
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "ZE2 9QX" in page, "Olivia, not shielded, is offered with her postcode"

    def test_shielding_her_sister_puts_her_on_the_shortlist_of_a_row_that_could_be_her(
        self, school, client
    ):
        """As above, but Sam shields her sister at the same home, and the shield follows to
        her: the row that could be her is compared afresh too, and its pages hide where it is."""
        her = self.olivia_and_six_alike_in_ne7()
        sister = make_child(
            given_name="Ruby", family_name="Brennan", date_of_birth=date(2012, 4, 2)
        )
        make_address(sister, "ZE2 9QX", line_1="Zqxv Secret Lane")
        rebuild_keys(sister)
        load(census({"postcode": "NE7 7HW", "address_line_1": "77 Hidden Way"}))
        review = MatchReview.objects.get()
        shield_create(
            child=sister, by=sam(), reason="domestic_abuse", justification="Fled violence",
            review_on=timezone.localdate() + timedelta(days=90),
        )  # fmt: skip
        assert Shield.objects.filter(child=her, lifted_at__isnull=True).exists()
        review.refresh_from_db()
        assert her.pk in {c["child_id"] for c in review.candidates}
        self.assert_the_queue_and_page_hide_where_the_row_lives(client, review)

    def test_a_shield_a_merge_carries_to_her_puts_her_on_the_shortlist_of_a_row_that_could_be_her(
        self, school, client
    ):
        """As above, but her shield comes with a record of her merged into hers: however a
        shield is put on, the row that could be her is compared afresh."""
        her = self.olivia_and_six_alike_in_ne7()
        load(census({"postcode": "NE7 7HW", "address_line_1": "77 Hidden Way"}))
        review = MatchReview.objects.get()
        assert her.pk not in {c["child_id"] for c in review.candidates}
        earlier = make_child(
            given_name="Liv", family_name="Brennan", date_of_birth=date(2015, 9, 12)
        )
        shield(earlier)
        children_merge(kept=her, absorbed=earlier, by=None)
        assert Shield.objects.filter(child=her, lifted_at__isnull=True).exists()
        review.refresh_from_db()
        assert her.pk in {c["child_id"] for c in review.candidates}
        sign_in(client, dana())
        page = client.get(reverse("directory:review_queue")).content.decode()
        assert upn("352214300101") not in page

    def test_a_decided_review_keeps_a_shielded_childs_new_address_hidden(self, school, client):
        original = self.shielded()
        row = {"family_name": "Quinn", "address_line_1": "77 Hidden Way", "postcode": "NE7 7HW"}
        load(census(row))
        review = MatchReview.objects.get()
        sign_in(client, dana())
        for url in (
            reverse("directory:review_queue"),
            reverse("directory:review", args=[review.pk]),
        ):
            page = client.get(url).content.decode()
            assert "NE7" not in page and "352214300101" not in page, url
        decide(client, review, f"match:{original.contactpoint_id}")
        assert original.addresses.filter(postcode="NE7 7HW", ended_on__isnull=True).exists()
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "Matched to an existing child" in page or "matched to an existing child" in page
        assert "NE7" not in page and "Hidden Way" not in page

    def test_a_row_that_changes_while_it_waits_is_compared_again(self, school, client):
        """A row first resembling an unshielded girl is corrected by its LA while it waits: the
        date of birth and new address are the shielded child's. Its review must now show her
        as a candidate, hide the address, and not publish it as a new record."""
        hidden, other, first, review = self.waiting_beside_another_girl()
        assert [c["child_id"] for c in review.candidates] == [other.pk]
        review.status = MatchReview.Status.DEFERRED
        review.save()
        corrected = {**first, "date_of_birth": "2015-09-12", "address_line_1": "77 Hidden Way"}
        outcome = la_import(la_system(**corrected, postcode="NE7 7HW"), name="la-2.csv")
        assert dict(outcome.counts) == {"still_waiting_for_review": 1}
        review.refresh_from_db()
        assert hidden.pk in [c["child_id"] for c in review.candidates]
        assert review.status == MatchReview.Status.OPEN, "new details: decided afresh"
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "NE7" not in page and "Shielded" in page
        assert "The new record will be shielded" in page
        decide(client, review, "new")
        made = MatchReview.objects.get().source_record.child
        assert made.pk not in (hidden.pk, other.pk) and made.shields.get().in_force
        sign_in(client, priya())
        record = client.get(reverse("directory:child_record", args=[made.contactpoint_id]))
        assert "Hidden Way" not in record.content.decode() and "NE7" not in record.content.decode()

    def test_a_new_record_that_could_be_a_shielded_child_is_shielded_for_review(
        self, school, client
    ):
        self.shielded()
        row = {"family_name": "Quinn", "address_line_1": "77 Hidden Way", "postcode": "NE7 7HW"}
        load(census(row))
        review = MatchReview.objects.get()
        sign_in(client, dana())
        decide(client, review, "new")
        made = MatchReview.objects.get().source_record.child
        in_force = made.shields.get(lifted_at__isnull=True)
        assert in_force.review_on <= date.today(), "in the LA team's review queue at once"
        sign_in(client, priya())
        page = client.get(reverse("directory:child_record", args=[made.contactpoint_id]))
        assert "This record is shielded" in page.content.decode()
        assert "Hidden Way" not in page.content.decode()

    def test_a_decision_on_a_row_that_changed_since_the_page_was_shown_is_not_applied(self, client):
        """The page showed one candidate; a file then changed the row into a shielded child's
        new details. The choice made on the old page must not put them on that candidate."""
        hidden, other, first, review = self.waiting_beside_another_girl()
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        seen = page.split('name="seen" value="', 1)[1].split('"', 1)[0]
        corrected = {**first, "date_of_birth": "2015-09-12", "address_line_1": "77 Hidden Way"}
        la_import(la_system(**corrected, postcode="NE7 7HW"), name="la-2.csv")
        response = client.post(
            reverse("directory:review", args=[review.pk]),
            {"choice": f"match:{other.contactpoint_id}", "seen": seen},
        )
        html = response.content.decode()
        assert "This record has changed since you opened it" in html
        assert "govuk-error-summary" in html and "NE7" not in html
        assert not other.addresses.filter(postcode="NE7 7HW").exists()
        assert MatchReview.objects.get().status == MatchReview.Status.OPEN
        assert hidden.contactpoint_id_display in html, "the page now shows the new candidate"

    def test_a_new_record_beside_a_shielded_candidate_is_shielded_as_the_page_says(self, client):
        """A candidate by name and postcode that is shielded, though born on another day (not
        a look-alike): its postcode was hidden from the data manager, so the new record is
        shielded too, as the page says."""
        hidden = self.shielded()
        review = feed_review(hidden)
        record = review.source_record
        record.payload = {**record.payload, "date_of_birth": "2011-08-02"}
        record.save()
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "The new record will be shielded" in page
        offered = review.candidates
        decide(client, review, "new")
        decided = MatchReview.objects.get()
        made = decided.source_record.child
        assert made.pk != hidden.pk and made.shields.get().in_force
        # The decision is kept beside what was offered, not the record it made, offered since.
        assert decided.candidates == offered

    @pytest.mark.parametrize("when", ["in its first row", "added later"])
    def test_a_former_name_that_is_a_shielded_childs_keeps_the_shield_on(self, client, when):
        """Amy Jones, shielded, is recorded by another LA as Jade Smith, formerly Amy Jones:
        whoever knows Amy's name and birthday would find that record and her new address."""
        amy = make_child(given_name="Amy", family_name="Jones", date_of_birth=date(2014, 6, 1))
        make_address(amy, "NE1 4ST")
        rebuild_keys(amy)
        shield(amy)
        jade = {"given_name": "Jade", "family_name": "Smith", "date_of_birth": "2014-06-01",
                "gender": "female", "address_line_1": "9 Refuge Road", "town": "Southtown",
                "postcode": "SO1 1AA"}  # fmt: skip
        if when == "added later":
            la_import(la_system(**jade), southshire())
        former = {"former_given_name": "Amy", "former_family_name": "Jones"}
        la_import(la_system(**jade, **former), southshire(), name="with-former-name.csv")
        sign_in(client, priya())
        for child in Child.objects.exclude(pk=amy.pk):
            page = client.get(reverse("directory:child_record", args=[child.contactpoint_id]))
            assert "Refuge Road" not in page.content.decode() and "SO1" not in page.content.decode()
        found = client.post(
            reverse("directory:search"),
            {"surname": "Jones", "forename": "Amy", "date_of_birth": "1 6 2014"},
        ).content.decode()
        assert "Refuge Road" not in found and "SO1" not in found

    def test_a_shielded_look_alike_is_never_left_out_of_the_shortlist(self, client):
        """Six better candidates (same names, postcode and birthday) and a shielded look-alike
        further down: she stays on the review, so its location stays hidden."""
        other = make_child(given_name="Zed", family_name="Other", date_of_birth=date(2012, 1, 1))
        rebuild_keys(other)
        shield(other)
        for _ in range(6):
            twin = make_child(given_name="Zed", family_name="Quill", date_of_birth=date(2012, 1, 1))
            make_address(twin, "NE1 1AA")
            rebuild_keys(twin)
        la_import(la_system(la_record_id="PUPIL-42"))
        review = MatchReview.objects.get()
        assert other.pk in [c["child_id"] for c in review.candidates]
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "NE1 1AA" not in page.split("Incoming", 1)[1].split("</tr>", 1)[0]
        assert "PUPIL-42" not in page

    REFUGE = {"address_line_1": "9 Refuge Road", "town": "Southtown", "postcode": "SO1 2BB"}

    def amy(self) -> Child:
        """Amy Jones, shielded: born 1 June 2014, at NE1 4ST."""
        amy = make_child(given_name="Amy", family_name="Jones", date_of_birth=date(2014, 6, 1))
        make_address(amy, "NE1 4ST")
        rebuild_keys(amy)
        shield(amy)
        return amy

    def held_by_the_la_system(self, child: Child) -> None:
        """``child`` as Northshire's system's record 1001, from an earlier file."""
        earlier = FeedImport.objects.create(
            source=Source.LA_SYSTEM, file_name="old.csv", file_sha256="e" * 64,
            local_authority=northshire(), rows_read=1, rows_rejected=0,
        )  # fmt: skip
        SourceRecord.objects.create(
            source=Source.LA_SYSTEM, record_id=f"{northshire().code}/1001", payload={},
            first_import=earlier, last_import=earlier, child=child,
        )  # fmt: skip

    def refuge_hidden_from_priya(self, client) -> None:
        sign_in(client, priya())
        found = client.post(reverse("directory:search"), {"surname": "Jones", "forename": "Amy"})
        pages = [found.content.decode()] + [
            client.get(reverse("directory:child_record", args=[c.contactpoint_id])).content.decode()
            for c in Child.objects.all()
        ]
        for page in pages:
            assert "Refuge Road" not in page and "SO1" not in page

    def test_an_update_that_makes_a_record_her_shields_it_first(self, client):
        """An LA's record of Jade Smith, born 2012, is sent again as Jade Smith, formerly
        Amy Jones, born on Amy's birthday, at a refuge."""
        self.amy()
        jade = {"given_name": "Jade", "family_name": "Smith", "date_of_birth": "2012-01-01",
                "gender": "female", "address_line_1": "1 Old Road", "town": "Southtown",
                "postcode": "SO1 1AA"}  # fmt: skip
        la_import(la_system(**jade), southshire())
        her = {**jade, **self.REFUGE, "date_of_birth": "2014-06-01", "former_given_name": "Amy",
               "former_family_name": "Jones"}  # fmt: skip
        la_import(la_system(**her), southshire(), name="second.csv")
        self.refuge_hidden_from_priya(client)

    def test_a_match_chosen_beside_her_shields_the_record_chosen(self, client):
        """A row with Amy's birthday mistyped (day and month swapped) waits beside her and
        another Amy Jones; the data manager, her postcode hidden, picks the other Amy."""
        self.amy()
        other = make_child(given_name="Amy", family_name="Jones", date_of_birth=date(2014, 1, 7))
        make_address(other, "NE2 2BB")
        rebuild_keys(other)
        row = {"given_name": "Amy", "family_name": "Jones", "date_of_birth": "2014-01-06",
               "gender": "female", **self.REFUGE}  # fmt: skip
        la_import(la_system(la_record_id="R9", **row))
        review = MatchReview.objects.get()
        sign_in(client, dana())
        decide(client, review, f"match:{other.contactpoint_id}")
        assert MatchReview.objects.get().status == MatchReview.Status.MATCHED
        self.refuge_hidden_from_priya(client)

    def test_a_match_by_nhs_number_to_another_record_shields_it_first(self, client):
        self.amy()
        other = make_child(given_name="Amy", family_name="Jones", date_of_birth=date(2011, 3, 3))
        rebuild_keys(other)
        ChildIdentifier.objects.create(child=other, kind="nhs_number", value="9434765919")
        row = {"given_name": "Amy", "family_name": "Jones", "date_of_birth": "2014-06-01",
               "gender": "female", "nhs_number": "9434765919", **self.REFUGE}  # fmt: skip
        assert dict(la_import(la_system(**row), southshire()).counts) == {
            "matched_by_identifier": 1
        }
        self.refuge_hidden_from_priya(client)

    def test_an_update_that_changes_nothing_of_who_the_child_is_shields_nothing(self):
        """Over-shielding costs practitioners the record: a routine update of a record that
        merely shares a birthday and a first name with a shielded child leaves it alone."""
        self.amy()
        khan = make_child(given_name="Amy", family_name="Khan", date_of_birth=date(2014, 6, 1))
        rebuild_keys(khan)
        self.held_by_the_la_system(khan)
        row = {"given_name": "Amy", "family_name": "Khan", "date_of_birth": "2014-06-01",
               "gender": "female", "postcode": "NE1 2AA"}  # fmt: skip
        assert dict(la_import(la_system(**row)).counts) == {"updated": 1}
        assert not khan.shields.exists()

    def test_a_brother_moved_into_her_home_is_shielded_with_it(self, client):
        """Amy is shielded at the refuge; a feed then gives her brother's record the same
        address. His page would show where she lives."""
        amy = self.amy()
        make_address(amy, "SO1 2BB", line_1="9 Refuge Road")
        ben = make_child(given_name="Ben", family_name="Jones", date_of_birth=date(2016, 2, 2))
        rebuild_keys(ben)
        self.held_by_the_la_system(ben)
        row = {"given_name": "Ben", "family_name": "Jones", "date_of_birth": "2016-02-02",
               "gender": "male", **self.REFUGE}  # fmt: skip
        assert dict(la_import(la_system(**row)).counts) == {"updated": 1}
        shielded = ben.shields.get(lifted_at__isnull=True)
        assert "shares a current home" in shielded.justification
        self.refuge_hidden_from_priya(client)

    def ben(self) -> Child:
        """Amy's brother Ben, unshielded, Northshire's system's record 1001."""
        ben = make_child(given_name="Ben", family_name="Jones", date_of_birth=date(2016, 2, 2))
        rebuild_keys(ben)
        self.held_by_the_la_system(ben)
        return ben

    def amy_with_her_mother(self) -> Child:
        """Amy, shielded, with her mother Kirsty Jones on 07700 900041."""
        from directory.models import CareRelationship, ParentCarer

        amy = self.amy()
        mother = ParentCarer.objects.create(
            given_name="Kirsty", family_name="Jones", phone="07700 900041",
            source=Source.LA_SYSTEM,
        )  # fmt: skip
        CareRelationship.objects.create(
            child=amy, carer=mother, relationship="mother", parental_responsibility=True,
            source=Source.LA_SYSTEM,
        )  # fmt: skip
        return amy

    BEN = {"given_name": "Ben", "family_name": "Jones", "date_of_birth": "2016-02-02",
           "gender": "male"}  # fmt: skip
    MOTHER = {"carer_given_name": "Kirsty", "carer_family_name": "Jones",
              "carer_relationship": "mother"}  # fmt: skip

    @pytest.mark.parametrize(
        "written",
        [
            "9  Refuge Road",
            "9, REFUGE ROAD.",
            "9 Refuge Rd",
            "Flat 9 Refuge Road",
            "9 Refuge Road Southtown",
        ],
    )
    def test_her_home_written_another_way_is_still_her_home(self, client, written):
        make_address(self.amy(), "SO1 2BB", line_1="9 Refuge Road")
        ben = self.ben()
        la_import(
            la_system(**self.BEN, address_line_1=written, town="Southtown", postcode="so12bb")
        )
        assert ben.shields.filter(lifted_at__isnull=True).exists()
        self.refuge_hidden_from_priya(client)

    @pytest.mark.parametrize(
        ("hers", "written", "postcode"),
        [
            ("Mount Pleasant, Refuge Road", "Mt. Pleasant", "so12bb"),
            ("9 Mount Road", "9 Mt Rd", "so12bd"),  # her postcode mistyped
            ("9 Acacia Terrace", "9 Acacia Tce", "so12bd"),
            ("9 Little Lane", "9 Lt Lane", "so12bd"),
            ("Riverside Tower", "Flat 2, Riverside Twr", "so12bb"),
        ],
    )
    def test_her_home_with_a_word_shortened_is_still_her_home(
        self, client, hers, written, postcode
    ):
        """ "Mt" for "Mount", "Tce" for "Terrace", "Lt" for "Little" and "Twr" for "Tower"
        begin no word of theirs. Priya, who does not see Amy, sees nothing of Ben's home."""
        make_address(self.amy(), "SO1 2BB", line_1=hers)
        ben = self.ben()
        la_import(
            la_system(**self.BEN, address_line_1=written, town="Southtown", postcode=postcode)
        )
        assert ben.shields.filter(lifted_at__isnull=True).exists()
        sign_in(client, priya())
        page = client.get(reverse("directory:child_record", args=[ben.contactpoint_id]))
        assert page.status_code == 200
        assert written not in page.content.decode() and "SO1" not in page.content.decode()

    @pytest.mark.parametrize("existing_carer", [False, True])
    def test_her_mothers_phone_written_another_way_or_added_later_shields_him(
        self, client, existing_carer
    ):
        """Amy is shielded, her mother Kirsty's name and phone on her record; a feed gives
        her brother's record the same mother, the phone written another way, or adds it to
        the mother he already has: his page would show Amy's mother's phone."""
        self.amy_with_her_mother()
        ben = self.ben()
        if existing_carer:  # he has her already, with no phone
            la_import(la_system(**self.BEN, **self.MOTHER), name="first.csv")
            assert not ben.shields.exists()
        la_import(la_system(**self.BEN, **self.MOTHER, carer_phone="+44 7700 900041"))
        assert "with a shielded child" in ben.shields.get(lifted_at__isnull=True).justification
        sign_in(client, priya())
        page = client.get(reverse("directory:child_record", args=[ben.contactpoint_id]))
        assert "900041" not in page.content.decode()

    def test_her_mothers_phone_under_another_surname_still_shields_him(self, client):
        self.amy_with_her_mother()
        ben = self.ben()
        mother_again = {**self.MOTHER, "carer_family_name": "Jones-Smith"}
        la_import(la_system(**self.BEN, **mother_again, carer_phone="07700 900041"))
        assert ben.shields.filter(lifted_at__isnull=True).exists()

    def test_another_las_record_at_her_home_is_shielded_without_saying_why(self):
        """Northshire's officers see Ben in full: that a shielded child lives at his address
        is not theirs to know when she is Southshire's."""
        amy = make_child(given_name="Amy", family_name="Jones", date_of_birth=date(2014, 6, 1),
                         local_authority=southshire())  # fmt: skip
        make_address(amy, "SO1 2BB", line_1="9 Refuge Road")
        shield(amy)
        ben = self.ben()
        la_import(la_system(**self.BEN, **self.REFUGE))
        reason = ben.shields.get(lifted_at__isnull=True).justification
        assert "shielded child" not in reason and "another record" in reason

    def test_she_moves_into_his_home_and_he_is_shielded_with_her(self, client):
        amy = self.amy()
        ben = self.ben()
        make_address(ben, "SO1 2BB", line_1="9 Refuge Road")
        amy_row = {"given_name": "Amy", "family_name": "Jones", "date_of_birth": "2014-06-01",
                   "gender": "female", "la_record_id": "2002", **self.REFUGE}  # fmt: skip
        assert dict(la_import(la_system(**amy_row), name="amy.csv").counts) == {
            "matched_automatically": 1
        }
        assert amy.addresses.filter(line_1="9 Refuge Road", ended_on__isnull=True).exists()
        assert ben.shields.filter(lifted_at__isnull=True).exists()
        self.refuge_hidden_from_priya(client)

    def test_a_shielded_record_is_merged_only_within_its_la(self, client):
        amy = self.amy()
        theirs = make_child(given_name="Amy", family_name="Jones", local_authority=southshire())
        page = merge_asked_by_nat(client, kept=theirs, absorbed=amy)
        assert "A shielded record can only be merged with a record of its own local" in page
        assert not Merge.objects.exists()

    def test_a_merge_that_brings_her_home_onto_a_record_shields_it(self):
        amy = self.amy()
        make_address(amy, "SO1 2BB", line_1="9 Refuge Road")
        kept, absorbed = make_child(given_name="Ben"), make_child(given_name="Benjamin")
        make_address(absorbed, "SO1 2BB", line_1="9 Refuge Road")
        children_merge(kept=kept, absorbed=absorbed, by=None)
        assert kept.shields.filter(lifted_at__isnull=True).exists()

    def test_a_merge_that_makes_a_record_look_like_a_shielded_child_shields_it(self, client):
        """Neither record could be Olivia, shielded, on its own: one has her birthday, the
        other her name. The merged record has both, as a row giving that name would, and is
        shielded for review before Priya can see where it lives."""
        self.shielded()
        kept = make_child(given_name="Amy", family_name="Smith", date_of_birth=date(2015, 9, 12))
        make_address(kept, "NE7 7HW", line_1="77 Hidden Way")
        absorbed = make_child(
            given_name="Olivia", family_name="Brennan", date_of_birth=date(2013, 2, 1)
        )
        rebuild_keys(kept, absorbed)
        children_merge(kept=kept, absorbed=absorbed, by=None)
        assert kept.shields.filter(lifted_at__isnull=True).exists()
        sign_in(client, priya())
        page = client.get(reverse("directory:child_record", args=[kept.contactpoint_id]))
        assert "77 Hidden Way" not in page.content.decode()

    def test_a_new_record_unlike_any_shielded_child_is_not_shielded(self, client):
        review = feed_review(make_child(given_name="Amy"))
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "The new record will be shielded" not in page
        decide(client, review, "new")
        assert not MatchReview.objects.get().source_record.child.shields.exists()


class TestMergeAndUnmerge:
    def test_a_merge_keeps_a_death_and_a_consent_the_absorbed_record_held_until_undone(self):
        born = date(2008, 1, 1)
        kept = make_child(date_of_birth=born)
        absorbed = make_child(
            date_of_birth=born, status=Child.Status.DECEASED, date_of_death=date(2026, 1, 10),
            kept_to_25_with_consent=True,
        )  # fmt: skip
        merge = children_merge(kept=kept, absorbed=absorbed, by=None)
        kept.refresh_from_db()
        assert (kept.status, kept.date_of_death) == ("deceased", date(2026, 1, 10))
        assert kept.kept_to_25_with_consent
        children_unmerge(merge=merge, by=None)
        kept.refresh_from_db()
        absorbed.refresh_from_db()
        assert (kept.status, kept.date_of_death, kept.kept_to_25_with_consent) == (
            "active", None, False,
        )  # fmt: skip
        assert (absorbed.status, absorbed.date_of_death) == ("deceased", date(2026, 1, 10))

    def test_an_unmerge_leaves_one_lead_when_the_absorbed_records_feed_named_one_since(self):
        """His lead stood down at the merge; then her feed named a new lead on the merged
        record. Undone, she has that lead, and one only."""
        kept = make_child()
        la_import(la_system(la_record_id="B1", given_name="Zack", family_name="Other"))
        absorbed = Child.objects.get(source_records__record_id__endswith="/B1")
        theirs = self.each_with_a_lead(kept, absorbed)
        merge = children_merge(kept=kept, absorbed=absorbed, by=None)
        Involvement.objects.filter(service__kind="school").update(ended_on=date(2026, 1, 1))
        la_import(
            la_system(la_record_id="B1", given_name="Zack", family_name="Other",
                      service_kind="early_help", lead_professional="yes",
                      service_started_on="2026-02-01"),
            name="b2.csv",
        )  # fmt: skip
        children_unmerge(merge=merge, by=None)
        leads = absorbed.involvements.filter(lead_professional=True, ended_on__isnull=True)
        assert [i.service.kind for i in leads] == ["early_help"]
        theirs.refresh_from_db()
        assert (theirs.child, theirs.ended_on) == (absorbed, None)

    def test_a_review_waiting_on_the_record_kept_is_offered_the_one_unmerged(self):
        la_import(la_system(la_record_id="A1"), name="a.csv")
        zack = {"given_name": "Zack", "family_name": "Other", "date_of_birth": "2013-05-05"}
        la_import(la_system(la_record_id="B1", **zack), name="b.csv")
        kept = Child.objects.get(source_records__record_id__endswith="/A1")
        absorbed = Child.objects.get(source_records__record_id__endswith="/B1")
        merge = children_merge(kept=kept, absorbed=absorbed, by=None)
        zak = zack | {"given_name": "Zak"}
        outcome = la_import(la_system(la_record_id="C1", **zak), name="c.csv")
        assert outcome.counts == {"waiting_for_review": 1}
        review = MatchReview.objects.get()
        assert [c["child_id"] for c in review.candidates] == [kept.pk]
        children_unmerge(merge=merge, by=None)
        review.refresh_from_db()
        assert absorbed.pk in [c["child_id"] for c in review.candidates]

    def test_an_unmerge_gives_back_what_the_absorbed_records_feed_sent_since(self):
        """Two records of the LA's system, merged; then the second's row says she moved. Her
        move ends only her own old home, and goes back with her record when the merge is
        undone."""
        la_import(la_system(la_record_id="A1"), name="a.csv")  # 1 North Road, NE1 1AA
        second = {"la_record_id": "B1", "given_name": "Zack", "family_name": "Other",
                  "date_of_birth": "2013-05-05"}  # fmt: skip
        la_import(
            la_system(**second, address_line_1="9 South Road", postcode="NE9 9AA"), name="b.csv"
        )
        kept = Child.objects.get(source_records__record_id__endswith="/A1")
        absorbed = Child.objects.get(source_records__record_id__endswith="/B1")
        merge = children_merge(kept=kept, absorbed=absorbed, by=None)
        la_import(
            la_system(**second, address_line_1="3 Moved Street", postcode="NE3 3AA"), name="c.csv"
        )

        def homes(child):
            return set(
                child.addresses.filter(ended_on__isnull=True).values_list("postcode", flat=True)
            )

        assert homes(kept) == {"NE1 1AA", "NE3 3AA"}, "her move ends her old home, not his"
        children_unmerge(merge=merge, by=None)
        assert (homes(kept), homes(absorbed)) == ({"NE1 1AA"}, {"NE3 3AA"})

    def each_with_a_lead(self, kept: Child, absorbed: Child) -> Involvement:
        """The school leads on the first record; social care, with a CAF, on the second
        (returned)."""
        school = make_service(Service.Kind.SCHOOL, identifier="111111")
        social = make_service(Service.Kind.SOCIAL_CARE, name="Northshire Social Care")
        Involvement.objects.create(
            child=kept, service=school, started_on=date(2020, 1, 1), lead_professional=True,
            source=Source.LA_SYSTEM,
        )  # fmt: skip
        return Involvement.objects.create(
            child=absorbed, service=social, started_on=date(2024, 1, 1), lead_professional=True,
            caf_held=True, source=Source.LA_SYSTEM,
        )  # fmt: skip

    def test_the_absorbed_records_lead_service_still_works_with_the_child(self):
        kept, absorbed = make_child(), make_child(given_name="Amy")
        theirs = self.each_with_a_lead(kept, absorbed)
        merge = children_merge(kept=kept, absorbed=absorbed, by=None)
        current = kept.involvements.filter(ended_on__isnull=True)
        assert {(i.service.name, i.lead_professional, i.caf_held) for i in current} == {
            ("Northshire Primary School", True, False),
            ("Northshire Social Care", False, True),
        }
        children_unmerge(merge=merge, by=None)
        theirs.refresh_from_db()
        assert (theirs.child, theirs.lead_professional) == (absorbed, True)

    def test_the_children_a_data_manager_compares_are_in_their_access_histories(self, client):
        from audit.selectors import child_history

        kept, absorbed = make_child(), make_child(given_name="Amy")
        review = feed_review(kept)
        sign_in(client, dana())
        client.post(
            reverse("directory:merge"),
            {"kept": kept.contactpoint_id, "absorbed": absorbed.contactpoint_id},
        )
        client.get(reverse("directory:review", args=[review.pk]))
        auditor = make_user("nadia", Role.AUDITOR, organisation=operator())
        pages = {
            child.contactpoint_id: {
                e.path for e in child_history(auditor, child.contactpoint_id, theirs=True)
            }
            for child in (kept, absorbed)
        }
        assert pages[kept.contactpoint_id] == {"/feeds/merge/", f"/feeds/reviews/{review.pk}/"}
        assert pages[absorbed.contactpoint_id] == {"/feeds/merge/"}

    def test_an_las_data_managers_work_on_their_own_las_files_and_records(self, client):
        kept, absorbed = make_child(), make_child(given_name="Amy")  # Northshire's
        review = feed_review(kept)
        done = children_merge(kept=make_child(given_name="Ann"), absorbed=make_child(), by=None)
        sign_in(client, make_user("dora", Role.DATA_MANAGER, organisation=southshire()))
        assert client.get(reverse("directory:review", args=[review.pk])).status_code == 404
        assert "LA-1" not in client.get(reverse("directory:review_queue")).content.decode()
        assert "la.csv" not in client.get(reverse("directory:feeds")).content.decode()
        page = client.post(
            reverse("directory:merge"),
            {"kept": kept.contactpoint_id, "absorbed": absorbed.contactpoint_id},
        ).content.decode()
        assert "There is no record you can merge with that ContactPoint ID" in page
        assert (
            done.kept.contactpoint_id
            not in client.get(reverse("directory:merges")).content.decode()
        )
        assert client.post(reverse("directory:unmerge", args=[done.pk]), CONFIRM).status_code == 404
        sign_in(client, make_user("nat", Role.DATA_MANAGER, organisation=operator()))
        assert client.get(reverse("directory:review", args=[review.pk])).status_code == 200
        assert client.post(reverse("directory:unmerge", args=[done.pk]), CONFIRM).status_code == 302

    def test_a_merge_across_las_is_undone_only_by_the_national_team(self, client):
        """Neither LA's data managers could have made it, so neither undoes it; both see it."""
        kept = make_child(given_name="Ann")  # Northshire's
        absorbed = make_child(given_name="Amy", local_authority=southshire())
        done = children_merge(kept=kept, absorbed=absorbed, by=None)
        for manager in (dana(), make_user("dora", Role.DATA_MANAGER, organisation=southshire())):
            sign_in(client, manager)
            page = client.get(reverse("directory:merges")).content.decode()
            assert absorbed.contactpoint_id_display in page
            assert "Only the national data-quality team can undo it" in page
            assert reverse("directory:unmerge", args=[done.pk]) not in page
            response = client.post(
                reverse("directory:unmerge", args=[done.pk]), CONFIRM, follow=True
            )
            assert "Only the national data-quality team can undo it" in response.content.decode()
            absorbed.refresh_from_db()
            assert absorbed.merged_into == kept
        sign_in(client, make_user("nat", Role.DATA_MANAGER, organisation=operator()))
        assert (
            reverse("directory:unmerge", args=[done.pk])
            in client.get(reverse("directory:merges")).content.decode()
        )
        client.post(reverse("directory:unmerge", args=[done.pk]), CONFIRM)
        absorbed.refresh_from_db()
        assert absorbed.merged_into is None

    def test_undoing_a_merge_across_las_shields_without_the_other_las_words(self, client):
        """Northshire shielded the merged record, saying where she is; undone, Southshire's
        record is shielded too, but Southshire's officers do not read Northshire's reasons."""
        kept = make_child(given_name="Ann")  # Northshire's
        absorbed = make_child(given_name="Amy", local_authority=southshire())
        done = children_merge(kept=kept, absorbed=absorbed, by=None)
        Shield.objects.create(
            child=kept, reason="domestic_abuse", review_on=date(2027, 5, 1), shielded_by=sam(),
            justification="Mother and Ann now at the Elm St refuge",
        )  # fmt: skip
        sign_in(client, make_user("nat", Role.DATA_MANAGER, organisation=operator()))
        client.post(reverse("directory:unmerge", args=[done.pk]), CONFIRM)
        carried = Shield.objects.get(child=absorbed, lifted_at__isnull=True)
        assert "Elm St" not in carried.justification and carried.shielded_by is None
        event = AuditEvent.objects.get(detail__unmerge=done.pk)
        assert (event.detail or {})["other_record_shielded"]
        sign_in(client, make_user("sue", Role.SHIELDING_OFFICER, organisation=southshire()))
        page = client.get(reverse("shielding:shield", args=[absorbed.contactpoint_id]))
        assert "Elm St" not in page.content.decode() and "sam" not in page.content.decode()

    def test_a_merge_and_its_undoing_record_both_children_and_the_shield_carried(self, client):
        kept, absorbed = make_child(), make_child(given_name="Amy")
        shield(absorbed)
        sign_in(client, dana())
        client.post(
            reverse("directory:merge"),
            {
                "kept": kept.contactpoint_id,
                "absorbed": absorbed.contactpoint_id,
                "confirmed": "yes",
            },
        )
        client.post(reverse("directory:unmerge", args=[Merge.objects.get().pk]), CONFIRM)
        for detail in ("merge", "unmerge"):
            event = AuditEvent.objects.get(detail__has_key=detail)
            assert event.child_id == kept.pk and event.result_ids == [absorbed.contactpoint_id]
            assert event.child_shielded, "the shield carried over to the kept record"

    def test_another_las_record_with_the_same_number_is_another_person(self):
        """LA systems number their own records: Southshire's 1001 is not Northshire's 1001."""
        people: tuple[tuple[Organisation, dict[str, str]], ...] = (
            (northshire(), {}),
            (southshire(), {"given_name": "Yan", "date_of_birth": "2013-06-06",
                            "postcode": "SO1 1AA"}),
        )  # fmt: skip
        for la, person in people:
            feed_import(
                source=Source.LA_SYSTEM, file_name=f"{la.code}.csv",
                content=la_system(**person), local_authority=la, by=None,
            )  # fmt: skip
        northern = Child.objects.get(local_authority=northshire(), family_name="Quill")
        assert list(northern.addresses.values_list("postcode", flat=True)) == ["NE1 1AA"]
        assert SourceRecord.objects.filter(source=Source.LA_SYSTEM).count() == 2

    def test_a_new_record_from_an_las_own_file_stays_with_that_la(self, client):
        southern = make_child(local_authority=southshire())
        review = feed_review(southern)
        FeedImport.objects.filter(pk=review.source_record.last_import_id).update(
            local_authority=northshire()
        )
        sign_in(client, dana())  # Northshire's
        decide(client, review, "new")
        review.refresh_from_db()
        assert review.source_record.child.local_authority == northshire()

    def test_a_record_archived_over_a_year_ago_is_not_shown_beside_a_feed_row(self, client):
        """Data managers see an archived record for a year after archiving, not after: not on
        its page, and not as a possible match for a feed row either."""
        today = timezone.localdate()
        old = make_child(
            given_name="Zebedee", status=Child.Status.ARCHIVED, archived_on=today - timedelta(800)
        )
        recent = make_child(
            given_name="Yolanda", status=Child.Status.ARCHIVED, archived_on=today - timedelta(30)
        )
        sign_in(client, dana())
        for archived, shown in ((old, False), (recent, True)):
            review = feed_review(archived)
            html = client.get(reverse("directory:review", args=[review.pk])).content.decode()
            assert (archived.given_name in html) is shown, archived.given_name
            assert (archived.contactpoint_id_display in html) is shown
        decide(
            client,
            MatchReview.objects.get(candidates__0__child_id=old.pk),
            f"match:{old.contactpoint_id}",
        )
        assert not SourceRecord.objects.filter(child=old).exists(), "not matched to it either"

    def test_a_partner_organisations_data_manager_works_no_las_files(self, client):
        charity = Organisation.objects.create(
            code="CHARITY1", name="A charity", kind=Organisation.Kind.NATIONAL_PARTNER
        )
        review = feed_review(make_child())
        sign_in(client, make_user("pat", Role.DATA_MANAGER, organisation=charity))
        assert "la.csv" not in client.get(reverse("directory:feeds")).content.decode()
        assert client.get(reverse("directory:review", args=[review.pk])).status_code == 404
        upload = SimpleUploadedFile("mine.csv", la_system(), content_type="text/csv")
        page = client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "la_system",
                "local_authority": charity.pk,
                "file": upload,
            },
        ).content.decode()
        assert "Select the local authority the file comes from" in page
        assert not FeedImport.objects.filter(file_name="mine.csv").exists()

    def test_a_record_merged_already_gets_a_message_not_an_error(self, client):
        kept, absorbed, other = make_child(), make_child(given_name="Amy"), make_child()
        children_merge(kept=kept, absorbed=absorbed, by=None)
        sign_in(client, dana())
        for confirmed in ("", "yes"):
            response = client.post(
                reverse("directory:merge"),
                {"kept": other.contactpoint_id, "absorbed": absorbed.contactpoint_id,
                 "confirmed": confirmed},
            )  # fmt: skip
            assert response.status_code == 200
            assert (
                f"That record has been merged into {kept.contactpoint_id_display} already"
                in response.content.decode()
            )
            seen = AuditEvent.objects.filter(path=reverse("directory:merge")).latest("id")
            assert kept.contactpoint_id in seen.result_ids, "the record named is in the event"
        assert Merge.objects.count() == 1

    def test_a_merge_into_a_record_archived_over_a_year_ago_is_not_undone(self, client):
        """Undone, the other record would come back live, with its clocks started afresh."""
        born = date(2005, 1, 1)
        kept = make_child(date_of_birth=born)
        absorbed = make_child(given_name="Amy", date_of_birth=born)
        done = children_merge(kept=kept, absorbed=absorbed, by=None)
        Child.objects.filter(pk=kept.pk).update(
            status=Child.Status.ARCHIVED, archived_on=date(2024, 1, 1)
        )
        sign_in(client, dana())
        page = client.get(reverse("directory:merges")).content.decode()
        assert "archived more than a year ago" in page
        assert reverse("directory:unmerge", args=[done.pk]) not in page
        response = client.post(reverse("directory:unmerge", args=[done.pk]), CONFIRM, follow=True)
        assert "archived more than a year ago" in response.content.decode()
        absorbed.refresh_from_db()
        assert absorbed.status == Child.Status.MERGED
        Child.objects.filter(pk=kept.pk).update(archived_on=timezone.localdate())
        client.post(reverse("directory:unmerge", args=[done.pk]), CONFIRM)
        absorbed.refresh_from_db()
        assert absorbed.status == Child.Status.ACTIVE, "within the year it is undone"

    def test_an_unmerge_someone_else_has_just_made_gets_a_message(self, client, monkeypatch):
        from directory import feed_views

        done = children_merge(kept=make_child(), absorbed=make_child(given_name="Amy"), by=None)
        unmerge = feed_views.children_unmerge

        def after_another_request(*, merge, by):
            unmerge(merge=Merge.objects.get(pk=merge.pk), by=None)  # which committed first
            return unmerge(merge=merge, by=by)

        monkeypatch.setattr(feed_views, "children_unmerge", after_another_request)
        sign_in(client, dana())
        response = client.post(reverse("directory:unmerge", args=[done.pk]), CONFIRM, follow=True)
        assert "That merge has been undone already" in response.content.decode()

    def test_the_review_pages_version_is_keyed_so_it_cannot_test_guesses(self, client):
        """The page carries it; a plain digest of the row and candidates would let its reader
        confirm a guess at the postcode the page hides."""
        review = feed_review(make_child())
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        shown = json.dumps([review.source_record.payload, review.candidates], sort_keys=True)
        assert f'name="seen" value="{hashlib.sha256(shown.encode()).hexdigest()[:16]}"' not in page
        assert 'name="seen" value="' in page

    def test_the_review_shows_dates_of_birth_as_the_record_page_does(self, client):
        """ "2015-03-14" beside "2015-03-15" on the comparison, when every other page says
        14 March 2015: both sides are written the service's way, so they still compare."""
        review = feed_review(make_child(date_of_birth=date(2015, 3, 15)))
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        row = re.search(r"Date of birth</th>(.*?)</tr>", page, re.S)
        assert row is not None
        cells = re.findall(r'<td class="govuk-table__cell">([^<]*)', row.group(1))
        assert cells == ["14 March 2015", "15 March 2015"]
        assert "2015-03-1" not in page

    @pytest.mark.parametrize("choice", [None, "", "match:123456789012", "maybe"])
    def test_a_review_without_a_real_choice_gets_a_govuk_error_and_changes_nothing(
        self, client, choice
    ):
        review = feed_review(make_child())
        sign_in(client, dana())
        posted = {} if choice is None else {"choice": choice}
        html = client.post(reverse("directory:review", args=[review.pk]), posted).content.decode()
        assert "govuk-error-summary" in html and 'href="#id_choice"' in html
        assert "Select one of the records, make a new record, or decide later" in html
        assert 'id="id_choice"' in html, "the summary's link lands on the first choice"
        review.refresh_from_db()
        assert review.status == MatchReview.Status.OPEN and review.source_record.child is None

    def test_a_decided_review_names_the_record_it_went_to_in_its_event(self, client):
        review = feed_review(make_child(given_name="Amy"))
        sign_in(client, dana())
        decide(client, review, "new")
        made = MatchReview.objects.get().source_record.child
        client.get(reverse("directory:review", args=[review.pk]))
        seen = AuditEvent.objects.filter(path=f"/feeds/reviews/{review.pk}/").latest("id")
        assert made.contactpoint_id in seen.result_ids

    def test_a_review_whose_expected_return_has_passed_can_still_be_decided(
        self, client, monkeypatch
    ):
        back = (timezone.localdate() + timedelta(days=10)).isoformat()
        review = feed_review(make_child())
        record = review.source_record
        record.payload = {**record.payload, "address_status": "left_england",
                          "expected_return_by": back, "address_line_1": "", "town": "",
                          "postcode": ""}  # fmt: skip
        record.save()
        later, real = timezone.localdate() + timedelta(days=21), timezone.localdate
        # Three weeks on: today moves; a moment given (the file's import) stays what it was.
        monkeypatch.setattr(
            timezone, "localdate", lambda value=None, *rest: later if value is None else real(value)
        )
        sign_in(client, dana())
        assert client.get(reverse("directory:review", args=[review.pk])).status_code == 200
        decide(client, review, "new")
        assert MatchReview.objects.get().status == MatchReview.Status.CREATED

    def test_a_stored_row_that_fails_a_later_check_gets_a_page_not_an_error(self, client):
        """Checked when its file came; a check added since (or a school since removed from the
        register) fails it. The page says which columns, never their values."""
        review = feed_review(make_child())
        record = review.source_record
        record.payload = {**record.payload, "postcode": "ZZ99 9ZZ"}  # no longer a postcode
        record.save()
        sign_in(client, dana())
        response = client.get(reverse("directory:review", args=[review.pk]))
        html = response.content.decode()
        assert response.status_code == 200 and "cannot be read any more" in html
        assert "postcode" in html and "ZZ99" not in html

    def test_a_decision_on_a_row_purged_meanwhile_says_it_is_no_longer_waiting(self, client):
        """The lifecycle job purged the row with the record it offered while Dana's page was
        open: her decision got a bare "Page not found"."""
        candidate = make_child()
        review = feed_review(candidate)
        sign_in(client, dana())
        seen = review_version(review, review.source_record)
        review.source_record.delete()  # purged, its review with it
        candidate.delete()
        response = client.post(
            reverse("directory:review", args=[review.pk]), {"choice": "new", "seen": seen},
            follow=True,
        )  # fmt: skip
        assert response.redirect_chain == [(reverse("directory:review_queue"), 302)]
        assert "That feed record is no longer waiting for review" in response.content.decode()
        assert not Child.objects.exists()

    def test_a_row_most_likely_a_record_archived_out_of_sight_is_not_made_a_second(self, client):
        """The row's best match was archived over a year ago, so the page, as search, hid it:
        Dana saw no candidate, chose a new record, and the person had two, one active."""
        archived = make_child(status=Child.Status.ARCHIVED,
                              archived_on=timezone.localdate() - timedelta(days=400))  # fmt: skip
        review = feed_review(archived)
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert archived.contactpoint_id_display not in page
        assert ARCHIVED_OUT_OF_SIGHT in page
        html = decide(client, review, "new").content.decode()
        assert ARCHIVED_OUT_OF_SIGHT in html and 'href="#id_choice"' in html
        assert Child.objects.count() == 1
        assert MatchReview.objects.get().status == MatchReview.Status.OPEN
        decide(client, review, "defer")
        assert MatchReview.objects.get().status == MatchReview.Status.DEFERRED

    def test_a_row_beside_a_shielded_record_archived_out_of_sight_hides_where_it_lives(
        self, client
    ):
        """The queue hid the row's pupil number beside the shielded candidate, but its page,
        which leaves out a record archived over a year ago, showed its number and postcode."""
        older = make_child(date_of_birth=date(2003, 1, 2), status=Child.Status.ARCHIVED,
                           archived_on=timezone.localdate() - timedelta(days=400))  # fmt: skip
        shield(older)
        review = feed_review(make_child())
        review.candidates = [*review.candidates, {"child_id": older.pk, "weight": 2.0}]
        review.save(update_fields=["candidates"])
        sign_in(client, dana())
        queue = client.get(reverse("directory:review_queue")).content.decode()
        assert review.source_record.record_id not in queue
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "NE5 5AB" not in page and review.source_record.record_id not in page
        assert "A possible match is shielded" in page
        assert older.contactpoint_id_display not in page

    def test_a_row_most_likely_a_record_archived_out_of_sight_is_set_aside_with_it(self, client):
        """No one can see that record or decide on the row, so 'decide later' kept it in Dana's
        queue until the record's purge, up to five years on. Set aside, it leaves the queue,
        stays with the record, and goes when the record is purged."""
        today = timezone.localdate()
        archived = make_child(status=Child.Status.ARCHIVED,
                              archived_on=today - timedelta(days=400))  # fmt: skip
        review = feed_review(archived)
        sign_in(client, dana())
        link = reverse("directory:review", args=[review.pk])
        assert link in client.get(reverse("directory:review_queue")).content.decode()
        page = client.get(link).content.decode()
        assert "Set it aside with that record" in page
        response = decide(client, review, "set_aside")
        assert response.status_code == 302
        assert MatchReview.objects.get().status == MatchReview.Status.SET_ASIDE
        queue = client.get(reverse("directory:review_queue")).content.decode()
        assert "Your decision has been recorded" in queue and link not in queue
        feeds_page = client.get(reverse("directory:feeds")).content.decode()
        assert "No records wait for review" in feeds_page
        assert Child.objects.count() == 1
        Child.objects.filter(pk=archived.pk).update(archived_on=years_before(today, 6))
        lifecycle_apply(today=today)
        assert not MatchReview.objects.exists() and not SourceRecord.objects.exists()

    def test_a_row_set_aside_that_changes_is_decided_afresh(self, client):
        """Its LA corrects the row: the new details may be someone else, so it is compared
        again and comes back to the queue."""
        archived = make_child(status=Child.Status.ARCHIVED,
                              archived_on=timezone.localdate() - timedelta(days=400))  # fmt: skip
        review = feed_review(archived)
        sign_in(client, dana())
        decide(client, review, "set_aside")
        corrected = {**review.source_record.payload, "address_line_1": "3 Other Road"}
        outcome = feed_import(
            source=Source.LA_SYSTEM, file_name="la-2.csv", content=la_system(**corrected),
            local_authority=None, by=None, extracted_on=timezone.localdate(),
        )  # fmt: skip
        assert dict(outcome.counts) == {"still_waiting_for_review": 1}
        assert MatchReview.objects.get().status == MatchReview.Status.OPEN

    def test_a_row_set_aside_comes_back_when_its_record_does(self, client):
        """Her LA then records her consent to 25, so she is live again and will not be purged
        with the row: set aside, it would never have been decided."""
        born = {"date_of_birth": "2007-06-01"}
        la_import(la_system(**born), name="a.csv")
        archived = Child.objects.get()
        Child.objects.filter(pk=archived.pk).update(
            status=Child.Status.ARCHIVED, archived_on=timezone.localdate() - timedelta(days=400)
        )
        review = feed_review(archived)
        sign_in(client, dana())
        decide(client, review, "set_aside")
        assert MatchReview.objects.get().status == MatchReview.Status.SET_ASIDE
        la_import(la_system(**born, consent_to_25="yes"), name="b.csv")
        assert Child.objects.get(pk=archived.pk).status == Child.Status.ACTIVE
        assert MatchReview.objects.get().status == MatchReview.Status.OPEN
        link = reverse("directory:review", args=[review.pk])
        assert link in client.get(reverse("directory:review_queue")).content.decode()

    def test_a_row_whose_best_match_she_can_see_is_not_set_aside(self, client):
        review = feed_review(make_child())
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert "Set it aside" not in page
        html = decide(client, review, "set_aside").content.decode()
        assert DECISION_NEEDED in html
        assert MatchReview.objects.get().status == MatchReview.Status.OPEN

    def test_a_new_record_from_a_review_whose_candidate_has_gone(self, client):
        candidate = make_child()
        review = feed_review(candidate)
        candidate.delete()  # purged since
        manager = dana()
        sign_in(client, manager)
        response = decide(client, review, "new")
        assert response.status_code == 302
        review.refresh_from_db()
        assert review.status == MatchReview.Status.CREATED
        assert review.source_record.child.local_authority == manager.organisation

    def test_an_la_record_id_as_long_as_validation_allows_is_imported(self):
        outcome = la_import(la_system(la_record_id="R" * 100))
        assert not outcome.validation.errors and dict(outcome.counts) == {"new_child": 1}
        assert SourceRecord.objects.get().record_id == f"{northshire().code}/{'R' * 100}"

    def test_a_reviewed_match_records_the_service_of_the_files_la(self, client):
        held = make_child(given_name="Olivia", family_name="Marsh", date_of_birth=date(2011, 4, 2))
        make_address(held, "NE3 3AA")
        rebuild_keys(held)
        row = {"given_name": "Olivia", "family_name": "Marshe", "date_of_birth": "2011-04-02"}
        la_import(la_system(**row, postcode="SO9 9ZZ", service_kind="social_care"), southshire())
        review = MatchReview.objects.get()
        sign_in(client, make_user("dora", Role.DATA_MANAGER, organisation=southshire()))
        decide(client, review, f"match:{held.contactpoint_id}")
        assert Involvement.objects.get(child=held).service.local_authority == southshire()

    def test_a_row_matched_to_a_record_merged_since_joins_the_record_kept(self, client):
        candidate = make_child()
        review = feed_review(candidate)
        kept = make_child()
        children_merge(kept=kept, absorbed=candidate, by=None)
        sign_in(client, dana())
        decide(client, review, f"match:{candidate.contactpoint_id}")
        review.refresh_from_db()
        assert review.status == MatchReview.Status.MATCHED
        assert review.source_record.child == kept
        assert kept.addresses.filter(postcode="NE5 5AB").exists()

    def test_a_merge_whose_record_was_merged_on_is_undone_after_the_later_one(self, client):
        first, second, third = make_child(given_name="Ann"), make_child(), make_child()
        make_address(first, "NE5 5AB")
        earlier = children_merge(kept=second, absorbed=first, by=None)
        later = children_merge(kept=third, absorbed=second, by=None)
        sign_in(client, dana())
        response = client.post(
            reverse("directory:unmerge", args=[earlier.pk]), CONFIRM, follow=True
        )
        assert (
            f"{second.contactpoint_id_display} has since been merged into "
            f"{third.contactpoint_id_display}. Undo that merge first."
        ) in response.content.decode()
        first.refresh_from_db()
        assert first.status == Child.Status.MERGED, "nothing was undone"
        event = AuditEvent.objects.filter(
            path=reverse("directory:unmerge", args=[earlier.pk])
        ).latest("id")
        assert third.contactpoint_id in event.result_ids
        client.post(reverse("directory:unmerge", args=[later.pk]), CONFIRM)
        client.post(reverse("directory:unmerge", args=[earlier.pk]), CONFIRM)
        first.refresh_from_db()
        assert first.status == Child.Status.ACTIVE
        assert first.addresses.filter(postcode="NE5 5AB").exists()

    def test_a_merge_merged_on_since_is_refused_before_the_question_is_asked(self, client):
        """Dana is not asked whether she is sure of what will not be done: the list offers no
        Undo, and the link she kept says why, as the other refusals do."""
        first, second, third = make_child(given_name="Ann"), make_child(), make_child()
        earlier = children_merge(kept=second, absorbed=first, by=None)
        children_merge(kept=third, absorbed=second, by=None)
        sign_in(client, dana())
        refusal = (
            f"{second.contactpoint_id_display} has since been merged into "
            f"{third.contactpoint_id_display}. Undo that merge first."
        )
        undo = reverse("directory:unmerge", args=[earlier.pk])
        listed = client.get(reverse("directory:merges")).content.decode()
        assert refusal in listed and f'href="{undo}"' not in listed
        response = client.get(undo)
        assert response.status_code == 302 and response.url == reverse("directory:merges")
        assert refusal in client.get(response.url).content.decode()
        event = AuditEvent.objects.filter(path=undo).latest("id")
        assert event.detail == {"unmerge": earlier.pk, "refused": True}
        assert third.contactpoint_id in event.result_ids

    def test_the_list_names_in_its_event_a_later_merge_it_does_not_list(self, client):
        """The list shows the 50 newest merges; one of them may say its record has since been
        merged into a record that no listed merge names: the page's event lists it too."""
        first, second, third = make_child(given_name="Ann"), make_child(), make_child()
        earlier = children_merge(kept=second, absorbed=first, by=None)
        later = children_merge(kept=third, absorbed=second, by=None)
        Merge.objects.filter(pk=later.pk).update(merged_at=earlier.merged_at - timedelta(days=1))
        for _ in range(49):
            children_merge(kept=make_child(), absorbed=make_child(given_name="Ann"), by=None)
        sign_in(client, dana())
        listed = client.get(reverse("directory:merges")).content.decode()
        assert f"has since been merged into {third.contactpoint_id_display}" in listed
        event = AuditEvent.objects.filter(path=reverse("directory:merges")).latest("id")
        assert third.contactpoint_id in event.result_ids

    def test_a_merge_merged_on_while_she_answers_the_question_is_still_refused(
        self, client, monkeypatch
    ):
        first, second, third = make_child(given_name="Ann"), make_child(), make_child()
        earlier = children_merge(kept=second, absorbed=first, by=None)
        sign_in(client, dana())

        def merged_on_meanwhile(**kwargs):
            children_merge(kept=third, absorbed=Child.objects.get(pk=second.pk), by=None)
            return children_unmerge(**kwargs)

        monkeypatch.setattr("directory.feed_views.children_unmerge", merged_on_meanwhile)
        response = client.post(reverse("directory:unmerge", args=[earlier.pk]), CONFIRM)
        assert response.url == reverse("directory:merges")
        assert (
            f"{second.contactpoint_id_display} has since been merged into "
            f"{third.contactpoint_id_display}. Undo that merge first."
        ) in client.get(response.url).content.decode()
        first.refresh_from_db()
        assert first.status == Child.Status.MERGED, "nothing was undone"

    def test_an_la_is_told_whom_to_ask_when_its_merge_was_merged_on_across_las(self, client):
        first, second = make_child(given_name="Ann"), make_child()
        theirs = make_child(local_authority=southshire())
        earlier = children_merge(kept=second, absorbed=first, by=None)
        children_merge(kept=theirs, absorbed=second, by=None)
        sign_in(client, dana())
        response = client.post(
            reverse("directory:unmerge", args=[earlier.pk]), CONFIRM, follow=True
        )
        assert (
            f"{theirs.contactpoint_id_display}. It is a record of another local authority: ask "
            "the national data-quality team to undo that merge first."
        ) in response.content.decode()

    def test_every_change_a_feed_or_a_merge_makes_is_in_the_change_log(self):
        from auditlog.models import LogEntry

        from directory.models import ParentCarer

        carer_cells = {
            "carer_given_name": "Jo",
            "carer_family_name": "Quill",
            "carer_relationship": "mother",
            "carer_parental_responsibility": "yes",
        }
        la_import(la_system(**carer_cells))
        child = Child.objects.get()
        first_home = child.addresses.get()
        la_import(la_system(address_line_1="2 New Road", postcode="NE2 2AA"), name="la-2.csv")
        absorbed = make_child(given_name="Zed", family_name="Quill")
        moved = make_address(absorbed, "NE5 5AB")
        children_merge(kept=child, absorbed=absorbed, by=None)

        def changed(obj) -> list[set[str]]:
            return [set(entry.changes_dict) for entry in LogEntry.objects.get_for_object(obj)]

        carer = ParentCarer.objects.get()
        created = LogEntry.objects.get_for_object(carer).get()
        assert created.additional_data == {"child_ids": [child.pk]}, "in the child's history"
        assert {"ended_on"} in changed(first_home), "the feed ended the first home"
        assert {"child"} in changed(moved), "the merge moved the address"
        children_unmerge(merge=Merge.objects.get(), by=None)
        assert changed(moved).count({"child"}) == 2, "and the unmerge moved it back"

    def test_a_merge_moves_everything_and_an_unmerge_puts_it_back(self):
        kept, absorbed = make_child(), make_child(given_name="Amy")
        make_address(absorbed, "NE5 5AB")
        Involvement.objects.create(
            child=absorbed,
            service=make_service(name="School"),
            started_on=date(2020, 9, 1),
            source=Source.LA_SYSTEM,
        )
        ChildIdentifier.objects.create(child=absorbed, kind="upn", value=UPN_1)
        shield(absorbed)
        done = children_merge(kept=kept, absorbed=absorbed, by=None)
        absorbed.refresh_from_db()
        assert absorbed.status == "merged" and absorbed.merged_into == kept
        assert kept.addresses.filter(postcode="NE5 5AB").exists() and kept.identifiers.exists()
        assert kept.shields.filter(lifted_at__isnull=True).exists(), "the shield followed"
        assert kept.other_names.filter(given_name="Amy").exists()
        children_unmerge(merge=Merge.objects.get(pk=done.pk), by=None)
        absorbed.refresh_from_db()
        assert absorbed.status == "active" and absorbed.merged_into is None
        assert (
            absorbed.addresses.filter(postcode="NE5 5AB").exists() and not kept.addresses.exists()
        )
        assert not kept.other_names.filter(given_name="Amy").exists()

    def test_a_data_manager_merges_through_the_screens(self, client):
        kept, absorbed = make_child(), make_child(given_name="Amy")
        sign_in(client, dana())
        form = {"kept": kept.contactpoint_id, "absorbed": absorbed.contactpoint_id}
        preview = client.post(reverse("directory:merge"), form).content.decode()
        assert "Check these are the same child" in preview
        client.post(reverse("directory:merge"), {**form, "confirmed": "yes"})
        absorbed.refresh_from_db()
        assert absorbed.status == "merged"
        client.post(reverse("directory:unmerge", args=[Merge.objects.get().pk]), CONFIRM)
        absorbed.refresh_from_db()
        assert absorbed.status == "active"

    @pytest.mark.parametrize(
        ("hers", "told"),
        [
            ({"given_name": "Amy"}, None),
            ({"gender": "not_known"}, None),
            ({"date_of_birth": date(2013, 6, 2)}, "date of birth"),
            ({"gender": "male"}, "gender"),
            ({"gender": "male", "date_of_birth": date(2013, 6, 2)}, "date of birth and gender"),
        ],
    )
    def test_a_merge_of_records_that_disagree_on_who_she_is_warns_first(self, client, hers, told):
        kept = make_child(gender="female", date_of_birth=date(2015, 3, 14))
        absorbed = make_child(**{"gender": "female", "date_of_birth": date(2015, 3, 14), **hers})
        sign_in(client, dana())
        form = {"kept": kept.contactpoint_id, "absorbed": absorbed.contactpoint_id}
        preview = client.post(reverse("directory:merge"), form).content.decode()
        assert "Check these are the same child" in preview
        if told is None:
            assert "These records give a different" not in preview
        else:
            assert f"These records give a different {told}. Merge them only if" in preview


def manage(*arguments: str) -> tuple[int, str, str]:
    """A command run in the test's own database: its exit code, output and errors."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*arguments, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


class TestCheckBeforeUndoingAMerge:
    """GOV.UK's check before a destructive action: undoing a merge splits what practitioners
    see as one child back into two records, so Dana's first press asks."""

    @staticmethod
    def still_merged(done: Merge) -> bool:
        done.refresh_from_db()
        done.absorbed.refresh_from_db()
        return done.unmerged_at is None and done.absorbed.merged_into_id == done.kept_id

    def test_it_asks_first_and_changes_nothing(self, client):
        done = children_merge(kept=make_child(), absorbed=make_child(given_name="Amy"), by=None)
        sign_in(client, dana())
        url = reverse("directory:unmerge", args=[done.pk])
        kept, absorbed = done.kept.contactpoint_id_display, done.absorbed.contactpoint_id_display
        for first in (client.get(url), client.post(url)):
            html = first.content.decode()
            assert first.status_code == 200
            assert f"Are you sure you want to undo the merge of {absorbed} into {kept}?" in html
            assert "Practitioners will find two records again" in html
            assert 'class="govuk-button govuk-button--warning"' in html
            assert 'name="confirm" value="yes"' in html and "csrfmiddlewaretoken" in html
            assert f'href="{reverse("directory:merges")}">Cancel<' in html
            assert first["Cache-Control"].startswith("max-age=0")
        assert self.still_merged(done)
        assert not AuditEvent.objects.filter(action="change").exists()
        asked = AuditEvent.objects.filter(path=url).latest("id")
        assert asked.detail == {"page": "confirm_unmerge", "merge": done.pk}
        assert asked.result_ids == [done.kept.contactpoint_id, done.absorbed.contactpoint_id]

    def test_the_answer_undoes_it(self, client):
        done = children_merge(kept=make_child(), absorbed=make_child(given_name="Amy"), by=None)
        sign_in(client, dana())
        response = client.post(reverse("directory:unmerge", args=[done.pk]), CONFIRM)
        assert response.status_code == 302 and response.url == reverse("directory:merges")
        assert not self.still_merged(done)

    def test_the_merges_page_leads_to_the_question_not_to_the_action(self, client):
        done = children_merge(kept=make_child(), absorbed=make_child(given_name="Amy"), by=None)
        sign_in(client, dana())
        html = client.get(reverse("directory:merges")).content.decode()
        url = reverse("directory:unmerge", args=[done.pk])
        assert f'href="{url}"' in html and f'action="{url}"' not in html

    def test_outsiders_are_refused_either_step(self, client):
        """Another LA's data manager gets a 404; Priya, who merges nothing, a 403."""
        done = children_merge(kept=make_child(), absorbed=make_child(given_name="Amy"), by=None)
        url = reverse("directory:unmerge", args=[done.pk])
        other_la = make_user("dora", Role.DATA_MANAGER, organisation=southshire())
        for who, status in ((other_la, 404), (priya(), 403)):
            sign_in(client, who)
            assert client.get(url).status_code == status
            assert client.post(url, CONFIRM).status_code == status
        assert self.still_merged(done)


class TestWhatOnlyAnLaKnows:
    """An LA's system also says when a child has died, has consented to stay until 25, was
    known by another name, has no known address or has left England, and which sensitive
    services work with them (DESIGN.md "Data held")."""

    NOWHERE = {"address_line_1": "", "town": "", "postcode": ""}

    def dana_uploads(self, client, content: bytes, name: str) -> str:
        """Dana the data manager uploads an LA system file on the Feeds screen: its page."""
        sign_in(client, dana())
        return client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "la_system",
                "local_authority": northshire().pk,
                "file": SimpleUploadedFile(name, content, content_type="text/csv"),
            },
        ).content.decode()

    def test_death_consent_and_a_former_name(self):
        later = {"date_of_death": "2026-01-02", "consent_to_25": "yes"}
        la_import(la_system(**later, former_family_name="Smith"))
        child = Child.objects.get()
        assert (child.status, child.date_of_death) == ("deceased", date(2026, 1, 2))
        assert child.kept_to_25_with_consent
        former = child.other_names.get()
        assert (former.kind, former.given_name, former.family_name) == ("former", "Zed", "Smith")

    def test_a_consent_to_25_that_comes_after_she_was_archived_at_18_brings_her_back(self):
        """Archived at 18 for want of a consent, which her LA then records: she is live again,
        and found by practitioners, until 25."""
        born = {"date_of_birth": "2007-06-01"}
        la_import(la_system(**born), name="a.csv")
        lifecycle_apply(today=timezone.localdate())
        assert Child.objects.get().status == Child.Status.ARCHIVED
        la_import(la_system(**born, consent_to_25="yes"), name="b.csv")
        lifecycle_apply(today=timezone.localdate())
        child = Child.objects.get()
        assert (child.status, child.archived_on) == (Child.Status.ACTIVE, None)

    def test_a_consent_to_25_imported_while_the_lifecycle_job_archives_her_brings_her_back(
        self, monkeypatch
    ):
        """The nightly job archives her at 18 while her LA's file, read before it committed,
        records her consent: the file's row read her record as live, and wrote the consent
        alone, leaving her archived with a consent to 25 that no later file or job undid."""
        import directory.feed_import as feed_import_module

        born = {"date_of_birth": "2007-06-01"}
        la_import(la_system(**born), name="a.csv")
        names_apply = feed_import_module._names_apply

        def job_commits_meanwhile(*args, **kwargs):
            lifecycle_apply(today=timezone.localdate())
            return names_apply(*args, **kwargs)

        monkeypatch.setattr(feed_import_module, "_names_apply", job_commits_meanwhile)
        la_import(la_system(**born, consent_to_25="yes"), name="b.csv")
        child = Child.objects.get()
        assert child.kept_to_25_with_consent
        assert (child.status, child.archived_on) == (Child.Status.ACTIVE, None)

    def test_a_consent_to_25_does_not_bring_back_a_child_who_died(self):
        """Her record was archived a year after her death: a consent recorded late is no
        reason to show it again."""
        died = {"date_of_birth": "2007-06-01", "date_of_death": "2025-01-02"}
        la_import(la_system(**died), name="a.csv")
        lifecycle_apply(today=timezone.localdate())
        assert Child.objects.get().status == Child.Status.ARCHIVED
        la_import(la_system(**died, consent_to_25="yes"), name="b.csv")
        assert Child.objects.get().status == Child.Status.ARCHIVED

    def test_a_death_before_the_birthday_the_record_holds_is_refused_with_the_row(self, client):
        """Checked against the row's own birthday as the file is read; the record the row
        updates may hold a later one. The file is not imported, and says which row."""
        la_import(la_system(date_of_birth="2012-01-10"))
        later = la_system(date_of_birth="2012-01-01", date_of_death="2012-01-05", town="Newtown")
        page = self.dana_uploads(client, later, "later.csv")
        assert "The file was not imported" in page
        assert "2: date_of_death: before the date of birth ContactPoint holds" in page
        child = Child.objects.get()
        assert child.date_of_death is None and FeedImport.objects.count() == 1
        assert not child.addresses.filter(town="Newtown").exists(), "nothing half-applied"

    REFUSED_THEN_NEW = (
        la_system(date_of_birth="2012-01-01", date_of_death="2012-01-05")
        + (
            la_system(la_record_id="1002", given_name="Ada", family_name="Lovelace").split(
                b"\n", 1
            )[1]
        )
    )

    def test_leaving_out_rows_with_errors_leaves_out_such_a_row_too(self):
        la_import(la_system(date_of_birth="2012-01-10"))
        ticks: list[int] = []
        outcome = feed_import(
            source=Source.LA_SYSTEM, file_name="two.csv", content=self.REFUSED_THEN_NEW,
            local_authority=northshire(), by=None, skip_invalid=True, progress=ticks.append,
        )  # fmt: skip
        assert outcome.feed_import is not None and list(outcome.validation.rejected) == [2]
        assert dict(outcome.counts) == {"new_child": 1} and outcome.feed_import.rows_rejected == 1
        assert sum(ticks) == 2, "each row once"
        assert Child.objects.get(family_name="Quill").date_of_death is None
        assert Child.objects.filter(family_name="Lovelace").exists()

    def test_a_large_files_row_left_out_so_is_listed_with_why(self, client, settings):
        from directory.feed_import import waiting_uploads_import

        settings.FEED_WEB_IMPORT_ROWS = 1
        la_import(la_system(date_of_birth="2012-01-10"))
        sign_in(client, dana())
        client.post(
            reverse("directory:feeds"),
            {**extracted_today(), "source": "la_system", "local_authority": northshire().pk,
             "skip_invalid": "on",
             "file": SimpleUploadedFile("big.csv", self.REFUSED_THEN_NEW, content_type="text/csv")},
        )  # fmt: skip
        waiting_uploads_import()
        page = client.get(reverse("directory:feeds")).content.decode()
        assert "1 new child" in page
        assert "2: date_of_death: before the date of birth ContactPoint holds" in page

    def test_a_death_before_the_chosen_records_birthday_is_not_matched_to_it(self, client):
        chosen = make_child(date_of_birth=date(2015, 4, 1))
        review = feed_review(chosen)
        SourceRecord.objects.filter(pk=review.source_record_id).update(
            payload={**review.source_record.payload, "date_of_death": "2015-03-20"}
        )
        sign_in(client, dana())
        page = decide(client, review, f"match:{chosen.contactpoint_id}")
        html = page.content.decode()
        # The decision shown again, refused on its radios (tests/test_govuk_refusals.py).
        assert page.status_code == 200 and '<a href="#id_choice">' in html
        assert "cannot be that child" in html
        chosen.refresh_from_db()
        review.refresh_from_db()
        assert chosen.date_of_death is None and review.status == "open"

    def test_no_known_address_then_left_england_take_the_place_of_the_feeds_address(self):
        la_import(la_system())
        child = Child.objects.get()
        la_import(la_system(address_status="no_known_address", **self.NOWHERE), name="2.csv")
        current = child.addresses.get(ended_on__isnull=True)
        assert current.kind == "no_known_address" and current.postcode == ""
        assert child.addresses.get(postcode="NE1 1AA").ended_on is not None
        back = (timezone.localdate() + timedelta(days=400)).isoformat()
        la_import(
            la_system(address_status="left_england", expected_return_by=back, **self.NOWHERE),
            name="3.csv",
        )
        current = child.addresses.get(ended_on__isnull=True)
        assert current.kind == "left_england" and current.expected_return_by.isoformat() == back

    def test_a_sensitive_service_is_recorded_with_its_basis_and_seen_only_by_the_team(self, client):
        la_import(la_system(service_kind="mental_health", sensitive_basis="consent"))
        involvement = Involvement.objects.get()
        assert (involvement.sensitive_category, involvement.sensitive_basis) == (
            "mental_health",
            "consent",
        )
        record = reverse("directory:child_record", args=[Child.objects.get().contactpoint_id])
        sign_in(client, priya())
        assert "Mental health" not in client.get(record).content.decode()
        sign_in(client, sam())
        assert "Mental health" in client.get(record).content.decode()

    HARM = {"service_kind": "mental_health", "sensitive_basis": "significant_harm"}

    def involvement_changes(self, involvement):
        from auditlog.models import LogEntry

        return [entry.changes_dict for entry in LogEntry.objects.get_for_object(involvement)]

    def test_the_reason_for_a_sensitive_service_is_recorded_and_a_later_row_changes_it(self):
        """DESIGN.md "Data held": a sensitive service is recorded with the child's consent or
        where significant harm is suspected, "the reason is recorded"."""
        first = la_system(**self.HARM, sensitive_reason="  Disclosed to the school nurse  ")
        la_import(first, name="a.csv")
        involvement = Involvement.objects.get()
        assert involvement.sensitive_basis_note == "Disclosed to the school nurse", "trimmed"
        logged = len(self.involvement_changes(involvement))
        assert la_import(first, name="a.csv").already_imported
        # The same row in another file (another header order) changes nothing either.
        same = la_system(**self.HARM, sensitive_reason="Disclosed to the school nurse")
        la_import(same + b"\r\n", name="b.csv")
        assert len(self.involvement_changes(involvement)) == logged, "nothing changed"
        la_import(la_system(**self.HARM, sensitive_reason="Police referral"), name="c.csv")
        involvement.refresh_from_db()
        assert involvement.sensitive_basis_note == "Police referral"
        assert self.involvement_changes(involvement)[0]["sensitive_basis_note"] == [
            "Disclosed to the school nurse",
            "Police referral",
        ], "in the change log, who changed what from what to what"
        la_import(la_system(service_kind="mental_health", sensitive_basis="consent"), name="d.csv")
        involvement.refresh_from_db()
        assert (involvement.sensitive_basis, involvement.sensitive_basis_note) == ("consent", "")
        assert Involvement.objects.count() == 1

    def test_a_row_suspecting_harm_without_a_reason_refuses_the_whole_file(self, client):
        """Dana uploads a file whose second record gives no reason: nothing of the file is
        applied, and the report names the row."""
        good = la_system(**self.HARM, sensitive_reason="Disclosed to the school nurse")
        bad = la_system(**self.HARM, la_record_id="1002", given_name="Amy")
        page = self.dana_uploads(client, good + bad.split(b"\r\n", 1)[1], "harm.csv")
        assert "The file was not imported" in page
        assert "3: sensitive_reason: required when sensitive_basis is significant_harm" in page
        assert not Child.objects.exists() and not Involvement.objects.exists()

    @staticmethod
    def without_reason(**cells: str) -> bytes:
        """A file of the format before the ``sensitive_reason`` column."""
        lines = la_system(**cells).decode().splitlines()
        rows = list(csv.DictReader(lines))
        out = io.StringIO()
        writer = csv.DictWriter(out, [c for c in rows[0] if c != "sensitive_reason"])
        writer.writeheader()
        writer.writerow({k: v for k, v in rows[0].items() if k != "sensitive_reason"})
        return out.getvalue().encode()

    def test_a_file_without_the_reason_column_keeps_the_reason_recorded(self):
        """A file of the older format says nothing of the reason: the one a later file of the
        LA's system recorded for a consent stays, as the change log shows (no change)."""
        consent = {"service_kind": "mental_health", "sensitive_basis": "consent"}
        la_import(la_system(**consent, sensitive_reason="Asked at the clinic"), name="a.csv")
        involvement = Involvement.objects.get()
        logged = len(self.involvement_changes(involvement))
        la_import(self.without_reason(**consent, caf_held="yes"), name="b.csv")
        involvement.refresh_from_db()
        assert involvement.caf_held, "the rest of the row is applied"
        assert involvement.sensitive_basis_note == "Asked at the clinic"
        assert "sensitive_basis_note" not in self.involvement_changes(involvement)[0]
        assert len(self.involvement_changes(involvement)) == logged + 1

    def test_suspected_harm_written_in_capitals_still_needs_a_reason_without_the_column(self):
        """A code may be written in any case (docs/feeds.md): 'Significant_Harm' in a file of
        the older format is suspected harm all the same, and is refused without a reason."""
        for written in ("Significant_Harm", "SIGNIFICANT_HARM"):
            refused = la_import(
                self.without_reason(service_kind="mental_health", sensitive_basis=written)
            )
            assert "Row 2: sensitive_reason: required when sensitive_basis is significant_harm" in (
                error_report(refused.validation.errors)
            ), written
            assert not Involvement.objects.exists(), written

    def test_a_file_without_the_reason_column_still_needs_one_where_harm_is_suspected(self):
        """A file of the format before the column: consent needs no reason, suspected harm
        does. A row stored before the column existed is still read (for a review, a
        separation) as it was then."""
        from directory.feed_import import known_codes
        from directory.feeds import feed_row

        without_reason = self.without_reason
        refused = la_import(without_reason(**self.HARM))
        assert "Row 2: sensitive_reason: required when sensitive_basis is significant_harm" in (
            error_report(refused.validation.errors)
        )
        assert not Child.objects.exists()
        consent = la_import(without_reason(service_kind="mental_health", sensitive_basis="consent"))
        assert dict(consent.counts) == {"new_child": 1}
        stored = next(csv.DictReader(without_reason(**self.HARM).decode().splitlines()))
        row = feed_row(Source.LA_SYSTEM, 0, stored, today=timezone.localdate(), known=known_codes())
        assert row.service is not None and row.service["sensitive_basis"] == "significant_harm"

    def test_the_reason_is_shown_only_to_those_who_see_the_sensitive_service(self, client):
        """Sam the shielding officer brokers contact for it and reads why it is held; Priya
        the practitioner sees neither the service nor the reason."""
        la_import(la_system(**self.HARM, sensitive_reason="Disclosed to the school nurse"))
        record = reverse("directory:child_record", args=[Child.objects.get().contactpoint_id])
        sign_in(client, sam())
        page = client.get(record).content.decode()
        assert "Recorded because" in page
        assert "Significant harm is suspected: Disclosed to the school nurse" in page
        sign_in(client, priya())
        page = client.get(record).content.decode()
        assert "Recorded because" not in page and "school nurse" not in page
        assert "Significant harm" not in page

    def test_a_consent_is_shown_as_the_reason_a_service_is_held(self, client):
        la_import(la_system(service_kind="sexual_health", sensitive_basis="consent"))
        record = reverse("directory:child_record", args=[Child.objects.get().contactpoint_id])
        sign_in(client, sam())
        page = client.get(record).content.decode()
        assert "Recorded because" in page and "The child (or a parent) consented" in page

    def test_the_reason_and_its_changes_stay_out_of_the_auditors_change_history(self, client):
        """Ada the auditor reads the child's change history: the involvement's entries, the
        reason among them, are left out (shielding/policy.py ``changes_shown``); an auditor
        who is also the LA's shielding officer reads them."""
        la_import(la_system(**self.HARM, sensitive_reason="Disclosed to the school nurse"))
        la_import(la_system(**self.HARM, sensitive_reason="Police referral"), name="b.csv")
        assert Involvement.objects.get().sensitive_basis_note == "Police referral"
        history = reverse("audit:child_history", args=[Child.objects.get().contactpoint_id])
        sign_in(client, ada())
        page = client.get(history).content.decode()
        assert "school nurse" not in page and "Police referral" not in page
        assert "Sensitive basis" not in page
        sign_in(client, make_user("sasha", Role.AUDITOR, Role.SHIELDING_OFFICER))
        page = client.get(history).content.decode()
        assert "school nurse" in page and "Police referral" in page

    def test_a_rejected_rows_reason_never_hands_a_spreadsheet_a_formula(self, tmp_path):
        """The rejected-rows report carries the row's cells, the reason as the other
        sensitive columns, each made inert as every free-text cell is."""
        formula = '=HYPERLINK("http://example.com","Open")'
        good = la_system(la_record_id="1002", given_name="Amy")
        bad = la_system(service_kind="early_help", sensitive_reason=formula)
        path = tmp_path / "la.csv"
        path.write_bytes(good + bad.split(b"\r\n", 1)[1])
        northshire()
        import_feed_today("--source", "la_system",
            "--local-authority", "E06000099",
            "--skip-invalid", str(path),
        )  # fmt: skip
        report = list(csv.DictReader((tmp_path / "la.csv.rejected.csv").open()))
        assert report[0]["sensitive_reason"] == "'" + formula
        assert report[0]["errors"].startswith("sensitive_reason: only for a sensitive service")

    @pytest.mark.parametrize(
        ("cells", "message"),
        [
            ({"address_status": "somewhere"}, "address_status: unknown code 'somewhere'"),
            (
                {"address_status": "no_known_address"},
                "postcode: must be empty when address_status is no_known_address",
            ),
            (
                {"expected_return_by": "2027-01-01"},
                "expected_return_by: only when address_status is left_england",
            ),
            (
                {"address_status": "left_england", "expected_return_by": "2099-01-01",
                 "address_line_1": "", "town": "", "postcode": ""},
                "expected_return_by: must be within the next 3 years",
            ),
            ({"date_of_death": "2011-01-01"}, "date_of_death: before the date of birth"),
            ({"consent_to_25": "maybe"}, "consent_to_25: 'maybe' is not yes or no"),
            ({"service_kind": "mental_health"}, "sensitive_basis: a sexual health, mental"),
            (
                {"service_kind": "early_help", "sensitive_basis": "consent"},
                "sensitive_basis: only for a sensitive service_kind",
            ),
            ({"sensitive_basis": "consent"}, "sensitive_basis: only for a sexual health"),
            (
                {"service_kind": "mental_health", "sensitive_basis": "significant_harm"},
                "Row 2: sensitive_reason: required when sensitive_basis is significant_harm",
            ),
            (
                {"service_kind": "mental_health", "sensitive_basis": "significant_harm",
                 "sensitive_reason": "   "},
                "Row 2: sensitive_reason: required when sensitive_basis is significant_harm",
            ),
            (
                {"service_kind": "early_help", "sensitive_reason": "Asked"},
                "Row 2: sensitive_reason: only for a sensitive service_kind, not 'early_help'",
            ),
            (
                {"sensitive_reason": "Asked"},
                "Row 2: sensitive_reason: only for a sexual health, mental health or substance "
                "misuse service_kind",
            ),
            (
                {"service_kind": "mental_health", "sensitive_basis": "significant_harm",
                 "sensitive_reason": "Disclosed\x1b[2J at school"},
                "Row 2: sensitive_reason: contains a control character",
            ),
            (
                {"service_kind": "mental_health", "sensitive_basis": "consent",
                 "sensitive_reason": "x" * 501},
                "Row 2: sensitive_reason: longer than 500 characters",
            ),
            (
                {"service_kind": "mental_health", "sensitive_basis": "consent",
                 "lead_professional": "yes"},
                "lead_professional: a sexual health, mental health or substance misuse service "
                "cannot be the lead professional",
            ),
        ],
    )  # fmt: skip
    def test_bad_values_are_refused_by_row(self, cells, message):
        outcome = la_import(la_system(**cells))
        assert message in error_report(outcome.validation.errors)
        assert not Child.objects.exists()

    def test_files_without_the_newer_columns_are_still_read(self):
        from directory.feeds import ADDED_LATER

        header = [c for c in COLUMNS[Source.LA_SYSTEM] if c not in ADDED_LATER]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        row = dict.fromkeys(header, "")
        row.update(la_record_id="7", given_name="Ann", family_name="Lee",
                   date_of_birth="2014-02-02", gender="female", address_line_1="1 Road",
                   town="Town", postcode="NE1 1AA")  # fmt: skip
        writer.writerow([row[c] for c in header])
        assert dict(la_import(out.getvalue().encode()).counts) == {"new_child": 1}


class TestServiceRegister:
    def register(self, tmp_path, *rows: str) -> str:
        from directory.service_register import COLUMNS

        path = tmp_path / "register.csv"
        path.write_text("\n".join([",".join(COLUMNS), *rows]) + "\n")
        return str(path)

    def test_a_fresh_service_can_take_census_and_gp_files_once_the_register_is_loaded(
        self, tmp_path
    ):
        samples = Path(settings.BASE_DIR) / "docs" / "samples"
        Organisation.objects.create(
            code="E08000003", name="Manchester", kind=Organisation.Kind.LOCAL_AUTHORITY,
            team_phone="0161 496 0999", team_email="contactpoint@manchester.example.gov.uk",
        )  # fmt: skip
        census_file = (samples / "school_census.csv").read_bytes()
        before = load(census_file)
        assert "unknown school '100000'" in error_report(before.validation.errors)
        code, said, problems = manage("import_services", str(samples / "services.csv"))
        assert code == 0, problems
        assert "Loaded 4 services from services.csv: 4 added." in said
        school = Service.objects.get(kind="school", identifier="100000")
        assert school.local_authority.code == "E08000003" and school.postcode == "M14 6PL"
        assert load(census_file).feed_import is not None, "the census now names known schools"
        gp_file = (samples / "gp_registration.csv").read_bytes()
        gp = feed_import(
            source=Source.GP_REGISTRATION, file_name="gp.csv", content=gp_file,
            local_authority=None, by=None,
        )  # fmt: skip
        assert gp.feed_import is not None, error_report(gp.validation.errors)
        assert "4 unchanged" in manage("import_services", str(samples / "services.csv"))[1]

    def test_a_register_with_errors_changes_nothing(self, tmp_path):
        path = self.register(
            tmp_path,
            "school,12345,Short URN School,,,,,,,",
            "gp_practice,P81000,Practice,,,,NOWHERE,,not-an-email,E99999999",
            "hospital,X1,Somewhere,,,,,,,",
            "school,100001,,,,,,,,",
            "gp_practice,P81001,First,,,,,,,",
            "gp_practice,P81001,Again,,,,,,,",
            "",
            "school,100009,Too short",
        )
        code, _, problems = manage("import_services", path)
        assert code == 1 and "Nothing has changed" in problems
        for expected in (
            "Row 2: identifier: '12345' is not a 6-digit URN",
            "Row 3: postcode: 'NOWHERE' is not a UK postcode",
            "Row 3: email: 'not-an-email' is not an email address",
            "Row 3: local_authority: no local authority has the code 'E99999999'",
            "Row 4: kind: 'hospital' is not one of",
            "Row 5: name: required but empty",
            "Row 7: the same gp_practice P81001 as row 6",
            "Row 9: the row has a different number of fields from the header",
        ):
            assert expected in problems, expected
        assert not Service.objects.exists()

    @pytest.mark.parametrize("phone", ["n/a", "ask at reception", "0161 496"])
    def test_a_phone_that_is_not_a_number_is_an_error_and_changes_nothing(self, tmp_path, phone):
        """A service's phone is shown on the records of the children it works with."""
        manage("import_services", self.register(tmp_path, "school,100000,Ashgrove,,,,,,,"))
        before = list(Service.objects.values_list("identifier", "name", "phone"))
        path = self.register(
            tmp_path,
            "school,100000,Ashgrove Primary School,,,,,0161 496 0000,,",
            f"school,100001,Stockport Road Primary School,,,,,{phone},,",
        )
        code, _, problems = manage("import_services", path)
        assert code == 1 and "Nothing has changed" in problems
        assert (
            f"Row 3: phone: {phone!r} is not a telephone number (write one like 01632 960 001, "
            '07700 900 982 or +44 808 157 0192; several between "/")'
        ) in problems
        assert list(Service.objects.values_list("identifier", "name", "phone")) == before

    def test_a_phone_as_people_write_one_is_loaded_and_one_too_long_is_reported_once(
        self, tmp_path
    ):
        numbers = ("0161 496 0000", "(0161) 496-0001 ext 12", "+44 161 496 0002", "")
        path = self.register(
            tmp_path,
            *(f"school,10000{n},School {n},,,,,{phone},," for n, phone in enumerate(numbers)),
        )
        assert manage("import_services", path)[0] == 0
        assert list(Service.objects.order_by("identifier").values_list("phone", flat=True)) == list(
            numbers
        )
        too_long = self.register(tmp_path, f"school,100009,School 9,,,,,{'0' * 41},,")
        problems = manage("import_services", too_long)[2]
        assert "Row 2: phone: longer than 40 characters\n" in problems
        assert "not a telephone number" not in problems

    def test_a_control_character_is_an_error_and_a_cell_over_two_lines_is_one_line(self, tmp_path):
        """A name with a bell or an escape in it would be shown on child records as it came;
        a line break in a spreadsheet cell is layout, as in a feed's rows."""
        bad = self.register(tmp_path, "school,100000,Ashgrove\x07 School,,,,,,,")
        code, _, problems = manage("import_services", bad)
        assert (
            code == 1
            and ("Row 2: name: contains a control character, which no name or code has") in problems
        )
        assert not Service.objects.exists()
        good = self.register(tmp_path, '"school","100000","Ashgrove\r\nPrimary School",,,,,,,')
        assert manage("import_services", good)[0] == 0
        assert Service.objects.get().name == "Ashgrove Primary School"

    def test_a_postcode_too_long_is_reported_once(self, tmp_path):
        path = self.register(tmp_path, f"school,100000,Ashgrove,,,,{'N' * 101},,,")
        problems = manage("import_services", path)[2]
        assert "Row 2: postcode: longer than 100 characters\n" in problems
        assert "not a UK postcode" not in problems

    def test_bad_arguments_are_one_line_and_exit_code_2(self, tmp_path):
        done = run_manage("import_services", str(tmp_path / "missing.csv"))
        assert done.returncode == 2 and done.stderr.count("\n") == 1


class TestUploadScreen:
    @staticmethod
    def big_census(client, content: bytes) -> str:
        """The upload page after Northshire's census file big.csv, extracted today."""
        return client.post(
            reverse("directory:feeds"),
            {**extracted_today(), "source": "school_census", "local_authority": northshire().pk,
             "file": SimpleUploadedFile("big.csv", content, content_type="text/csv")},
        ).content.decode()  # fmt: skip

    def test_the_lists_name_the_data_manager_not_her_username(self, client, school, settings):
        """Dana Whitfield sees her name beside the files she sent and the merges she made, as
        every other page names people: a username is for signing in."""
        settings.FEED_WEB_IMPORT_ROWS = 1
        manager = dana()
        manager.last_name = "Whitfield"
        manager.save(update_fields=["last_name"])
        sign_in(client, manager)
        self.big_census(client, census({}, {"upn": upn("352214300102"), "given_name": "Ella"}))
        call_command("import_waiting_feeds", stdout=io.StringIO())
        children_merge(kept=make_child(), absorbed=make_child(given_name="Ann"), by=manager)
        for page, rows in (("directory:feeds", 2), ("directory:merges", 1)):
            html = client.get(reverse(page)).content.decode()
            assert html.count('<td class="govuk-table__cell">Dana Whitfield</td>') == rows, page
            assert '<td class="govuk-table__cell">dana</td>' not in html

    def test_a_data_manager_uploads_a_file(self, client, school):
        sign_in(client, dana())
        upload = SimpleUploadedFile("census.csv", census({}), content_type="text/csv")
        html = client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "school_census",
                "local_authority": northshire().pk,
                "file": upload,
            },
        ).content.decode()
        assert "File imported" in html and Child.objects.count() == 1

    def test_it_says_new_children_in_plain_english(self, client, school):
        """Two new children read "2 new children", after the upload and in the recent imports."""
        sign_in(client, dana())
        ella = {"upn": upn("352214300102"), "given_name": "Ella", "date_of_birth": "2013-02-27"}
        html = self.big_census(client, census({}, ella))
        assert Child.objects.count() == 2
        assert "2 new children." in html
        assert "2 new children</td>" in html
        assert "new child." not in html and "new child</td>" not in html

    def test_every_outcome_of_more_than_one_row_reads_as_plural(self):
        from directory.models import EXTRACTED_BEFORE, PURGED, FeedImport

        told = FeedImport.describe({PURGED: 2, EXTRACTED_BEFORE: 3, "new_child": 1})
        assert told == (
            "1 new child, 3 not applied as files extracted later sent their records, "
            "2 not imported as their records were purged"
        )

    def test_a_large_file_is_checked_now_and_imported_within_minutes(
        self, client, school, settings
    ):
        from directory.models import FeedUpload

        settings.FEED_WEB_IMPORT_ROWS = 1
        manager = dana()
        sign_in(client, manager)
        content = census({}, {"upn": upn("352214300102"), "given_name": "Ella"})
        upload = SimpleUploadedFile("big.csv", content, content_type="text/csv")
        html = client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "school_census",
                "local_authority": northshire().pk,
                "file": upload,
            },
        ).content.decode()
        assert "File waiting to be imported" in html and "2 rows checked" in html
        assert not Child.objects.exists(), "not while the data manager waits"
        waiting = FeedUpload.objects.get()
        other = make_user("dora", Role.DATA_MANAGER, organisation=southshire())
        elsewhere = client.__class__()
        sign_in(elsewhere, other)
        assert "big.csv" not in elsewhere.get(reverse("directory:feeds")).content.decode()
        assert "big.csv" in client.get(reverse("directory:feeds")).content.decode()
        said = io.StringIO()
        call_command("import_waiting_feeds", stdout=said)
        assert "big.csv: imported." in said.getvalue()
        waiting.refresh_from_db()
        assert waiting.status == FeedUpload.Status.IMPORTED and bytes(waiting.content) == b""
        assert waiting.feed_import.rows_read == 2 and waiting.feed_import.imported_by == manager
        assert Child.objects.exists() and waiting.result == waiting.feed_import.outcome_text
        done = AuditEvent.objects.filter(detail__upload=waiting.pk, path="").get()
        assert done.user_id == manager.pk and (done.detail or {}).get("imported") is True

    def test_a_file_too_large_to_check_waits_and_is_checked_as_it_is_imported(
        self, client, school, settings
    ):
        """A file of about 45 MB took 74 to 171 s to check while the data manager waited,
        past gunicorn's 30 s: she got no page, and the file was neither imported nor kept."""
        from directory.models import FeedUpload

        settings.FEED_WEB_CHECK_BYTES = 100
        manager = dana()
        sign_in(client, manager)
        content = census({}, {"upn": upn("352214300102"), "given_name": "Ella"})
        assert len(content) > 100
        html = self.big_census(client, content)
        assert "File waiting to be checked and imported" in html and "Not counted yet" in html
        waiting = FeedUpload.objects.get()
        assert waiting.rows is None and not Child.objects.exists()
        queued = AuditEvent.objects.get(detail__action="queue_feed").detail or {}
        assert queued["upload"] == waiting.pk
        assert queued["file_sha256"] == hashlib.sha256(content).hexdigest()
        call_command("import_waiting_feeds", stdout=io.StringIO())
        waiting.refresh_from_db()
        assert waiting.status == FeedUpload.Status.IMPORTED and waiting.rows == 2
        assert Child.objects.exists() and waiting.feed_import.imported_by == manager
        assert ">2</td>" in client.get(reverse("directory:feeds")).content.decode()

    def test_a_file_too_large_to_check_with_errors_is_not_imported_and_says_why(
        self, client, school, settings
    ):
        from directory.models import FeedUpload

        settings.FEED_WEB_CHECK_BYTES = 100
        sign_in(client, dana())
        content = census({}, {"upn": upn("352214300102"), "gender": "x"})
        self.big_census(client, content)
        call_command("import_waiting_feeds", stdout=io.StringIO())
        upload = FeedUpload.objects.get()
        result = upload.result.splitlines()
        assert upload.status == FeedUpload.Status.NOT_IMPORTED and not Child.objects.exists()
        assert result[0] == (
            "The file has errors: correct them and upload it again, or leave those rows out."
        )
        assert result[1].startswith("Row 3: gender: unknown code") and len(result) == 2
        assert upload.rows == 2 and bytes(upload.content) == b""
        page = client.get(reverse("directory:feeds")).content.decode()
        assert "Row 3: gender: unknown code" in page

    @pytest.mark.parametrize(
        ("content", "said"),
        [
            (b"PK\x03\x04" + bytes(range(256)) * 4, "Row 1: the file is a spreadsheet workbook"),
            (la_system(given_name="Ella"), "these are the columns of a local authority system"),
        ],
        ids=["a workbook", "another feed's file"],
    )
    def test_a_file_too_large_to_check_that_is_not_the_feeds_csv_is_refused_at_once(
        self, client, settings, content, said
    ):
        """A workbook uploaded for its CSV, or a file of another feed, waited minutes to be
        told what the page can tell at once, whatever the file's size: Dana had gone."""
        settings.FEED_WEB_CHECK_BYTES = 100
        sign_in(client, dana())
        page = self.big_census(client, content)
        assert said in page and "The file has errors: correct them" not in page
        assert "The file cannot be read as this feed&#x27;s file: correct its header" in page
        assert "File waiting" not in page and not FeedUpload.objects.exists()

    def test_the_upload_page_does_not_read_the_files_waiting(self, client, settings):
        """Every view of the page read each waiting file whole from the database (a file too
        large to check can be 50 MB, and 20 were listed): the page was as slow as the files
        were large, and a few large files could exhaust the web server's memory."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        settings.FEED_WEB_CHECK_BYTES = 100
        sign_in(client, dana())
        content = census({}, {"upn": upn("352214300102"), "given_name": "Ella"})
        self.big_census(client, content)
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("directory:feeds")).content.decode()
        assert "big.csv" in page and "Waiting to be imported" in page
        read = [q["sql"] for q in queries.captured_queries if "feedupload" in q["sql"]]
        assert read and not [sql for sql in read if '"directory_feedupload"."content"' in sql]

    def test_a_waiting_files_long_report_says_how_much_it_does_not_show(self, school):
        """Cut at 10,000 characters, the report of rows left out stopped mid-row, and did not
        say that hundreds more were left out."""
        from directory.feed_import import feed_check, feed_upload_queue, waiting_uploads_import
        from directory.models import FeedUpload

        rows = [{"upn": upn(f"3522143{n:05d}"), "gender": "x"} for n in range(400)]
        content = census({}, *rows)
        checked = feed_check(source=Source.SCHOOL_CENSUS, content=content, skip_invalid=True)
        feed_upload_queue(
            source=Source.SCHOOL_CENSUS, file_name="big.csv", content=content,
            rows=checked.validation.rows_read, local_authority=northshire(), by=dana(),
            skip_invalid=True,
        )  # fmt: skip
        waiting_uploads_import()
        result = FeedUpload.objects.get().result.splitlines()
        assert len("\n".join(result)) <= 10_000
        assert result[0] == "1 new child" and result[1].startswith("Row 3: gender: unknown code")
        assert [line for line in result[1:-1] if not line.endswith("not_known)")] == []
        shown = len(result) - 2
        assert result[-1] == f"... and {400 - shown} more errors, not shown here"

    @pytest.mark.parametrize("since", ["suspended", "no longer a data manager", "moved LA"])
    def test_a_waiting_file_is_not_imported_for_someone_who_may_no_longer(
        self, client, school, settings, since
    ):
        from accounts.services import user_suspend
        from directory.feed_import import waiting_uploads_import
        from directory.models import FeedUpload

        settings.FEED_WEB_IMPORT_ROWS = 1
        manager = dana()
        sign_in(client, manager)
        content = census({}, {"upn": upn("352214300102"), "given_name": "Ella"})
        self.big_census(client, content)
        if since == "suspended":
            user_suspend(user=manager)
        elif since == "no longer a data manager":
            manager.roles = [Role.PRACTITIONER]
            manager.save()
        else:
            manager.organisation = southshire()
            manager.save()
        waiting_uploads_import()
        upload = FeedUpload.objects.get()
        assert upload.status == FeedUpload.Status.NOT_IMPORTED and "Not imported" in upload.result
        assert not Child.objects.exists() and bytes(upload.content) == b""

    def test_a_file_never_checked_is_not_said_to_wait_to_be_counted(self, client, settings):
        """Its uploader suspended before the command ran, the file was set aside unread: the
        list said "Not counted yet", as if it were still to be."""
        from accounts.services import user_suspend
        from directory.feed_import import waiting_uploads_import

        settings.FEED_WEB_CHECK_BYTES = 10
        manager = dana()
        sign_in(client, manager)
        client.post(
            reverse("directory:feeds"),
            {**extracted_today(), "source": "school_census", "local_authority": northshire().pk,
             "file": SimpleUploadedFile("big.csv", census({}), content_type="text/csv")},
        )  # fmt: skip
        user_suspend(user=manager)
        waiting_uploads_import()
        sign_in(client, make_user("dora", Role.DATA_MANAGER, organisation=northshire()))
        page = client.get(reverse("directory:feeds")).content.decode()
        assert "big.csv" in page and ">Not counted</td>" in page and "Not counted yet" not in page

    def test_a_waiting_national_file_is_not_imported_once_its_uploader_joins_an_la(
        self, client, settings
    ):
        from directory.feed_import import waiting_uploads_import
        from directory.models import FeedUpload

        settings.FEED_WEB_IMPORT_ROWS = 1
        manager = make_user("nat", Role.DATA_MANAGER, organisation=operator())
        sign_in(client, manager)
        benefit = (Path(settings.BASE_DIR) / "docs" / "samples" / "child_benefit.csv").read_bytes()
        client.post(
            reverse("directory:feeds"),
            {**extracted_today(), "source": "child_benefit", "local_authority": northshire().pk,
             "file": SimpleUploadedFile("benefit.csv", benefit, content_type="text/csv")},
        )  # fmt: skip
        manager.organisation = northshire()
        manager.save()
        waiting_uploads_import()
        upload = FeedUpload.objects.get()
        assert upload.status == FeedUpload.Status.NOT_IMPORTED
        assert "no longer works on national feeds" in upload.result
        assert not Child.objects.exists()

    def test_a_waiting_file_that_fails_is_set_aside_and_the_next_imported(
        self, client, school, settings, monkeypatch
    ):
        from directory import feed_import as importer
        from directory.models import FeedUpload

        settings.FEED_WEB_IMPORT_ROWS = 1
        sign_in(client, dana())
        for name, row in (("first.csv", {}), ("second.csv", {"upn": upn("352214300103")})):
            content = census(row, {"upn": upn("352214300102"), "given_name": "Ella"})
            client.post(
                reverse("directory:feeds"),
                {**extracted_today(), "source": "school_census", "local_authority": northshire().pk,
                 "file": SimpleUploadedFile(name, content, content_type="text/csv")},
            )  # fmt: skip
        real = importer.feed_import

        def failing_first(**arguments):
            if arguments["file_name"] == "first.csv":
                raise RuntimeError("disk full")
            return real(**arguments)

        monkeypatch.setattr(importer, "feed_import", failing_first)
        importer.waiting_uploads_import()
        first, second = FeedUpload.objects.order_by("pk")
        assert first.status == FeedUpload.Status.NOT_IMPORTED and "went wrong" in first.result
        assert second.status == FeedUpload.Status.IMPORTED
        assert "went wrong" in client.get(reverse("directory:feeds")).content.decode()

    def test_the_access_log_names_a_file_by_its_digest_not_its_name(self, client, school):
        """A file's name is the uploader's free text (it could name a street); the access log
        outlives any shield, so it records the file's digest and records instead."""
        sign_in(client, dana())
        content = census({})
        upload = SimpleUploadedFile("Hart-14 Ashgrove Road.csv", content, content_type="text/csv")
        client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "school_census",
                "local_authority": northshire().pk,
                "file": upload,
            },
        )
        detail = AuditEvent.objects.filter(path="/feeds/", method="POST").latest("id").detail or {}
        assert "Ashgrove" not in str(detail)
        assert detail["file_sha256"] == hashlib.sha256(content).hexdigest()
        assert detail["feed_import"] == FeedImport.objects.get().pk

    def test_only_the_national_team_uploads_child_benefit_and_gp_files(self, client):
        """An LA's data manager sends their LA's census and system files; a file from HMRC or
        the NHS comes through the national team, so an LA cannot pass one off and change
        other LAs' children with it."""
        benefit = (Path(settings.BASE_DIR) / "docs" / "samples" / "child_benefit.csv").read_bytes()
        sign_in(client, dana())
        offered = client.get(reverse("directory:feeds")).content.decode()
        assert 'value="school_census"' in offered and 'value="la_system"' in offered
        assert 'value="child_benefit"' not in offered and 'value="gp_registration"' not in offered
        upload = SimpleUploadedFile("benefit.csv", benefit, content_type="text/csv")
        html = client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "child_benefit",
                "local_authority": northshire().pk,
                "file": upload,
            },
        ).content.decode()
        assert "uploaded by the national data-quality team" in html
        assert not FeedImport.objects.exists() and not Child.objects.exists()
        national = make_user("nat", Role.DATA_MANAGER, organisation=operator())
        sign_in(client, national)
        upload = SimpleUploadedFile("benefit.csv", benefit, content_type="text/csv")
        html = client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "child_benefit",
                "local_authority": northshire().pk,
                "file": upload,
            },
        ).content.decode()
        assert "File imported" in html and Child.objects.exists()

    def test_errors_are_shown_by_row_and_nothing_is_imported(self, client, school):
        sign_in(client, dana())
        upload = SimpleUploadedFile(
            "census.csv", census({"postcode": "bad"}), content_type="text/csv"
        )
        html = client.post(
            reverse("directory:feeds"),
            {
                **extracted_today(),
                "source": "school_census",
                "local_authority": northshire().pk,
                "file": upload,
            },
        ).content.decode()
        assert "The file was not imported" in html and "Row 2: postcode: &#x27;bad&#x27;" in html
        assert not Child.objects.exists()


class TestSendingAFileAgain:
    """Dana imports a census file leaving out a row whose school is not yet in the register,
    has the school added, and sends the very same file again: the rows left out that now pass
    come in, and only they."""

    ELLA = {
        "upn": upn("352214300102"), "given_name": "Ella", "family_name": "Quill",
        "date_of_birth": "2014-02-02", "address_line_1": "3 Mill Lane", "school_urn": "100001",
    }  # fmt: skip
    PARTLY = census({}, ELLA)

    def upload(
        self, client, content: bytes, skip_invalid: bool = True, la=None, days_ago: int = 0
    ) -> str:
        extracted_on = timezone.localdate() - timedelta(days=days_ago)
        form = {
            "extracted_on_0": extracted_on.day,
            "extracted_on_1": extracted_on.month,
            "extracted_on_2": extracted_on.year,
            "source": "school_census",
            "local_authority": (la or northshire()).pk,
        }
        form |= {"skip_invalid": "on"} if skip_invalid else {}
        upload = SimpleUploadedFile("census.csv", content, content_type="text/csv")
        return client.post(reverse("directory:feeds"), {**form, "file": upload}).content.decode()

    def imported_partly_by_command(self, tmp_path) -> Path:
        """The file, imported by ``import_feed`` with its row for the missing school left out."""
        path = tmp_path / "census.csv"
        path.write_bytes(self.PARTLY)
        import_feed_today("--source", "school_census", "--skip-invalid", str(path))
        return path

    def juniors(self, identifier: str = "100001") -> Service:
        return make_service(Service.Kind.SCHOOL, name="Northshire Juniors", identifier=identifier)

    def test_the_row_left_out_comes_in_and_the_history_says_who_sent_it_again(self, client, school):
        manager = dana()
        sign_in(client, manager)
        assert "1 left out" in self.upload(client, self.PARTLY)
        olivia = Child.objects.get()
        first = FeedImport.objects.get()
        self.juniors()
        page = self.upload(client, self.PARTLY)
        assert "File sent again" in page
        assert "1 row that was left out before has now been imported; 0 are still refused" in page
        ella = Child.objects.get(given_name="Ella")
        assert ella.involvements.get().service.identifier == "100001"
        resent = FeedImport.objects.exclude(pk=first.pk).get()
        assert (resent.resend_of, resent.imported_by, resent.outcome) == (
            first, manager, {"new_child": 1}
        )  # fmt: skip
        assert (resent.rows_rejected, resent.left_out) == (0, [])
        assert SourceRecord.objects.get(child=olivia).last_import == first, "not applied again"
        history = client.get(reverse("directory:feeds")).content.decode()
        assert "Sent again: 1 row left out before now imported (1 new child); 0 still left out" in (
            history
        )
        assert ">Dana<" in history.replace(" ", ""), "her name, not her username"
        event = AuditEvent.objects.filter(path="/feeds/", method="POST").latest("id")
        assert (event.detail or {})["feed_import"] == resent.pk
        assert (event.detail or {})["resend_of"] == first.pk

    def test_a_file_all_of_whose_rows_are_in_changes_nothing_when_sent_again(self, client, school):
        sign_in(client, dana())
        self.upload(client, self.PARTLY)
        self.juniors()
        assert "File sent again" in self.upload(client, self.PARTLY)
        before = (FeedImport.objects.count(), SourceRecord.objects.count(), Address.objects.count())
        page = self.upload(client, self.PARTLY)
        assert "This file was imported before. Nothing has changed." in page
        after = (FeedImport.objects.count(), SourceRecord.objects.count(), Address.objects.count())
        assert after == before
        assert load(census({})).feed_import is not None  # a file with no row left out: as ever
        assert load(census({})).already_imported

    def test_rows_still_refused_are_reported_by_row_and_can_come_in_later(self, client, school):
        bea = {**self.ELLA, "upn": upn("352214300103"), "given_name": "Bea", "school_urn": "100002"}
        bea |= {"date_of_birth": "2013-03-03"}
        content = census({}, self.ELLA, bea)
        sign_in(client, dana())
        self.upload(client, content)
        page = self.upload(client, content)
        assert "The rows left out before were not imported" in page
        assert "The rows left out of this file before (2) cannot be imported yet" in page
        assert "Row 3: school_urn: unknown school &#x27;100001&#x27;" in page
        self.juniors()
        page = self.upload(client, content, skip_invalid=False)
        assert "Some of the rows left out of this file before still have errors" in page
        assert "Row 4: school_urn: unknown school &#x27;100002&#x27;" in page
        assert "Row 3:" not in page and FeedImport.objects.count() == 1
        page = self.upload(client, content)
        assert "1 row that was left out before has now been imported; 1 is still refused" in page
        assert "Row 4: school_urn: unknown school &#x27;100002&#x27;" in page
        assert "Row 3:" not in page
        self.juniors("100002")
        page = self.upload(client, content, skip_invalid=False)
        assert "1 row that was left out before has now been imported; 0 are still refused" in page
        assert sorted(Child.objects.values_list("given_name", flat=True)) == [
            "Bea", "Ella", "Olivia"
        ]  # fmt: skip
        assert FeedImport.objects.filter(resend_of__isnull=False).count() == 2

    def test_a_later_files_word_on_a_record_is_not_undone_by_the_older_file(self, client, school):
        """Olivia moved and Ella came in a later file: sending the older file again puts back
        neither Olivia's old home nor what the later file said of Ella."""
        sign_in(client, dana())
        self.upload(client, self.PARTLY)
        self.juniors()
        moved = {"address_line_1": "9 New Street", "postcode": "NE2 2BB"}
        later = census(moved, {**self.ELLA, **moved})
        assert dict(load(later).counts) == {"new_child": 1, "updated": 1}
        page = self.upload(client, self.PARTLY)
        assert "0 rows that were left out before have now been imported" in page
        assert "1 row was not imported, as a later file has sent that record since" in page
        for child in Child.objects.all():
            assert list(child.addresses.filter(ended_on__isnull=True).values_list("line_1")) == [
                ("9 New Street",)
            ]
        assert FeedImport.objects.latest("pk").outcome == {"sent_since_in_a_later_file": 1}
        assert "This file was imported before" in self.upload(client, self.PARTLY)

    @pytest.mark.parametrize("shielded", [True, False], ids=["shielded", "not_shielded"])
    def test_a_shielded_childs_row_sent_again_does_not_say_another_las_file_has_her(
        self, client, school, shielded
    ):
        """Ella was in Northshire's census; its next file left her row out (her new school not
        yet held), and Southshire's census, imported since, sends her UPN. Sent again, "not
        imported, as a later file has sent that record since" would tell Dana, of a shielded
        child, that another LA's school has her: her row comes in as any row does, with what
        it says of where she lives held back. Not shielded, it is not imported, as before."""
        sign_in(client, dana())
        self.upload(client, census({**self.ELLA, "school_urn": "100000"}))
        if shielded:
            shield(Child.objects.get())
        self.upload(client, self.PARTLY)  # her row left out: school 100001 is not held
        make_service(Service.Kind.SCHOOL, name="Southshire Primary", identifier="200000",
                     local_authority=southshire())  # fmt: skip
        south = {"address_line_1": "9 South Street", "town": "Southtown", "postcode": "SE1 1AA",
                 "school_urn": "200000"}  # fmt: skip
        feed_import(
            source=Source.SCHOOL_CENSUS, file_name="south.csv", content=census(self.ELLA | south),
            local_authority=southshire(), by=None, extracted_on=timezone.localdate(),
        )  # fmt: skip
        self.juniors()
        page = self.upload(client, self.PARTLY)
        history = client.get(reverse("directory:feeds")).content.decode()
        said = "1 row was not imported, as a later file has sent that record since"
        assert (said in page) is not shielded
        assert ("a later file has sent that record since" in history) is not shielded
        ella = Child.objects.get(given_name="Ella")
        homes = ella.addresses.filter(ended_on__isnull=True).values_list("line_1", flat=True)
        assert list(homes) == ["9 South Street"]

    @pytest.mark.parametrize("moved", [False, True], ids=["still_here", "sent_by_another_la"])
    def test_a_shielded_childs_row_sent_again_is_compared_with_her_las_own_last_row(
        self, client, school, moved
    ):
        """Ella is shielded. Northshire's census of 60 days ago left her row out (her school,
        100001, not yet held); once it was, a file of 70 days ago sent the very same row.
        Southshire's census of 10 days ago has sent her UPN since. Sent again, her row read "1
        updated", compared with Southshire's row: other details of her since, so she has
        moved. It reads "unchanged", as had Southshire sent nothing."""
        sign_in(client, dana())
        self.upload(client, census({**self.ELLA, "school_urn": "100000"}), days_ago=100)
        shield(Child.objects.get())
        self.upload(client, self.PARTLY, days_ago=60)  # her row left out
        self.juniors()
        self.upload(client, census(self.ELLA), days_ago=70)
        if moved:
            make_service(Service.Kind.SCHOOL, name="Southshire Primary", identifier="200000",
                         local_authority=southshire())  # fmt: skip
            south = {"address_line_1": "9 South Street", "town": "Southtown",
                     "postcode": "SE1 1AA", "school_urn": "200000"}  # fmt: skip
            feed_import(
                source=Source.SCHOOL_CENSUS, file_name="south.csv",
                content=census(self.ELLA | south), local_authority=southshire(), by=None,
                extracted_on=timezone.localdate() - timedelta(days=10),
            )  # fmt: skip
        page = self.upload(client, self.PARTLY, days_ago=60)
        assert "1 row that was left out before has now been imported" in page
        assert '<p class="govuk-body">1 unchanged.</p>' in page
        said = "Sent again: 1 row left out before now imported (1 unchanged); 0 still left out"
        assert said in client.get(reverse("directory:feeds")).content.decode()
        ella = Child.objects.get(given_name="Ella")
        homes = ella.addresses.filter(ended_on__isnull=True).values_list("line_1", flat=True)
        assert list(homes) == (["9 South Street"] if moved else ["3 Mill Lane"])

    def two_months_each_leaving_ella_out(self, client) -> tuple[bytes, bytes]:
        """January's file and February's (Ella has moved), each imported with Ella's row left
        out for want of her school, which is then added."""
        sign_in(client, dana())
        january = self.PARTLY
        february = census({}, {**self.ELLA, "address_line_1": "9 New Street"})
        self.upload(client, january)
        self.upload(client, february)
        self.juniors()
        return january, february

    def test_files_sent_again_oldest_first_leave_each_record_as_the_newest_file_says(
        self, client, school
    ):
        """Ella's school was missing from January's file and February's alike. Dana adds it
        and sends January's file again, then February's: February's row is the newer, and
        January's, received again after it was first, is not a later file."""
        january, february = self.two_months_each_leaving_ella_out(client)
        assert "1 row that was left out before has now been imported" in self.upload(
            client, january
        )
        page = self.upload(client, february)
        assert "1 row that was left out before has now been imported" in page
        assert "a later file has sent" not in page
        ella = Child.objects.get(given_name="Ella")
        homes = ella.addresses.filter(ended_on__isnull=True).values_list("line_1", flat=True)
        assert list(homes) == ["9 New Street"]

    def test_an_older_file_sent_again_after_a_newer_one_leaves_the_newer_row(self, client, school):
        january, february = self.two_months_each_leaving_ella_out(client)
        self.upload(client, february)
        page = self.upload(client, january)
        assert "1 row was not imported, as a later file has sent that record since" in page
        ella = Child.objects.get(given_name="Ella")
        homes = ella.addresses.filter(ended_on__isnull=True).values_list("line_1", flat=True)
        assert list(homes) == ["9 New Street"]

    def test_only_the_local_authority_whose_file_it_was_sends_it_again(self, client, school):
        sign_in(client, dana())
        self.upload(client, self.PARTLY)
        self.juniors()
        national = make_user("nat", Role.DATA_MANAGER, organisation=operator())
        sign_in(client, national)
        page = self.upload(client, self.PARTLY, la=southshire())
        assert "imported before for another local authority. Nothing has changed" in page
        assert not Child.objects.filter(given_name="Ella").exists()
        assert "File sent again" in self.upload(client, self.PARTLY)

    def test_rows_left_out_before_they_were_noted_are_said_to_be_unknown(self, client, school):
        """An import made before ContactPoint noted its rows left out cannot say which to try."""
        sign_in(client, dana())
        self.upload(client, self.PARTLY)
        FeedImport.objects.update(left_out=None)  # as migration 0018 leaves an earlier import
        self.juniors()
        page = self.upload(client, self.PARTLY)
        assert "before ContactPoint noted which rows they were. Nothing has changed" in page
        assert not Child.objects.filter(given_name="Ella").exists()

    def test_a_row_sent_again_that_could_be_a_shielded_child_waits_for_review(self, client):
        make_service(Service.Kind.SCHOOL, name="Northshire Primary", identifier="100000")
        hidden = TestTheShieldFollowsTheChild().shielded()
        olive = {**self.ELLA, "given_name": "Olive", "family_name": "Brennan",
                 "date_of_birth": "2015-09-12", "address_line_1": "77 Hidden Way",
                 "postcode": "NE7 7HW"}  # fmt: skip
        content = census({"given_name": "Amy", "family_name": "Zed"}, olive)
        sign_in(client, dana())
        self.upload(client, content)
        self.juniors()
        page = self.upload(client, content)
        assert "1 waiting for review" in page and "Hidden Way" not in page
        review = MatchReview.objects.get()
        assert hidden.pk in [c["child_id"] for c in review.candidates]
        assert not Child.objects.filter(given_name="Olive").exists()

    def test_a_large_file_sent_again_is_imported_within_minutes_as_its_sender(
        self, client, school, settings
    ):
        from directory.feed_import import waiting_uploads_import
        from directory.models import FeedUpload

        manager = dana()
        sign_in(client, manager)
        self.upload(client, self.PARTLY)
        self.juniors()
        settings.FEED_WEB_IMPORT_ROWS = 0
        assert "File waiting to be imported" in self.upload(client, self.PARTLY)
        waiting_uploads_import()
        upload = FeedUpload.objects.get()
        assert upload.result.startswith("Sent again: 1 row left out before now imported")
        assert upload.feed_import.resend_of == FeedImport.objects.get(resend_of__isnull=True)
        assert Child.objects.filter(given_name="Ella").exists()
        done = AuditEvent.objects.filter(detail__upload=upload.pk, path="").get()
        assert done.user_id == manager.pk
        assert (done.detail or {})["resend_of"] == upload.feed_import.resend_of_id

    def test_a_large_file_sent_again_too_soon_is_noted_as_sent_again(
        self, client, school, settings
    ):
        """Too large to check while Dana waited, the file sent again before its row left out
        could come in was noted only as a file not imported: the auditors could not tell it
        from a first sending, as they can on the page's own event."""
        sign_in(client, dana())
        self.upload(client, self.PARTLY)
        first = FeedImport.objects.get()
        settings.FEED_WEB_CHECK_BYTES = 10
        assert "File waiting to be checked and imported" in self.upload(client, self.PARTLY)
        waiting_uploads_import()
        upload = FeedUpload.objects.get()
        assert upload.status == FeedUpload.Status.NOT_IMPORTED
        assert upload.result.startswith("The rows left out of this file before (1) cannot")
        done = AuditEvent.objects.filter(detail__upload=upload.pk, path="").get()
        assert (done.detail or {})["resend_of"] == first.pk

    def test_the_import_command_sends_a_file_again(self, tmp_path, school, capsys):
        path = self.imported_partly_by_command(tmp_path)
        self.juniors()
        import_feed_today("--source", "school_census", str(path))
        said = capsys.readouterr().out
        assert "census.csv sent again: Sent again: 1 row left out before now imported" in said
        assert Child.objects.filter(given_name="Ella").exists()

    def test_the_import_command_says_what_to_do_when_no_row_left_out_passes_yet(
        self, tmp_path, school, capsys
    ):
        """Sent again with --skip-invalid while the school is still missing: told to put right
        what refused the rows, not to use the --skip-invalid it used."""
        path = self.imported_partly_by_command(tmp_path)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            import_feed_today(
                "--source",
                "school_census",
                "--skip-invalid",
                str(path),
            )
        said = capsys.readouterr().err
        assert exit_.value.code == 1
        assert "Row 3: school_urn: unknown school '100001'" in said
        assert "use --skip-invalid" not in said
        assert "cannot be imported yet" in said
        assert FeedImport.objects.count() == 1


def test_automatic_matches_meet_the_precision_and_recall_targets():
    """The default weights and thresholds on a generated labelled set (README "Data feeds")."""
    result = evaluate(families=400, seed=11)
    assert result.precision >= 0.995, result
    assert result.recall >= 0.95, result


def migrate_to(name: str | None):
    """The directory's tables as migration ``name`` leaves them, or every app's as the latest
    migrations do (None); the test's transaction undoes it. Returns the models of that moment."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    # Pending foreign-key checks would stop the tables being altered mid-transaction.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes() if name is None else [("directory", name)]
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_rows_waiting_before_the_upgrade_are_told_apart_by_whose_id_they_wait_under():
    """Migration 0030 marks the rows already waiting under a child's own id, which a purge of
    the child takes with him: Mia's row under Zed's LA record id, not her row under an LA
    record id of her own that points to Zed only by the NHS number it carries."""
    mia = {"given_name": "Mia", "date_of_birth": "2014-06-01", "gender": "female",
           "address_line_1": "3 West Road", "postcode": "NE3 3AA"}  # fmt: skip
    la_import(la_system(nhs_number="9434765005"), name="a.csv")
    la_import(la_system(**mia), name="b.csv")
    la_import(la_system(**mia, la_record_id="2001", nhs_number="9434765005"), name="c.csv")
    zed = Child.objects.get(given_name="Zed")
    waiting = SourceRecord.objects.filter(pointed_to=zed).order_by("record_id")
    marked = list(waiting.values_list("record_id", "pointed_to_by_id"))
    assert marked == [("E06000099/1001", True), ("E06000099/2001", False)]
    migrate_to("0029_source_record_pointed_to")
    migrate_to(None)
    assert list(waiting.values_list("record_id", "pointed_to_by_id")) == marked


def test_files_imported_before_the_upgrade_stay_with_their_la():
    """Migration 0008 gives each earlier file the LA of the data manager who imported it, so
    the reviews it left waiting stay in that LA's queue."""
    manager = dana()
    before = migrate_to("0007_remove_held_for_review")
    old = before.get_model("directory", "FeedImport")
    by_hand = old.objects.create(
        source=Source.LA_SYSTEM, file_name="a.csv", file_sha256="a" * 64,
        imported_by_id=manager.pk, rows_read=1, rows_rejected=0,
    )  # fmt: skip
    by_command = old.objects.create(
        source=Source.LA_SYSTEM, file_name="b.csv", file_sha256="b" * 64,
        rows_read=1, rows_rejected=0,
    )  # fmt: skip
    # As 0008 left them: later migrations add columns the model of today reads.
    after = migrate_to("0008_feed_import_local_authority").get_model("directory", "FeedImport")
    assert after.objects.get(pk=by_hand.pk).local_authority_id == manager.organisation_id
    assert after.objects.get(pk=by_command.pk).local_authority_id is None


def test_an_las_records_kept_before_the_upgrade_are_found_by_its_next_file():
    """Migration 0009 moves an LA system's records kept under bare ids ("1001") under the code
    of the LA that sent them, so its next file updates them rather than making new children."""
    before = migrate_to("0008_feed_import_local_authority")
    old_import = before.get_model("directory", "FeedImport")
    old_record = before.get_model("directory", "SourceRecord")
    north, south = northshire(), southshire()
    child = make_child(given_name="Zed", family_name="Quill")  # Northshire's
    by_file, by_child, unknown = (
        old_import.objects.create(
            source=Source.LA_SYSTEM, file_name=f"{n}.csv", file_sha256=str(n) * 64,
            local_authority_id=la.pk if la else None, rows_read=1, rows_rejected=0,
        )
        for n, la in ((1, north), (2, None), (3, None))
    )  # fmt: skip
    for record_id, first, linked in (
        ("1001", by_file, child),
        ("2002", by_child, child),
        ("3003", unknown, None),
        (f"{south.code}/4004", by_file, None),
    ):
        old_record.objects.create(
            source=Source.LA_SYSTEM, record_id=record_id, payload={}, first_import_id=first.pk,
            last_import_id=first.pk, child_id=linked.pk if linked else None,
        )  # fmt: skip
    migrate_to("0009_la_record_keys")
    assert set(SourceRecord.objects.values_list("record_id", flat=True)) == {
        f"{north.code}/1001",
        f"{north.code}/2002",
        "3003",
        f"{north.code}/{south.code}/4004",
    }
    migrate_to(None)  # the code of today imports on today's tables
    outcome = la_import(la_system(address_line_1="9 New Row", postcode="NE8 8SS"))
    assert dict(outcome.counts) == {"updated": 1}
    assert Child.objects.count() == 1 and child.addresses.filter(postcode="NE8 8SS").exists()
    migrate_to("0008_feed_import_local_authority")
    assert set(old_record.objects.values_list("record_id", flat=True)) == {
        "1001",
        "2002",
        "3003",
        f"{south.code}/4004",
    }


def test_a_sensitive_lead_from_before_the_upgrade_is_stood_down_and_kept():
    """Migration 0013: a sensitive service is never the lead professional. One that was loses
    the lead, not the involvement, and the rule then holds in the database."""
    from auditlog.models import LogEntry

    before = migrate_to("0012_parentcarer_phone_key")
    child = make_child()
    service = make_service(Service.Kind.MENTAL_HEALTH, name="Harbour CAMHS Team")
    old = before.get_model("directory", "Involvement")
    hidden = old.objects.create(
        child_id=child.pk, service_id=service.pk, started_on=date(2025, 1, 1),
        lead_professional=True, caf_held=True, sensitive_category="mental_health",
        sensitive_basis="consent", source=Source.LA_SYSTEM,
    )  # fmt: skip
    after = migrate_to("0013_sensitive_never_lead")
    kept = after.get_model("directory", "Involvement").objects.get(pk=hidden.pk)
    assert (kept.lead_professional, kept.caf_held, kept.ended_on) == (False, True, None)
    entry = LogEntry.objects.get(object_pk=str(hidden.pk), content_type__model="involvement")
    assert entry.changes == {"lead_professional": ["True", "False"]}
    assert entry.additional_data["child_ids"] == [child.pk]
    kept.lead_professional = True
    with pytest.raises(IntegrityError), transaction.atomic():
        kept.save()


def test_going_back_before_0009_stops_if_an_id_would_not_fit():
    """Two LAs hold the same 100-character id: one keeps its LA's code going back, and would
    not fit the 100 characters of before, so the reversal stops with a clear message."""
    first = FeedImport.objects.create(
        source=Source.LA_SYSTEM, file_name="a.csv", file_sha256="a" * 64,
        local_authority=northshire(), rows_read=1, rows_rejected=0,
    )  # fmt: skip
    second = FeedImport.objects.create(
        source=Source.LA_SYSTEM, file_name="b.csv", file_sha256="b" * 64,
        local_authority=southshire(), rows_read=1, rows_rejected=0,
    )  # fmt: skip
    for made in (first, second):
        SourceRecord.objects.create(
            source=Source.LA_SYSTEM, record_id=f"{made.local_authority.code}/{'7' * 100}",
            payload={}, first_import=made, last_import=made,
        )  # fmt: skip
    with pytest.raises(RuntimeError, match="Migration 0009 cannot be undone: 1 LA record ids"):
        migrate_to("0008_feed_import_local_authority")


def test_going_back_before_0018_stops_while_a_file_sent_again_is_held():
    """The rule of before, one import for each file, cannot hold a file sent again, and
    deleting the re-send would lose who sent it and what it imported."""
    first = FeedImport.objects.create(
        source=Source.SCHOOL_CENSUS, file_name="a.csv", file_sha256="a" * 64,
        local_authority=northshire(), rows_read=2, rows_rejected=1, left_out=[3],
    )  # fmt: skip
    FeedImport.objects.create(
        source=Source.SCHOOL_CENSUS, file_name="a.csv", file_sha256="a" * 64,
        local_authority=northshire(), rows_read=2, rows_rejected=0, left_out=[],
        resend_of=first,
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="Migration 0018 cannot be undone: 1 imports"):
        migrate_to("0017_rekey_names_beyond_ascii")


def test_going_back_before_0025_stops_while_a_file_is_held_for_two_extract_dates():
    """The rule of before, one import for each file, cannot hold the same file imported again
    as a newer extract, and deleting either would lose who sent what."""
    for days in (10, 2):
        FeedImport.objects.create(
            source=Source.SCHOOL_CENSUS, file_name="a.csv", file_sha256="a" * 64,
            local_authority=northshire(), rows_read=1, rows_rejected=0, left_out=[],
            extracted_on=timezone.localdate() - timedelta(days=days),
        )  # fmt: skip
    with pytest.raises(RuntimeError, match="Migration 0025 cannot be undone: 1 files"):
        migrate_to("0024_rekey_each_part_of_first_names")


def test_a_file_is_imported_once_for_each_extract_date():
    """PostgreSQL holds the rule, also for a file without an extract date: two uploads of it
    at once cannot both be its first import."""
    for extracted_on in (timezone.localdate(), None):
        made = {
            "source": Source.SCHOOL_CENSUS, "file_name": "a.csv", "file_sha256": "b" * 64,
            "local_authority": northshire(), "rows_read": 1, "rows_rejected": 0,
            "extracted_on": extracted_on,
        }  # fmt: skip
        FeedImport.objects.create(**made)
        with pytest.raises(IntegrityError), transaction.atomic():
            FeedImport.objects.create(**made)


class TestSeparateAFeedRecord:
    """Dana undoes a feed record's join to a child it is not: Ellie, whose LA record joined
    her twin Ella's (a name a letter apart, no number of its own to tell them apart)."""

    ELLIE = {
        "la_record_id": "77", "given_name": "Ellie", "family_name": "Brennan",
        "date_of_birth": "2015-09-12", "gender": "female", "address_line_1": "14 Ashgrove Road",
        "postcode": "NE1 4ST", "service_kind": "social_care", "service_started_on": "2025-01-06",
    }  # fmt: skip

    def twins_joined(self, **ellies: str) -> Child:
        load(census({"given_name": "Ella"}))
        outcome = la_import(la_system(**self.ELLIE | ellies))
        assert outcome.counts == {"matched_automatically": 1}
        return Child.objects.get()

    def separate(self, client, child: Child, feed_record: object = None):
        data: dict[str, object] = {"record": child.contactpoint_id}
        if feed_record is not None:
            data |= {"feed_record": feed_record, "separating": "yes"}
        return client.post(reverse("directory:separate"), data, follow=True)

    def test_after_a_record_no_feed_record_joined_another_can_be_looked_up(self, client):
        """The page said "No feed record has joined this record" and offered no button:
        Dana, who had typed the wrong ID, was left with nowhere to go."""
        sign_in(client, dana())
        page = self.separate(client, make_child()).content.decode()
        assert "No feed record has joined this record." in page
        button = '<button type="submit" class="govuk-button" data-module="govuk-button">'
        assert f"{button}Continue</button>" in page

    def test_a_feed_record_that_joined_another_child_becomes_a_record_of_its_own(
        self, client, school
    ):
        ella = self.twins_joined()
        ellies = SourceRecord.objects.get(source=Source.LA_SYSTEM)
        sign_in(client, dana())
        listed = self.separate(client, ella).content.decode()
        assert "Local authority system: Ellie Brennan, born 12 September 2015" in listed
        assert "School census: Ella Brennan" in listed
        page = self.separate(client, ella, ellies.pk).content.decode()
        ellie = Child.objects.exclude(pk=ella.pk).get()
        assert f"now a record of its own: {ellie.contactpoint_id_display}" in page
        # The page that says so lists it in its event, as every ID a page shows.
        shown = AuditEvent.objects.filter(path=reverse("directory:separate")).latest("id")
        assert shown.method == "GET" and ellie.contactpoint_id in shown.result_ids
        assert (ellie.given_name, ellie.date_of_birth) == ("Ellie", date(2015, 9, 12))
        assert [i.service.kind for i in ellie.involvements.all()] == ["social_care"]
        assert [i.service.kind for i in ella.involvements.all()] == ["school"]
        assert ella.identifiers.count() == 1 and not ellie.identifiers.exists()
        assert not ella.other_names.filter(given_name="Ellie").exists()
        # Her LA's next row is hers, not her sister's.
        la_import(la_system(**self.ELLIE | {"postcode": "NE2 1AB"}), name="again.csv")
        assert ellie.addresses.filter(postcode="NE2 1AB", ended_on__isnull=True).exists()
        assert ella.addresses.filter(ended_on__isnull=True).get().postcode == "NE1 4ST"
        event = AuditEvent.objects.filter(action=Action.CHANGE).latest("id")
        assert event.child_contactpoint_id == ella.contactpoint_id
        assert event.result_ids == [ellie.contactpoint_id]

    def test_a_row_stored_before_phones_were_checked_gives_no_bad_phone_when_separated(
        self, client, school
    ):
        """Ellie's row, kept since before phones were checked, says her mother's phone is "ask
        at reception": separated, her mother keeps the number she has, not that."""
        mother = {"carer_family_name": "Brennan", "carer_relationship": "mother"}
        ella = self.twins_joined(**mother, carer_phone="07700 900123")
        ellies = SourceRecord.objects.get(source=Source.LA_SYSTEM)
        ellies.payload = {**ellies.payload, "carer_phone": "ask at reception"}
        ellies.save(update_fields=["payload"])
        sign_in(client, dana())
        self.separate(client, ella, ellies.pk)
        assert list(ParentCarer.objects.values_list("phone", flat=True)) == ["07700 900123"]

    def test_what_cannot_be_separated_is_refused_with_a_reason(self, client, school):
        ella = self.twins_joined()
        census_record = SourceRecord.objects.get(source=Source.SCHOOL_CENSUS)
        sign_in(client, dana())
        page = self.separate(client, ella, census_record.pk).content.decode()
        assert "gave the record its name and date of birth: separate the others" in page
        assert (
            "Select the feed record that is another child"
            in self.separate(client, ella, "").content.decode()
        )
        assert Child.objects.count() == 1
        alone = make_child(given_name="Solo")
        SourceRecord.objects.filter(pk=census_record.pk).update(child=alone)
        theirs = SourceRecord.objects.get(source=Source.LA_SYSTEM)
        SourceRecord.objects.filter(pk=theirs.pk).update(child=None)
        assert "only feed record" in self.separate(client, alone, census_record.pk).content.decode()
        sign_in(client, make_user("dora", Role.DATA_MANAGER, organisation=southshire()))
        page = self.separate(client, alone).content.decode()
        assert "There is no record you can change with that ContactPoint ID" in page

    def test_a_review_waiting_on_the_record_is_offered_the_separated_one(self, client, school):
        ella = self.twins_joined()
        elly = {"la_record_id": "78", "given_name": "Elly", "postcode": "NE9 9ZZ"}
        outcome = la_import(la_system(**self.ELLIE | elly), name="elly.csv")
        assert outcome.counts == {"waiting_for_review": 1}
        sign_in(client, dana())
        review = MatchReview.objects.get()
        shown = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        self.separate(client, ella, SourceRecord.objects.get(record_id__endswith="/77").pk)
        ellie = Child.objects.exclude(pk=ella.pk).get()
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        assert ellie.contactpoint_id_display in page
        assert ella.contactpoint_id_display in page
        # The page Dana had open offered only Ella: deciding on it is refused.
        seen = re.search(r'name="seen" value="([^"]+)"', shown)
        assert seen is not None
        answer = client.post(
            reverse("directory:review", args=[review.pk]),
            {"choice": f"match:{ella.contactpoint_id}", "seen": seen[1]},
            follow=True,
        ).content.decode()
        assert "This record has changed since you opened it" in answer
        assert MatchReview.objects.get().status == MatchReview.Status.OPEN

    def test_a_record_separated_from_a_shielded_one_is_shielded_and_shows_no_address(
        self, client, school
    ):
        ella = self.twins_joined()
        shield(ella)
        sign_in(client, dana())
        page = self.separate(client, ella).content.decode()
        assert "Shielded" in page and "Ashgrove" not in page and "NE1" not in page
        self.separate(client, ella, SourceRecord.objects.get(source=Source.LA_SYSTEM).pk)
        ellie = Child.objects.exclude(pk=ella.pk).get()
        assert ellie.shields.filter(lifted_at__isnull=True).exists()

    def test_a_death_only_the_separated_row_gave_leaves_with_it(self, client, school):
        ella = self.twins_joined(date_of_death="2025-03-01")
        assert ella.status == Child.Status.DECEASED, "the wrong join's doing"
        sign_in(client, dana())
        self.separate(client, ella, SourceRecord.objects.get(source=Source.LA_SYSTEM).pk)
        ellie = Child.objects.exclude(pk=ella.pk).get()
        ella.refresh_from_db()
        assert (ellie.status, ellie.date_of_death) == ("deceased", date(2025, 3, 1))
        assert (ella.status, ella.date_of_death) == ("active", None)

    def test_a_separated_record_that_could_be_a_shielded_child_is_shielded(self, client, school):
        ella = self.twins_joined()
        fled = make_child(given_name="Ellie", family_name="Carter", date_of_birth=date(2015, 9, 12))
        make_address(fled, "SO1 1AA")
        rebuild_keys(fled)
        shield(fled)
        sign_in(client, dana())
        self.separate(client, ella, SourceRecord.objects.get(source=Source.LA_SYSTEM).pk)
        ellie = Child.objects.exclude(pk__in=[ella.pk, fled.pk]).get()
        assert ellie.shields.filter(lifted_at__isnull=True).exists()

    def test_facts_that_name_no_feed_record_stay_and_the_data_manager_is_told(self, client, school):
        """As recorded before migration 0016: which of the feed's records gave them is not
        known, so they stay, and the page says to check both records."""
        ella = self.twins_joined()
        Involvement.objects.filter(child=ella).update(source_record=None)
        sign_in(client, dana())
        page = self.separate(
            client, ella, SourceRecord.objects.get(source=Source.LA_SYSTEM).pk
        ).content.decode()
        assert f"so they stay on {ella.contactpoint_id_display}: check both records" in page

    def test_the_choice_is_gov_uk_radios_and_errors_link_to_what_the_page_shows(
        self, client, school
    ):
        ella = self.twins_joined()
        sign_in(client, dana())
        page = self.separate(client, ella, "").content.decode()
        ids = re.findall(r'class="govuk-radios__input" id="([^"]*)"', page)
        assert len(ids) == 2 and len(set(ids)) == 2 and "None" not in ids
        assert f'<a href="#{ids[0]}">Select the feed record that is another child' in page
        unknown = client.post(
            reverse("directory:separate"),
            {"record": "123", "feed_record": "1", "separating": "yes"},
        ).content.decode()
        assert "Enter a ContactPoint ID of 12 digits" in unknown
        assert "Select the feed record" not in unknown
        mistyped = client.post(reverse("directory:separate"), {"record": "1234 5678 9012"})
        assert "a digit is wrong or two are swapped" in mistyped.content.decode()

    ELLA = {
        "la_record_id": "76", "given_name": "Ella", "family_name": "Brennan",
        "date_of_birth": "2015-09-12", "gender": "female", "address_line_1": "14 Ashgrove Road",
        "postcode": "NE1 4ST", "service_kind": "social_care", "service_started_on": "2025-01-06",
        "caf_held": "no", "lead_professional": "no",
    }  # fmt: skip

    def both_in_their_las_system(self, client, ella: dict, ellie: dict) -> tuple[Child, Child]:
        """Ella's record and Ellie's in their LA's system (one social-care service), Ellie's
        joined to Ella's, then separated: (Ella, Ellie)."""
        if ella:
            la_import(la_system(**ella), name="ella.csv")
        la_import(la_system(**ellie), name="ellie.csv")
        ella_record = Child.objects.get(source_records__record_id__endswith="/76")
        sign_in(client, dana())
        ellies = SourceRecord.objects.get(record_id__endswith="/77")
        page = self.separate(client, ella_record, ellies.pk).content.decode()
        assert "now a record of its own" in page
        ella_record.refresh_from_db()
        return ella_record, Child.objects.get(source_records__record_id__endswith="/77")

    def test_what_her_own_record_says_is_said_again_on_hers(self, client):
        """Ellie's row had set a CAF and the lead on the service both rows name, and withdrawn
        the consent to 25 Ella's own row gives: Ella's record says what her row says again."""
        ella, ellie = self.both_in_their_las_system(
            client,
            self.ELLA | {"consent_to_25": "yes"},
            self.ELLIE | {"caf_held": "yes", "lead_professional": "yes", "consent_to_25": "no"},
        )
        hers, theirs = ellie.involvements.get(), ella.involvements.get()
        assert (hers.caf_held, hers.lead_professional) == (True, True)
        assert (theirs.caf_held, theirs.lead_professional) == (False, False)
        assert ella.kept_to_25_with_consent and not ellie.kept_to_25_with_consent

    def test_a_record_archived_for_a_death_only_the_separated_row_gave_is_live_again(self, client):
        la_import(la_system(**self.ELLA), name="ella.csv")
        la_import(la_system(**self.ELLIE | {"date_of_death": "2024-06-01"}), name="ellie.csv")
        lifecycle_apply(today=timezone.localdate())
        assert Child.objects.get().status == Child.Status.ARCHIVED, "a year after the death"
        sign_in(client, dana())
        ella = Child.objects.get()
        self.separate(client, ella, SourceRecord.objects.get(record_id__endswith="/77").pk)
        ella.refresh_from_db()
        assert (ella.status, ella.archived_on, ella.date_of_death) == ("active", None, None)

    def test_a_number_her_own_feed_record_gave_stays_with_her(self, client):
        """Ellie's record carried Ella's NHS number (mistyped), so it joined hers by it."""
        number = "9434765919"
        ella, ellie = self.both_in_their_las_system(
            client, self.ELLA | {"nhs_number": number}, self.ELLIE | {"nhs_number": number}
        )
        assert ChildIdentifier.objects.get(value=number).child == ella
        assert not ellie.identifiers.exists()

    def test_a_post_with_nothing_in_it_is_the_form_again(self, client):
        sign_in(client, dana())
        response = client.post(reverse("directory:separate"), {})
        assert response.status_code == 200 and "Enter" in response.content.decode()

    def test_why_her_sensitive_service_is_held_is_her_own_row_s_again(self, client):
        """Both twins see the same CAMHS team. Ellie's row, joined to Ella's record, replaced
        the reason Ella's service is held with Ellie's: separated, Sam reads Ella's own reason
        on Ella's record again, not her sister's."""
        camhs = {"service_kind": "mental_health", "sensitive_basis": "significant_harm"}
        ella, ellie = self.both_in_their_las_system(
            client,
            self.ELLA | camhs | {"sensitive_reason": "Ella told her teacher"},
            self.ELLIE | camhs | {"sensitive_reason": "Ellie told the school nurse"},
        )
        theirs, hers = ella.involvements.get(), ellie.involvements.get()
        assert hers.sensitive_basis_note == "Ellie told the school nurse"
        assert theirs.sensitive_basis_note == "Ella told her teacher"
        sign_in(client, sam())
        page = client.get(reverse("directory:child_record", args=[ella.contactpoint_id]))
        assert "Ella told her teacher" in page.content.decode()
        assert "school nurse" not in page.content.decode()

    def test_another_child_s_reason_leaves_a_record_whose_own_row_gave_none(self, client):
        """Ella's row came in a file of the older format (a consent, no reason column);
        Ellie's, joined to her record, gave her own reason for suspected harm. Separated,
        Ella's service is held with her consent again, and Sam does not read on Ella's record
        why harm was suspected for her sister."""
        camhs = {"service_kind": "mental_health"}
        older = TestWhatOnlyAnLaKnows.without_reason
        la_import(older(**self.ELLA | camhs | {"sensitive_basis": "consent"}), name="ella.csv")
        ellie_row = {"sensitive_basis": "significant_harm"}
        la_import(
            la_system(
                **self.ELLIE | camhs | ellie_row | {"sensitive_reason": "Ellie told the nurse"}
            ),
            name="ellie.csv",
        )
        ella = Child.objects.get(source_records__record_id__endswith="/76")
        sign_in(client, dana())
        ellies = SourceRecord.objects.get(record_id__endswith="/77")
        assert "now a record of its own" in self.separate(client, ella, ellies.pk).content.decode()
        theirs = ella.involvements.get()
        assert theirs.sensitive_basis == "consent"
        assert "nurse" not in theirs.sensitive_basis_note
        sign_in(client, sam())
        page = client.get(reverse("directory:child_record", args=[ella.contactpoint_id]))
        assert "Ellie told the nurse" not in page.content.decode()

    def test_what_the_separated_row_never_said_is_left_as_it_is(self, client):
        """Ella's two LA records: 76 gave a consent to 25 and no CAF; 79, newer, withdrew the
        consent and said a CAF is held. Separating Ellie, whose row says neither, changes
        neither: which of 76 and 79 is newer is not what the separation decides."""
        older = self.ELLA | {"consent_to_25": "yes"}
        la_import(la_system(**older), name="a.csv")
        newer = {"la_record_id": "79", "consent_to_25": "no", "caf_held": "yes"}
        la_import(la_system(**self.ELLA | newer), name="b.csv")
        # 76 again, unchanged, in the LA's next file (with someone else): nothing to apply.
        someone = la_system(la_record_id="500").split(b"\n", 1)[1]
        la_import(la_system(**older) + someone, name="c.csv")
        ella, _ = self.both_in_their_las_system(
            client, {}, self.ELLIE | {"service_kind": "", "service_started_on": ""}
        )
        assert not ella.kept_to_25_with_consent
        assert ella.involvements.get(ended_on__isnull=True).caf_held

    def test_a_record_archived_at_18_stays_archived(self, client):
        born = {"date_of_birth": "2007-06-01"}
        la_import(la_system(**self.ELLA | born), name="a.csv")
        lifecycle_apply(today=timezone.localdate())
        ella, _ = self.both_in_their_las_system(
            client, {}, self.ELLIE | born | {"date_of_death": "2024-06-01"}
        )
        assert ella.status == Child.Status.ARCHIVED, "archived for her age, not for a death"

    def test_a_record_that_absorbed_another_can_still_be_separated(self, client):
        """The absorbed record's row gives a death before the kept record's birthday (which
        the merge therefore did not take): nothing about it stops the separation."""
        la_import(la_system(**self.ELLA), name="ella.csv")
        ella = Child.objects.get()
        dead = {"la_record_id": "80", "date_of_birth": "2014-01-01", "date_of_death": "2015-01-01"}
        la_import(la_system(**dead), name="other.csv")
        children_merge(kept=ella, absorbed=Child.objects.exclude(pk=ella.pk).get(), by=None)
        ella, ellie = self.both_in_their_las_system(client, {}, self.ELLIE)
        assert ellie.given_name == "Ellie" and ella.date_of_death is None

    def test_what_both_rows_named_stays_with_the_record_that_keeps_her_row(self, client):
        """Ellie's row gave the home, service and mother first; Ella's row, later, named the
        same (so recorded nothing new), asked for social care as lead (refused: Ellie's early
        help was), gave its own date of death and mother's phone. Separated, each has hers."""
        mum = {"carer_given_name": "Mary", "carer_family_name": "Brennan",
               "carer_relationship": "mother"}  # fmt: skip
        ellies = self.ELLIE | mum | {
            "service_kind": "early_help", "caf_held": "yes", "lead_professional": "yes",
            "carer_phone": "07700900001", "date_of_death": "2025-04-01",
        }  # fmt: skip
        ellas = self.ELLA | mum | {
            "service_kind": "social_care", "caf_held": "yes", "lead_professional": "yes",
            "carer_phone": "07700900002", "date_of_death": "2025-03-01",
        }  # fmt: skip
        la_import(la_system(**self.ELLA | {"address_line_1": "1 North Road"}), name="a.csv")
        la_import(la_system(**ellies | {"service_kind": "social_care"}), name="b.csv")
        la_import(la_system(**ellies), name="c.csv")  # her early help, lead
        la_import(la_system(**ellas), name="d.csv")
        ella, ellie = self.both_in_their_las_system(client, {}, ellies)
        for child, phone, died in ((ella, "07700900002", 3), (ellie, "07700900001", 4)):
            assert child.addresses.filter(ended_on__isnull=True, postcode="NE1 4ST").exists()
            assert child.carer_relationships.get(ended_on__isnull=True).carer.phone == phone
            assert (child.status, child.date_of_death) == ("deceased", date(2025, died, 1))
        assert [(i.service.kind, i.lead_professional) for i in ella.involvements.filter(
            ended_on__isnull=True)] == [("social_care", True)]  # fmt: skip
        assert not ellie.other_names.filter(given_name="Ellie").exists(), "her own name"

    def test_her_own_date_of_death_is_hers_again(self, client):
        ella, ellie = self.both_in_their_las_system(
            client,
            self.ELLA | {"date_of_death": "2025-03-01"},
            self.ELLIE | {"date_of_death": "2025-04-01"},
        )
        assert (ella.status, ella.date_of_death) == ("deceased", date(2025, 3, 1))
        assert ellie.date_of_death == date(2025, 4, 1)

    def test_what_the_separated_record_never_took_is_not_given_back(self, client):
        """Only what it took is given back: not a school the census left out as older than
        the one it gave since, nor the lead on a practitioner's own involvement."""
        make_service(Service.Kind.SCHOOL, name="Northshire Academy", identifier="200000")
        ella_census = {"given_name": "Ella", "upn": upn("352214300101")}
        load(census(ella_census | {"school_urn": "200000", "entry_date": "2024-09-03"}))
        load(census(ella_census | {"entry_date": "2020-09-03"}))  # older: left out
        ella = Child.objects.get()
        la_import(la_system(**self.ELLA | {"service_kind": "early_help"}), name="a.csv")
        la_import(la_system(**self.ELLIE | {"lead_professional": "yes"}), name="ellie.csv")
        la_import(la_system(**self.ELLA | {"lead_professional": "yes"}), name="c.csv")
        social = Service.objects.get(kind="social_care")
        involvement_record_mine(
            child=ella, practitioner=priya(), role="Social worker", service=social,
            started_on=date(2025, 2, 1), caf_held=False, lead_professional=False,
        )  # fmt: skip
        ellie = self.ELLIE | {"lead_professional": "yes"}
        ella, _ = self.both_in_their_las_system(client, {}, ellie)
        current = ella.involvements.filter(ended_on__isnull=True)
        assert sorted(i.service.name for i in current) == [
            "Northshire Academy", "Northshire Children's social care",  # hers, and the LA's
            "Northshire Children's social care", "Northshire Early help",
        ]  # fmt: skip
        leads = current.filter(lead_professional=True)
        assert [(i.source, i.service.kind) for i in leads] == [("la_system", "social_care")]

    def test_her_death_is_one_of_those_her_records_give_not_her_twins(self, client):
        la_import(la_system(**self.ELLA | {"date_of_death": "2025-03-01"}), name="a.csv")
        second = {"la_record_id": "79", "date_of_death": "2025-02-01"}
        la_import(la_system(**self.ELLA | second), name="b.csv")
        ella, _ = self.both_in_their_las_system(
            client, {}, self.ELLIE | {"date_of_death": "2025-04-01"}
        )
        assert ella.date_of_death == date(2025, 2, 1), "the last her records sent"

    def test_her_home_her_twins_move_ended_is_hers_again(self, client):
        """Ellie's row gave the home both rows name; her next row moved her, which ended that
        home on the joined record. Separated, Ella's home is the one her own row gives."""
        la_import(la_system(**self.ELLA | {"address_line_1": "1 North Road"}), name="a.csv")
        la_import(la_system(**self.ELLIE), name="b.csv")
        la_import(la_system(**self.ELLA), name="c.csv")  # Ella there too: nothing new
        moved = self.ELLIE | {"address_line_1": "9 South Street", "postcode": "NE9 9ZZ"}
        ella, ellie = self.both_in_their_las_system(client, {}, moved)
        assert ellie.addresses.filter(ended_on__isnull=True, postcode="NE9 9ZZ").exists()
        homes = ella.addresses.filter(ended_on__isnull=True).values_list("line_1", flat=True)
        assert list(homes) == ["14 Ashgrove Road"]

    def test_a_record_archived_at_18_for_her_twins_withdrawn_consent_is_live_again(self, client):
        born = {"date_of_birth": "2007-06-01"}
        la_import(la_system(**self.ELLA | born | {"consent_to_25": "yes"}), name="a.csv")
        la_import(la_system(**self.ELLIE | born | {"consent_to_25": "no"}), name="b.csv")
        lifecycle_apply(today=timezone.localdate())
        ella, _ = self.both_in_their_las_system(
            client, {}, self.ELLIE | born | {"consent_to_25": "no"}
        )
        assert (ella.kept_to_25_with_consent, ella.status) == (True, "active")

    def test_a_death_before_her_birthday_is_never_hers(self, client):
        """A record merged into hers gave a death before her birthday (which the merge did
        not take): taking back her twin's death does not give her that one."""
        la_import(la_system(**self.ELLA), name="ella.csv")
        ella = Child.objects.get()
        dead = {"la_record_id": "80", "date_of_birth": "2014-01-01", "date_of_death": "2015-01-01"}
        la_import(la_system(**dead), name="other.csv")
        children_merge(kept=ella, absorbed=Child.objects.exclude(pk=ella.pk).get(), by=None)
        ella, ellie = self.both_in_their_las_system(
            client, {}, self.ELLIE | {"date_of_death": "2025-04-01"}
        )
        assert (ella.status, ella.date_of_death) == ("active", None)
        assert ellie.date_of_death == date(2025, 4, 1)


class TestAnOlderFileImportedLate:
    """Feed files carry no extract date, and can arrive out of order: Dana says when each was
    extracted, and a row of a file extracted before the one that last sent its record does not
    move the child's home (or anything else that record says) back."""

    JANUARY = la_system()  # Zed at 1 North Road
    MARCH = la_system(address_line_1="9 New Street", postcode="NE1 2BB")

    def upload(
        self, client, content: bytes, extracted_on: date | None, name: str,
        source: str = Source.LA_SYSTEM,
    ) -> str:  # fmt: skip
        day = {"extracted_on_0": extracted_on.day, "extracted_on_1": extracted_on.month,
               "extracted_on_2": extracted_on.year} if extracted_on else {}  # fmt: skip
        form = {"source": source, "local_authority": northshire().pk, **day}
        upload = SimpleUploadedFile(name, content, content_type="text/csv")
        return client.post(reverse("directory:feeds"), {**form, "file": upload}).content.decode()

    def homes(self) -> list[str]:
        return list(Address.objects.filter(ended_on__isnull=True).values_list("line_1", flat=True))

    def test_the_same_file_with_an_earlier_extract_date_says_the_date_was_not_used(self, client):
        """The file is no newer for being sent again: the first import's extract date is kept,
        and the data manager is told that the date she entered was not used."""
        sign_in(client, dana())
        today = timezone.localdate()
        first, entered = today - timedelta(days=10), today - timedelta(days=12)
        self.upload(client, self.MARCH, first, "march.csv")
        page = self.upload(client, self.MARCH, entered, "march.csv")
        assert (
            f"This file was imported before, as extracted on {first:%-d %B %Y}, so it keeps "
            f"that date: the date you entered, {entered:%-d %B %Y}, was not used."
        ) in page
        assert FeedImport.objects.get().extracted_on == first
        page = self.upload(client, self.MARCH, first, "march.csv")
        assert "was not used" not in page and "This file was imported before." in page

    def test_the_same_file_extracted_later_is_imported_as_the_newer_extract(self, client):
        """Zed moved in April and back in May: Northshire's system extracted May's file byte
        for byte as March's. Refused as 'imported before', it left him at his April home, and
        April's word stood above May's for any file imported late."""
        sign_in(client, dana())
        today = timezone.localdate()
        march, may = today - timedelta(days=30), today - timedelta(days=2)
        self.upload(client, self.MARCH, march, "march.csv")
        april = la_system(address_line_1="5 April Close", postcode="NE1 3AB")
        self.upload(client, april, today - timedelta(days=20), "april.csv")
        assert self.homes() == ["5 April Close"]
        page = self.upload(client, self.MARCH, may, "may.csv")
        assert (
            f"This file was imported before, as extracted on {march:%-d %B %Y}. It has been "
            f"imported again as extracted on {may:%-d %B %Y}, the date you entered"
        ) in page
        assert "File imported" in page and "1 updated" in page
        assert self.homes() == ["9 New Street"]
        assert sorted(FeedImport.objects.values_list("file_name", "extracted_on")) == [
            ("april.csv", today - timedelta(days=20)), ("march.csv", march), ("may.csv", may),
        ]  # fmt: skip
        # A file extracted between April and May, imported late, is older than May's word.
        page = self.upload(client, april + b"\n", today - timedelta(days=10), "late.csv")
        assert "1 row was not applied, as a file extracted later has sent that record" in page
        assert self.homes() == ["9 New Street"]
        page = self.upload(client, self.MARCH, may, "may.csv")
        assert "This file was imported before. Nothing has changed." in page
        assert FeedImport.objects.count() == 4

    def test_a_waiting_file_says_it_was_imported_as_the_newer_extract(self, client, settings):
        """A file too large to import while Dana waits said only what its rows did: not that
        it had been imported before, nor that it was imported again as the newer extract."""
        from directory.feed_import import waiting_uploads_import
        from directory.models import FeedUpload

        sign_in(client, dana())
        today = timezone.localdate()
        march, may = today - timedelta(days=30), today - timedelta(days=2)
        self.upload(client, self.MARCH, march, "march.csv")
        settings.FEED_WEB_CHECK_BYTES = 10
        self.upload(client, self.MARCH, march - timedelta(days=1), "again.csv")
        self.upload(client, self.MARCH, may, "may.csv")
        waiting_uploads_import()
        again, newer = (upload.result for upload in FeedUpload.objects.order_by("pk"))
        assert newer.splitlines()[0] == (
            f"This file was imported before, as extracted on {march:%-d %B %Y}. It has been "
            f"imported again as extracted on {may:%-d %B %Y}, so its rows are the newer word "
            "on their records."
        )
        assert again.splitlines() == [
            f"This file was imported before, as extracted on {march:%-d %B %Y}, so it keeps "
            f"that date: the date entered, {march - timedelta(days=1):%-d %B %Y}, was not used.",
            "This file was imported before. Nothing has changed.",
        ]

    def test_a_file_imported_before_extract_dates_is_said_to_be_dated_when_received(self, client):
        """Its first import has no extract date: the day it was received stands in, and the
        page says so rather than calling that day its extract date."""
        la_import(self.MARCH, name="march.csv")  # before the page asked: no extract date
        received = timezone.now() - timedelta(days=30)
        FeedImport.objects.update(imported_at=received)
        sign_in(client, dana())
        day = timezone.localdate(received)
        entered = day - timedelta(days=3)
        before = (
            f"This file was imported before, on {day:%-d %B %Y}, before ContactPoint asked "
            "when files were extracted"
        )
        page = self.upload(client, self.MARCH, entered, "march.csv")
        said = f"{before}, so it counts as extracted that day: the date you entered, "
        assert f"{said}{entered:%-d %B %Y}, was not used." in page
        assert "as extracted on" not in page
        later = day + timedelta(days=3)
        page = self.upload(client, self.MARCH, later, "march.csv")
        said = f"{before}. It has been imported again as extracted on {later:%-d %B %Y}"
        assert said in page

    def test_it_leaves_her_newer_home_and_says_why(self, client):
        sign_in(client, dana())
        today = timezone.localdate()
        self.upload(client, self.MARCH, today - timedelta(days=10), "march.csv")
        page = self.upload(client, self.JANUARY, today - timedelta(days=60), "january.csv")
        assert self.homes() == ["9 New Street"]
        assert "1 row was not applied, as a file extracted later has sent that record" in page
        assert "before the local authority system file march.csv" in page
        assert '<p class="govuk-body">.</p>' not in page, "no summary of rows applied: none were"
        january = FeedImport.objects.get(file_name="january.csv")
        assert january.extracted_on == today - timedelta(days=60)
        assert january.outcome == {EXTRACTED_BEFORE: 1}
        assert "1 not applied as a file extracted later sent its record" in january.outcome_text
        # The record keeps the newer row, so a later match or separation reads March's.
        assert SourceRecord.objects.get().payload["address_line_1"] == "9 New Street"

    def test_it_asks_for_a_real_extract_date_not_ahead(self, client):
        """Nor more than a year back: 1026 typed for 2026 would leave every row not applied,
        and the same file could not be sent again with the date put right."""
        sign_in(client, dana())
        today = timezone.localdate()
        tomorrow, typo = today + timedelta(days=1), today.replace(year=1026)
        a_year_ago = years_before(today, 1)
        for extracted_on, message in (
            (None, "Enter the date the file was extracted"),
            (tomorrow, "The date the file was extracted must be today or in the past"),
            (
                typo,
                "The date the file was extracted must be within the last year, on or after "
                f"{a_year_ago:%-d %B %Y}",
            ),
        ):
            assert message in self.upload(client, self.JANUARY, extracted_on, "january.csv")
        assert not FeedImport.objects.exists() and not Child.objects.exists()

    @pytest.mark.parametrize("one_value", ["2026-01-11", "11/01/2026"])
    def test_an_extract_date_sent_in_one_value_is_not_read(self, client, one_value):
        """Only the auditors' filters read a date from one value (their old links): a script
        sending "11/01/2026" here must not have it taken as 11 January, or 1 November."""
        sign_in(client, dana())
        form = {"source": Source.LA_SYSTEM, "local_authority": northshire().pk}
        upload = SimpleUploadedFile("january.csv", self.JANUARY, content_type="text/csv")
        html = client.post(
            reverse("directory:feeds"), {**form, "extracted_on": one_value, "file": upload}
        ).content.decode()
        assert "Enter the date the file was extracted" in html
        assert not FeedImport.objects.exists() and not Child.objects.exists()

    def test_a_file_imported_before_extract_dates_counts_as_extracted_when_received(self, client):
        la_import(self.MARCH, name="march.csv")  # before the page asked: no extract date
        FeedImport.objects.update(imported_at=timezone.now() - timedelta(days=30))
        sign_in(client, dana())
        today = timezone.localdate()
        self.upload(client, self.JANUARY, today - timedelta(days=60), "january.csv")
        assert self.homes() == ["9 New Street"]
        april = la_system(address_line_2="Flat 1")  # back at 1 North Road, extracted since
        self.upload(client, april, today - timedelta(days=5), "april.csv")
        assert self.homes() == ["1 North Road"]

    def test_a_large_file_keeps_its_extract_date_while_it_waits(self, client, settings):
        settings.FEED_WEB_IMPORT_ROWS = 0
        sign_in(client, dana())
        today = timezone.localdate()
        self.upload(client, self.MARCH, today - timedelta(days=10), "march.csv")
        self.upload(client, self.JANUARY, today - timedelta(days=60), "january.csv")
        waiting_uploads_import()
        assert self.homes() == ["9 New Street"]
        assert FeedImport.objects.get(file_name="january.csv").outcome == {EXTRACTED_BEFORE: 1}

    @pytest.mark.parametrize("nhs", ["9434765005", ""], ids=["by_nhs_number", "by_name"])
    @pytest.mark.parametrize("sent_before", [True, False])
    def test_an_older_file_of_the_la_she_left_does_not_end_her_new_las_home(self, sent_before, nhs):
        """Zed moved from Northshire to Southshire: Southshire's file, extracted 10 days ago,
        gave his home there. Northshire's file of 60 days ago, imported late, says where he
        lived then: it must neither end his Southshire home nor bring back a Northshire one,
        whether or not Northshire's system had sent him before, and whether he is found by
        his NHS number or (LA systems often hold none) by his name and birthday."""
        today = timezone.localdate()
        south = {"address_line_1": "9 South Street", "town": "Southtown", "postcode": "SE1 1AA"}
        before = {"address_line_1": "2 North Road"}
        for la, row, days in (
            *[(northshire(), la_system(la_record_id="1", nhs_number=nhs), 100)] * sent_before,
            (southshire(), la_system(la_record_id="7", nhs_number=nhs, **south), 10),
            (northshire(), la_system(la_record_id="1", nhs_number=nhs, **before), 60),
        ):
            outcome = feed_import(
                source=Source.LA_SYSTEM, file_name=f"{la.code}-{days}.csv", content=row,
                local_authority=la, by=None, extracted_on=today - timedelta(days=days),
            )  # fmt: skip
        assert dict(outcome.counts) == {EXTRACTED_BEFORE: 1}
        assert self.homes() == ["9 South Street"]
        assert Child.objects.count() == 1

    @pytest.mark.parametrize("moved", [False, True], ids=["still_here", "sent_by_another_la"])
    def test_dana_cannot_learn_that_a_shielded_child_has_moved_to_another_la(self, client, moved):
        """Zed is shielded. Whether or not Southshire's system has sent him since, Dana's upload
        of an older Northshire file reads the same: "not applied, as a file extracted later has
        sent that record", when Northshire sent no later file, would tell her he has left (and,
        upload by upload, when). What her row says of where he lives is held back all the same;
        a Northshire file extracted after Southshire's takes him back."""
        today = timezone.localdate()
        south = {"address_line_1": "9 South Street", "town": "Southtown", "postcode": "SE1 1AA"}
        zed = {"la_record_id": "1", "nhs_number": "9434765005"}
        la_import(la_system(**zed), northshire(), name="north-100.csv")
        FeedImport.objects.update(extracted_on=today - timedelta(days=100))
        shield(Child.objects.get())
        if moved:
            feed_import(
                source=Source.LA_SYSTEM, file_name="south-10.csv", content=la_system(
                    la_record_id="7", nhs_number=zed["nhs_number"], **south),
                local_authority=southshire(), by=None, extracted_on=today - timedelta(days=10),
            )  # fmt: skip
        sign_in(client, dana())
        older = la_system(**zed, address_line_1="2 North Road")
        page = self.upload(client, older, today - timedelta(days=60), "north-60.csv")
        assert "not applied" not in page and "1 updated" in page
        assert FeedImport.objects.get(file_name="north-60.csv").outcome == {"updated": 1}
        history = client.get(reverse("directory:feeds")).content.decode()
        assert "not applied" not in history and "1 updated" in history
        assert self.homes() == (["9 South Street"] if moved else ["2 North Road"])
        self.upload(client, older + b"\n", today - timedelta(days=5), "north-5.csv")
        assert self.homes() == ["2 North Road"]

    @pytest.mark.parametrize("source", [Source.SCHOOL_CENSUS, Source.GP_REGISTRATION])
    @pytest.mark.parametrize("moved", [False, True], ids=["still_here", "sent_by_another_la"])
    def test_nor_from_another_las_census_or_gp_file(self, client, source, moved):
        """Olivia is shielded. A census or GP file numbers her by her UPN or NHS number, the
        same in every LA's file: Southshire's, extracted after Northshire's older file, has
        sent her record. "Not applied, as a file extracted later has sent that record" on
        that older file (on the upload page or in the history), Northshire sending no later
        one, would tell Dana another LA's school or practice has her now. What it says of
        where she lives is held back all the same; a newer Northshire file takes her back."""
        today = timezone.localdate()
        olivia = self.shielded_in_northshire(source, moved)
        older = national_id_file(source, **olivia, address_line_1="2 North Road")
        sign_in(client, dana())
        if source == Source.SCHOOL_CENSUS:  # an LA's data managers upload its census
            page = self.upload(client, older, today - timedelta(days=60), "north-60.csv", source)
            assert "not applied" not in page and "1 updated" in page
        else:  # the national team's GP files for Northshire are in its history
            self.national_import(source, older, northshire(), 60, name="north-60.csv")
        assert FeedImport.objects.get(file_name="north-60.csv").outcome == {"updated": 1}
        history = client.get(reverse("directory:feeds")).content.decode()
        assert "not applied" not in history and "1 updated" in history
        assert self.homes() == (["9 South Street"] if moved else ["2 North Road"])
        services = Involvement.objects.filter(ended_on__isnull=True).values_list(
            "service__name", flat=True
        )
        assert list(services) == (["South Service"] if moved else ["North Service"])
        # The record keeps Southshire's newer row: a Northshire file extracted between is older.
        self.national_import(source, older + b"\n", northshire(), 30)
        assert self.homes() == (["9 South Street"] if moved else ["2 North Road"])
        self.national_import(source, older + b"\n\n", northshire(), 5)
        assert self.homes() == ["2 North Road"]

    @pytest.mark.parametrize("source", [Source.SCHOOL_CENSUS, Source.GP_REGISTRATION])
    @pytest.mark.parametrize("moved", [False, True], ids=["still_here", "sent_by_another_la"])
    def test_her_rows_are_compared_with_her_las_own_last_row(
        self, client, capsys, tmp_path, source, moved
    ):
        """Olivia is shielded, and Southshire's file, extracted after Northshire's, has sent her
        UPN or NHS number. Northshire's older file repeating its own last row on her read "1
        updated", compared with Southshire's row: someone has sent other details of her since,
        so she has moved. Each of Northshire's files now reads, on the upload page (census),
        in the command's output (GP) and in the history, as it would had Southshire sent
        nothing, its newest taking her back."""
        at_home = self.shielded_in_northshire(source, moved)
        moved_in_northshire = at_home | {"address_line_1": "2 North Road"}
        sign_in(client, dana())
        not_applied = f"1 {EXTRACTED_BEFORE.replace('_', ' ')}"
        files = [  # what her row says, extracted how many days ago, and what Dana is told
            (at_home, 60, "1 unchanged"),
            (moved_in_northshire, 50, "1 updated"),
            (moved_in_northshire, 40, "1 unchanged"),
            (at_home, 70, not_applied),  # Northshire's own files of 60 to 40 days ago are later
            (moved_in_northshire, 5, "1 unchanged"),
        ]
        for blank_lines, (cells, days, told) in enumerate(files, start=1):
            name = f"north-{days}.csv"
            content = national_id_file(source, **cells) + b"\n" * blank_lines
            extracted_on = timezone.localdate() - timedelta(days=days)
            if source == Source.SCHOOL_CENSUS:  # an LA's data managers upload its census
                page = self.upload(client, content, extracted_on, name, source)
                said = f'<p class="govuk-body">{told}.</p>'  # the page's, not the history's
                if told == not_applied:
                    said = "1 row was not applied, as a file extracted later has sent that record"
                assert said in page, name
            else:  # the national team's GP files for Northshire, by the command
                path = tmp_path / name
                path.write_bytes(content)
                call_command(
                    "import_feed", "--source", source, "--extracted-on", extracted_on.isoformat(),
                    "--local-authority", northshire().code, str(path),
                )  # fmt: skip
                assert f"Read 1 row of {name}: {told}." in capsys.readouterr().out, name
        history = client.get(reverse("directory:feeds")).content.decode()
        for _, days, told in files:  # its row: the file, when extracted, rows, and outcome
            row = rf"north-{days}\.csv</td>(<td[^>]*>[^<]*</td>){{2}}<td[^>]*>{told}</td>"
            assert re.search(row, history), days
        assert self.homes() == ["2 North Road"]

    def test_a_census_row_not_shielded_is_not_applied_over_another_las_newer_one(self):
        """Without a shield, another LA's newer census row on the child stands, and the older
        row is counted as not applied."""
        make_service(Service.Kind.SCHOOL, name="North", identifier="A81001")
        make_service(Service.Kind.SCHOOL, name="South", identifier="B81001",
                     local_authority=southshire())  # fmt: skip
        north = {"school_urn": "A81001"}
        south = {"address_line_1": "9 South Street", "postcode": "SE1 1AA", "school_urn": "B81001"}
        self.national_import(Source.SCHOOL_CENSUS, census(north), northshire(), 100)
        self.national_import(Source.SCHOOL_CENSUS, census(south), southshire(), 10)
        older = census(north | {"address_line_1": "2 North Road"})
        outcome = self.national_import(Source.SCHOOL_CENSUS, older, northshire(), 60)
        assert dict(outcome.counts) == {EXTRACTED_BEFORE: 1}
        assert self.homes() == ["9 South Street"]
        # A newer file takes him back, repeating Northshire's first row: that it moved him
        # shows, as for an LA system's row on a child who is not shielded.
        newer = self.national_import(Source.SCHOOL_CENSUS, census(north) + b"\n", northshire(), 5)
        assert dict(newer.counts) == {"updated": 1}
        assert self.homes() == ["14 Ashgrove Road"]

    def shielded_in_northshire(self, source: Source, moved: bool) -> dict[str, str]:
        """Olivia, shielded, from Northshire's census or GP file of 100 days ago (at North
        Service, A81001: her cells, returned); ``moved``, Southshire's of 10 days ago has sent
        her since, at South Service (B81001) and 9 South Street."""
        kind, code = {
            Source.SCHOOL_CENSUS: (Service.Kind.SCHOOL, "school_urn"),
            Source.GP_REGISTRATION: (Service.Kind.GP_PRACTICE, "gp_practice_code"),
        }[source]
        make_service(kind, name="North Service", identifier="A81001", local_authority=northshire())
        make_service(kind, name="South Service", identifier="B81001", local_authority=southshire())
        olivia = {code: "A81001"}
        south = {"address_line_1": "9 South Street", "town": "Southtown", "postcode": "SE1 1AA",
                 code: "B81001"}  # fmt: skip
        self.national_import(source, national_id_file(source, **olivia), northshire(), 100)
        shield(Child.objects.get())
        if moved:
            self.national_import(source, national_id_file(source, **south), southshire(), 10)
        return olivia

    @pytest.mark.parametrize("source", [Source.SCHOOL_CENSUS, Source.GP_REGISTRATION])
    @pytest.mark.parametrize("moved", [False, True], ids=["still_here", "sent_by_another_la"])
    def test_a_sister_under_her_number_waits_whether_or_not_she_has_moved(
        self, client, source, moved
    ):
        """Olivia is shielded. Northshire's older file sends, under her UPN or NHS number, Mia:
        her surname, another first name and birthday. Where Southshire's file had sent her since,
        Mia's name and birthday were applied to Olivia at once, "1 updated", where otherwise the
        row waits for a data manager: Olivia took a stranger's name, and Dana, told one thing or
        the other, learnt whether Olivia had moved to another LA. The row waits either way."""
        olivia = self.shielded_in_northshire(source, moved)
        sister = {"given_name": "Mia", "date_of_birth": "2017-03-20"}
        row = national_id_file(source, **olivia, **sister)
        outcome = self.national_import(source, row, northshire(), 60)
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        child = Child.objects.get()
        assert (child.given_name, child.date_of_birth) == ("Olivia", date(2015, 9, 12))
        assert not child.other_names.filter(given_name="Mia").exists()
        review = MatchReview.objects.get()
        assert child.pk in [candidate["child_id"] for candidate in review.candidates]
        assert self.homes() == (["9 South Street"] if moved else ["14 Ashgrove Road"])
        # Found to be her, her name corrected: what the older row says of where she lives is
        # still held back.
        sign_in(client, dana())
        decide(client, review, f"match:{child.contactpoint_id}")
        assert child.other_names.filter(given_name="Mia").exists()
        assert self.homes() == (["9 South Street"] if moved else ["14 Ashgrove Road"])

    def national_import(self, source: str, content: bytes, la: Organisation, days: int,
                        name: str = ""):  # fmt: skip
        """A census or GP file for ``la``, extracted ``days`` ago."""
        return feed_import(
            source=source, file_name=name or f"{la.code}-{days}.csv", content=content,
            local_authority=la, by=None, extracted_on=timezone.localdate() - timedelta(days=days),
        )  # fmt: skip

    # Olivia's sister: her surname, another first name and birthday.
    MIA = {"given_name": "Mia", "date_of_birth": "2012-03-03", "address_line_1": "2 North Road",
           "gp_practice_code": "A81001"}  # fmt: skip

    def olivias_sister_sent_by_an_older_northshire_file(self, moved: bool):
        """Olivia, shielded (sent by Southshire's file of 10 days ago since, if ``moved``), and
        Mia under her NHS number in Northshire's GP file of 60 days ago: its outcome."""
        self.shielded_in_northshire(Source.GP_REGISTRATION, moved)
        mia = national_id_file(Source.GP_REGISTRATION, **self.MIA)
        return self.national_import(Source.GP_REGISTRATION, mia, northshire(), 60)

    def southshires_next_row_on_olivia(self):
        """Southshire's GP file of 5 days ago, sending Olivia at South Service as before: its
        outcome."""
        south = {"address_line_1": "9 South Street", "town": "Southtown", "postcode": "SE1 1AA",
                 "gp_practice_code": "B81001"}  # fmt: skip
        again = national_id_file(Source.GP_REGISTRATION, **south) + b"\n"
        return self.national_import(Source.GP_REGISTRATION, again, southshire(), 5)

    @pytest.mark.parametrize("moved", [False, True], ids=["still_here", "sent_by_another_la"])
    def test_her_sister_under_her_number_waits_whoever_sent_her_last(self, client, moved):
        """Mia, Olivia's sister, comes under Olivia's NHS number in Northshire's older file.
        Held back against Southshire's newer row, it was applied as before: Mia became a name
        Olivia is known by. It waits for Dana in Northshire's queue, as had Southshire sent
        nothing (that it did not would tell her Olivia had moved), and nothing of it is
        Olivia's until she decides."""
        outcome = self.olivias_sister_sent_by_an_older_northshire_file(moved)
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        olivia = Child.objects.get()
        assert olivia.date_of_birth == date(2015, 9, 12)
        assert not olivia.other_names.exists()
        assert self.homes() == (["9 South Street"] if moved else ["14 Ashgrove Road"])
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[MatchReview.objects.get().pk]))
        assert page.status_code == 200 and "Mia" in page.content.decode()

    def test_dana_finding_she_is_olivia_corrected_does_not_take_her_back(self, client):
        """It is Olivia, corrected, as Dana decides: Mia is a name she is known by, but her
        Southshire home stays (the row is older), and a Northshire file extracted between
        the two is older than Southshire's word on her too."""
        self.olivias_sister_sent_by_an_older_northshire_file(moved=True)
        olivia = Child.objects.get()
        sign_in(client, dana())
        decide(client, MatchReview.objects.get(), f"match:{olivia.contactpoint_id}")
        assert olivia.other_names.filter(given_name="Mia").exists()
        assert self.homes() == ["9 South Street"]
        between = national_id_file(Source.GP_REGISTRATION, **self.MIA) + b"\n"
        self.national_import(Source.GP_REGISTRATION, between, northshire(), 30)
        assert self.homes() == ["9 South Street"]

    def test_once_dana_finds_mia_a_new_child_southshires_olivia_is_not_taken_for_her(self, client):
        """Dana decides Mia is a new child: the NHS number's later rows are compared with her.
        Southshire's row on Olivia, kept beside it, was still taken as the record's own, so
        Southshire's next file repeating it was counted "unchanged" on Mia's record."""
        self.olivias_sister_sent_by_an_older_northshire_file(moved=True)
        sign_in(client, dana())
        decide(client, MatchReview.objects.get(), "new")
        assert is_shielded(Child.objects.get(given_name="Mia"))
        outcome = self.southshires_next_row_on_olivia()
        assert dict(outcome.counts) == {"waiting_for_review": 1}

    def test_dana_matching_it_to_mias_own_record_gives_it_mias_row_not_olivias(self, client):
        """Mia has a record of her own, and Dana matches the row to it. Southshire's newer row
        on Olivia, kept beside the row, was taken as the newer word on Mia: her row was not
        applied ("another local authority's system has sent this child" since, which it had
        not), and Olivia's row, her Southshire home in it, became the row of Mia's feed record,
        on which Southshire's next row on Olivia then counted "unchanged"."""
        self.shielded_in_northshire(Source.GP_REGISTRATION, moved=True)
        mia = make_child(given_name="Mia", family_name="Brennan", date_of_birth=date(2012, 3, 3))
        rebuild_keys(mia)
        row = national_id_file(Source.GP_REGISTRATION, **self.MIA)
        self.national_import(Source.GP_REGISTRATION, row, northshire(), 60)
        review = MatchReview.objects.get()
        assert mia.pk in [c["child_id"] for c in review.candidates]
        sign_in(client, dana())
        told = client.get(decide(client, review, f"match:{mia.contactpoint_id}").url)
        assert "Your decision has been recorded" in told.content.decode()
        assert "details were not added" not in told.content.decode()
        assert list(mia.addresses.values_list("line_1", flat=True)) == ["2 North Road"]
        source_record = SourceRecord.objects.get(child=mia)
        assert source_record.payload["given_name"] == "Mia"
        assert "Olivia" not in json.dumps(source_record.la_last_rows)
        outcome = self.southshires_next_row_on_olivia()
        assert dict(outcome.counts) == {"waiting_for_review": 1}

    def test_mia_left_undecided_when_southshire_took_the_row_is_not_applied_to_olivia(self, client):
        """Mia waits in Dana's queue under shielded Olivia's NHS number. Southshire's newer file
        sends Olivia under it: the row, and its review, are Southshire's now, and Dora there
        matches it to Olivia. Northshire's next file sends Mia again. Mia's row, kept as
        Northshire's last word on the record though no one had decided it was Olivia's, was
        taken as that word unchanged and applied to Olivia, unreviewed: Mia a name she is known
        by, and Mia's home hers. It waits for Dana again instead."""
        self.olivias_sister_sent_by_an_older_northshire_file(moved=True)
        outcome = self.southshires_next_row_on_olivia()
        assert dict(outcome.counts) == {"still_waiting_for_review": 1}
        olivia, review = Child.objects.get(), MatchReview.objects.get()
        sign_in(client, make_user("dora", Role.DATA_MANAGER, organisation=southshire()))
        decide(client, review, f"match:{olivia.contactpoint_id}")
        assert MatchReview.objects.get().status == MatchReview.Status.MATCHED
        mia = national_id_file(Source.GP_REGISTRATION, **self.MIA)
        outcome = self.national_import(Source.GP_REGISTRATION, mia, northshire(), 1)
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        assert not olivia.other_names.exists()
        assert self.homes() == ["9 South Street"]
        assert MatchReview.objects.get().source_record.last_import.local_authority == northshire()

    @pytest.mark.parametrize("south_days", [100, 10], ids=["before_north", "after_north"])
    def test_nor_when_northshire_had_not_sent_her_before(self, client, south_days):
        """Zed came from Southshire's system only: Northshire's older file finds him by his NHS
        number, and reads "matched" whether Southshire's file was extracted before it or after
        (he has moved there since)."""
        today = timezone.localdate()
        south = {"address_line_1": "9 South Street", "town": "Southtown", "postcode": "SE1 1AA"}
        feed_import(
            source=Source.LA_SYSTEM, file_name="south.csv", content=la_system(
                la_record_id="7", nhs_number="9434765005", **south),
            local_authority=southshire(), by=None, extracted_on=today - timedelta(days=south_days),
        )  # fmt: skip
        shield(Child.objects.get())
        sign_in(client, dana())
        older = la_system(la_record_id="1", nhs_number="9434765005", address_line_1="2 North Road")
        page = self.upload(client, older, today - timedelta(days=60), "north-60.csv")
        assert "not applied" not in page and "1 matched by identifier" in page
        assert self.homes() == (["9 South Street"] if south_days == 10 else ["2 North Road"])

    ELLA = TestSendingAFileAgain.ELLA

    def census_import(self, content: bytes, days: int | None) -> FeedImport | None:
        """A census file extracted ``days`` ago (None: imported before ContactPoint asked)."""
        extracted_on = None if days is None else timezone.localdate() - timedelta(days=days)
        return load(content, skip_invalid=True, extracted_on=extracted_on).feed_import

    def ella_homes(self) -> list[str]:
        ella = Child.objects.get(given_name="Ella")
        return list(ella.addresses.filter(ended_on__isnull=True).values_list("line_1", flat=True))

    def test_a_row_left_out_of_a_newer_file_is_not_kept_out_by_an_older_one(self, school):
        """January's file left Ella out (her school not yet held); December's, imported after
        it, brought her in at her old home. January's file sent again is the newer word on
        her: her January home is taken, not kept out as 'sent since in a later file'."""
        january = census({}, self.ELLA)
        self.census_import(january, 30)
        december = census({**self.ELLA, "address_line_1": "2 Old Lane", "school_urn": "100000"})
        self.census_import(december, 60)
        make_service(Service.Kind.SCHOOL, name="Northshire Juniors", identifier="100001")
        resent = self.census_import(january, 0)
        assert resent is not None and resent.outcome == {"updated": 1}
        assert self.ella_homes() == ["3 Mill Lane"]

    def test_a_file_imported_before_extract_dates_sent_again_is_as_old_as_it_was(self, school):
        """A file received 60 days ago, before ContactPoint asked for extract dates, is sent
        again today for Ella's row: it is no newer for that, so a file extracted 5 days ago,
        imported after it, still moves her."""
        january = census({}, self.ELLA)
        self.census_import(january, None)
        received = timezone.now() - timedelta(days=60)
        FeedImport.objects.update(imported_at=received)
        make_service(Service.Kind.SCHOOL, name="Northshire Juniors", identifier="100001")
        resent = self.census_import(january, 0)
        assert resent is not None and resent.extracted == timezone.localdate(received)
        moved = census({**self.ELLA, "address_line_1": "9 New Street", "postcode": "NE2 2BB"})
        assert self.census_import(moved, 5).outcome == {"updated": 1}
        assert self.ella_homes() == ["9 New Street"]

    def test_dana_deciding_an_older_row_of_the_la_he_left_is_his_does_not_take_him_back(
        self, client
    ):
        """Northshire's file of 60 days ago spells Zed 'Zedd', so his row waits for review;
        Southshire's file of 10 days ago gave his home there. The row is his, as Dana decides,
        but it is the older word on where he lives: his Southshire home stays."""
        zed = self.zedd_matched_by_dana(client)
        assert SourceRecord.objects.get(record_id__endswith="/1001").child == zed
        assert self.homes() == ["9 South Street"]
        told = client.get(reverse("directory:review_queue")).content.decode()
        assert "The row&#x27;s details were not added to the record" in told

    ZEDD = {"given_name": "Zedd", "address_line_1": "2 North Road"}

    def zedd_matched_by_dana(self, client, *, shielded: bool = False) -> Child:
        """Zed, shielded if ``shielded`` once Southshire's file has sent him, matched by Dana to
        Northshire's older row."""
        today = timezone.localdate()
        south = {"address_line_1": "9 South Street", "town": "Southtown", "postcode": "SE1 1AA"}
        for la, row, days in (
            (southshire(), la_system(la_record_id="7", **south), 10),
            (northshire(), la_system(**self.ZEDD), 60),
        ):
            feed_import(
                source=Source.LA_SYSTEM, file_name=f"{la.code}.csv", content=row,
                local_authority=la, by=None, extracted_on=today - timedelta(days=days),
            )  # fmt: skip
            if shielded and la == southshire():
                shield(Child.objects.get())
        zed, review = Child.objects.get(), MatchReview.objects.get()
        sign_in(client, dana())
        page = client.get(reverse("directory:review", args=[review.pk])).content.decode()
        seen = page.split('name="seen" value="', 1)[1].split('"', 1)[0]
        client.post(
            reverse("directory:review", args=[review.pk]),
            {"choice": f"match:{zed.contactpoint_id}", "seen": seen},
        )
        return zed

    def test_dana_matching_an_older_row_of_a_shielded_child_who_moved_holds_back_his_home(
        self, client
    ):
        """Zed is shielded, and moved to Southshire. Dana decides Northshire's older 'Zedd' row
        is his: what it says of where he lives is held back, so his Southshire home stays, and
        she is told only that her decision was recorded (that it was not added would tell her
        another LA holds him now)."""
        zed = self.zedd_matched_by_dana(client, shielded=True)
        assert SourceRecord.objects.get(record_id__endswith="/1001").child == zed
        assert self.homes() == ["9 South Street"]
        assert is_shielded(zed)
        told = client.get(reverse("directory:review_queue")).content.decode()
        assert "Your decision has been recorded" in told
        assert "not added" not in told and "another local authority" not in told
        review = MatchReview.objects.get()
        for page in (
            reverse("directory:review", args=[review.pk]),
            reverse("directory:child_record", args=[zed.contactpoint_id]),
        ):
            shown = client.get(page).content.decode()
            assert "Zed" in shown and "North Road" not in shown and "South Street" not in shown
        # Northshire's newer file sends the same row: it is the newer word, and takes him back.
        outcome = feed_import(
            source=Source.LA_SYSTEM, file_name="north-2.csv", content=la_system(**self.ZEDD),
            local_authority=northshire(), by=None,
            extracted_on=timezone.localdate() - timedelta(days=2),
        )  # fmt: skip
        assert dict(outcome.counts) == {"unchanged": 1}, "a shielded child's move never shows"
        assert self.homes() == ["2 North Road"]

    def test_the_same_row_in_a_newer_file_of_the_la_he_left_is_applied(self, client):
        """Dana matched Northshire's older row to Zed, and it was not applied (Southshire's
        file was newer). Northshire's file of 2 days ago sends the same row: it is newer than
        Southshire's, so he lives at 2 North Road again. Counted "unchanged" (its row was
        stored as it is), it was never applied, and his home stayed in Southshire."""
        self.zedd_matched_by_dana(client)
        ada = la_system(la_record_id="1002", given_name="Ada", date_of_birth="2014-04-04")
        newer = la_system(**self.ZEDD) + ada.split(b"\n", 1)[1]
        outcome = feed_import(
            source=Source.LA_SYSTEM, file_name="north-2.csv", content=newer,
            local_authority=northshire(), by=None,
            extracted_on=timezone.localdate() - timedelta(days=2),
        )  # fmt: skip
        assert dict(outcome.counts) == {"updated": 1, "new_child": 1}
        zed = Child.objects.get(given_name="Zed")
        homes = zed.addresses.filter(ended_on__isnull=True).values_list("line_1", flat=True)
        assert list(homes) == ["2 North Road"]
        again = feed_import(
            source=Source.LA_SYSTEM, file_name="north-1.csv", content=newer.replace(b"\n", b"\r\n"),
            local_authority=northshire(), by=None,
            extracted_on=timezone.localdate() - timedelta(days=1),
        )  # fmt: skip
        assert dict(again.counts) == {"unchanged": 2}, "applied once is enough"

    def test_the_command_takes_the_extract_date(self, tmp_path, capsys):
        northshire()
        today = timezone.localdate()
        for name, content, days in (
            ("march.csv", self.MARCH, 10),
            ("january.csv", self.JANUARY, 60),
        ):
            (tmp_path / name).write_bytes(content)
            call_command(
                "import_feed", "--extracted-on", (today - timedelta(days=days)).isoformat(),
                "--source", "la_system", "--local-authority", "E06000099", str(tmp_path / name),
            )  # fmt: skip
        said = capsys.readouterr().out
        assert "january.csv was extracted before march.csv" in said
        assert self.homes() == ["9 New Street"]
        tomorrow = (today + timedelta(days=1)).isoformat()
        result = run_manage(
            "import_feed", "--extracted-on", tomorrow, "--source", "la_system",
            "--local-authority", "E06000099", str(tmp_path / "january.csv"),
        )  # fmt: skip
        assert result.returncode == 2 and "is in the future" in result.stderr
        typo = today.replace(year=1026).isoformat()
        result = run_manage(
            "import_feed", "--extracted-on", typo, "--source", "la_system",
            "--local-authority", "E06000099", str(tmp_path / "january.csv"),
        )  # fmt: skip
        assert result.returncode == 2 and "is more than a year ago" in result.stderr
