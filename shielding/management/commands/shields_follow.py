"""`python manage.py shields_follow`: every shield in force, followed to the records alongside."""

from typing import Any

from auditlog.context import set_actor

from contactpoint.commands import Command as BaseCommand
from shielding.policy import follow_every_shield


class Command(BaseCommand):
    """Shields, for review, each record that shares a home or a parent or carer with a child
    shielded for itself (``shield_follows_home_and_carers``). Run it daily, and once after
    upgrading to a version that follows shields; running it again changes nothing more."""

    help = "Shield the records that share a home or a carer with a shielded child."

    def handle(self, *args: Any, **options: Any) -> None:
        with set_actor(None):
            followed, made = follow_every_shield()
        self.stdout.write(f"{followed} shields followed; {made} records alongside shielded")
