"""`python manage.py audit_seal`: seal every closed day of the access and change logs."""

from typing import Any

from django.utils import timezone

from audit.integrity import seal_closed_days
from contactpoint.commands import Command as BaseCommand


class Command(BaseCommand):
    """Seals each closed day (UTC) with a hash of its events and change-log entries, chained to
    the previous seal.

    Run it daily from cron, after midnight UTC. Print and keep the last seal hash somewhere
    the database's administrators cannot change (a log shipped elsewhere): it is what proves
    that no seal was removed from the end of the chain.
    """

    help = "Seal every closed day of the access and change logs."

    def handle(self, *args: Any, **options: Any) -> None:
        seals = seal_closed_days(now=timezone.now())
        for seal in seals:
            self.stdout.write(
                f"Sealed {seal.day}: {seal.event_count} events, {seal.change_count} change-log "
                f"entries, {seal.seal_hash}"
            )
        if not seals:
            self.stdout.write("No closed day was waiting to be sealed.")
