"""`python manage.py audit_verify`: check every sealed day; exit code 1 if anything is wrong."""

import sys
from typing import Any

from audit.integrity import verify
from audit.models import AuditSeal
from contactpoint.commands import Command as BaseCommand


class Command(BaseCommand):
    """Recomputes every seal and every sealed event's and change-log entry's digest.

    Reports each event or change-log entry altered, inserted into or removed from a sealed day,
    and each seal that was altered, removed or chained wrongly; exits with code 1 if there is
    any. Days sealed before the change log was sealed are noted, not failed.
    """

    help = "Verify the sealed access and change logs; exit code 1 if anything was tampered with."

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify()
        for problem in result.problems:
            self.stderr.write(f"PROBLEM: {problem}")
        for note in result.notes:
            self.stdout.write(f"NOTE: {note}")
        last = AuditSeal.objects.order_by("-day").first()
        summary = (
            f"Checked {result.days_checked} sealed days, {result.events_checked} events and "
            f"{result.changes_checked} change-log entries."
        )
        if last is not None:
            summary += f" Last seal: {last.day} {last.seal_hash}"
        self.stdout.write(summary)
        if not result.ok:
            self.stderr.write(
                f"{len(result.problems)} problems found: the audit log is not intact."
            )
            sys.exit(1)
        self.stdout.write("The audit log is intact.")
