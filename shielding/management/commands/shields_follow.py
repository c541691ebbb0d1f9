"""`python manage.py shields_follow`: every shield in force, followed to the records alongside."""

from datetime import UTC
from typing import Any

from auditlog.context import set_actor
from django.core.management.base import CommandError, CommandParser

from contactpoint.commands import Command as BaseCommand
from shielding.models import ShieldsToFollow
from shielding.policy import follow_every_shield, follow_owed_shields


class Command(BaseCommand):
    """Shields, for review, each record that shares a home or a parent or carer with a child
    shielded for itself (``shield_follows_home_and_carers``). Run it daily, and once after
    upgrading to a version that follows shields; running it again changes nothing more.
    With ``--pending``, every minute: only the looks again that a feed file, merge or shield
    owes once it has committed and that failed (``follow_shields_after_commit``)."""

    help = "Shield the records that share a home or a carer with a shielded child."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--pending",
            action="store_true",
            help="Only the looks after commit that failed (run it every minute).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with set_actor(None):
            if not options["pending"]:
                followed, made = follow_every_shield()
                self.stdout.write(f"{followed} shields followed; {made} records alongside shielded")
            done, failed = follow_owed_shields()
        self.stdout.write(f"{done} looks after commit done; {failed} failed, left for the next run")
        if failed:
            # How long a record may have been open says how urgent it is, to whoever is paged.
            oldest = ShieldsToFollow.objects.order_by("made_at").values_list("made_at", flat=True)
            raise CommandError(
                f"{failed} looks after commit failed; the oldest still owed is of "
                f"{oldest[0].astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
            )
