"""Importing a feed file: validate every row, then match and apply them all in one transaction.

Matching is deterministic first (an already-linked source record, then an NHS number or unique
pupil number), then probabilistic (Fellegi-Sunter weights, directory/matching.py) over
candidates from the same indexed keys search uses. Above ``FEED_MATCH_UPPER`` — and clearly
ahead of the next candidate — the record is merged into the child automatically; from
``FEED_MATCH_LOWER`` it waits for a data manager; below, it becomes a new child. A match into
a shielded child keeps the child shielded (the shield is the child's), and a new child that
resembles a shielded one is held out of sight (shielding/policy.py).
"""

import codecs
import csv
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from auditlog.context import set_actor
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import Organisation, User
from accounts.permissions import Permission, has_permission, is_national
from audit.models import Action
from audit.recorder import AuditNote, record_event
from directory.feeds import (
    LA_FEED_SOURCES,
    RECORD_ID_COLUMN,
    FeedRow,
    RowErrors,
    Validation,
    error_report,
    feed_header_validate,
    feed_row,
    feed_validate,
)
from directory.matching import (
    agreement,
    date_variants,
    family_keys,
    given_keys,
)
from directory.models import (
    EXTRACTED_BEFORE,
    GIVEN_SINCE,
    NOT_APPLIED,
    PURGED,
    Address,
    CareRelationship,
    Child,
    ChildIdentifier,
    ChildName,
    FeedImport,
    FeedUpload,
    Involvement,
    MatchReview,
    NameKey,
    ParentCarer,
    PurgedFeedRecord,
    SensitiveCategory,
    Service,
    Source,
    SourceRecord,
    years_before,
)
from directory.services import child_search_keys_rebuild
from shielding.policy import (
    follow_shields_after_commit,
    is_shielded,
    linkage_levels,
    linkage_weight,
    shield_follows_home_and_carers,
    shield_for_review,
    shielded_among,
    shielded_lookalike,
)

logger = logging.getLogger(__name__)


# Why a file was not imported, on the upload page and in a waiting file's result.
FILE_REFUSED = "The file has errors: correct them and upload it again, or leave those rows out"
# Its first row is not this feed's header (or it is no CSV text at all): no row can be left out.
FILE_UNREADABLE = (
    "The file cannot be read as this feed's file: correct its header (the row that names the "
    "columns), or choose the feed it is from, and upload it again"
)
NOTHING_PASSES_YET = (
    "The rows left out of this file before ({left_out}) cannot be imported yet: put right in "
    "ContactPoint (or the file) what the report says, then send it again"
)
STILL_REFUSED = (
    "Some of the rows left out of this file before still have errors: correct them, or leave "
    "those rows out again"
)


@dataclass
class ImportOutcome:
    validation: Validation
    digest: str = ""
    feed_import: FeedImport | None = None
    already_imported: bool = False
    not_utf8: bool = False
    importable: bool = False  # whether feed_import will apply it
    counts: Counter[str] = field(default_factory=Counter)
    # The same file sent again: its first import, and how many rows were left out until now
    # (the rows ``validation`` holds are those rows only).
    resend_of: FeedImport | None = None
    left_out_before: int = 0
    # Imported before, but not sent again: rows were left out before ContactPoint noted
    # which, or it was imported for another local authority.
    left_out_not_noted: bool = False
    other_la: bool = False
    # A file of the same feed and LA extracted after this one, imported before it: this one is
    # an older file imported late, whose rows do not move back what that file's rows set.
    extracted_later: FeedImport | None = None
    # A file imported before keeps the extract date it came with: the other one entered for it
    # now (None when the same, or none, was entered), and that first import.
    extract_date_not_used: date | None = None
    imported_first: FeedImport | None = None
    # The same file imported before, now imported again as a newer extract of it: that import.
    newer_extract_of: FeedImport | None = None

    def date_not_used_said(self, day: str) -> str:
        """Why the date entered was not used, ``day`` formatting dates: "as extracted on 3
        March 2026, so it keeps that date"."""
        first = self.imported_first
        assert first is not None
        kept = "keeps that date" if first.extracted_on else "counts as extracted that day"
        return f"{first.extracted_said(day)}, so it {kept}"

    @property
    def date_not_used_words(self) -> str:
        return self.date_not_used_said("%-d %B %Y")

    @property
    def already_imported_words(self) -> str:
        """Why a file imported before changed nothing, as the page says it."""
        if self.other_la:
            return "This file was imported before for another local authority. Nothing has changed."
        if self.left_out_not_noted:
            return (
                "This file was imported before with rows left out, before ContactPoint noted "
                "which rows they were. Nothing has changed: send the rows left out in a file of "
                "their own."
            )
        return "This file was imported before. Nothing has changed."

    @property
    def newer_extract_of_words(self) -> str:
        """When the same file was imported before, in words (as the page says dates)."""
        return self.newer_extract_of.extracted_said("%-d %B %Y") if self.newer_extract_of else ""

    @property
    def now_imported(self) -> int:
        """Of the rows left out before, how many this sending imported."""
        return sum(n for what, n in self.counts.items() if what not in NOT_APPLIED)

    @property
    def extracted_before(self) -> int:
        """How many rows were not applied, a file extracted later having sent their records."""
        return self.counts[EXTRACTED_BEFORE]

    @property
    def given_since(self) -> int:
        """Of the rows left out before, how many a later file has sent the records of."""
        return self.counts[GIVEN_SINCE]

    @property
    def purged(self) -> int:
        """Of the rows left out before, how many are about records the lifecycle purged."""
        return self.counts[PURGED]


def refused_because(outcome: ImportOutcome | None, skip_invalid: bool) -> str:
    """Why a file was not imported: what the upload page's file field says, and a waiting
    file's result. Sent again, of the rows left out."""
    if outcome is not None and any(
        number == 1 or said.startswith("header:") for number, said in outcome.validation.errors
    ):
        return FILE_UNREADABLE
    if outcome is None or outcome.resend_of is None:
        return FILE_REFUSED
    if skip_invalid:
        return NOTHING_PASSES_YET.format(left_out=outcome.left_out_before)
    return STILL_REFUSED


def known_codes() -> dict[str, set[str]]:
    """The school URNs and GP practice codes rows may refer to."""
    codes: dict[str, set[str]] = {"school": set(), "gp_practice": set()}
    for kind, identifier in Service.objects.filter(kind__in=codes).values_list(
        "kind", "identifier"
    ):
        codes[kind].add(identifier)
    return codes


def feed_file_check(
    *, source: str, content: bytes, extracted_on: date | None = None, header_only: bool = False
) -> tuple[Validation, bool]:
    """Validation of a whole file, extracted on ``extracted_on`` (or, ``header_only``, of
    whether it is UTF-8 text with the feed's header); the flag says it is not UTF-8 text."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        validation = Validation()
        validation.errors.append(_not_utf8(content, problem.start))
        return validation, True
    if header_only:
        return feed_header_validate(source, text), False
    validation = feed_validate(
        source, text, today=timezone.localdate(), known=known_codes(), extracted_on=extracted_on
    )
    return validation, False


SAVE_AS_CSV = 'save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"'


def _not_utf8(content: bytes, start: int) -> tuple[int, str]:
    """What a file that is not UTF-8 text is, and where, as a data manager can act on it: a
    workbook or a compressed file is not CSV at all, and a file saved in Windows' own encoding
    (a "Zoë" in one row of thousands) needs that row found."""
    if content.startswith(b"PK\x03\x04"):
        return 1, f"the file is a spreadsheet workbook (.xlsx) or a zip, not CSV: {SAVE_AS_CSV}"
    if content.startswith(b"\x1f\x8b"):
        return 1, "the file is compressed (gzip): upload the CSV file it holds"
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return 1, f'the file is UTF-16 text (Excel\'s "Unicode Text"), not UTF-8: {SAVE_AS_CSV}'
    # The decoder counts ``start`` from after a byte-order mark ("CSV UTF-8" writes one).
    begin = len(codecs.BOM_UTF8) if content.startswith(codecs.BOM_UTF8) else 0
    end = begin + start
    try:
        rows = sum(1 for _ in csv.reader(_lines(content, begin, end)))
    except csv.Error:  # the CSV breaks before it (a cell over the limit): where is unknown
        return 1, f"the file is not UTF-8 text: {SAVE_AS_CSV}"
    row = rows + 1 if end == begin or content[end - 1 : end] in (b"\n", b"\r") else rows
    return row, f"this row is not UTF-8 text, so nor is the file: {SAVE_AS_CSV}"


def _lines(content: bytes, begin: int, end: int) -> Iterator[str]:
    """The text of ``content[begin:end]``, UTF-8 throughout, a line at a time: read whole,
    a large file's text before its bad byte needed four times the file in memory (183 MB for
    47 MB). A line ends as in a file opened with ``newline=""`` (at "\r\n", "\n" or "\r"), and
    those bytes are never within a character, so each line decodes alone."""
    while begin < end:
        newline = _LINE_END.search(content, begin, end)
        stop = end if newline is None else newline.end()
        yield content[begin:stop].decode()
        begin = stop


_LINE_END = re.compile(rb"\r\n|\r|\n")


def feed_unreadable(*, source: str, content: bytes) -> ImportOutcome | None:
    """A file too large to check whole while its data manager waits, refused at once (as
    ``feed_check`` would refuse it) where that is quick to tell: it is not UTF-8 text (a
    workbook, say), or its columns are not the feed's. None for any other file."""
    validation, not_utf8 = feed_file_check(source=source, content=content, header_only=True)
    if not validation.errors:
        return None
    digest = hashlib.sha256(content).hexdigest()
    return ImportOutcome(validation=validation, digest=digest, not_utf8=not_utf8)


