"""Locking out repeated failures: per username and per address, for passwords and codes alike.

A username is locked after ``LOCKOUT_USERNAME_FAILURES`` failures within ``LOCKOUT_PERIOD``,
an address after ``LOCKOUT_IP_FAILURES``. The lock lifts by itself when the failures age out
of the period, or at once when an administrator unlocks the user.
"""

import ipaddress
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.middleware import duration_in_words
from accounts.models import SignInFailure
from contactpoint.serialise import (
    Turn,
    TurnTimeout,
    attempt_join,
    attempts_under_way,
    brief_turn,
    wait_turn,
)

LOCKED_MESSAGE = (
    "Too many attempts to sign in have failed, so signing in is locked for now. "
    "Try again later, or ask your local authority's ContactPoint administrator to unlock "
    "your account."
)
ADDRESS_LOCKED_MESSAGE = (
    "Too many attempts to sign in from your network have failed, so signing in from it is "
    "locked for now. Try again in {period}."
)
BUSY_MESSAGE = (
    "Too many sign-ins from your network are being checked at this moment. Wait a few "
    "seconds, then try again."
)
# Why an attempt was refused unchecked (the audit event's detail), and what the user is told.
REFUSALS = {
    "locked": LOCKED_MESSAGE,
    "address_locked": ADDRESS_LOCKED_MESSAGE,
    "busy": BUSY_MESSAGE,
}


# The same refusals, told to someone signed in who is changing her own account ("{doing}":
# "change your password"): her session stands, only what she asked for waits.
OWN_ACCOUNT_REFUSALS = {
    "locked": (
        "You cannot {doing} for now, because too many wrong passwords or security codes have "
        "been entered for your account. You are still signed in. Try again in {left}, or ask "
        "your local authority's ContactPoint administrator to unlock your account."
    ),
    "address_locked": (
        "You cannot {doing} for now, because too many wrong passwords or security codes have "
        "been entered from your network. You are still signed in. Try again in {left}."
    ),
    "busy": (
        "Too many passwords and security codes from your network are being checked at this "
        "moment. Wait a few seconds, then try again."
    ),
}


def refusal_message(refused: str) -> str:
    """What the user is told of a refusal (a key of ``REFUSALS``), with the lockout period
    as it is set (LOCKOUT_MINUTES), not as it is by default."""
    return REFUSALS[refused].format(period=duration_in_words(settings.LOCKOUT_PERIOD))


def _key(username: str) -> str:
    return username.strip().lower()[:150]


def _address_key(ip_address: str) -> str:
    """The address failures are counted for. An IPv6 address counts with the rest of its /64
    network, which one connection is given whole: otherwise a guesser could try from a new
    address each time, and no address would ever lock."""
    try:
        address = ipaddress.ip_address(ip_address)
    except ValueError:
        return ip_address
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return ip_address


def _username_failures(username: str, now: datetime) -> QuerySet[SignInFailure]:
    return SignInFailure.objects.filter(
        username=_key(username),
        failed_at__gte=now - settings.LOCKOUT_PERIOD,
        cleared_at__isnull=True,
    )


def sign_in_refused(*, username: str, ip_address: str, now: datetime) -> str:
    """Why this attempt must be refused unchecked (a key of ``REFUSALS``), or "" to check it.

    Attempts from one address do not wait for each other's password checks (a whole office
    signs in from one address): each counts those still under way as failures to come, and
    waits a moment, then is refused ("busy"), while they could reach the limit. Then, until
    the request ends, other attempts for the same username wait, so that each counts this
    one's failure. In that order, an attempt never waits for its address while it holds up its
    username's owner. A turn another request does not give up within ``TURN_TIMEOUT`` (a lost
    application server's) refuses the attempt as busy rather than hang it."""
    try:
        refused = _address_refusal(_address_key(ip_address), now)
        if refused:
            return refused
        wait_turn(Turn.SIGN_IN_USERNAME, _key(username), timeout=TURN_TIMEOUT)
    except TurnTimeout:
        return "busy"
    if _username_failures(username, now).count() >= settings.LOCKOUT_USERNAME_FAILURES:
        return "locked"
    return ""


