"""`python manage.py import_services FILE`: load the register of schools and GP practices."""

import sys
from pathlib import Path
from typing import Any

from auditlog.context import set_actor
from django.core.management.base import CommandError, CommandParser

from contactpoint.commands import Command as BaseCommand
from directory.feeds import error_report
from directory.service_register import register_apply, register_check


class Command(BaseCommand):
    """Adds the schools and GP practices a CSV lists, or brings them up to date (docs/feeds.md
    "The service register"), whole or not at all. Exit codes: 0 loaded, 1 rejected (the rows
    with errors are listed), 2 bad arguments."""

    help = "Load the register of schools and GP practices that feed rows name."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", type=Path, metavar="FILE", help="the register's CSV file (docs/feeds.md)"
        )

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"{file} is not a file", returncode=2)
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text", returncode=2) from None
        checked = register_check(text)
        if checked.errors:
            self.stderr.write(error_report(checked.errors))
            self.stderr.write(f"{file.name} was rejected. Nothing has changed.")
            sys.exit(1)
        with set_actor(None):
            done = register_apply(checked.services, file_name=file.name)
        summary = ", ".join(f"{n} {what}" for what, n in sorted(done.items()))
        self.stdout.write(f"Loaded {len(checked.services)} services from {file.name}: {summary}.")