def feed_check(
    *,
    source: str,
    content: bytes,
    skip_invalid: bool = False,
    local_authority: Organisation | None = None,
    extracted_on: date | None = None,
) -> ImportOutcome:
    """A file checked whole, and whether it will be imported: not if it was imported before,
    nor with errors unless the rows with errors are to be left out and some rows are valid (a
    file of none is not recorded as imported, so it can be once what it names is held).

    A file imported before with rows left out is sent again (``resend_of``) for the same local
    authority: only the rows left out until now are checked, and will be imported as any
    file's, the others having been imported already. The same file imported whole, sent as
    extracted later, is a newer extract (``newer_extract_of``): imported as any new file."""
    digest = hashlib.sha256(content).hexdigest()
    first = _newest(
        FeedImport.objects.filter(source=source, file_sha256=digest, resend_of__isnull=True)
    )
    newer_extract_of = first if _newer_extract(first, local_authority, extracted_on) else None
    if newer_extract_of is not None:
        first = None
    # The same file sent again was extracted when it was the first time.
    extracted = first.extracted if first else extracted_on
    validation, not_utf8 = feed_file_check(source=source, content=content, extracted_on=extracted)
    outcome = ImportOutcome(
        validation=validation, digest=digest, not_utf8=not_utf8,
        newer_extract_of=newer_extract_of,
    )  # fmt: skip
    if first is not None:
        _resend_check(outcome, first, local_authority)
        if extracted_on is not None and extracted_on != extracted:
            outcome.extract_date_not_used, outcome.imported_first = extracted_on, first
    outcome.extracted_later = _extracted_later(source, local_authority, extracted)
    outcome.importable = not outcome.already_imported and (
        not validation.errors or (skip_invalid and not not_utf8 and bool(validation.rows))
    )
    return outcome


def _resend_check(
    outcome: ImportOutcome, first: FeedImport, local_authority: Organisation | None
) -> None:
    """A file imported before: sent again if rows noted as left out remain, and for the same
    local authority (whose records the file's rows are, and whose data managers sent it)."""
    left_out = left_out_now(first)
    la_id = local_authority.pk if local_authority else None
    if not left_out or first.local_authority_id != la_id:
        outcome.already_imported = True
        outcome.left_out_not_noted = left_out is None
        outcome.other_la = bool(left_out) and first.local_authority_id != la_id
        return
    outcome.resend_of, outcome.left_out_before = first, len(left_out)
    _only_rows(outcome.validation, set(left_out))


def _newer_extract(
    first: FeedImport | None, local_authority: Organisation | None, extracted_on: date | None
) -> bool:
    """Whether the file imported before as ``first`` is sent now as a newer extract of it:
    for the same local authority, extracted after it, and with no rows of it left out (sent
    again for those, it is the same file, no newer whatever date is entered: its rows imported
    then would otherwise count as newer than they are)."""
    if first is None or extracted_on is None or extracted_on <= first.extracted:
        return False
    la_id = local_authority.pk if local_authority else None
    return first.local_authority_id == la_id and left_out_now(first) == []


def _newest(files: QuerySet[FeedImport]) -> FeedImport | None:
    """The file extracted last (the one imported last, of two extracted the same day)."""
    return max(files, key=lambda file: (file.extracted, file.pk), default=None)


def oldest_extract() -> date:
    """The earliest extract date a file may be given: a year ago. An older one is a mistyped
    year far more often than a real file, and its rows, not applied over anything newer, would
    be lost: the same file cannot be sent again with the date put right."""
    return years_before(timezone.localdate(), 1)


def _extracted_later(
    source: str, local_authority: Organisation | None, extracted_on: date | None
) -> FeedImport | None:
    """The newest file of the feed and LA extracted after ``extracted_on``, if any (a file
    imported before ContactPoint asked counts as extracted when it was received)."""
    if extracted_on is None:
        return None
    files = FeedImport.objects.filter(
        Q(extracted_on__gt=extracted_on)
        | Q(extracted_on__isnull=True, imported_at__date__gt=extracted_on),
        source=source,
        local_authority=local_authority,
        resend_of__isnull=True,
    )
    return _newest(files)


def left_out_now(first: FeedImport) -> list[int] | None:
    """The numbers of the rows of a file (by its first import) that none of its imports has
    imported yet: the last one's left out; None where they were not noted."""
    last = FeedImport.objects.filter(Q(pk=first.pk) | Q(resend_of=first)).order_by("-pk").first()
    assert last is not None
    return [] if last.rows_rejected == 0 else last.left_out


def _only_rows(validation: Validation, numbers: set[int]) -> None:
    """The file's validation cut to these rows: the others were imported before, and what is
    said of them now is of no matter."""
    validation.rows = [row for row in validation.rows if row.number in numbers]
    validation.errors = [(n, message) for n, message in validation.errors if n in numbers]
    validation.rejected = {n: row for n, row in validation.rejected.items() if n in numbers}


class SentMeanwhile(Exception):
    """Another sending of the same file imported the rows left out while this one was
    checked."""


def feed_import(
    *,
    source: str,
    file_name: str,
    content: bytes,
    local_authority: Organisation | None,
    by: User | None,
    skip_invalid: bool = False,
    progress: Callable[[int], object] | None = None,
    checked: ImportOutcome | None = None,
    extracted_on: date | None = None,
) -> ImportOutcome:
    """Imports a file whole or not at all. A file imported before changes nothing.
    ``extracted_on``: when the source system extracted the file (None: when received), so
    that a file extracted before the one that last sent a record does not undo what it said.
    ``checked`` is this file's ``feed_check``, where the caller has made it already. A row
    that cannot apply to its record (``RowRefused``) is an error like any other: with
    ``skip_invalid`` it is left out (each row in a savepoint of its own), and without it the
    file is not imported."""
    outcome = checked or feed_check(
        source=source, content=content, skip_invalid=skip_invalid,
        local_authority=local_authority, extracted_on=extracted_on,
    )  # fmt: skip
    if not outcome.importable:
        return outcome
    try:
        record = _rows_import(
            source, file_name, outcome, local_authority, by, progress,
            skip_invalid=skip_invalid, extracted_on=extracted_on,
        )  # fmt: skip
    except RowRefused as refused:  # as for any row's error, the file is not imported
        outcome.validation.errors.append((refused.number, refused.message))
        outcome.importable = False
    except SentMeanwhile:
        outcome.already_imported, outcome.importable = True, False
    except IntegrityError:
        # The same file uploaded twice at once: the other upload imported it after the check
        # above. Nothing of this one is kept; it is told so, as for a file imported before.
        imported = FeedImport.objects.filter(
            source=source, file_sha256=outcome.digest, extracted_on=extracted_on
        )
        if outcome.resend_of is not None or not imported.exists():
            raise  # re-sends take turns (_rows_import): this is no double click
        outcome.already_imported, outcome.importable = True, False
    else:
        outcome.feed_import = record
        return outcome
    outcome.counts.clear()  # nothing of it was kept
    return outcome


