"""Locking out repeated failures: per username and per address, for passwords and codes alike.

A username is locked after ``LOCKOUT_USERNAME_FAILURES`` failures within ``LOCKOUT_PERIOD``,
an address after ``LOCKOUT_IP_FAILURES``. The lock lifts by itself when the failures age out
of the period, or at once when an administrator unlocks the user.
"""

from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import SignInFailure
from contactpoint.serialise import Turn, attempt_join, attempts_under_way, brief_turn, wait_turn

LOCKED_MESSAGE = (
    "Too many attempts to sign in have failed, so signing in is locked for now. "
    "Try again later, or ask your local authority's ContactPoint administrator to unlock "
    "your account."
)
BUSY_MESSAGE = (
    "Too many sign-ins from your network are being checked at this moment. Wait a few "
    "seconds, then try again."
)
# Why an attempt was refused unchecked (the audit event's detail), and what the user is told.
REFUSALS = {"locked": LOCKED_MESSAGE, "busy": BUSY_MESSAGE}


def _key(username: str) -> str:
    return username.strip().lower()[:150]


def sign_in_refused(*, username: str, ip_address: str, now: datetime) -> str:
    """Why this attempt must be refused unchecked (a key of ``REFUSALS``), or "" to check it.

    Attempts from one address do not wait for each other's password checks (a whole office
    signs in from one address): each counts those still under way as failures to come, and is
    refused at once ("busy") while they could reach the limit. Then, until the request ends,
    other attempts for the same username wait, so that each counts this one's failure. In that
    order, an attempt never waits for its address while it holds up its username's owner."""
    recent = SignInFailure.objects.filter(failed_at__gte=now - settings.LOCKOUT_PERIOD)
    refused = _address_refusal(recent.filter(ip_address=ip_address), ip_address)
    if refused:
        return refused
    wait_turn(Turn.SIGN_IN_USERNAME, _key(username))
    if recent.filter(username=_key(username)).count() >= settings.LOCKOUT_USERNAME_FAILURES:
        return "locked"
    return ""


def _address_refusal(failures: QuerySet[SignInFailure], ip_address: str) -> str:
    """Failures and attempts under way from the address stay within the limit, however many
    arrive at once: an attempt counts and joins those under way in a brief turn of its own."""
    limit = settings.LOCKOUT_IP_FAILURES
    with brief_turn(Turn.SIGN_IN_ADDRESS, ip_address):
        # Those under way first: one that ends in between is then counted twice, never
        # missed (its failure is visible before it leaves the attempts under way).
        under_way = attempts_under_way(Turn.SIGN_IN_ADDRESS_ATTEMPT, ip_address)
        failed = failures.count()
        if failed >= limit:
            return "locked"
        if failed + under_way >= limit:
            return "busy"
        attempt_join(Turn.SIGN_IN_ADDRESS_ATTEMPT, ip_address)
        return ""


def username_locked(username: str, now: datetime) -> bool:
    recent = SignInFailure.objects.filter(
        username=_key(username), failed_at__gte=now - settings.LOCKOUT_PERIOD
    )
    return recent.count() >= settings.LOCKOUT_USERNAME_FAILURES


def sign_in_failure_record(*, username: str, ip_address: str, stage: str) -> None:
    SignInFailure.objects.create(username=_key(username), ip_address=ip_address, stage=stage)


def sign_in_failures_clear(username: str) -> None:
    """After a successful sign-in or an administrator's unlock."""
    SignInFailure.objects.filter(username=_key(username)).delete()
