"""`python manage.py audit_retention [--years N]`: drop months older than the retention period."""

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.utils import timezone

from audit.integrity import retention_apply
from contactpoint.commands import Command as BaseCommand
from contactpoint.commands import positive_int_up_to


class Command(BaseCommand):
    """Drops whole monthly partitions older than the retention period (default 7 years).

    The months are verified first; if anything is wrong, or a month is not fully sealed,
    nothing is dropped and the exit code is 1. The drop is recorded as an access-log event.
    Run it as the database role that owns the tables (the application's role cannot drop).
    """

    help = (
        "Drop access-log months older than the retention period, and the change log's entries "
        "of those months, after verifying them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--years", type=positive_int_up_to(settings.AUDIT_RETENTION_MOST_YEARS),
            default=settings.AUDIT_RETENTION_YEARS,
            help="years to keep (default AUDIT_RETENTION_YEARS: %(default)s; at most "
            f"{settings.AUDIT_RETENTION_MOST_YEARS})",
        )  # fmt: skip

    def handle(self, *args: Any, years: int, **options: Any) -> None:
        result = retention_apply(now=timezone.now(), years=years)
        for problem in result.verification.problems:
            self.stderr.write(f"PROBLEM: {problem}")
        if not result.verification.ok:
            self.stderr.write("Nothing was dropped.")
            sys.exit(1)
        if not result.dropped:
            self.stdout.write(f"No month is older than {years} years.")
        for month in result.dropped:
            self.stdout.write(f"Dropped the events of {month:%B %Y}.")