class RowRefused(Exception):
    """A valid row that cannot apply to the record it belongs to."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number, self.message = number, message


@transaction.atomic
def _rows_import(
    source: str,
    file_name: str,
    outcome: ImportOutcome,
    local_authority: Organisation | None,
    by: User | None,
    progress: Callable[[int], object] | None,
    *,
    skip_invalid: bool,
    extracted_on: date | None,
) -> FeedImport:
    validation = outcome.validation
    first = outcome.resend_of
    if first is not None:
        # The same file sent twice at once: one at a time, each importing what is left out.
        first = FeedImport.objects.select_for_update(no_key=True).get(pk=first.pk)
        still = left_out_now(first)
        _only_rows(validation, set(still or []))
        if not validation.rows:
            raise SentMeanwhile
    # A shield made while the file imports cannot see the homes it writes, nor it them.
    follow_shields_after_commit(timezone.now())
    record = FeedImport.objects.create(
        source=source,
        file_name=file_name[:255],
        file_sha256=outcome.digest,
        imported_by=by,
        local_authority=local_authority,
        rows_read=validation.rows_read,
        rows_rejected=len(validation.rejected),
        resend_of=first,
        # The same file sent again was extracted when it was the first time (one imported
        # before ContactPoint asked, when it was first received: not today).
        extracted_on=first.extracted if first is not None else extracted_on,
    )
    for row in list(validation.rows):
        # With rows with errors left out, each row in a savepoint: one refused goes alone.
        try:
            with transaction.atomic() if skip_invalid else nullcontext():
                applied = _apply_row(row, source, record, local_authority, sent_first=first)
                outcome.counts[applied] += 1
        except RowRefused as refused:
            if not skip_invalid:
                raise
            validation.errors.append((refused.number, refused.message))
            validation.rows.remove(row)
            validation.rejected[row.number] = row.payload
        if progress:
            progress(1)
    record.outcome, record.rows_rejected = dict(outcome.counts), len(validation.rejected)
    record.left_out = sorted(validation.rejected)
    record.save(update_fields=["outcome", "rows_rejected", "left_out"])
    return record


# Files too large to import while the data manager waits ---------------------------------------


def feed_upload_queue(
    *,
    source: str,
    file_name: str,
    content: bytes,
    rows: int | None,
    local_authority: Organisation | None,
    by: User,
    skip_invalid: bool,
    extracted_on: date | None = None,
) -> FeedUpload:
    """Keeps a file for ``waiting_uploads_import``: checked, with the ``rows`` found, or too
    large to check while the data manager waits (None), checked when it is imported."""
    return FeedUpload.objects.create(
        source=source, file_name=file_name[:255], content=content, rows=rows,
        skip_invalid=skip_invalid, local_authority=local_authority, uploaded_by=by,
        extracted_on=extracted_on,
    )  # fmt: skip


def waiting_uploads_import() -> list[FeedUpload]:
    """Imports every waiting upload, oldest first, each in its own transaction and as its
    uploader (the change log and an access event say so). Runs alongside itself safely: each
    takes an upload no other run holds."""
    done: list[FeedUpload] = []
    while True:
        with transaction.atomic():
            upload = (
                FeedUpload.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=FeedUpload.Status.WAITING)
                .select_related("uploaded_by", "local_authority")
                .order_by("pk")
                .first()
            )
            if upload is None:
                return done
            _upload_import(upload)
            done.append(upload)


def _upload_import(upload: FeedUpload) -> None:
    refused = _uploader_refused(upload)
    resent = None
    if refused:
        upload.status, upload.result = FeedUpload.Status.NOT_IMPORTED, refused
    else:
        resent = _upload_apply(upload)
    upload.content, upload.finished_at = b"", timezone.now()
    upload.save()
    record_event(
        None,
        AuditNote(
            action=Action.ADMIN_ACTION,
            user=upload.uploaded_by,
            detail={
                "action": "import_feed",
                "upload": upload.pk,
                "feed_import": upload.feed_import_id,
                "imported": upload.status == FeedUpload.Status.IMPORTED,
            }
            | ({"resend_of": resent} if resent else {}),
        ),
        status=None,
    )


def _uploader_refused(upload: FeedUpload) -> str:
    """Why the uploader may no longer import this file, if they may not: their access ended,
    they no longer work on feeds, or no longer for the file's LA."""
    user = upload.uploaded_by
    if user.access_problem(timezone.now()) or not has_permission(user, Permission.REVIEW_MATCHES):
        return f"Not imported: {user.display_name} may no longer import files."
    la = data_manager_la(user)
    if la is not None and upload.local_authority_id != la.pk:
        return f"Not imported: {user.display_name} no longer works on this local authority's files."
    if la is not None and upload.source not in LA_FEED_SOURCES:
        return f"Not imported: {user.display_name} no longer works on national feeds."
    return ""


def _upload_apply(upload: FeedUpload) -> int | None:
    """Imports a waiting file as the upload page would have. Returns the first import of the
    file, when it was that file sent again (imported or not: the access event says so, as
    the page's does)."""
    try:
        with transaction.atomic(), set_actor(upload.uploaded_by):
            outcome = feed_import(
                source=upload.source, file_name=upload.file_name, content=bytes(upload.content),
                local_authority=upload.local_authority, by=upload.uploaded_by,
                skip_invalid=upload.skip_invalid, extracted_on=upload.extracted_on,
            )  # fmt: skip
    except Exception:  # anything at all: the file is set aside, not retried for ever
        logger.exception("feed upload %s could not be imported", upload.pk)
        upload.status = FeedUpload.Status.NOT_IMPORTED
        upload.result = "Something went wrong in ContactPoint. Nothing was imported."
        return None
    imported = outcome.feed_import is not None
    upload.status = FeedUpload.Status.IMPORTED if imported else FeedUpload.Status.NOT_IMPORTED
    upload.feed_import = outcome.feed_import
    if upload.rows is None:  # too large to check when it was uploaded: counted now
        upload.rows = outcome.validation.rows_read
    upload.result = _kept_short(_upload_result(outcome, upload.skip_invalid))
    return outcome.resend_of.pk if outcome.resend_of else None


def _upload_result(outcome: ImportOutcome, skip_invalid: bool) -> list[str]:
    """What became of a waiting file, line by line, as the upload page would have said it:
    the extract date it kept, what its rows did (with any left out, and why: some rows are
    refused only as they apply), or why it was not imported."""
    lines = []
    if outcome.extract_date_not_used is not None:
        lines.append(
            f"This file was imported before, {outcome.date_not_used_words}: the date entered, "
            f"{outcome.extract_date_not_used:%-d %B %Y}, was not used."
        )
    if outcome.already_imported:
        return [*lines, outcome.already_imported_words]
    if outcome.feed_import is None:
        return [*lines, f"{refused_because(outcome, skip_invalid)}.", *_report(outcome)]
    if outcome.newer_extract_of is not None:
        lines.append(
            f"This file was imported before, {outcome.newer_extract_of_words}. It has been "
            f"imported again as extracted on {outcome.feed_import.extracted_on:%-d %B %Y}, so "
            "its rows are the newer word on their records."
        )
    if (later := outcome.extracted_later) is not None:
        lines.append(
            f"This file was extracted on {outcome.feed_import.extracted:%-d %B %Y}, before "
            f"{later.file_name} (extracted on {later.extracted:%-d %B %Y}), imported before "
            "it: its rows about records that file has sent were not applied."
        )
    return [*lines, outcome.feed_import.outcome_text, *_report(outcome)]


def _report(outcome: ImportOutcome) -> list[str]:
    return error_report(outcome.validation.errors).splitlines()


def _kept_short(lines: list[str], longest: int = 10_000) -> str:
    """An upload's result, short enough to show: whole lines, and how many more there are (cut
    at a length, a report hid the rows it left out, and where it stopped)."""
    shown: list[str] = []
    size = 0
    for line in filter(None, lines):
        size += len(line) + 1
        if size > longest - 100:  # room for the line saying what is not shown
            break
        shown.append(line)
    left = len(list(filter(None, lines))) - len(shown)
    if left:
        shown.append(f"... and {left} more errors, not shown here")
    return "\n".join(shown)


def data_manager_la(manager: User) -> Organisation | None:
    """The local authority a data manager works for; None for the national data-quality team
    (the service operator's), who work every LA's files and records. Anyone else's scope is
    their organisation, which holds no LA's files or children: nothing."""
    if is_national(manager) or manager.organisation.kind == Organisation.Kind.SERVICE_OPERATOR:
        return None
    return manager.organisation


# Matching -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    child: Child
    weight: float
    levels: dict[str, str | None]


def feed_candidates(row: FeedRow) -> list[Scored]:
    """Children the row may describe, best first, from the keys search uses."""
    families = family_keys(row.family_name)
    today = timezone.localdate()
    dates = date_variants(row.date_of_birth, today - timedelta(days=26 * 365), today)
    givens = given_keys(row.given_name)
    same_surname = Q(family_key__in=families) & (
        Q(given_key__in=givens) | Q(date_of_birth__in=dates)
    )
    ids = (
        NameKey.objects.filter(same_surname | Q(given_key__in=givens, date_of_birth__in=dates))
        .values_list("child_id", flat=True)
        .distinct()[: settings.SEARCH_MAX_CANDIDATES]
    )
    children = (
        Child.objects.filter(pk__in=list(ids))
        .exclude(status=Child.Status.MERGED)
        .prefetch_related("other_names", "addresses")
    )
    incoming = row.person()
    shielded = shielded_among(child.pk for child in children)
    scored = []
    for child in children:
        levels = linkage_levels(incoming, child, shielded=child.pk in shielded)
        scored.append(Scored(child, linkage_weight(levels), levels))
    return sorted(scored, key=lambda s: -s.weight)


def match_decision(scored: list[Scored]) -> str:
    """ "merge", "review" or "new", from the weights of the best two candidates. A boy and a
    girl are never joined without a person deciding, however much else agrees: twins share a
    surname, a birthday and a home."""
    if not scored or scored[0].weight < settings.FEED_MATCH_LOWER:
        return "new"
    runner_up = scored[1].weight if len(scored) > 1 else float("-inf")
    clear = scored[0].weight - runner_up >= settings.FEED_MATCH_MARGIN
    automatic = scored[0].weight >= settings.FEED_MATCH_UPPER and clear
    return "merge" if automatic and scored[0].levels.get("gender") != "different" else "review"


def _identifier_differs(row: FeedRow, child: Child) -> bool:
    """Whether ``child`` already holds another NHS number or UPN of a kind the row gives: a
    twin, as a rule, not the same child (each number is a person's for life)."""
    return any(
        ChildIdentifier.objects.filter(child=child, kind=kind).exclude(value=value).exists()
        for kind, value in row.identifiers.items()
    )


