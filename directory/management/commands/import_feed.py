"""`python manage.py import_feed --source SOURCE --extracted-on YYYY-MM-DD FILE`: validate, match
and apply a feed file."""

import argparse
import csv
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from auditlog.context import set_actor
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from contactpoint.commands import Command as BaseCommand
from contactpoint.commands import local_authority
from contactpoint.spreadsheets import as_text
from directory.feed_import import feed_import, oldest_extract
from directory.feeds import COLUMNS, FEED_SOURCES, error_report
from directory.models import FeedImport, Source


class Command(BaseCommand):
    """Imports one feed file whole or not at all (docs/feeds.md).

    Every row is validated first and a row-numbered report printed; a file with errors is
    rejected whole unless ``--skip-invalid``, which imports the valid rows and writes the
    rejected ones, with their errors, to a report file. Importing the same file again changes
    nothing, except that a file imported with rows left out, sent again for the same LA,
    imports those of its rows left out that now pass. Exit codes: 0 imported (or already
    imported), 1 rejected, 2 bad arguments.

    ``--extracted-on`` is required, not taken as today: files arrive out of order, and a row
    of a file extracted before the one that last sent its record is not applied over it.
    """

    help = "Import a feed file: school_census, child_benefit, gp_registration or la_system."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, metavar="FILE", help="the CSV file (docs/feeds.md)")
        parser.add_argument(
            "--source", required=True, choices=[s.value for s in FEED_SOURCES],
            help="the feed the file comes from",
        )  # fmt: skip
        parser.add_argument(
            "--local-authority", metavar="CODE",
            help="the LA the file comes from (needed for child benefit and LA system files)",
        )  # fmt: skip
        parser.add_argument(
            "--extracted-on", required=True, type=_extract_date, metavar="YYYY-MM-DD",
            help="the day the feed's system extracted the file",
        )  # fmt: skip
        parser.add_argument(
            "--skip-invalid", action="store_true",
            help="import the valid rows and leave out those with errors (see --report)",
        )  # fmt: skip
        parser.add_argument(
            "--report", type=Path, metavar="FILE",
            help="where --skip-invalid writes rejected rows (default: FILE.rejected.csv)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        source = options["source"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file", returncode=2)
        la = None
        if options["local_authority"]:
            la = local_authority(options["local_authority"])
        elif source in (Source.CHILD_BENEFIT, Source.LA_SYSTEM):
            raise CommandError(
                "--local-authority is needed for child benefit and LA system files", returncode=2
            )
        # With --skip-invalid the rows found wanting are written out after the others are
        # imported: a report that cannot be written must stop the import first, not follow it
        # as a traceback that reads as though nothing was imported.
        report = options["report"] or path.with_name(path.name + ".rejected.csv")
        if options["skip_invalid"] and not _writable(report):
            raise CommandError(
                f"{report} cannot be written, for the rows left out (--report). Nothing has been "
                "imported.",
                returncode=2,
            )
        content = path.read_bytes()
        with (
            tqdm(unit=" rows", desc="Importing", disable=None, file=sys.stderr) as bar,
            set_actor(None),
        ):
            outcome = feed_import(
                source=source, file_name=path.name, content=content, local_authority=la,
                by=None, skip_invalid=options["skip_invalid"], progress=bar.update,
                extracted_on=options["extracted_on"],
            )  # fmt: skip
        validation = outcome.validation
        if outcome.extract_date_not_used is not None:
            self.stdout.write(
                f"{path.name} was imported before, {outcome.date_not_used_said('%Y-%m-%d')}: "
                f"--extracted-on {outcome.extract_date_not_used:%Y-%m-%d} was not used."
            )
        if outcome.already_imported:
            self.stdout.write(f"{path.name} was imported before; nothing has changed.")
            if outcome.other_la:
                self.stdout.write("It was imported for another local authority.")
            elif outcome.left_out_not_noted:
                self.stdout.write(
                    "Rows were left out of it before ContactPoint noted which: send them in a "
                    "file of their own."
                )
            return
        if validation.errors:
            self.stderr.write(error_report(validation.errors))
        if outcome.feed_import is None and outcome.resend_of is not None:
            # With --skip-invalid, none of them passes yet: the flag is no way on.
            advice = (
                "They cannot be imported yet: put right in ContactPoint (or the file) what the "
                "report says, then send it again."
                if options["skip_invalid"]
                else "Correct them, or use --skip-invalid."
            )
            self.stderr.write(
                f"{path.name} was imported before with {outcome.left_out_before} rows left out: "
                f"{len(validation.rejected) or 1} of them still have errors. Nothing has changed. "
                + advice
            )
            sys.exit(1)
        if outcome.feed_import is None:
            wrong = len(validation.rejected)
            said = f"{wrong} row{'s have' if wrong != 1 else ' has'} errors" if wrong else "errors"
            # --skip-invalid is no way on where it was given (no row was valid) or where the
            # file itself is wrong (its header, its encoding), which no row can be left out for.
            advice = "" if options["skip_invalid"] or not wrong else ", or use --skip-invalid"
            self.stderr.write(
                f"{path.name} was rejected: {said}. Nothing has been imported. "
                f"Correct the file{advice}."
            )
            sys.exit(1)
        if validation.rejected:
            self._write_rejected(report, source, validation)
            self.stdout.write(f"{len(validation.rejected)} rejected rows written to {report}")
        if outcome.extracted_later is not None:
            later = outcome.extracted_later
            self.stdout.write(
                f"{path.name} was extracted before {later.file_name} (extracted on "
                f"{later.extracted:%Y-%m-%d}), imported before it: its rows about records a "
                "file extracted later has sent are not applied."
            )
        if outcome.resend_of is not None:
            self.stdout.write(f"{path.name} sent again: {outcome.feed_import.outcome_text}.")
            return
        if (before := outcome.newer_extract_of) is not None:
            self.stdout.write(
                f"{path.name} was imported before, {before.extracted_said('%Y-%m-%d')}: it is "
                f"imported again as extracted on {outcome.feed_import.extracted_on:%Y-%m-%d}."
            )
        summary = FeedImport.describe(outcome.counts)
        rows = len(validation.rows)
        # "Read", not "imported": some rows may have been found older than what is held.
        self.stdout.write(
            f"Read {rows} row{'s' * (rows != 1)} of {path.name}: {summary or 'none'}."
        )

    @staticmethod
    def _write_rejected(report: Path, source: str, validation: Any) -> None:
        messages: dict[int, list[str]] = {}
        for number, message in validation.errors:
            messages.setdefault(number, []).append(message)
        with report.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["row", "errors", *COLUMNS[source]])
            for number, values in sorted(validation.rejected.items()):
                writer.writerow(
                    [
                        number,
                        "; ".join(messages.get(number, [])),
                        *(as_text(values.get(c, "")) for c in COLUMNS[source]),
                    ]
                )


def _writable(report: Path) -> bool:
    """Whether a file can be written at ``report`` (made anew, or over one there)."""
    if report.exists():
        return report.is_file() and os.access(report, os.W_OK)
    return report.parent.is_dir() and os.access(report.parent, os.W_OK)


def _extract_date(value: str) -> date:
    """``--extracted-on``: a real day, not ahead of today."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if day > timezone.localdate():
        raise argparse.ArgumentTypeError(
            f"{value} is in the future: a file is extracted before it is sent"
        )
    if day < oldest_extract():
        raise argparse.ArgumentTypeError(
            f"{value} is more than a year ago: ask the feed's supplier for a new extract"
        )
    return day
