"""Locking out repeated failures: per username and per address, for passwords and codes alike.

A username is locked after ``LOCKOUT_USERNAME_FAILURES`` failures within ``LOCKOUT_PERIOD``,
an address after ``LOCKOUT_IP_FAILURES``. The lock lifts by itself when the failures age out
of the period, or at once when an administrator unlocks the user.
"""

import time
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


def _key(username: str) -> str:
    return username.strip().lower()[:150]


def sign_in_locked(*, username: str, ip_address: str, now: datetime) -> bool:
    """Whether this attempt must be refused. Until the request ends, other attempts for the
    same username wait, so that each counts this one's failure. Attempts from one address do
    not wait for each other's password checks (a whole office signs in from one address):
    each counts those still under way as failures to come, and waits only while they could
    reach the limit."""
    wait_turn(Turn.SIGN_IN_USERNAME, _key(username))
    recent = SignInFailure.objects.filter(failed_at__gte=now - settings.LOCKOUT_PERIOD)
    if recent.filter(username=_key(username)).count() >= settings.LOCKOUT_USERNAME_FAILURES:
        return True
    return _address_locked(recent.filter(ip_address=ip_address), ip_address)


# How long an attempt waits for those under way from its address, once they could reach the
# limit, before it is refused as locked.
ADDRESS_WAIT_SECONDS = 10.0


def _address_locked(failures: QuerySet[SignInFailure], ip_address: str) -> bool:
    """Failures and attempts under way from the address stay within the limit, however many
    arrive at once: an attempt counts and joins those under way in a brief turn of its own."""
    limit = settings.LOCKOUT_IP_FAILURES
    deadline = time.monotonic() + ADDRESS_WAIT_SECONDS
    while True:
        with brief_turn(Turn.SIGN_IN_ADDRESS, ip_address):
            # Those under way first: one that ends in between is then counted twice, never
            # missed (its failure is visible before it leaves the attempts under way).
            under_way = attempts_under_way(Turn.SIGN_IN_ADDRESS_ATTEMPT, ip_address)
            failed = failures.count()
            if failed >= limit:
                return True
            if failed + under_way < limit:
                attempt_join(Turn.SIGN_IN_ADDRESS_ATTEMPT, ip_address)
                return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.05)


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