def _by_identifier(row: FeedRow) -> tuple[Child | None, Child | None]:
    """The child (the record kept, after a merge) a feed linked the row's NHS number or UPN
    to, and none; or, where the row may be another child (``_whose``), none, and her, to be
    offered to the data manager who decides. Refused, as an error of the row, when it is
    another child's: a mistyped or reused number would otherwise give another child's home
    and carers to her."""
    for kind, value in row.identifiers.items():
        found = (
            ChildIdentifier.objects.filter(kind=kind, value=value).select_related("child").first()
        )
        if found is None:
            continue
        child = found.child.record_kept()
        whose = _whose(row, child)
        if whose == ANOTHER_CHILDS:
            raise RowRefused(
                row.number,
                f"{kind}: {value!r} was sent before for a child with another name and date of "
                "birth. An NHS number or UPN is one child's alone: check it",
            )
        return (None, child) if whose == IN_DOUBT else (child, None)
    return None, None


# A row carrying the NHS number or UPN of a record since purged (``purged_number_refused``).
PURGED_NUMBER = (
    "{kind}: {value!r} was held by a record that has since been purged, and cannot be given "
    "to another. An NHS number or UPN is one child's alone: check it"
)


def purged_number_refused(row: FeedRow) -> None:
    """Refuses a row carrying an NHS number or UPN that a purged record held and no record
    holds now (``PurgedFeedRecord.number_was_purged``), as an error of the row: applied, the
    number would pass to another child (a new one, or the child its id is). The message says
    neither whose it was nor when."""
    for kind in purged_numbers_carried(row):
        value = row.identifiers[kind]
        raise RowRefused(row.number, PURGED_NUMBER.format(kind=kind, value=value))


def purged_numbers_carried(row: FeedRow) -> tuple[str, ...]:
    """The kind of each NHS number or UPN the row carries that a purged record held and no
    record holds now: of a row that waited for review since before the purge, given to no
    record the data manager decides it is (``facts_apply``)."""
    return tuple(
        kind
        for kind, value in row.identifiers.items()
        if value and PurgedFeedRecord.number_was_purged(kind, value)
    )


def _record_key(row: FeedRow, source: str, la: Organisation | None) -> str:
    """The feed's id for the person, unique across the country: an LA system numbers its own
    records, so its ids are kept under the LA's code (otherwise one LA's file would update
    another's records)."""
    if source == Source.LA_SYSTEM and la is not None:
        return f"{la.code}/{row.record_id}"
    return row.record_id


def _said(payload: dict[str, str]) -> dict[str, str]:
    return {column: value for column, value in payload.items() if value}


def _apply_row(
    row: FeedRow,
    source: str,
    record: FeedImport,
    la: Organisation | None,
    *,
    sent_first: FeedImport | None = None,
) -> str:
    """What the row did to the directory, as a count's key. ``sent_first``: the first import
    of the file this row was left out of, now sent again."""
    key = _record_key(row, source, la)
    # Locked before the review's row, as a data manager's decision locks them (no deadlock).
    # Not joined to its import: a row locked after another file changed it would drop out.
    existing = SourceRecord.objects.select_for_update().filter(source=source, record_id=key).first()
    if existing is not None and existing.child is not None and existing.child.merged_into_id:
        # Joined to a record by a file imported as it was merged into another: the merge moved
        # the rows it saw, not this one. It is the record kept's, as the rest of hers.
        existing.linked_to(existing.child.record_kept())
    outdone = _outdone(existing.last_import, record, sent_first) if existing is not None else None
    held = (
        _held_back(existing.child, key, source, record, sent_first)
        if existing is not None
        else False
    )
    # What the record holds is newer than this row. Of a shielded child whose record (a UPN or
    # NHS number) another LA's file sent, the row is held back instead (``_moved_on_since``).
    ours = (
        existing is not None
        and existing.last_import.local_authority_id == record.local_authority_id
    )
    if outdone is not None and (ours or not held):
        return outdone
    if held is None:
        return EXTRACTED_BEFORE
    if existing is not None:
        said_before = existing.payload
        # Stored without being applied (another LA's system had sent the child in a file
        # extracted after it, ``review_decide``), held back (``_held_back``), or applied and
        # outrun since by that LA's: this row is newer than that LA's word, and says again
        # what the record must hold.
        outrun = _moved_on_since(existing.child, key, source, existing.last_import)
        own = None if ours else existing.la_last_row(record.local_authority_id)
        if own is not None and existing.child is not None and (held or is_shielded(existing.child)):
            # Her UPN, NHS number or claim, sent last by another LA's file: this LA's row is
            # compared with its own last row, as had no other LA sent her (that it differs
            # from the other LA's row says she has moved).
            if outdone is not None:  # held back: the LA's own later file outdoes it, if any
                own_import = FeedImport.objects.select_related("resend_of").get(pk=own["import"])
                if (own_outdone := _outdone(own_import, record, sent_first)) is not None:
                    return own_outdone
            # A row newer than the other LA's takes her back: applied, however it compares.
            said_before, outrun = own["payload"], outrun or outdone is None
        # What the rows say: a column a file leaves out (one added to the format later) says
        # what an empty one does, so the same row with and without it is unchanged.
        unchanged = _said(said_before) == _said(row.payload)
        whose = HERS if unchanged or existing.child is None else _whose(row, existing.child)
        if whose == ANOTHER_CHILDS:
            raise RowRefused(
                row.number,
                f"{RECORD_ID_COLUMN[source]}: {row.record_id!r} was sent before for a child with "
                "another name and date of birth. A record id stays one child's: check it, and "
                "give a new child an id of its own",
            )
        if not unchanged or outrun:  # what it says applies, or waits to
            purged_number_refused(row)
        if whose == IN_DOUBT and existing.child is not None:
            # Held back or not, it waits (that another LA's newer row held it back must not
            # show): as the record's row, that LA's kept until she decides (``review_decide``).
            existing.row_received(row.payload, record)
            _held_for_review(existing, row, pointed_to=existing.child)
            return "waiting_for_review"
        if outdone is not None:  # held back, it leaves the record the other LA's newer row
            existing.row_held_back(row.payload, record)
        else:
            existing.row_received(row.payload, record)
        if existing.child_id is None:
            if not unchanged:
                _review_refresh(existing, row)
            return "still_waiting_for_review"
        if (unchanged and not outrun) or existing.child is None:
            return "unchanged"
        # Counted as the same row is for any other child: that it took her back says she had
        # moved, and of a shielded child that must not show (``_moved_on_since``).
        hidden = unchanged and is_shielded(existing.child)
        facts_apply(row, existing.child, existing, record, la, where=not held)
        return "unchanged" if hidden else "updated"
    if PurgedFeedRecord.is_purged(source, key):
        return PURGED  # nothing of the row is kept: the person's record was purged
    purged_number_refused(row)
    child, pointed_to = _by_identifier(row)
    decision, scored = (
        ("identifier", []) if child is not None else _placement(row, pointed_to=pointed_to)
    )
    if decision == "merge":
        child = scored[0].child
    # Whether she was found by an identifier or by her name and birthday, an older file of
    # the LA she left must not take her back.
    held = _held_back(child, key, source, record)
    if held is None:
        return EXTRACTED_BEFORE
    if not _kept_until_imported(child, pointed_to):
        # Purged by the lifecycle job since it was found: the row is read again, as after.
        return _apply_row(row, source, record, la, sent_first=sent_first)
    # Another file imported at this moment may bring the same person in first: the insert
    # waits for it, and once it is committed its record is the one this row updates.
    SourceRecord.objects.bulk_create(
        [SourceRecord(source=source, record_id=key, payload=row.payload, first_import=record,
                      last_import=record, pointed_to=pointed_to,
                      # Her UPN or NHS number as the feed's id; an LA's row, under an id
                      # of its own system's, points to her only by the NHS number it carries.
                      pointed_to_by_id=pointed_to is not None and key in row.identifiers.values())],
        ignore_conflicts=True,
    )  # fmt: skip
    source_record = SourceRecord.objects.select_for_update().get(source=source, record_id=key)
    if source_record.first_import_id != record.pk:
        return _apply_row(row, source, record, la, sent_first=sent_first)
    if child is not None:
        link(source_record, row, child, record, la, where=not held)
        return "matched_by_identifier" if decision == "identifier" else "matched_automatically"
    if decision == "review":
        MatchReview.objects.create(
            source_record=source_record, candidates=_shortlist(scored, pointed_to=pointed_to)
        )
        return "waiting_for_review"
    try:
        child = child_create_from_row(row, source, record, la)
    except NoLocalAuthority:
        raise RowRefused(row.number, NO_LA_FOR_NEW_CHILD) from None
    link(source_record, row, child, record, la)
    return "new_child"


def _kept_until_imported(*children: Child | None) -> bool:
    """Whether the records a new feed row is to join, or point to, are still there, each then
    held until the file is imported as its link holds it once checked, at the commit (``FOR
    KEY SHARE``): the lifecycle job purging one meanwhile waits for the file, or, having held
    it first, is waited for, and the row finds it gone instead of joining a deleted record (a
    file that failed as it was committed)."""
    ids = sorted({child.pk for child in children if child is not None})
    if not ids:
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM directory_child WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
            [ids],
        )
        return len(cursor.fetchall()) == len(ids)


