"""`python manage.py audit_partitions [--months-ahead N]`: create the coming months' partitions."""

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.utils import timezone

from audit.integrity import partitions, partitions_ensure
from contactpoint.commands import Command as BaseCommand
from contactpoint.commands import positive_int_up_to


class Command(BaseCommand):
    """Creates the access log's monthly partitions ahead of time (run it daily from cron).

    An event for a month without a partition cannot be written, and a request whose event
    cannot be written shows nothing, so partitions must always exist before they are needed.
    """

    help = "Create the access log's partitions for this month and the coming months."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--months-ahead", type=positive_int_up_to(settings.AUDIT_PARTITION_MOST_MONTHS_AHEAD),
            default=settings.AUDIT_PARTITION_MONTHS_AHEAD,
            help="months after this one to have partitions for (default %(default)s; at most "
            f"{settings.AUDIT_PARTITION_MOST_MONTHS_AHEAD})",
        )  # fmt: skip

    def handle(self, *args: Any, months_ahead: int, **options: Any) -> None:
        created = partitions_ensure(today=timezone.now().date(), months_ahead=months_ahead)
        for month in created:
            self.stdout.write(f"Created the partitions for {month:%B %Y}.")
        months = partitions()
        self.stdout.write(f"Partitions exist from {months[0]:%B %Y} to {months[-1]:%B %Y}.")
