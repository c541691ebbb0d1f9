"""Locking out repeated failures: per username and per address, for passwords and codes alike.

A username is locked after ``LOCKOUT_USERNAME_FAILURES`` failures within ``LOCKOUT_PERIOD``,
an address after ``LOCKOUT_IP_FAILURES``. The lock lifts by itself when the failures age out
of the period, or at once when an administrator unlocks the user.
"""

from datetime import datetime

from django.conf import settings

from accounts.models import SignInFailure
from contactpoint.serialise import Turn, wait_turn

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
    not wait for each other: a whole office signs in from one address, and would queue."""
    wait_turn(Turn.SIGN_IN_USERNAME, _key(username))
    recent = SignInFailure.objects.filter(failed_at__gte=now - settings.LOCKOUT_PERIOD)
    return (
        recent.filter(username=_key(username)).count() >= settings.LOCKOUT_USERNAME_FAILURES
        or recent.filter(ip_address=ip_address).count() >= settings.LOCKOUT_IP_FAILURES
    )


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