HERS, ANOTHER_CHILDS, IN_DOUBT = "hers", "another child's", "in doubt"


def _whose(row: FeedRow, child: Child) -> str:
    """Whether a row under the id of the child's feed record, or her NHS number or UPN, is
    ``HERS``; ``ANOTHER_CHILDS``: none of her names and not her birthday, nor close to either
    (a system that gave a retired id to a new child, or a mistyped id); or ``IN_DOUBT``:
    another birthday, not a slip of hers, and a name she does not hold, not even close; or
    another first name and gender, whatever her birthday. That is a brother or sister (a twin)
    under her id as much as her name and birthday (or gender) corrected at once, and a data
    manager decides. A correction of her birthday, or of her name, is still hers."""
    levels = agreement(row.person(), child.person())
    names = {levels["family_name"], levels["given_name"]}
    if names == {"different"} and levels["date_of_birth"] == "different":
        return ANOTHER_CHILDS
    if levels["given_name"] == "different" and levels["gender"] == "different":
        # Her twin brother under her id, as much as her first name and gender corrected at once.
        return IN_DOUBT
    if levels["date_of_birth"] in ("exact", "close") or "different" not in names:
        return HERS
    return IN_DOUBT


def _held_for_review(source_record: SourceRecord, row: FeedRow, *, pointed_to: Child) -> None:
    """The feed record's row, which may be another child than ``pointed_to`` (the child it was
    linked to), waits for a data manager, who is offered her; until then nothing of it is
    applied, and what its earlier rows gave her stays hers."""
    source_record.child, source_record.pointed_to = None, pointed_to
    source_record.pointed_to_by_id = True  # her own feed record: its id is hers
    source_record.save(update_fields=["child", "pointed_to", "pointed_to_by_id"])
    _, scored = _placement(row, pointed_to=pointed_to)
    # A feed record has one review: one decided before waits again.
    MatchReview.objects.update_or_create(
        source_record=source_record,
        defaults={
            "candidates": _shortlist(scored, pointed_to=pointed_to),
            "status": MatchReview.Status.OPEN,
            "decided_by": None,
            "decided_at": None,
        },
    )


def _moved_on_since(
    child: Child | None,
    key: str,
    source: str,
    record: FeedImport,
    sent_first: FeedImport | None = None,
) -> bool:
    """Whether another LA's file of the feed has sent the child since ``record`` was
    extracted: she has moved there since, and its word speaks for her now, so this older row
    must not take her back. An LA system numbers its own records: another LA's system sends
    her under its own id (its home ends this LA's). A school census or GP file numbers her by
    her UPN or NHS number, which every LA's file sends: it is this very feed record, last
    sent by another LA's file newer than this row (``_outdone``: ``sent_first``, the file
    this row was left out of, now sent again), whose row is kept.

    Of a shielded child, that she has moved is itself where she is: her row is not refused
    (which would tell the data manager who sent it that another LA holds her now, and, file
    by file, since when) but reported as any row is, with what it says of where she lives
    held back (``facts_apply``'s ``where``)."""
    if child is None:
        return False
    elsewhere = (
        SourceRecord.objects.filter(child=child, source=source)
        .exclude(last_import__local_authority=record.local_authority_id)
        .select_related("last_import")
    )
    if source != Source.LA_SYSTEM:
        same = elsewhere.filter(record_id=key)
        return any(_outdone(other.last_import, record, sent_first) for other in same)
    return any(other.last_import.extracted > record.extracted for other in elsewhere)


def _held_back(
    child: Child | None,
    key: str,
    source: str,
    record: FeedImport,
    sent_first: FeedImport | None = None,
) -> bool | None:
    """Whether what ``record``'s row says of where the child lives is held back, she being
    shielded and ``_moved_on_since``; None where, she not being shielded, none of it applies."""
    if child is None or not _moved_on_since(child, key, source, record, sent_first):
        return False
    return True if is_shielded(child) else None


def _outdone(last: FeedImport, record: FeedImport, sent_first: FeedImport | None) -> str | None:
    """Why a row of ``record`` is not applied over the feed record's row that ``last`` sent,
    that row being the newer word: a later file has sent the record since the row was left
    out of ``sent_first`` (now sent again), or a file extracted after ``record`` has."""
    if sent_first is not None and _sent_since(last, sent_first):
        return GIVEN_SINCE  # what a later file said is newer than this row
    if record.extracted < last.extracted:
        return EXTRACTED_BEFORE  # an older file imported late: what the record holds is newer
    return None


def _sent_since(last: FeedImport, first: FeedImport) -> bool:
    """Whether ``last``, a file received after ``first`` (not the same file sent again), has
    sent the feed record: a row left out of ``first`` would put back what that newer file
    replaced. A file is as new as when it first came: an older file sent again since is not
    newer, nor is one extracted before ``first`` and imported late (its row is the older
    word)."""
    sent = last.resend_of if last.resend_of_id is not None else last
    assert sent is not None
    return sent.imported_at > first.imported_at and sent.extracted >= first.extracted


def _placement(row: FeedRow, *, pointed_to: Child | None = None) -> tuple[str, list[Scored]]:
    """Where a row goes ("merge", "review" or "new"), and its candidates, best first.
    ``pointed_to``: the child the row's id, NHS number or UPN points to, though it may be
    another child (``_whose``): a person decides, offered her."""
    scored = feed_candidates(row)
    decision = match_decision(scored)
    if decision == "merge" and _identifier_differs(row, scored[0].child):
        decision = "review"
    if pointed_to is not None:
        _offered(scored, row, pointed_to.record_kept())
        decision = "review"
    lookalike = shielded_lookalike(row.person())
    if lookalike is not None and (decision == "new" or scored[0].child.pk != lookalike.pk):
        # It may be a shielded child under a new name or address: a person decides, and
        # nothing of it is visible until then.
        _offered(scored, row, lookalike)
        decision = "review"
    return decision, scored


def _offered(scored: list[Scored], row: FeedRow, child: Child) -> None:
    """``child`` among the candidates, in her place by weight, however her names were keyed."""
    if all(s.child.pk != child.pk for s in scored):
        levels = linkage_levels(row.person(), child, shielded=is_shielded(child))
        scored.append(Scored(child, linkage_weight(levels), levels))
        scored.sort(key=lambda s: -s.weight)


def _shortlist(scored: list[Scored], *, pointed_to: Child | None = None) -> list[dict[str, Any]]:
    """The best six candidates, and every shielded one however far down: the review hides
    the row's location because of them, and must never lose one; nor the child the row's id,
    NHS number or UPN points to (``_placement``). Beside a shielded one, the six are the best
    without the postcode, which the review hides: chosen by it, which of them were left out
    would say where the row lives."""
    shielded = shielded_among(s.child.pk for s in scored)
    if shielded:
        scored = sorted(
            scored,
            key=lambda s: (
                -linkage_weight({**s.levels, "postcode": None}),
                s.child.contactpoint_id,
            ),
        )
    never_lost = {*shielded, *([pointed_to.record_kept().pk] if pointed_to else [])}
    kept = [*scored[:6], *(s for s in scored[6:] if s.child.pk in never_lost)]
    return [{"child_id": s.child.pk, "weight": s.weight} for s in kept]


def _review_refresh(source_record: SourceRecord, row: FeedRow) -> None:
    """A row that changed while it waits for a decision is compared afresh (its new details may
    be a shielded child's), and its review opens again with the new candidates."""
    pointed_to = source_record.pointed_to
    _, scored = _placement(row, pointed_to=pointed_to)
    MatchReview.objects.filter(source_record=source_record, status__in=MatchReview.WAITING).update(
        candidates=_shortlist(scored, pointed_to=pointed_to), status=MatchReview.Status.OPEN
    )


def reviews_compare_afresh(*, child_ids: list[int]) -> None:
    """Reviews still waiting with one of these records among their candidates are compared
    afresh: a record separated or unmerged from it may be the row's child, and must be
    offered. A review whose candidates change opens again (its page's decision is refused)."""
    among = Q()
    for pk in child_ids:
        among |= Q(candidates__contains=[{"child_id": pk}])
    _compare_afresh(MatchReview.objects.filter(among))


def reviews_resembling_compare_afresh(*, shielded: Child) -> None:
    """Reviews still waiting whose row was born on her birthday (or a mistyped one), or that
    offer her already, a child just shielded, are compared afresh. A row that could be her
    takes her onto its shortlist, and its review hides where the row lives, in the queue too:
    until she was shielded, better candidates could keep her off it. And a shortlist beside
    her is chosen without the row's postcode, which its review hides from now on: chosen by
    it, which records were left out would say where the row lives (``_shortlist``)."""
    today = timezone.localdate()
    born = date_variants(shielded.date_of_birth, today - timedelta(days=26 * 365), today)
    # The payload holds the date as the file wrote it, in any ISO 8601 form the feeds read as
    # that date (feeds._date, date.fromisoformat): "2015-09-12", "20150912", or a week date.
    written = [form for day in born for form in _iso_forms(day)]
    _compare_afresh(
        MatchReview.objects.filter(
            Q(source_record__payload__date_of_birth__in=written)
            | Q(candidates__contains=[{"child_id": shielded.pk}])
        ),
        offering=shielded.pk,
    )