# How long an attempt waits for those under way from its address before it is told "busy",
# and for a turn another request holds.
ADDRESS_WAIT = timedelta(seconds=2)
TURN_TIMEOUT = timedelta(seconds=5)


def _address_refusal(ip_address: str, now: datetime) -> str:
    """Failures and attempts under way from the address stay within the limit, however many
    arrive at once: an attempt counts and joins those under way in a brief turn of its own."""
    limit = settings.LOCKOUT_IP_FAILURES
    failures = SignInFailure.objects.filter(
        ip_address=ip_address, failed_at__gte=now - settings.LOCKOUT_PERIOD
    )
    deadline = time.monotonic() + ADDRESS_WAIT.total_seconds()
    while True:
        with brief_turn(Turn.SIGN_IN_ADDRESS, ip_address, timeout=TURN_TIMEOUT):
            # Those under way first: one that ends in between is then counted twice, never
            # missed (its failure is visible before it leaves the attempts under way).
            under_way = attempts_under_way(Turn.SIGN_IN_ADDRESS_ATTEMPT, ip_address)
            failed = failures.count()
            if failed >= limit:
                return "address_locked"
            if failed + under_way < limit:
                attempt_join(Turn.SIGN_IN_ADDRESS_ATTEMPT, ip_address)
                return ""
        if time.monotonic() >= deadline:
            return "busy"
        time.sleep(0.05)


def lock_lifts_at(refused: str, *, username: str, ip_address: str, now: datetime) -> datetime:
    """When a lock (``refused``: "locked" or "address_locked") lifts by itself: when the
    newest failure of those that reach the limit ages out of the period. Refused attempts
    are not failures, so trying again meanwhile does not put it off."""
    if refused == "locked":
        failures, limit = _username_failures(username, now), settings.LOCKOUT_USERNAME_FAILURES
    else:
        failures = SignInFailure.objects.filter(
            ip_address=_address_key(ip_address), failed_at__gte=now - settings.LOCKOUT_PERIOD
        )
        limit = settings.LOCKOUT_IP_FAILURES
    newest = failures.order_by("-failed_at").values_list("failed_at", flat=True)
    reaching = list(newest[limit - 1 : limit])
    # Gone since the attempt was refused: it has lifted.
    return reaching[0] + settings.LOCKOUT_PERIOD if reaching else now


def username_locked(username: str, now: datetime) -> bool:
    return _username_failures(username, now).count() >= settings.LOCKOUT_USERNAME_FAILURES


def sign_in_failure_record(*, username: str, ip_address: str, stage: str) -> None:
    SignInFailure.objects.create(
        username=_key(username), ip_address=_address_key(ip_address), stage=stage
    )
    # Failures older than twice the period count for nothing any more. Those another
    # request is purging are left to it: a failed sign-in never waits for another's.
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM accounts_signinfailure WHERE id IN (SELECT id FROM "
            "accounts_signinfailure WHERE failed_at < %s ORDER BY id LIMIT 100 "
            "FOR UPDATE SKIP LOCKED)",
            [timezone.now() - 2 * settings.LOCKOUT_PERIOD],
        )


def sign_in_failures_clear(username: str, *, signed_in_from: str | None = None) -> None:
    """After a successful sign-in or an administrator's unlock, the username's failures no
    longer count for it. Those from elsewhere still count for the addresses they came from (a
    user signing in at her desk must not give a guesser his guesses back); those from the
    address she signed in from are gone, or her office would lock itself out with its typos."""
    now = timezone.now()
    failures = SignInFailure.objects.filter(
        username=_key(username), failed_at__gte=now - settings.LOCKOUT_PERIOD
    )
    if signed_in_from:
        failures.filter(ip_address=_address_key(signed_in_from)).delete()
    failures.filter(cleared_at__isnull=True).update(cleared_at=now)
