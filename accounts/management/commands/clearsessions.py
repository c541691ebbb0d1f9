"""`python manage.py clearsessions`: Django's daily clean-up, with each ended session's sign-out."""

from typing import Any

from django.utils import timezone

from accounts.services import sessions_expired_clear
from contactpoint.commands import Command as BaseCommand


class Command(BaseCommand):
    """Replaces Django's ``clearsessions`` (accounts is listed before its sessions app), so
    the daily job in docs/deployment.md runs it unchanged: it deletes the sessions past
    their expiry as Django's does, having first written the sign-out event of each one a
    user was signed in to, dated when it ended (a closed browser's, or one left idle, is
    never seen again, and would be a sign-in with no end on the access log)."""

    help = "Delete expired sessions, recording the sign-out of each one a user was signed in to."

    def handle(self, *args: Any, **options: Any) -> None:
        signed_out = sessions_expired_clear(now=timezone.now())
        self.stdout.write(f"Expired sessions deleted; {signed_out} sign-outs recorded.")