def _iso_forms(day: date) -> list[str]:
    """Every way ``date.fromisoformat`` reads a date as ``day``: calendar and week dates,
    extended and basic, and a week alone for its Monday."""
    year, week, weekday = day.isocalendar()
    forms = [day.isoformat(), day.strftime("%Y%m%d")]
    forms += [f"{year:04d}-W{week:02d}-{weekday}", f"{year:04d}W{week:02d}{weekday}"]
    if weekday == 1:
        forms += [f"{year:04d}-W{week:02d}", f"{year:04d}W{week:02d}"]
    return forms


def _compare_afresh(reviews: Any, *, offering: int | None = None) -> None:
    """Each of these reviews still waiting is compared afresh; one whose candidates change
    (to offer ``offering``, if given) opens again (its page's decision is refused)."""
    waiting = MatchReview.WAITING
    reviews = reviews.filter(status__in=waiting)
    # The feed record before its review, as an import and a decision lock them; one a file
    # is importing now is left to it (waiting could deadlock with the file).
    for source_record in SourceRecord.objects.select_for_update(skip_locked=True).filter(
        pk__in=reviews.values("source_record")
    ):
        try:
            _, scored = _placement(
                row_from_record(source_record), pointed_to=source_record.pointed_to
            )
        except RowErrors:
            continue  # its row no longer passes the feed's checks: it waits as it is
        if offering is not None and all(s.child.pk != offering for s in scored):
            continue  # the row could not be her: it waits as it is
        shortlist = _shortlist(scored, pointed_to=source_record.pointed_to)
        MatchReview.objects.filter(source_record=source_record, status__in=waiting).exclude(
            candidates=shortlist
        ).update(candidates=shortlist, status=MatchReview.Status.OPEN)


class NoLocalAuthority(Exception):
    """A new child must be looked after by a local authority, and none could be found."""


NO_LA_FOR_NEW_CHILD = (
    "a new child, and no local authority to look after them: the school or practice the row "
    "names has none, and the file names none (--local-authority)"
)


def child_create_from_row(
    row: FeedRow, source: str, record: FeedImport, la: Organisation | None
) -> Child:
    """A new child, looked after by the LA of the school or practice the row names, or else
    the LA the file came from."""
    if row.service and row.service["identifier"]:
        service = Service.objects.get(
            kind=row.service["kind"], identifier=row.service["identifier"]
        )
        la = service.local_authority or la
    if la is None:
        raise NoLocalAuthority
    child = Child.objects.create(
        given_name=row.given_name,
        family_name=row.family_name,
        gender=row.gender,
        date_of_birth=row.date_of_birth,
        local_authority=la,
        source=source,
        source_reference=_reference(record, row),
    )
    child_search_keys_rebuild(child_ids=[child.pk])
    return child


def _reference(record: FeedImport, row: FeedRow) -> str:
    """Where a fact came from: the file and row (a long file name shortened to fit)."""
    return f"{record.file_name[:150]} row {row.number}"


def link(
    source_record: SourceRecord, row: FeedRow, child: Child, record: FeedImport,
    la: Organisation | None, *, where: bool = True,
) -> None:  # fmt: skip
    source_record.linked_to(child)
    facts_apply(row, child, source_record, record, la, where=where)


def row_from_record(source_record: SourceRecord) -> FeedRow:
    """A stored row again, to apply it once a data manager has decided: read as on the day
    its file was imported (an expected return date then still ahead may have passed since),
    its dates bounded by its file's extract date as when the file came."""
    record = source_record.last_import
    return feed_row(
        source_record.source, 0, source_record.payload,
        today=timezone.localdate(record.imported_at), known=known_codes(),
        extracted_on=record.extracted_on, stored=True,
    )  # fmt: skip


# Applying what a row says -------------------------------------------------------------------


def facts_apply(
    row: FeedRow,
    child: Child,
    source_record: SourceRecord,
    record: FeedImport,
    la: Organisation | None,
    *,
    where: bool = True,
) -> None:
    """The row's identifiers, name, address, carer and service, each with its provenance and
    the feed record (``source_record``) that gave it; without ``where``, only what says who
    the child is, not where (no home, carer or service: a later word on her speaks for those).

    Each feed record owns what it says: a new address or school from it ends the one it gave
    before, and leaves what other records, feeds and practitioners recorded alone.
    """
    source = source_record.source
    provenance = {"source": source, "source_reference": _reference(record, row)}
    fact = {**provenance, "source_record": source_record}
    today = timezone.localdate()
    # The row says the child is someone else (another birthday, a name not held): if that
    # someone could be a shielded child, the record is shielded before any of the row's facts
    # are written (an update, a match by NHS number or pupil number alike).
    if (
        _new_identity(row, child)
        and not is_shielded(child)
        and shielded_lookalike(row.person(), other_than=child.pk) is not None
    ):
        shield_for_review(child)
    for kind, value in row.identifiers.items():
        if PurgedFeedRecord.number_was_purged(kind, value):
            continue  # a purged record's is no one's (a row that waited since, decided now)
        _identifier_give(kind, value, child, source_record)
    _names_apply(row, child, fact)
    _life_apply(row, child)
    if not where:
        return
    if row.address_status:
        _elsewhere_apply(row, child, fact)
    home_or_carer_changed = False
    if row.address:
        line_1, line_2, town, postcode = row.address
        current = Address.objects.filter(child=child, ended_on__isnull=True)
        # The record's earlier homes end, even when another feed gave this one first.
        moved_from = current.filter(_given_by(source_record)).exclude(
            line_1=line_1, postcode=postcode
        )
        for previous in moved_from:  # one save each: the change log
            previous.ended_on = today
            previous.save(update_fields=["ended_on"])
        if not current.filter(line_1=line_1, postcode=postcode).exists():
            Address.objects.create(
                child=child, line_1=line_1, line_2=line_2, town=town, postcode=postcode,
                started_on=today, **fact,
            )  # fmt: skip
            home_or_carer_changed = True
    if row.carer:
        home_or_carer_changed |= _carer_apply(row, child, provenance, fact)
    if row.service:
        _service_apply(row.service, child, la, provenance, fact)
    if home_or_carer_changed:
        # A brother or sister at a shielded child's home, or with her mother, would show them;
        # in the same transaction, so nothing is seen before the shield is on.
        shield_follows_home_and_carers(child)


class _PurgedMeanwhile(Exception):
    """The number given was taken from a record the lifecycle job purged meanwhile."""


def _identifier_give(kind: str, value: str, child: Child, source_record: SourceRecord) -> None:
    """Gives the child an NHS number or UPN no record holds, unless the lifecycle job purged
    its record after it was asked (``facts_apply``): asked just before the job committed (the
    record held it), the number was given just after, when none did, and the child became the
    purged person to every feed that numbers them so. A number is given only where the look for
    it found no record holding it, so a purge that took it from its record had committed by
    then: asked again, the number is that purge's, and is not given, as had the row come just
    before the purge. In a savepoint, so that nothing of it stays, in the change log either.
    (Not a lock on each number, held until the file commits: a census file of 20,000 rows would
    hold 20,000, and 12,833 filled PostgreSQL's lock table as configured by default.)"""
    try:
        with transaction.atomic():
            _, given = ChildIdentifier.objects.get_or_create(
                kind=kind, value=value, defaults={"child": child, "source_record": source_record}
            )
            if given and PurgedFeedRecord.is_purged(kind, value):
                raise _PurgedMeanwhile
    except _PurgedMeanwhile:
        pass


def _names_apply(row: FeedRow, child: Child, fact: dict[str, Any]) -> None:
    """The row's name and former name, where the record does not hold them."""
    names = {(n.given_name, n.family_name) for n in child.other_names.all()}
    names.add((child.given_name, child.family_name))
    wanted = [(ChildName.Kind.KNOWN_AS, row.given_name, row.family_name)]
    if row.former_name:
        wanted.append((ChildName.Kind.FORMER, *row.former_name))
    named = [
        (kind, given, family) for kind, given, family in wanted if (given, family) not in names
    ]
    for kind, given, family in named:
        ChildName.objects.create(
            child=child, kind=kind, given_name=given, family_name=family, **fact
        )
    if named:
        child_search_keys_rebuild(child_ids=[child.pk])
        # A name that makes the record look like a shielded child (a former name, say) may be
        # hers: the record is shielded before any of this row's facts can be seen.
        shield_if_lookalike(child)


@dataclass(frozen=True)
class Taken:
    """What a separated feed record took from the record it had joined (``facts_restore``)."""

    homes: frozenset[tuple[str, str]]  # (line 1, postcode)
    elsewhere: frozenset[str]  # "no known address", "left England"
    carers: frozenset[tuple[str, str]]  # (given name, family name)
    services: frozenset[int]
    lead: bool


