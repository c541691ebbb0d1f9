"""`python manage.py lifecycle`: archive and purge records as DESIGN.md's lifecycle says."""

from typing import Any

from auditlog.context import set_actor
from django.utils import timezone

from contactpoint.commands import Command as BaseCommand
from directory.services import lifecycle_apply


class Command(BaseCommand):
    """Archives children at 18 (25 with consent) and a year after death; purges records six
    years after archiving. Run it daily; running it twice in a day changes nothing more."""

    help = "Archive and purge records as the lifecycle rules say."

    def handle(self, *args: Any, **options: Any) -> None:
        with set_actor(None):
            done = lifecycle_apply(today=timezone.localdate())
        self.stdout.write(", ".join(f"{n} {what.replace('_', ' ')}" for what, n in done.items()))