def facts_restore(
    row: FeedRow,
    child: Child,
    source_record: SourceRecord,
    record: FeedImport,
    la: Organisation | None,
    taken: Taken,
) -> None:
    """What a feed record's last row says of what another (separated) record ``taken`` from
    the record, given back, ending and changing nothing else: a home, school or carer both
    named went with the one that gave it first, and a lead refused while the other held it."""
    provenance = {"source": source_record.source, "source_reference": _reference(record, row)}
    fact = {**provenance, "source_record": source_record}
    _names_apply(row, child, fact)
    current = Address.objects.filter(child=child, ended_on__isnull=True)
    restored = False
    status = row.address_status
    if status in taken.elsewhere and not current.filter(kind=status).exists():
        Address.objects.create(
            child=child, kind=status, expected_return_by=row.expected_return_by,
            started_on=timezone.localdate(), **fact,
        )  # fmt: skip
    if row.address:
        line_1, line_2, town, postcode = row.address
        home = (line_1, postcode)
        if home in taken.homes and not current.filter(line_1=line_1, postcode=postcode).exists():
            Address.objects.create(
                child=child, line_1=line_1, line_2=line_2, town=town, postcode=postcode,
                started_on=timezone.localdate(), **fact,
            )  # fmt: skip
            restored = True
    carer = (row.carer or {}).get("given_name"), (row.carer or {}).get("family_name")
    if row.carer and carer in taken.carers and not CareRelationship.objects.filter(
        child=child, ended_on__isnull=True, carer__given_name=carer[0],
        carer__family_name=carer[1],
    ).exists():  # fmt: skip
        restored |= _carer_apply(row, child, provenance, fact)
    if row.service:
        service = _service_for(row.service, la, provenance)
        # A feed's involvement, never a practitioner's own: hers is hers to change.
        involvements = Involvement.objects.filter(child=child, ended_on__isnull=True)
        fed = involvements.filter(service=service, practitioner__isnull=True)
        lead = (
            bool(row.service.get("lead_professional"))
            and taken.lead
            and not involvements.filter(lead_professional=True).exists()
        )
        if service.pk in taken.services and not fed.exists():
            started = row.service["started_on"]
            assert isinstance(started, date)
            Involvement.objects.create(
                child=child, service=service, started_on=started,
                caf_held=bool(row.service.get("caf_held")), lead_professional=lead,
                **_sensitive(row.service), **fact,
            )  # fmt: skip
        elif lead and (held := fed.filter(sensitive_category="").first()) is not None:
            held.lead_professional = True  # refused while the separated record's held it
            held.save(update_fields=["lead_professional"])
    if restored:
        shield_follows_home_and_carers(child)


def shield_if_lookalike(child: Child) -> None:
    """Shields the record, for review, if it (its names, birthday and homes as now held) could
    be another child who is shielded."""
    held = Child.objects.prefetch_related("other_names", "addresses").get(pk=child.pk)
    if not is_shielded(held) and shielded_lookalike(held.person(), other_than=child.pk):
        shield_for_review(held)


def _new_identity(row: FeedRow, child: Child) -> bool:
    """Whether the row gives the child a birthday or a name its record does not hold."""
    held = {(child.given_name, child.family_name)}
    held |= {(n.given_name, n.family_name) for n in child.other_names.all()}
    person = row.person()
    names = set(zip(person.given_names, person.family_names, strict=True))
    return row.date_of_birth != child.date_of_birth or not names <= held


def _life_apply(row: FeedRow, child: Child) -> None:
    """An LA's word on a death, and on consent to keep the record until 25."""
    changed = []
    if row.date_of_death or row.consent_to_25 is not None:
        # Her status as it is now, held: the lifecycle job may have archived her since this
        # row read the record, and what follows turns on whether she is archived.
        child.status, child.archived_on = (
            Child.objects.select_for_update(no_key=True)
            .filter(pk=child.pk)
            .values_list("status", "archived_on")
            .get()
        )
    if row.date_of_death and row.date_of_death < child.date_of_birth:
        # Checked against the row's own birthday when read; the record's may be later.
        raise RowRefused(
            row.number,
            "date_of_death: before the date of birth ContactPoint holds for this child",
        )
    if row.date_of_death and child.date_of_death != row.date_of_death:
        child.date_of_death = row.date_of_death
        changed.append("date_of_death")
        if child.status == Child.Status.ACTIVE:
            child.status = Child.Status.DECEASED
            changed.append("status")
    if row.consent_to_25 is not None and child.kept_to_25_with_consent != row.consent_to_25:
        child.kept_to_25_with_consent = row.consent_to_25
        changed.append("kept_to_25_with_consent")
        if (
            child.kept_to_25_with_consent
            and child.status == Child.Status.ARCHIVED
            and child.date_of_death is None
            and child.date_of_birth > years_before(timezone.localdate(), 25)
        ):
            # Archived at 18 for want of the consent that has now come: live until 25.
            child.status, child.archived_on = Child.Status.ACTIVE, None
            changed += ["status", "archived_on"]
    if changed:
        child.save(update_fields=[*changed, "updated_at"])
    if "archived_on" in changed:
        reviews_back_in_sight(child)


def reviews_back_in_sight(child: Child) -> None:
    """A record archived out of sight is live again: the rows set aside with it (most likely
    hers) wait in the queue again, or nothing would ever decide them, as she is not purged."""
    MatchReview.objects.filter(
        status=MatchReview.Status.SET_ASIDE, candidates__contains=[{"child_id": child.pk}]
    ).update(status=MatchReview.Status.OPEN)


def _elsewhere_apply(row: FeedRow, child: Child, fact: dict[str, Any]) -> None:
    """No known address, or left England: it takes the place of this record's own address."""
    current = Address.objects.filter(child=child, ended_on__isnull=True)
    given = current.filter(_given_by(fact["source_record"]))
    if given.filter(kind=row.address_status, expected_return_by=row.expected_return_by).exists():
        return
    today = timezone.localdate()
    for previous in given:  # one save each: the change log
        previous.ended_on = max(today, previous.started_on or today)
        previous.save(update_fields=["ended_on"])
    Address.objects.create(
        child=child, kind=row.address_status, expected_return_by=row.expected_return_by,
        started_on=today, **fact,
    )  # fmt: skip


def _given_by(source_record: SourceRecord) -> Q:
    """The facts a feed record answers for: its own; of those recorded before facts named
    their record (migration 0016), its feed's; and, for an LA system's record, those other
    LAs' systems gave (the child has moved to this LA: their homes and services are past)."""
    given = Q(source_record=source_record) | Q(
        source_record__isnull=True, source=source_record.source
    )
    la_code, _, number = source_record.record_id.partition("/")
    if source_record.source == Source.LA_SYSTEM and number:
        given |= Q(source=Source.LA_SYSTEM, source_record__isnull=False) & ~Q(
            source_record__record_id__startswith=f"{la_code}/"
        )
    return given


def _carer_apply(
    row: FeedRow, child: Child, provenance: dict[str, str], fact: dict[str, Any]
) -> bool:
    """Links the row's parent or carer, or brings its phone up to date; whether it changed."""
    carer_facts = row.carer or {}
    for link_ in CareRelationship.objects.filter(child=child, ended_on__isnull=True).select_related(
        "carer"
    ):
        carer = link_.carer
        if (carer.given_name, carer.family_name) == (
            carer_facts["given_name"],
            carer_facts["family_name"],
        ):
            if carer_facts["phone"] and carer.phone != carer_facts["phone"]:
                carer.phone = carer_facts["phone"]
                carer.save(update_fields=["phone"])
                return True
            return False
    overseas = carer_facts["country"] != "GB"
    line_1, line_2, town, postcode = row.address or ("", "", "", "")
    carer = ParentCarer(
        given_name=carer_facts["given_name"], family_name=carer_facts["family_name"],
        phone=carer_facts["phone"], country=carer_facts["country"],
        line_1="" if overseas else line_1, line_2="" if overseas else line_2,
        town="" if overseas else town, postcode="" if overseas else postcode, **provenance,
    )  # fmt: skip
    carer.for_children = (child.pk,)  # the change log's entry for it is the child's
    carer.save()
    CareRelationship.objects.create(
        child=child, carer=carer, relationship=carer_facts["relationship"] or "other",
        parental_responsibility=carer_facts["parental_responsibility"], **fact,
    )  # fmt: skip
    return True


def _service_for(
    facts: dict[str, object], la: Organisation | None, provenance: dict[str, str]
) -> Service:
    """The school, practice or LA service a row names (an LA's own made the first time)."""
    kind = str(facts["kind"])
    if facts["identifier"]:
        return Service.objects.get(kind=kind, identifier=facts["identifier"])
    assert la is not None, "LA system files are imported for a local authority"
    service, _ = Service.objects.get_or_create(
        kind=kind, local_authority=la, identifier="",
        defaults={"name": f"{la.name} {Service.Kind(kind).label}", **provenance},
    )  # fmt: skip
    return service


def _sensitive(facts: dict[str, object]) -> dict[str, str]:
    kind = str(facts["kind"])
    return {
        "sensitive_category": kind if kind in SensitiveCategory.values else "",
        "sensitive_basis": str(facts.get("sensitive_basis") or ""),
        "sensitive_basis_note": str(facts.get("sensitive_reason") or ""),
    }


def _service_apply(
    facts: dict[str, object],
    child: Child,
    la: Organisation | None,
    provenance: dict[str, str],
    fact: dict[str, Any],
) -> None:
    kind = str(facts["kind"])
    service = _service_for(facts, la, provenance)
    sensitive = _sensitive(facts)
    current = Involvement.objects.filter(child=child, ended_on__isnull=True)
    # The feed's involvement with the service: a practitioner's own is hers to change.
    mine = current.filter(service=service, practitioner__isnull=True).first()
    wants_lead = bool(facts.get("lead_professional"))
    lead_taken = current.filter(lead_professional=True)
    if mine is not None:
        lead_taken = lead_taken.exclude(pk=mine.pk)
    if mine is None:
        started = facts["started_on"]
        assert isinstance(started, date)
        reported = current.filter(_given_by(fact["source_record"]), service__kind=kind)
        if facts.get("dated") and reported.filter(started_on__gt=started).exists():
            return  # an older row than the school or practice the record has given since
        # A record's new school or practice ends the one it gave before.
        for old in reported:
            old.ended_on = max(timezone.localdate(), old.started_on)
            old.save(update_fields=["ended_on"])
        Involvement.objects.create(
            child=child, service=service, started_on=started,
            caf_held=bool(facts.get("caf_held")),
            lead_professional=wants_lead and not lead_taken.exists(),
            **sensitive, **fact,
        )  # fmt: skip
    elif "caf_held" in facts:
        mine.caf_held = bool(facts["caf_held"])
        mine.lead_professional = wants_lead and not lead_taken.exists()
        changed = ["caf_held", "lead_professional"]
        if sensitive["sensitive_category"]:
            # Why it may be held, as the LA's system now says; a row stored before the
            # reason's column existed says nothing of the reason.
            mine.sensitive_basis = sensitive["sensitive_basis"]
            changed.append("sensitive_basis")
            if "sensitive_reason" in facts:
                mine.sensitive_basis_note = sensitive["sensitive_basis_note"]
                changed.append("sensitive_basis_note")
        mine.save(update_fields=changed)


# A data manager's decisions -------------------------------------------------------------------


class ReviewDecided(Exception):
    """Someone else decided the review meanwhile."""


class ReviewChanged(Exception):
    """The row, or its candidates, changed since the data manager's page was shown."""


def review_version(review: MatchReview, source_record: SourceRecord) -> str:
    """What the data manager's page shows of a review, in a few characters: a decision is
    only applied to the row and candidates the page showed."""
    shown = json.dumps([source_record.payload, review.candidates], sort_keys=True)
    # Keyed: the page carries it, and a plain digest would let its reader test guesses at
    # what the page hides (a shielded candidate's or the row's postcode).
    return salted_hmac("directory.review_version", shown, algorithm="sha256").hexdigest()[:16]


def decision_shielded(review: MatchReview, row: FeedRow) -> bool:
    """Whether the record a data manager puts this review's row on (a new one, or one they
    match it to) is shielded until the LA's shielding team reviews it: when the row could be
    a shielded child, or a shielded child is among its candidates (whose postcodes were
    hidden from the data manager, who so decided blind)."""
    candidates = [c["child_id"] for c in review.candidates]
    return bool(shielded_among(candidates)) or shielded_lookalike(row.person()) is not None


class Decided(NamedTuple):
    """A review decided: the record the row went to (none if deferred), and whether the row's
    details were applied to it (not when another LA's system has sent the child since, she
    not being shielded: of a shielded child what it says of where she lives is held back,
    and the data manager is told nothing that differs); and the columns of its carer's phone
    left out as not a telephone number (``FeedRow.phones_left_out``)."""

    child: Child | None
    applied: bool
    phones_left_out: tuple[str, ...] = ()
    # Of a new record: the row's NHS number or UPN another record holds, and keeps (its kind
    # and value, with that record's ContactPoint ID).
    numbers_kept: tuple[tuple[str, str, str], ...] = ()
    # The kind of each NHS number or UPN the row carries that a purged record held: given to
    # no one (``PurgedFeedRecord.number_was_purged``).
    numbers_purged: tuple[str, ...] = ()


@transaction.atomic
def review_decide(
    *, review: MatchReview, decision: str, child: Child | None, by: User, seen: str
) -> Decided:
    """ "match" (to ``child``, or the record it has since been merged into), "new", "defer"
    or "set_aside" (its best match archived out of sight: the caller checks); the row is
    applied for the first two. A new record that could be a shielded
    child is shielded too (``decision_shielded``). ``seen`` is the ``review_version`` the
    data manager's page showed: a review that changed since is not decided."""
    # The row, then its review, locked in the order an import locks them; decided once.
    source_record = SourceRecord.objects.select_for_update().get(pk=review.source_record_id)
    review = MatchReview.objects.select_for_update().get(pk=review.pk)
    if review.status not in (MatchReview.Status.OPEN, MatchReview.Status.DEFERRED):
        raise ReviewDecided
    if seen != review_version(review, source_record):
        raise ReviewChanged
    applied = decision not in ("defer", "set_aside")
    left_out: tuple[str, ...] = ()
    numbers_kept: tuple[tuple[str, str, str], ...] = ()
    numbers_purged: tuple[str, ...] = ()
    if not applied:
        review.status = (
            MatchReview.Status.DEFERRED if decision == "defer" else MatchReview.Status.SET_ASIDE
        )
    else:
        row = row_from_record(source_record)
        numbers_purged = purged_numbers_carried(row)
        # The LA whose file it was; the national team's files name none.
        la = source_record.last_import.local_authority
        if decision == "new":
            shielded = decision_shielded(review, row)
            home = la or _best_candidate_la(review)
            child = child_create_from_row(
                row, source_record.source, source_record.last_import, home
            )
            if shielded:
                shield_for_review(child)
            review.status = MatchReview.Status.CREATED
            numbers_kept = numbers_held_elsewhere(row, child)
        else:
            assert child is not None
            child = child.record_kept()
            if not is_shielded(child) and decision_shielded(review, row):
                shield_for_review(child)
            review.status = MatchReview.Status.MATCHED
        record = source_record.last_import
        held = decision == "match" and _held_back(
            child, source_record.record_id, source_record.source, record
        )
        # A row in doubt put on a record other than the child its id pointed to (a new one, or
        # another child's): what other LAs' files sent under the id was that child's, not hers.
        pointed = source_record.pointed_to
        theirs = pointed is None or pointed.record_kept().pk == child.pk
        newer = _newer_row_kept(source_record) if decision == "match" and theirs else None
        if newer is not None and held is False:
            held = True if is_shielded(child) else None  # as had it been held back then
        if not theirs:
            source_record.la_last_rows = {}
            source_record.save(update_fields=["la_last_rows"])
        if held is None:
            # Hers, but older than another LA's system's word on her: it must not take her back.
            source_record.linked_to(child)
            applied = False
        else:  # what it says of where a shielded child lives may be held back (``_held_back``)
            link(source_record, row, child, record, la or child.local_authority, where=not held)
            if not held:  # its carer applied, without the phone left out
                left_out = row.phones_left_out
        if newer is not None:  # the newer word on her is the record's again
            source_record.row_received(*newer)
    review.decided_by, review.decided_at = by, timezone.now()
    # The candidates as offered: a shield the decision put on compared waiting reviews afresh,
    # this one among them, and would have listed the record just made from its own row.
    review.save(update_fields=["status", "decided_by", "decided_at", "candidates"])
    return Decided(child, applied, left_out, numbers_kept, numbers_purged if applied else ())


def numbers_held_elsewhere(
    row: FeedRow, child: Child | None = None
) -> tuple[tuple[str, str, str], ...]:
    """The row's NHS number or UPN that a record other than ``child`` holds: a number is one
    child's, so a new record made from a row in doubt does not take it (``_whose``); it stays
    with the record given it first, which other feeds may have given it too."""
    held = [
        found
        for kind, value in row.identifiers.items()
        if (found := ChildIdentifier.objects.filter(kind=kind, value=value).first()) is not None
        and (child is None or found.child_id != child.pk)
    ]
    return tuple(
        (found.kind, found.value, found.child.record_kept().contactpoint_id_display)
        for found in held
    )


def _newer_row_kept(source_record: SourceRecord) -> tuple[dict[str, str], FeedImport] | None:
    """The newest row another LA's file sent the record, where its file was extracted after
    the record's own row's: a row in doubt waits as the record's row however old
    (``_apply_row``), and the newer row is the record's word again once a person decides."""
    kept = source_record.la_last_rows.values()
    imports = FeedImport.objects.in_bulk([row["import"] for row in kept])
    newer = [
        (row["payload"], imports[row["import"]])
        for row in kept
        if imports[row["import"]].extracted > source_record.last_import.extracted
    ]
    return max(newer, key=lambda pair: (pair[1].extracted, pair[1].pk), default=None)


def _best_candidate_la(review: MatchReview) -> Organisation | None:
    """The LA of the best candidate still held, for a row from a file that names no LA."""
    ids = [c["child_id"] for c in review.candidates]
    held = Child.objects.select_related("local_authority").in_bulk(ids)
    best = next((held[pk] for pk in ids if pk in held), None)
    return best.local_authority if best else None
