"""Requests sent side by side, as an attacker would send them, on connections of their own.

These run outside the test's transaction, so each thread commits for real; they call the view
inside a transaction as the audit middleware does, but without it, so that no audit row (which
the database refuses to delete) is left behind. Everything they make is deleted at the end.
"""

import io
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from auditlog.context import disable_auditlog
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.middleware import SessionMiddleware
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import DataError, connection, connections, transaction
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.middleware import OTPMiddleware
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import middleware, views
from accounts.lockout import sign_in_refused
from accounts.middleware import (
    LAST_SEEN_AT,
    SESSION_STAMP,
    SIGNED_IN_AT,
    AccessControlMiddleware,
    _ended_by_new_password,
)
from accounts.models import Organisation, SignInFailure, User
from accounts.sessions import RENEWED_HERE
from audit.models import Action
from contactpoint import serialise
from contactpoint.serialise import Turn
from tests.date_input import date_boxes
from tests.feed_forms import extracted_today
from tests.personas import CONFIRM, current_code
from tests.test_migrations import server_url

GUESSES = 12


def la_and_user(code: str, username: str, role: str) -> tuple[Organisation, User]:
    """A local authority of its own and one user of it (the caller deletes both)."""
    # These commit: never to the development database (a test run alone, unmarked, can be).
    assert connection.settings_dict["NAME"].startswith("test_"), "not the test database"
    organisation = Organisation.objects.create(
        code=code, name=f"Raceshire {code}", kind="local_authority",
        team_phone="01632 960000", team_email="team@raceshire.example.org",
    )  # fmt: skip
    user = User.objects.create_user(
        username=username, password="the-right-password-1", organisation=organisation,
        roles=[role], vetting_checked_on=date(2026, 1, 5), training_completed_on=date(2026, 2, 1),
    )  # fmt: skip
    return organisation, user


@pytest.fixture
def committed(django_db_setup, django_db_blocker, settings):
    """A user committed to the test database, with the real (slow) password hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    with django_db_blocker.unblock(), disable_auditlog():
        organisation, user = la_and_user("RACE01", "guessed", "practitioner")
        try:
            yield user
        finally:
            SignInFailure.objects.filter(username="guessed").delete()
            user.delete()
            organisation.delete()
            connections.close_all()


def sign_in_at_once(guesses: list[tuple[str, str]]) -> list[str]:
    """Each (username, password) posted to the sign-in page at once, on a thread and a
    connection of its own: for each, whether the password was checked or refused unchecked."""
    outcomes: list[str] = []

    def guess(username: str, password: str) -> None:
        request = RequestFactory().post(
            "/accounts/login/", {"username": username, "password": password}
        )
        request.user, request.session = AnonymousUser(), SessionStore()
        try:
            with transaction.atomic():
                page = views.sign_in(request).content.decode()
            refused = "locked" in page or "being checked at this moment" in page
            outcomes.append("refused unchecked" if refused else "checked")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=pair) for pair in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == len(guesses)
    return outcomes


@pytest.fixture
def patient_waits(monkeypatch):
    """Waits long enough that no attempt is refused as busy because the machine is slow: on a
    loaded machine twelve Argon2 checks in turn can outlast the 5 s a turn is waited for, and
    an attempt refused so says nothing of the limit these tests count to."""
    from accounts import lockout

    monkeypatch.setattr(lockout, "ADDRESS_WAIT", timedelta(seconds=60))
    monkeypatch.setattr(lockout, "TURN_TIMEOUT", timedelta(seconds=60))


@pytest.mark.usefixtures("patient_waits")
def test_guesses_sent_at_once_are_held_to_the_lockout_limit(committed, settings):
    settings.LOCKOUT_USERNAME_FAILURES = 5
    outcomes = sign_in_at_once([("guessed", f"wrong-{n}") for n in range(GUESSES)])
    assert outcomes.count("checked") == 5, outcomes


@pytest.mark.usefixtures("patient_waits")
def test_guesses_at_many_usernames_from_one_address_are_held_to_its_limit(committed, settings):
    """An address's attempts do not take turns over the password check, yet those sent at
    once are held to its limit: each counts the attempts still under way."""
    settings.LOCKOUT_IP_FAILURES = 5
    try:
        outcomes = sign_in_at_once([(f"sprayed-{n}", "Summer2026!") for n in range(GUESSES)])
    finally:
        SignInFailure.objects.filter(username__startswith="sprayed-").delete()
    assert outcomes.count("checked") == 5, outcomes


def amelia_of(la):
    """A child of ``la``: Amelia Hart, as the feed rows in these tests describe her."""
    from directory.models import Child

    return Child.objects.create(
        given_name="Amelia", family_name="Hart", gender="female",
        date_of_birth=date(2015, 3, 14), local_authority=la, source="la_system",
    )  # fmt: skip


@pytest.fixture
def committed_review(django_db_setup, django_db_blocker):
    """A feed row waiting for review, committed, with a data manager of its LA."""
    from directory.models import Child, FeedImport, MatchReview, SourceRecord
    from tests.personas import feed_review, rebuild_keys

    with django_db_blocker.unblock(), disable_auditlog():
        la, manager = la_and_user("RACE02", "racing-dm", "data_manager")
        candidate = amelia_of(la)
        rebuild_keys(candidate)
        review = feed_review(candidate)
        try:
            yield manager, review
        finally:
            with disable_auditlog():
                MatchReview.objects.filter(pk=review.pk).delete()
                SourceRecord.objects.filter(pk=review.source_record_id).delete()
                FeedImport.objects.filter(local_authority=la).delete()
                Child.objects.filter(local_authority=la).delete()
                manager.delete()
                la.delete()
            connections.close_all()


def test_a_review_decided_twice_at_once_is_decided_once(committed_review, monkeypatch):
    """A double click on "make a new record" (or two data managers): both requests find the
    review open; one decides, the other is told someone else has."""
    from django.contrib.messages.storage.fallback import FallbackStorage

    from directory import feed_views
    from directory.models import Child

    manager, review = committed_review
    both_read = threading.Barrier(2, timeout=30)
    comparison = feed_views._comparison

    def read_side_by_side(item, row, viewer):
        shown = comparison(item, row, viewer)
        both_read.wait()  # each has read the review as open
        return shown

    monkeypatch.setattr(feed_views, "_comparison", read_side_by_side)
    told: list[str] = []
    from directory.feed_import import review_version

    seen = review_version(review, review.source_record)  # what both pages showed

    def decide() -> None:
        request = RequestFactory().post(
            f"/feeds/reviews/{review.pk}/", {"choice": "new", "seen": seen}
        )
        request.user, request.session = User.objects.get(pk=manager.pk), SessionStore()
        request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
        try:
            with disable_auditlog(), transaction.atomic():
                assert feed_views.review(request, pk=review.pk).status_code == 302
            told.extend(str(message) for message in request._messages)  # type: ignore[attr-defined]
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    made = Child.objects.filter(local_authority=manager.organisation, given_name="Amelia")
    assert made.count() == 2, "the candidate and one new record"
    assert sorted(told) == [
        "Someone else has decided on this record meanwhile",
        "Your decision has been recorded",
    ]


@contextmanager
def held_elsewhere(function: str, kind: Turn, key: str) -> Iterator[psycopg.Connection]:
    """Another connection's transaction holding an advisory lock, as a request under way
    elsewhere would; it ends (rolls back) when the block does."""
    with psycopg.connect(server_url(connection.settings_dict["NAME"])) as other:
        other.execute(serialise.LOCKS[function], [serialise.lock_key(kind, key)])
        yield other


@pytest.fixture
def short_waits(monkeypatch):
    from accounts import lockout

    monkeypatch.setattr(lockout, "ADDRESS_WAIT", timedelta(seconds=0.3))
    monkeypatch.setattr(lockout, "TURN_TIMEOUT", timedelta(seconds=0.3))


@pytest.mark.django_db
def test_an_attempt_is_refused_as_busy_while_those_under_way_could_reach_the_limit(
    settings, short_waits
):
    """With the limit at 1 and one attempt from the address still being checked, the next
    waits a moment, then is refused unchecked, as busy rather than locked; once that one ends
    without failing, the next goes ahead."""
    settings.LOCKOUT_IP_FAILURES = 1
    address = "192.0.2.7"
    with held_elsewhere("pg_advisory_xact_lock_shared", Turn.SIGN_IN_ADDRESS_ATTEMPT, address):
        assert sign_in_refused(username="a", ip_address=address, now=timezone.now()) == "busy"
    assert sign_in_refused(username="b", ip_address=address, now=timezone.now()) == ""


@pytest.mark.django_db
def test_an_attempt_waits_for_a_colleagues_that_ends_in_a_moment(settings):
    """Colleagues behind one address signing in at once: the attempt that would pass the
    limit waits for one under way to end, rather than being refused."""
    settings.LOCKOUT_IP_FAILURES = 1
    address = "192.0.2.17"
    with held_elsewhere(
        "pg_advisory_xact_lock_shared", Turn.SIGN_IN_ADDRESS_ATTEMPT, address
    ) as colleague:
        threading.Timer(0.3, colleague.rollback).start()  # signed in, no failure
        refused = sign_in_refused(username="b", ip_address=address, now=timezone.now())
    assert refused == ""


@pytest.mark.django_db
def test_an_attempt_refused_for_its_address_does_not_wait_for_its_username(
    settings, short_waits, monkeypatch
):
    """Refused at its address before it takes its username's turn: attempts from a busy
    address cannot queue up in front of the user signing in from somewhere else."""
    from accounts import lockout

    settings.LOCKOUT_IP_FAILURES = 1
    waited: list[str] = []
    monkeypatch.setattr(lockout, "wait_turn", lambda kind, key, **_: waited.append(key))
    with held_elsewhere("pg_advisory_xact_lock_shared", Turn.SIGN_IN_ADDRESS_ATTEMPT, "192.0.2.9"):
        refused = sign_in_refused(username="guessed", ip_address="192.0.2.9", now=timezone.now())
    assert (refused, waited) == ("busy", [])


@pytest.mark.django_db
def test_a_turn_held_by_a_lost_server_refuses_as_busy_rather_than_hangs(settings, short_waits):
    with held_elsewhere("pg_advisory_lock", Turn.SIGN_IN_ADDRESS, "192.0.2.10"):
        refused = sign_in_refused(username="a", ip_address="192.0.2.10", now=timezone.now())
    assert refused == "busy"
    with held_elsewhere("pg_advisory_xact_lock", Turn.SIGN_IN_USERNAME, "guessed"):
        refused = sign_in_refused(username="guessed", ip_address="192.0.2.11", now=timezone.now())
    assert refused == "busy"
    assert sign_in_refused(username="guessed", ip_address="192.0.2.11", now=timezone.now()) == ""


@pytest.mark.django_db
def test_two_addresses_never_share_a_count(settings):
    """10.0.155.203 and 10.1.211.108 have the same 32-bit key (PostgreSQL's hashtext of the
    lock's text): one's attempts would refuse the other's."""
    settings.LOCKOUT_IP_FAILURES = 1
    with held_elsewhere(
        "pg_advisory_xact_lock_shared", Turn.SIGN_IN_ADDRESS_ATTEMPT, "10.1.211.108"
    ):
        assert not sign_in_refused(username="a", ip_address="10.0.155.203", now=timezone.now())


@pytest.mark.django_db
def test_a_brief_turn_given_up_is_never_left_held():
    """A turn let go just as the wait for it is given up must not stay with the connection
    (a session's lock outlives the request on a kept connection)."""
    for _ in range(20):
        with held_elsewhere("pg_advisory_lock", Turn.SIGN_IN_ADDRESS, "192.0.2.12") as holder:
            letting_go = threading.Timer(0.05, lambda: holder.execute(
                serialise.LOCKS["pg_advisory_unlock"],
                [serialise.lock_key(Turn.SIGN_IN_ADDRESS, "192.0.2.12")],
            ))  # fmt: skip
            letting_go.start()
            try:
                with serialise.brief_turn(
                    Turn.SIGN_IN_ADDRESS, "192.0.2.12", timeout=timedelta(seconds=0.05)
                ):
                    pass
            except serialise.TurnTimeout:
                pass
            # The holder lets go before its connection closes: a wait given up first would
            # otherwise close it under the timer, whose thread then fails on it.
            letting_go.join()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                " AND pid = pg_backend_pid()"
            )
            assert cursor.fetchone() == (0,)


@pytest.mark.django_db
def test_a_brief_turn_is_let_go_after_an_error_in_it():
    """Held by the session, not the transaction: an error in its block must not leave it held
    on a connection that outlives the request."""
    with (
        pytest.raises(DataError),
        serialise.brief_turn(Turn.SIGN_IN_ADDRESS, "192.0.2.8"),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT 1 / 0")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert cursor.fetchone() == (0,)


@pytest.fixture
def brother_and_sister(django_db_setup, django_db_blocker):
    """Amy and Cal, committed, at one home, and their LA's shielding officer."""
    from directory.models import Address, Child

    with django_db_blocker.unblock(), disable_auditlog():
        la, officer = la_and_user("RACE03", "racing-so", "shielding_officer")
        amy, cal = (
            Child.objects.create(
                given_name=name,
                family_name="Hart",
                gender="female",
                date_of_birth=date(2015, 3, 14),
                local_authority=la,
                source="la_system",
            )
            for name in ("Amy", "Cal")
        )
        Address.objects.create(
            child=amy, line_1="9 Refuge Road", town="Town", postcode="ZE2 9QX", source="la_system"
        )
        try:
            yield officer, amy, cal
        finally:
            with disable_auditlog():
                Child.objects.filter(local_authority=la).delete()
                officer.delete()
                la.delete()
            connections.close_all()


def shield_on_its_own_connection(officer: User, child, done: threading.Event | None = None):
    from shielding import services

    try:
        with disable_auditlog(), transaction.atomic():
            services.shield_create(
                child=child, by=officer, reason="domestic_abuse", justification="Fled",
                review_on=date.today().replace(year=date.today().year + 1) - timedelta(days=30),
            )  # fmt: skip
    finally:
        connections.close_all()
        if done is not None:
            done.set()


def test_a_brother_moving_in_while_she_is_shielded_is_shielded_when_both_have_committed(
    brother_and_sister,
):
    """A feed file puts Cal at Amy's home while Amy is being shielded: each checks before the
    other has committed, so neither sees the other. The file looks again once it commits (as
    feed_import does), and finds her shield."""
    from directory.models import Address
    from shielding.models import Shield
    from shielding.policy import follow_shields_after_commit, shield_follows_home_and_carers

    officer, amy, cal = brother_and_sister
    checked, shielded = threading.Event(), threading.Event()

    def feed_file() -> None:
        try:
            with disable_auditlog(), transaction.atomic():
                follow_shields_after_commit(timezone.now())  # feed_import's first step
                Address.objects.create(
                    child=cal, line_1="9 Refuge Rd", town="Town", postcode="ZE2 9QX",
                    source="la_system",
                )  # fmt: skip
                shield_follows_home_and_carers(cal)  # no shield on Amy yet, as far as it sees
                checked.set()
                assert shielded.wait(30)  # Amy's shield commits before the file does
        finally:
            connections.close_all()

    officer_thread = threading.Thread(
        target=lambda: (checked.wait(30), shield_on_its_own_connection(officer, amy, shielded))
    )
    threads = [threading.Thread(target=feed_file), officer_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Shield.objects.filter(child=amy, lifted_at__isnull=True).exists()
    assert Shield.objects.filter(child=cal, lifted_at__isnull=True, protects=amy).exists()


@contextmanager
def her_record_locked(amy, *, until_a_wait_gives_up: bool, cut_off: bool = False) -> Iterator[None]:
    """Amy's record locked on a connection of its own, as her officer's merge of it would
    hold it: a shield put on for her waits (to protect her, it names her record) and, with a
    short lock_timeout, fails. Let go once one such wait has given up, or at the end; or,
    ``cut_off``, once one waits, its connection ended by the database (a restart, a
    failover)."""
    from django.db import connection as here

    locked, waited = threading.Event(), threading.Event()
    follower = here.connection.info.backend_pid if here.connection else None

    def hold() -> None:
        with psycopg.connect(server_url(here.settings_dict["NAME"])) as holder:
            holder.execute("SELECT 1 FROM directory_child WHERE id = %s FOR UPDATE", [amy.pk])
            locked.set()
            if until_a_wait_gives_up or cut_off:
                waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %s"
                seen = False
                for _ in range(3000):
                    row = holder.execute(waiting, [follower]).fetchone()
                    if row and row[0] and cut_off:
                        holder.execute("SELECT pg_terminate_backend(%s)", [follower])
                        break
                    if row and row[0] and not seen:
                        seen = True
                    elif seen and row and not row[0]:
                        break  # its lock_timeout passed: that look failed
                    time.sleep(0.005)
            else:
                waited.wait(60)
            holder.rollback()

    holding = threading.Thread(target=hold)
    holding.start()
    try:
        assert locked.wait(30)
        yield
    finally:
        waited.set()
        holding.join(timeout=60)


def cal_moved_to_her_refuge_unseen(cal) -> None:
    """A feed file puts Cal at Amy's refuge, committed, without the file having seen her
    shield as it checked his record (a shield committed as it checked): only the look again
    after commit can find it."""
    from directory.models import Address
    from shielding.policy import follow_shields_after_commit

    with disable_auditlog(), transaction.atomic():
        follow_shields_after_commit(timezone.now())  # feed_import's first step
        Address.objects.create(
            child=cal, line_1="9 Refuge Rd", town="Town", postcode="ZE2 9QX", source="la_system"
        )


@pytest.mark.parametrize(
    ("lock_timeout", "cut_off"),
    [("100ms", False), ("0", True)],
    ids=["its-wait-gives-up", "its-connection-is-ended"],
)
def test_a_look_after_commit_that_fails_is_tried_again_at_once(
    brother_and_sister, lock_timeout, cut_off
):
    """The look again after the file commits meets Amy's record locked (a merge of it, say)
    and gives up waiting, or the database ends its connection as it waits (a restart, a
    failover): it is tried again a moment later, on a new connection if need be, and shields
    Cal's record then, not at the night's shields_follow, leaving nothing owed."""
    from shielding.models import Shield, ShieldsToFollow

    officer, amy, cal = brother_and_sister
    shield_on_its_own_connection(officer, amy)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{lock_timeout}'")
        with her_record_locked(amy, until_a_wait_gives_up=not cut_off, cut_off=cut_off):
            cal_moved_to_her_refuge_unseen(cal)
        assert Shield.objects.filter(child=cal, lifted_at__isnull=True, protects=amy).exists()
        assert not ShieldsToFollow.objects.exists()
    finally:
        ShieldsToFollow.objects.all().delete()


def test_a_look_after_commit_that_keeps_failing_is_done_within_the_minute(
    brother_and_sister, monkeypatch, caplog
):
    """Amy's record stays locked through every try of the look after the file commits: the
    look is left owed, in a row the file committed, and the next run of shields_follow
    --pending (every minute) shields Cal's record. The log line names no child."""
    from shielding import policy
    from shielding.models import Shield, ShieldsToFollow

    officer, amy, cal = brother_and_sister
    shield_on_its_own_connection(officer, amy)
    monkeypatch.setattr(policy, "FOLLOW_RETRY_WAITS", (0.01, 0.01))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '100ms'")
        with her_record_locked(amy, until_a_wait_gives_up=False):
            cal_moved_to_her_refuge_unseen(cal)
            assert not Shield.objects.filter(child=cal, lifted_at__isnull=True).exists()
        assert ShieldsToFollow.objects.count() == 1
        assert "left for shields_follow --pending: OperationalError" in caplog.text
        assert "Hart" not in caplog.text and "Refuge" not in caplog.text
        said = io.StringIO()
        with disable_auditlog():
            call_command("shields_follow", "--pending", stdout=said)
        assert Shield.objects.filter(child=cal, lifted_at__isnull=True, protects=amy).exists()
        assert not ShieldsToFollow.objects.exists()
        assert "1 looks after commit done; 0 failed" in said.getvalue()
    finally:
        ShieldsToFollow.objects.all().delete()


def test_a_look_after_commit_that_fails_on_a_fault_of_its_own_is_left_owed(
    brother_and_sister, monkeypatch
):
    """The look after the file commits fails on a fault of its own, not the database's (not
    tried again, and only logged: the file has committed). Its row is left, and the next
    shields_follow --pending shields Cal's record."""
    from shielding import policy
    from shielding.models import Shield, ShieldsToFollow

    officer, amy, cal = brother_and_sister
    shield_on_its_own_connection(officer, amy)
    sound = policy.shields_kept_for_record_kept

    def faulty_once(shields):
        monkeypatch.setattr(policy, "shields_kept_for_record_kept", sound)
        raise ValueError("a fault of the look's own")

    monkeypatch.setattr(policy, "shields_kept_for_record_kept", faulty_once)
    try:
        cal_moved_to_her_refuge_unseen(cal)
        assert ShieldsToFollow.objects.count() == 1
        assert not Shield.objects.filter(child=cal, lifted_at__isnull=True).exists()
        with disable_auditlog():
            call_command("shields_follow", "--pending", stdout=io.StringIO())
        assert Shield.objects.filter(child=cal, lifted_at__isnull=True, protects=amy).exists()
        assert not ShieldsToFollow.objects.exists()
    finally:
        ShieldsToFollow.objects.all().delete()


def test_a_look_after_commit_owed_outside_a_transaction_is_refused(brother_and_sister):
    """Owed outside any transaction, the look would be done at once, before the change it is
    owed for (a file's homes, written after its first step), and its row deleted: Cal's move
    to Amy's refuge would wait for the night's shields_follow. It is refused, and nothing is
    owed."""
    from shielding.models import ShieldsToFollow
    from shielding.policy import follow_shields_after_commit

    _officer, amy, _cal = brother_and_sister
    try:
        with pytest.raises(RuntimeError, match="there must be one"):
            follow_shields_after_commit(timezone.now(), children=[amy.pk])
        assert not ShieldsToFollow.objects.exists()
    finally:
        ShieldsToFollow.objects.all().delete()


def test_two_officers_shielding_a_brother_and_sister_at_once_both_succeed(brother_and_sister):
    from directory.models import Address
    from shielding.models import Shield

    officer, amy, cal = brother_and_sister
    with disable_auditlog():
        Address.objects.create(
            child=cal, line_1="9 Refuge Road", town="Town", postcode="ZE2 9QX", source="la_system"
        )
    errors: list[BaseException] = []
    together = threading.Barrier(2, timeout=30)

    def shield(child) -> None:
        together.wait()
        try:
            shield_on_its_own_connection(officer, child)
        except BaseException as error:  # a deadlock, a unique violation
            errors.append(error)

    threads = [threading.Thread(target=shield, args=(child,)) for child in (amy, cal)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    shields = Shield.objects.filter(child__in=[amy, cal], lifted_at__isnull=True)
    assert {(s.child_id, s.protects_id, s.justification) for s in shields} == {
        (amy.pk, None, "Fled"),
        (cal.pk, None, "Fled"),
    }


def side_by_side() -> Callable[[], None]:
    """A point two requests reach together, each on its own connection, as a double click's
    would: the first waits there for the second, unless the second is waiting for a lock
    (the first's, which it holds until it commits: the requests take turns)."""
    arrivals = itertools.count()
    both_here = threading.Event()

    def reach() -> None:
        if next(arrivals) == 1:
            both_here.set()
        given_up_at = time.monotonic() + 30
        while not both_here.wait(0.05):
            with connection.cursor() as cursor:
                cursor.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted)")
                if cursor.fetchone() == (True,):
                    return
            assert time.monotonic() < given_up_at, "the other request never came"

    return reach


def at_once(request: Callable[[], object]) -> list[BaseException]:
    """The request sent twice at once, each on a thread and a connection of its own, inside a
    transaction as the audit middleware's: what each raised, if anything."""
    errors: list[BaseException] = []

    def send() -> None:
        try:
            with disable_auditlog(), transaction.atomic():
                request()
        except BaseException as error:  # a server error page
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_the_two_factor_set_up_page_opened_twice_at_once_still_lets_her_enrol(
    committed, monkeypatch
):
    """A double click, or a reload while it loads: each load found no device being set up and
    made one, and every later load was a server error (two where one was expected), so the new
    user could not enrol until an administrator reset her second factor."""
    both_found_a_device = side_by_side()
    form = views.EnrolmentCodeForm

    def form_once_both_have_a_device(*args, **kwargs):
        both_found_a_device()
        return form(*args, **kwargs)

    monkeypatch.setattr(views, "EnrolmentCodeForm", form_once_both_have_a_device)
    browser = her_browser()

    def load() -> HttpResponse:
        return in_her_browser(RequestFactory().get(ENROL), committed, browser)

    try:
        assert at_once(load) == []
        monkeypatch.setattr(views, "EnrolmentCodeForm", form)
        with transaction.atomic():
            assert load().status_code == 200  # the next load of the page
            # Her browser shows the second page's QR code, whichever device that made.
            for device in TOTPDevice.objects.filter(user=committed):
                with transaction.atomic():
                    page = enrol_with(committed, device, browser).content.decode()
                    assert "Two-factor sign-in is set up" in page
                    assert TOTPDevice.objects.filter(user=committed).count() == 1
                    transaction.set_rollback(True)
    finally:
        Session.objects.filter(session_key=browser).delete()


ENROL = "/accounts/two-factor/set-up/"


def her_browser() -> str:
    """The key of a session of her own, which her browser sends with each request."""
    session = SessionStore()
    session.create()
    assert session.session_key
    return session.session_key


def in_her_browser(request: HttpRequest, user: User, browser: str) -> HttpResponse:
    """The set-up page's answer to ``request`` in her session, which it then saves if changed
    (in the request's transaction, as the session middleware does)."""
    request.user = User.objects.get(pk=user.pk)
    request.session = SessionStore(session_key=browser)
    response = views.enrol(request)
    if request.session.modified:
        request.session.save()
    return response


def enrol_with(user: User, device: TOTPDevice, browser: str) -> HttpResponse:
    """The set-up page's answer to the code ``device`` shows now."""
    request = RequestFactory().post(ENROL, {"otp_token": current_code(device)})
    return in_her_browser(request, user, browser)


def test_her_code_sent_twice_at_once_enrols_her_once_and_counts_no_failure(committed, monkeypatch):
    """A double click on "Continue": the second request, which had read her device before
    the first confirmed it, saved it back unconfirmed and said "the code is not correct"
    beside a new QR code. Now it waits for the first, and finds her enrolled."""
    before = set(Session.objects.values_list("session_key", flat=True))
    browser = her_browser()
    with transaction.atomic():
        in_her_browser(RequestFactory().get(ENROL), committed, browser)  # the QR code she scans
    device = TOTPDevice.objects.get(user=committed)
    both_checked = side_by_side()
    form = views.EnrolmentCodeForm

    def form_once_both_have_found_her_device(*args, **kwargs):
        both_checked()
        return form(*args, **kwargs)

    monkeypatch.setattr(views, "EnrolmentCodeForm", form_once_both_have_found_her_device)
    answers: list[HttpResponse] = []
    try:
        assert at_once(lambda: answers.append(enrol_with(committed, device, browser))) == []
        pages = [answer.content.decode() for answer in answers]
        assert any("Two-factor sign-in is set up" in page for page in pages)
        assert not any("not correct" in page for page in pages)
        assert list(TOTPDevice.objects.filter(user=committed).values_list("confirmed")) == [(True,)]
        assert not SignInFailure.objects.filter(username=committed.username).exists()
    finally:  # her session, and any her sign-in made
        Session.objects.exclude(session_key__in=before).delete()


@pytest.fixture
def committed_data_manager(django_db_setup, django_db_blocker):
    """A data manager of an LA of its own, committed; what their files made is deleted after."""
    from directory.models import Child, FeedImport, SourceRecord

    with django_db_blocker.unblock(), disable_auditlog():
        la, manager = la_and_user("RACE10", "racing-upload", "data_manager")
        try:
            yield manager
        finally:
            imports = FeedImport.objects.filter(local_authority=la)
            SourceRecord.objects.filter(first_import__in=imports).delete()
            Child.objects.filter(local_authority=la).delete()
            imports.filter(resend_of__isnull=False).delete()  # before the imports they name
            imports.delete()
            manager.delete()
            la.delete()
            connections.close_all()


def feed_uploaded_at_once(
    manager: User,
    form: dict[str, object],
    file: tuple[str, bytes],
    monkeypatch,
    second: tuple[str, bytes] | None = None,
) -> list[str]:
    """The feed upload page posted twice at once (``form`` and the ``file`` named; the second
    post with the ``second`` file, if given), each request having checked its file before the
    other imports: each page, as HTML."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from directory import feed_views

    both_checked = side_by_side()
    feed_check = feed_views.feed_check

    def check_side_by_side(**kwargs):
        checked = feed_check(**kwargs)
        both_checked()  # each has found what the other will import not imported yet
        return checked

    monkeypatch.setattr(feed_views, "feed_check", check_side_by_side)
    pages: list[str] = []
    files = iter([file, second or file])

    def upload() -> None:
        name, content = next(files)
        upload = SimpleUploadedFile(name, content, content_type="text/csv")
        request = RequestFactory().post("/feeds/", {**form, "file": upload})
        request.user, request.session = User.objects.get(pk=manager.pk), SessionStore()
        pages.append(feed_views.feeds(request).content.decode())

    assert at_once(upload) == []
    return pages


def test_a_feed_file_uploaded_twice_at_once_is_imported_once_and_the_second_told_so(
    committed_data_manager, monkeypatch
):
    """A double click on "Upload": both requests found the file not imported before, and the
    second then broke the rule that a file is imported once: a server error page rather than
    "This file was imported before"."""

    from directory.models import Child, FeedImport

    manager = committed_data_manager
    content = (
        b"la_record_id,given_name,family_name,date_of_birth,gender,address_line_1,"
        b"address_line_2,town,postcode,nhs_number,carer_given_name,carer_family_name,"
        b"carer_relationship,carer_parental_responsibility,carer_phone,service_kind,"
        b"service_started_on,caf_held,lead_professional\n"
        b"RC-1,Zephyrine,Quorrell,2016-04-02,female,1 Mill Lane,,Northtown,NE1 4ST,,,,,,,,,,\n"
    )
    form = {**extracted_today(), "source": "la_system", "local_authority": manager.organisation_id}
    pages = feed_uploaded_at_once(manager, form, ("la.csv", content), monkeypatch)
    assert FeedImport.objects.filter(local_authority=manager.organisation).count() == 1
    assert Child.objects.filter(local_authority=manager.organisation).count() == 1
    assert sorted("This file was imported before" in page for page in pages) == [False, True]


def test_a_file_sent_again_twice_at_once_imports_its_rows_left_out_once(
    committed_data_manager, monkeypatch
):
    """Two data managers send again, at the same moment, a file imported with a row left out
    (Ysolde's move to a school not then in the register): both find the row still left out,
    but it is imported once, and the second is told the file was imported before."""

    from directory.feed_import import feed_import
    from directory.models import Child, FeedImport, Service, SourceRecord
    from tests.test_feeds import census, upn

    manager = committed_data_manager
    la = manager.organisation
    ysolde = {"upn": upn("352214300102"), "given_name": "Ysolde", "family_name": "Quorrell",
              "date_of_birth": "2014-02-02"}  # fmt: skip
    content = census(
        {"given_name": "Zephyrine", "family_name": "Quorrell"}, {**ysolde, "school_urn": "100001"}
    )
    schools = [
        Service.objects.create(kind="school", identifier="100000", name="P", local_authority=la)
    ]
    form = {
        **extracted_today(),
        "source": "school_census",
        "local_authority": la.pk,
        "skip_invalid": "on",
    }
    try:
        feed_import(
            source="school_census", file_name="older.csv", content=census(ysolde),
            local_authority=la, by=manager,
        )  # fmt: skip
        first = feed_import(
            source="school_census", file_name="census.csv", content=content,
            local_authority=la, by=manager, skip_invalid=True,
        )  # fmt: skip
        assert first.feed_import is not None and first.feed_import.left_out == [3]
        schools.append(
            Service.objects.create(kind="school", identifier="100001", name="J", local_authority=la)
        )
        pages = feed_uploaded_at_once(manager, form, ("census.csv", content), monkeypatch)
        assert FeedImport.objects.filter(resend_of=first.feed_import).get().outcome == {
            "updated": 1
        }
        ysolde_now = Child.objects.get(local_authority=la, given_name="Ysolde")
        assert ysolde_now.involvements.get(ended_on__isnull=True).service.identifier == "100001"
        assert sorted("File sent again" in page for page in pages) == [False, True]
        assert sorted("This file was imported before" in page for page in pages) == [False, True]
    finally:
        imports = FeedImport.objects.filter(local_authority=la)
        SourceRecord.objects.filter(first_import__in=imports).delete()
        Child.objects.filter(local_authority=la).delete()
        Service.objects.filter(pk__in=[school.pk for school in schools]).delete()


@pytest.fixture
def committed_la_administrator(django_db_setup, django_db_blocker):
    """An LA administrator of an LA of its own, committed; the users they add are deleted after."""
    from accounts.models import SetupLink

    with django_db_blocker.unblock(), disable_auditlog():
        la, administrator = la_and_user("RACE11", "racing-admin", "la_administrator")
        try:
            yield administrator
        finally:
            added = User.objects.filter(organisation=la).exclude(pk=administrator.pk)
            SetupLink.objects.filter(user__in=added).delete()
            added.delete()
            administrator.delete()
            la.delete()
            connections.close_all()


def service_called_side_by_side(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    """Two requests call the service ``name`` together, each past its form's checks."""
    both_valid = side_by_side()
    service = getattr(module, name)

    def called_side_by_side(**kwargs: Any) -> Any:
        both_valid()
        return service(**kwargs)

    monkeypatch.setattr(module, name, called_side_by_side)


def test_add_user_submitted_twice_at_once_adds_one_and_says_the_username_is_taken(
    committed_la_administrator, monkeypatch
):
    """A double click on "Add user": neither submission saw the other's new user, and the
    second broke the rule that a username is unique: a server error page rather than the
    form's "That username is already taken"."""
    from accounts import services

    administrator = committed_la_administrator
    service_called_side_by_side(monkeypatch, services, "user_create")
    pages: list[str] = []

    def submit() -> None:
        request = RequestFactory().post(
            "/accounts/users/new/",
            {
                "username": "tom.baker", "first_name": "Tom", "last_name": "Baker",
                "email": "tom@example.org", "roles": ["la_administrator"],
                "vetting_checked_on_0": "3", "vetting_checked_on_1": "2",
                "vetting_checked_on_2": "2026",
            },
        )  # fmt: skip
        request.user, request.session = User.objects.get(pk=administrator.pk), SessionStore()
        pages.append(views.user_create(request).content.decode())

    assert at_once(submit) == []
    assert User.objects.filter(username="tom.baker").count() == 1
    assert sorted("That username is already taken" in page for page in pages) == [False, True]


def test_add_organisation_submitted_twice_at_once_adds_one_and_says_the_code_is_taken(
    django_db_setup, django_db_blocker, monkeypatch
):
    """A double click on Nina's "Save" for a new organisation: neither submission saw the
    other's, and the second broke the rule that a code is unique: a server error page rather
    than the form's "An organisation with that code already exists"."""
    from django.contrib.messages.storage.cookie import CookieStorage

    from accounts import services

    service_called_side_by_side(monkeypatch, services, "organisation_save")
    statuses: list[int] = []
    with django_db_blocker.unblock(), disable_auditlog():
        operator, nina = la_and_user("RACE12", "racing-nina", "national_administrator")

        def submit() -> None:
            request = RequestFactory().post(
                "/accounts/organisations/new/",
                {
                    "code": "RACE13", "name": "Doubleshire", "kind": "local_authority",
                    "team_phone": "01632 960000", "team_email": "team@doubleshire.example.org",
                },
            )  # fmt: skip
            request.user, request.session = User.objects.get(pk=nina.pk), SessionStore()
            request._messages = CookieStorage(request)  # type: ignore[attr-defined]
            response = views.organisation_edit(request)
            statuses.append(response.status_code)
            if response.status_code == 200:
                assert "An organisation with that code already exists" in response.content.decode()

        try:
            assert at_once(submit) == []
            assert Organisation.objects.filter(code="RACE13").count() == 1
            assert sorted(statuses) == [200, 302]
        finally:
            Organisation.objects.filter(code="RACE13").delete()
            nina.delete()
            operator.delete()
            connections.close_all()


@pytest.fixture
def practitioner_and_child(django_db_setup, django_db_blocker):
    """Priya, a practitioner, and a child of her LA, committed."""
    from directory.models import Involvement

    with django_db_blocker.unblock(), disable_auditlog():
        la, priya = la_and_user("RACE12", "racing-priya", "practitioner")
        child = amelia_of(la)
        try:
            yield priya, child
        finally:
            Involvement.objects.filter(child=child).delete()
            child.delete()
            priya.delete()
            la.delete()
            connections.close_all()


def test_my_involvement_saved_twice_at_once_is_recorded_once(practitioner_and_child, monkeypatch):
    """A double click on "Save" for a new involvement: both requests found none of hers, and
    both added one. The child's record listed her twice, and "End my involvement" ended one."""
    from django.contrib.messages.storage.fallback import FallbackStorage

    from directory import views as directory_views
    from directory.models import Involvement

    priya, child = practitioner_and_child
    both_found_none = side_by_side()
    save = Involvement.save

    def save_side_by_side(self, *args, **kwargs):
        if self.pk is None:
            both_found_none()  # each has found no current involvement of hers
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Involvement, "save", save_side_by_side)

    def submit() -> None:
        request = RequestFactory().post(
            f"/children/{child.contactpoint_id}/my-involvement/",
            {"role": "Health visitor", "service": "", **date_boxes("started_on", "3 9 2025")},
        )
        request.user, request.session = User.objects.get(pk=priya.pk), SessionStore()
        request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
        directory_views.my_involvement(request, contactpoint_id=child.contactpoint_id)

    assert at_once(submit) == []
    mine = Involvement.objects.filter(child=child, practitioner=priya, ended_on__isnull=True)
    assert mine.count() == 1


def test_a_contact_request_sent_twice_at_once_is_kept_once(practitioner_and_child, monkeypatch):
    """A double click on "Send the request": both found none open and both were kept, so the
    LA team's queue listed it twice and it was brokered twice."""
    from shielding import services
    from shielding.models import ContactRequest

    priya, child = practitioner_and_child
    both_found_none = side_by_side()
    save = ContactRequest.save

    def save_side_by_side(self, *args, **kwargs):
        if self.pk is None:
            both_found_none()
        return save(self, *args, **kwargs)

    monkeypatch.setattr(ContactRequest, "save", save_side_by_side)

    def send() -> None:
        services.contact_request_create(
            child=child, requester=User.objects.get(pk=priya.pk), service="Health visiting",
            reason="Missed immunisations", reply_to="01632 960555",
        )  # fmt: skip

    try:
        assert at_once(send) == []
        assert ContactRequest.objects.filter(child=child).count() == 1
    finally:
        ContactRequest.objects.filter(child=child).delete()


def officer_of(la: Organisation, username: str) -> User:
    """A shielding officer of ``la``, committed (the caller deletes them)."""
    return User.objects.create_user(
        username=username, password="the-right-password-1", organisation=la,
        roles=["shielding_officer"], vetting_checked_on=date(2026, 1, 5),
        training_completed_on=date(2026, 2, 1),
    )  # fmt: skip


def officer_post(
    officer: User, view: Callable[..., object], path: str, data: dict[str, str], **kwargs: str | int
) -> list[str]:
    """``view`` answering ``officer``'s POST of ``data`` to ``path``: what she was told."""
    from django.contrib.messages.storage.fallback import FallbackStorage

    request = RequestFactory().post(path, data)
    request.user, request.session = User.objects.get(pk=officer.pk), SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    view(request, **kwargs)
    return [str(message) for message in request._messages]  # type: ignore[attr-defined]


def committed_remove(*rows: Any) -> None:
    """Rows a race test committed, removed in turn (what refers to another first)."""
    with disable_auditlog():
        for row in rows:
            type(row).objects.filter(pk=row.pk).delete()


def assert_the_first_stands(
    by: User | None, note: str, notes: list[str], told: list[str], *, refused: str, done: str
) -> None:
    """Of racing-sam-1 and -2, who sent ``notes`` in turn, one acted and their note stands
    (``by``, ``note``); one was told ``done``, the other ``refused``."""
    assert (
        by is not None
        and note == dict(zip(["racing-sam-1", "racing-sam-2"], notes, strict=True))[by.username]
    )
    assert sorted(told) == sorted([refused, done])


def forms_checked_side_by_side(monkeypatch: pytest.MonkeyPatch, form: type[Form]) -> None:
    """Two requests check ``form`` together: each has read what it acts on, unchanged."""
    both_read_it = side_by_side()
    is_valid = form.is_valid

    def valid_side_by_side(self: Form) -> bool:
        both_read_it()
        return is_valid(self)

    monkeypatch.setattr(form, "is_valid", valid_side_by_side)


def test_a_contact_request_answered_twice_at_once_keeps_the_first_outcome(
    practitioner_and_child, monkeypatch
):
    """Two tabs (or two officers) record the outcome of one request at once: both read it
    unanswered, and the second outcome replaced the first. The second is now refused."""
    from django.contrib.messages.storage.fallback import FallbackStorage

    from shielding import views as shielding_views
    from shielding.forms import ContactOutcomeForm
    from shielding.models import ContactRequest

    priya, child = practitioner_and_child
    with disable_auditlog():
        officer = officer_of(child.local_authority, "racing-sam")
        item = ContactRequest.objects.create(
            child=child, requester=priya, service="Health visiting",
            reason="Missed immunisations", reply_to="01632 960555",
        )  # fmt: skip
    forms_checked_side_by_side(monkeypatch, ContactOutcomeForm)  # each read it unanswered
    outcomes = iter(["arranged", "declined"])
    sent_to: list[str] = []

    def answer() -> None:
        request = RequestFactory().post(
            f"/shielding/contact-requests/{item.pk}/", {"outcome": next(outcomes), "note": ""}
        )
        request.user, request.session = User.objects.get(pk=officer.pk), SessionStore()
        request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
        response = shielding_views.contact_request_detail(request, pk=item.pk)
        sent_to.append(response["Location"])

    try:
        assert at_once(answer) == []
        assert sorted(sent_to) == sorted(
            ["/shielding/contact-requests/", f"/shielding/contact-requests/{item.pk}/"]
        ), "one recorded the outcome, the other was told it had been"
    finally:
        with disable_auditlog():
            ContactRequest.objects.filter(pk=item.pk).delete()
            officer.delete()


def test_a_two_factor_reset_made_while_her_code_is_checked_stands(committed, monkeypatch):
    """Her phone was stolen: the administrator resets her second factor while a code from it
    is being checked. Checking a code saves the device it read; unless the check holds the
    device until it is done, that save would put back the row the reset removed, and the
    stolen phone would work again."""
    from accounts import services

    device = TOTPDevice.objects.create(user=committed, name="Phone", confirmed=True)
    code = current_code(device)

    def reset() -> None:
        try:
            with disable_auditlog():
                services.user_two_factor_reset(user=User.objects.get(pk=committed.pk))
        finally:
            connections.close_all()

    resetting = threading.Thread(target=reset)
    check = TOTPDevice.verify_token

    def checked_while_reset(self: TOTPDevice, token: str) -> bool:
        resetting.start()
        given_up_at = time.monotonic() + 30
        while resetting.is_alive():  # until the reset waits for this check, or is done
            with connection.cursor() as cursor:
                cursor.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted)")
                if cursor.fetchone() == (True,):
                    break
            assert time.monotonic() < given_up_at, "the reset neither waited nor finished"
            time.sleep(0.05)
        return check(self, token)

    monkeypatch.setattr(TOTPDevice, "verify_token", checked_while_reset)
    request = RequestFactory().post("/accounts/two-factor/", {"otp_token": code})
    request.user, request.session = User.objects.get(pk=committed.pk), SessionStore()
    before = set(Session.objects.values_list("session_key", flat=True))
    try:
        with disable_auditlog(), transaction.atomic():
            views.two_factor(request)
        resetting.join(timeout=60)
        assert not TOTPDevice.objects.filter(user=committed).exists(), "the reset was undone"
    finally:  # the session her sign-in made
        Session.objects.exclude(session_key__in=before).delete()


def test_a_set_up_link_sent_twice_at_once_sets_one_password(committed, monkeypatch):
    """A double click, or the link's holder racing whoever else has it: both find it unused,
    but only one chooses her password and is signed in; the other is told the link is used."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.test import RequestFactory

    from accounts import services, views

    token = services.setup_link_create(user=committed, by=None).rstrip("/").rsplit("/", 1)[-1]
    both_found = side_by_side()
    find = services.setup_link_find

    def find_side_by_side(*args, **kwargs):
        found = find(*args, **kwargs)
        both_found()
        return found

    monkeypatch.setattr(services, "setup_link_find", find_side_by_side)
    before = set(Session.objects.values_list("session_key", flat=True))
    statuses: list[int] = []
    passwords = iter(["first-unusual-passphrase-41", "second-unusual-passphrase-42"])

    def choose() -> None:
        password = next(passwords)
        request = RequestFactory().post("/", {"new_password1": password, "new_password2": password})
        request.user, request.session = AnonymousUser(), SessionStore()
        statuses.append(views.setup(request, token).status_code)
        request.session.save()

    try:
        assert at_once(choose) == []
        assert sorted(statuses) == [302, 404], statuses
    finally:
        Session.objects.exclude(session_key__in=before).delete()


@pytest.fixture
def twins_joined_committed(django_db_setup, django_db_blocker):
    """Ellie's LA record joined to her twin Ella's record, committed, with another record of
    Ella to merge hers into and a data manager of their LA."""
    from directory.feed_import import feed_import
    from directory.models import Child, FeedImport, Merge, Source, SourceRecord
    from tests.test_feeds import la_system

    with django_db_blocker.unblock(), disable_auditlog():
        la, manager = la_and_user("RACE31", "racing-separate", "data_manager")
        try:
            for name, record_id in (("Ella", "76"), ("Ellie", "77")):
                feed_import(
                    source=Source.LA_SYSTEM, file_name=f"{name}.csv", local_authority=la, by=None,
                    content=la_system(
                        la_record_id=record_id, given_name=name, family_name="Brennan",
                        date_of_birth="2015-09-12", gender="female",
                        address_line_1="14 Ashgrove Road", postcode="NE1 4ST",
                    ),
                )  # fmt: skip
            ella = Child.objects.get(local_authority=la)
            other = Child.objects.create(
                given_name="Ella", family_name="Brenan", gender="female",
                date_of_birth=ella.date_of_birth, local_authority=la, source=Source.LA_SYSTEM,
            )  # fmt: skip
            yield manager, ella, other, SourceRecord.objects.get(record_id="RACE31/77")
        finally:
            children = Child.objects.filter(local_authority=la)
            Merge.objects.filter(kept__in=children).delete()
            imports = FeedImport.objects.filter(local_authority=la)
            SourceRecord.objects.filter(first_import__in=imports).delete()
            children.filter(merged_into__isnull=False).delete()
            children.delete()
            imports.delete()
            manager.delete()
            la.delete()
            connections.close_all()


def test_separating_a_feed_record_while_its_record_is_merged_is_no_deadlock(
    twins_joined_committed, monkeypatch
):
    """A merge locks the two records, then moves their feed records; a separation takes the
    record first too, so the two take turns instead of PostgreSQL failing one of them."""
    from directory import services

    manager, ella, other, ellies = twins_joined_committed
    move = services._move
    merging = threading.Event()

    def slow_move(rows, *, to):  # the merge, holding both records, moves their rows
        if threading.current_thread().name == "merge" and not merging.is_set():
            merging.set()
            time.sleep(1.0)  # meanwhile the separation begins
        return move(rows, to=to)

    monkeypatch.setattr(services, "_move", slow_move)
    errors: list[BaseException] = []

    def run(work: Callable[[], object]) -> None:
        try:
            with disable_auditlog(), transaction.atomic():
                work()
        except (services.NotSeparable, ValueError):
            pass  # refused with a reason, after the other's turn
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(
            name="merge",
            target=run,
            args=(lambda: services.children_merge(kept=other, absorbed=ella, by=manager),),
        ),
        threading.Thread(
            name="separate",
            target=run,
            args=(lambda: services.source_record_separate(source_record=ellies),),
        ),
    ]
    threads[0].start()
    assert merging.wait(10)
    time.sleep(0.2)
    threads[1].start()
    for thread in threads:
        thread.join(60)
    assert errors == [], [f"{type(e).__name__}: {str(e).splitlines()[0]}" for e in errors]


def test_separating_a_feed_record_while_its_las_file_imports_is_refused_not_a_deadlock(
    twins_joined_committed,
):
    """The LA's daily file: Ellie's row first, unchanged (the import holds her feed record),
    then Ella's, who has moved (the import then needs Ella's record). Dana separates Ellie's
    record in between: she is told to try again, and the file imports."""
    from directory import services
    from directory.feed_import import feed_import
    from directory.models import Address, Source
    from tests.test_feeds import la_system

    _, ella, _, ellies = twins_joined_committed
    cells = {
        "family_name": "Brennan", "date_of_birth": "2015-09-12", "gender": "female",
        "address_line_1": "14 Ashgrove Road",
    }  # fmt: skip
    daily = la_system(la_record_id="77", given_name="Ellie", postcode="NE1 4ST", **cells)
    daily += la_system(la_record_id="76", given_name="Ella", postcode="NE2 1AB", **cells).split(
        b"\n", 1
    )[1]
    errors: list[tuple[str, BaseException]] = []
    refused: list[str] = []
    separating = threading.Thread(name="separate", target=lambda: None)

    def separate() -> None:
        try:
            with disable_auditlog(), transaction.atomic():
                services.source_record_separate(source_record=ellies)
        except services.NotSeparable as refusal:
            refused.append(str(refusal))
        except BaseException as error:
            errors.append(("separate", error))
        finally:
            connections.close_all()

    def after_each_row(_: int) -> None:  # after Ellie's row, Dana's request comes in
        nonlocal separating
        if not separating.is_alive() and not refused and not errors:
            separating = threading.Thread(target=separate, name="separate")
            separating.start()
            time.sleep(1.0)

    def import_file() -> None:
        try:
            with disable_auditlog():
                feed_import(
                    source=Source.LA_SYSTEM, file_name="daily.csv", content=daily,
                    local_authority=ella.local_authority, by=None, progress=after_each_row,
                )  # fmt: skip
        except BaseException as error:
            errors.append(("import", error))
        finally:
            connections.close_all()

    importing = threading.Thread(target=import_file, name="import")
    importing.start()
    importing.join(60)
    separating.join(60)
    assert errors == [], [
        f"{who}: {type(e).__name__}: {str(e).splitlines()[0]}" for who, e in errors
    ]
    assert refused == ["A file from that feed is being imported: try again when it has been"]
    assert Address.objects.filter(child=ella, postcode="NE2 1AB", ended_on=None).exists()


def one_then_the_other(
    first: tuple[str, Callable[[], object]],
    second: tuple[str, Callable[[], object]],
    *,
    started: threading.Event,
    finished: threading.Event,
) -> None:
    """``first`` in a transaction on a thread and connection of its own; once it has set
    ``started``, ``second`` on another. Each sets ``finished`` when it ends, so that no thread
    waits for ever; both must end without an error."""
    errors: list[tuple[str, BaseException]] = []

    def run(who: str, work: Callable[[], object]) -> None:
        try:
            with disable_auditlog(), transaction.atomic():
                work()
        except BaseException as error:
            errors.append((who, error))
        finally:
            finished.set()
            connections.close_all()

    threads = [threading.Thread(target=run, args=first), threading.Thread(target=run, args=second)]
    threads[0].start()
    assert started.wait(10)
    threads[1].start()
    for thread in threads:
        thread.join(60)
    assert errors == [], [
        f"{who}: {type(e).__name__}: {str(e).splitlines()[0]}" for who, e in errors
    ]


@pytest.fixture
def adult_and_her_other_record(django_db_setup, django_db_blocker):
    """A young woman of 18 or more, another record of her, and a data manager of their LA,
    committed."""
    from directory.models import Child, Merge

    with django_db_blocker.unblock(), disable_auditlog():
        la, manager = la_and_user("RACE41", "racing-lifecycle", "data_manager")
        try:
            adult = Child.objects.create(
                given_name="Amelia", family_name="Hart", gender="female",
                date_of_birth=date(2000, 3, 14), local_authority=la, source="la_system",
            )  # fmt: skip
            yield manager, adult, amelia_of(la)
        finally:
            children = Child.objects.filter(local_authority=la)
            Merge.objects.filter(kept__in=children).delete()
            children.filter(merged_into__isnull=False).delete()
            children.delete()
            manager.delete()
            la.delete()
            connections.close_all()


def test_a_record_merged_while_the_lifecycle_job_runs_does_not_fail_the_job(
    adult_and_her_other_record, monkeypatch
):
    """The job read her record as live; a data manager merged it into her other record; the
    job then archived it, merged and archived at once, which the database refuses: the whole
    day's archiving and purging failed. The job now holds the records it changes from when it
    reads them, so the merge waits for it."""
    from directory import services
    from directory.models import Child

    manager, adult, other = adult_and_her_other_record
    read, merged = threading.Event(), threading.Event()
    archive = services._archive

    def archive_after_the_merge(child, today):
        read.set()
        merged.wait(3)  # unless the job holds her record, the merge is done by now
        return archive(child, today)

    monkeypatch.setattr(services, "_archive", archive_after_the_merge)
    # Its access event would be committed, and the database refuses to delete one.
    monkeypatch.setattr(services, "record_event", lambda *args, **kwargs: None)
    one_then_the_other(
        ("job", lambda: services.lifecycle_apply(today=date(2026, 11, 29))),
        ("merge", lambda: services.children_merge(kept=other, absorbed=adult, by=manager)),
        started=read,
        finished=merged,
    )
    assert Child.objects.get(pk=adult.pk).merged_into_id == other.pk


@pytest.fixture
def died_and_turning_18(django_db_setup, django_db_blocker):
    """Two records the lifecycle job archives today, committed: a child who died over a year
    ago (the lower id), then a young man who is 18."""
    from directory.models import Child

    with django_db_blocker.unblock(), disable_auditlog():
        la, _ = la_and_user("RACE42", "racing-lifecycle-2", "data_manager")
        try:
            died = Child.objects.create(
                given_name="Rose", family_name="Hart", gender="female", source="la_system",
                date_of_birth=date(2012, 5, 1), date_of_death=date(2025, 1, 10),
                status=Child.Status.DECEASED, local_authority=la,
            )  # fmt: skip
            adult = Child.objects.create(
                given_name="Tom", family_name="Hart", gender="male", source="la_system",
                date_of_birth=date(2008, 1, 1), local_authority=la,
            )  # fmt: skip
            yield died, adult
        finally:
            Child.objects.filter(local_authority=la).delete()
            User.objects.filter(username="racing-lifecycle-2").delete()
            la.delete()
            connections.close_all()


def test_the_lifecycle_job_and_a_merge_of_two_of_its_records_never_deadlock(
    died_and_turning_18, monkeypatch
):
    """A merge holds its records in id order; the job held each as its turn came (the 18-year-
    old first, then the child who died), so each waited for the other and PostgreSQL ended
    one, the whole day's job perhaps. The job now holds all it will change first, in id
    order, as a merge does."""
    from directory import services
    from directory.models import Child

    died, adult = died_and_turning_18
    monkeypatch.setattr(services, "record_event", lambda *args, **kwargs: None)
    holding = threading.Event()

    def job_waiting() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            return cursor.fetchone()[0] > 0

    def merge_like() -> None:
        list(Child.objects.select_for_update().filter(pk=died.pk))  # the lower id first
        holding.set()
        for _ in range(200):  # until the job waits for it
            if job_waiting():
                break
            time.sleep(0.05)
        list(Child.objects.select_for_update().filter(pk=adult.pk))

    one_then_the_other(
        ("merge", merge_like),
        ("job", lambda: services.lifecycle_apply(today=date(2026, 11, 29))),
        started=holding,
        finished=holding,
    )
    statuses = set(
        Child.objects.filter(pk__in=[died.pk, adult.pk]).values_list("status", flat=True)
    )
    assert statuses == {Child.Status.ARCHIVED}


@pytest.fixture
def shielded_and_her_other_record(brother_and_sister, django_db_blocker):
    """Amy, shielded at her refuge; Cal, not there yet; and Amelia, another record of Amy's;
    committed."""
    from directory.models import Child, Merge

    officer, amy, cal = brother_and_sister
    with django_db_blocker.unblock(), disable_auditlog():
        shield_on_its_own_connection(officer, amy)
        amelia = amelia_of(officer.organisation)
        try:
            yield amy, cal, amelia
        finally:
            Merge.objects.filter(kept=amelia).delete()
            Child.objects.filter(merged_into=amelia).delete()


def moved_in_while(
    mover, line_1: str, postcode: str, *, shielding, monkeypatch, other: tuple[str, Any]
) -> None:
    """A feed file gives ``mover`` a home and, as it shields the record ``shielding`` for
    it, as far as it saw, waits while ``other`` runs and commits (unless something holds it)
    before committing itself."""
    from directory.models import Address
    from shielding import policy

    decided, finished = threading.Event(), threading.Event()
    shield_for_review = policy.shield_for_review

    def shielded_after_the_other(child, *args, **kwargs):
        if child.pk == shielding.pk:
            decided.set()
            finished.wait(3)  # unless something holds the other, it has committed by now
        return shield_for_review(child, *args, **kwargs)

    monkeypatch.setattr(policy, "shield_for_review", shielded_after_the_other)

    def feed_file() -> None:
        policy.follow_shields_after_commit(timezone.now())  # feed_import's first step
        Address.objects.create(
            child=mover, line_1=line_1, town="Town", postcode=postcode, source="la_system"
        )
        policy.shield_follows_home_and_carers(mover)

    one_then_the_other(("feed", feed_file), other, started=decided, finished=finished)


def cal_moved_to_the_refuge_while(cal, monkeypatch, other: tuple[str, Any]) -> None:
    """A feed file puts Cal at the refuge while ``other`` runs (``moved_in_while``)."""
    moved_in_while(
        cal, "9 Refuge Rd", "ZE2 9QX", shielding=cal, monkeypatch=monkeypatch, other=other
    )


def test_a_shield_a_feed_puts_on_for_her_as_her_record_is_merged_protects_the_record_kept(
    shielded_and_her_other_record, monkeypatch
):
    """A feed file puts Cal at Amy's refuge and shields his record for her; before it
    commits, her record is merged into Amelia's, which moves the shields kept for her that
    it sees, not the file's. Once the file has committed, Cal's shield protects Amelia's
    record, which holds the refuge: not the merged-away one, whose officer's page for Cal's
    record would say it shares nothing with her, inviting a lift."""
    from directory import services
    from shielding.models import Shield

    amy, cal, amelia = shielded_and_her_other_record
    merge = ("merge", lambda: services.children_merge(kept=amelia, absorbed=amy, by=None))
    cal_moved_to_the_refuge_while(cal, monkeypatch, merge)
    assert Shield.objects.get(child=cal, lifted_at__isnull=True).protects_id == amelia.pk


def test_a_shield_a_feed_puts_on_for_her_as_her_record_is_unmerged_protects_her_record(
    shielded_and_her_other_record, monkeypatch
):
    """Amy's record was merged into Amelia's. A feed file puts Cal at the refuge and shields
    his record for the record that holds it, Amelia's; before it commits, the merge is undone,
    which gives the refuge back to Amy's record and moves the shields kept for her that it
    sees, not the file's. Once both have committed, Cal's shield protects Amy's record, which
    holds the refuge again: not Amelia's, which shares nothing with it, whose officer would
    find it listed as left shielded for Amelia."""
    from directory import services
    from shielding.models import Shield

    amy, cal, amelia = shielded_and_her_other_record
    with disable_auditlog():
        merge = services.children_merge(kept=amelia, absorbed=amy, by=None)
    unmerge = ("unmerge", lambda: services.children_unmerge(merge=merge, by=None))
    cal_moved_to_the_refuge_while(cal, monkeypatch, unmerge)
    assert Shield.objects.get(child=cal, lifted_at__isnull=True).protects_id == amy.pk


@pytest.mark.parametrize("undone", [False, True], ids=["merged", "unmerged"])
def test_her_new_home_given_as_a_merge_moves_it_is_shielded_on_the_record_that_holds_it(
    shielded_and_her_other_record, monkeypatch, undone
):
    """Amy, shielded two days ago (only the night's shields_follow looks at her shield again
    unless something names her), moves to 1 Mill Lane, the home on Cal's record: a feed file
    gives it to her and shields the record that holds it as far as the file saw. Before the
    file commits, Cal's record is merged into Amelia's, taken for his, or that merge is undone:
    1 Mill Lane moves to the other record, which the merge saw unshielded. Once both have
    committed, the record that holds 1 Mill Lane is shielded for her: not open to every
    practitioner until the night."""
    from directory import services
    from directory.models import Address
    from shielding.models import Shield

    amy, cal, amelia = shielded_and_her_other_record
    with disable_auditlog():
        Shield.objects.filter(child=amy).update(shielded_at=timezone.now() - timedelta(days=2))
        Address.objects.create(
            child=cal, line_1="1 Mill Lane", town="Town", postcode="NE1 4ST", source="la_system"
        )
        merge = services.children_merge(kept=amelia, absorbed=cal, by=None) if undone else None
    other: tuple[str, Any] = (
        ("unmerge", lambda: services.children_unmerge(merge=merge, by=None))
        if merge
        else ("merge", lambda: services.children_merge(kept=amelia, absorbed=cal, by=None))
    )
    seen, holds = (amelia, cal) if undone else (cal, amelia)
    moved_in_while(
        amy, "1 Mill Lane", "NE1 4ST", shielding=seen, monkeypatch=monkeypatch, other=other
    )
    assert Address.objects.filter(child=holds, line_1="1 Mill Lane").exists()
    assert Shield.objects.get(child=holds, lifted_at__isnull=True).protects_id == amy.pk


def test_an_override_signed_off_twice_at_once_keeps_the_first_sign_off(
    practitioner_and_child, monkeypatch
):
    """Two officers of the LA team sign off one override at once, each with a note: both read
    it waiting, and the second sign-off replaced the first's note and name. The first stands
    now, and the second officer is told it was signed off meanwhile."""
    from shielding import views as shielding_views
    from shielding.forms import SignOffForm
    from shielding.models import ShieldOverride

    priya, child = practitioner_and_child
    with disable_auditlog():
        officers = [officer_of(child.local_authority, f"racing-sam-{n}") for n in (1, 2)]
        item = ShieldOverride.objects.create(
            child=child, practitioner=priya, reason="Section 47 enquiry",
            visit_token_hash="f" * 64,
        )  # fmt: skip
    forms_checked_side_by_side(monkeypatch, SignOffForm)  # each read it waiting
    signing = iter(zip(officers, ["Checked with police", "Fine"], strict=True))
    told: list[str] = []

    def sign_off() -> None:
        officer, note = next(signing)
        path = f"/shielding/overrides/{item.pk}/"
        told.extend(
            officer_post(
                officer, shielding_views.override_sign_off, path, {"note": note}, pk=item.pk
            )
        )

    try:
        assert at_once(sign_off) == []
        item.refresh_from_db()
        assert_the_first_stands(
            item.reviewed_by, item.review_note, ["Checked with police", "Fine"], told,
            refused="Someone else signed off this override meanwhile. Their note stands.",
            done="The override has been signed off",
        )  # fmt: skip
    finally:
        committed_remove(item, *officers)


def test_a_shield_lifted_twice_at_once_keeps_the_first_lift(practitioner_and_child, monkeypatch):
    """Two officers of the LA team lift one shield at once, each with a note: both read it in
    force, and the second lift replaced the first's note and name. The first stands now, and
    the second officer is told it was lifted meanwhile."""
    from shielding import views as shielding_views
    from shielding.forms import ShieldReviewForm
    from shielding.models import Shield

    _, child = practitioner_and_child
    with disable_auditlog():
        officers = [officer_of(child.local_authority, f"racing-sam-{n}") for n in (1, 2)]
        shield = Shield.objects.create(
            child=child, reason="domestic_abuse", justification="Fled violence",
            review_on=date(2027, 5, 1),
        )  # fmt: skip
    forms_checked_side_by_side(monkeypatch, ShieldReviewForm)  # each read it in force
    lifting = iter(zip(officers, ["Family safe now", "Moved abroad"], strict=True))
    told: list[str] = []

    def lift() -> None:
        officer, note = next(lifting)
        told.extend(
            officer_post(
                officer, shielding_views.shield, f"/shielding/{child.contactpoint_id}/",
                {"decision": "lift", "note": note}, contactpoint_id=child.contactpoint_id,
            )
        )  # fmt: skip

    try:
        assert at_once(lift) == []
        shield.refresh_from_db()
        assert_the_first_stands(
            shield.lifted_by, shield.lift_note, ["Family safe now", "Moved abroad"], told,
            refused="Someone else lifted this shield meanwhile. Nothing has been changed.",
            done="The shield has been lifted",
        )  # fmt: skip
    finally:
        committed_remove(shield, *officers)


def test_my_involvement_saved_as_the_child_is_shielded_is_refused_and_names_no_service(
    practitioner_and_child, monkeypatch
):
    """Priya's page was read before Sam shielded the child, and her save waited for his
    shield: she took the lead from a colleague whose access has ended. Who works with a
    shielded child is the LA team's to broker, so nothing is saved, and she is not told the
    service of a child now shielded."""
    from directory import services as directory_services
    from directory import views as directory_views
    from directory.models import Involvement, Service, Source
    from shielding.models import Shield

    priya, child = practitioner_and_child
    with disable_auditlog():
        sam = officer_of(child.local_authority, "racing-sam-1")
        gone = User.objects.create_user(
            username="racing-gone", password="the-right-password-1", first_name="Gwen",
            organisation=child.local_authority, roles=["practitioner"], is_active=False,
        )  # fmt: skip
        refuge = Service.objects.create(name="Zqx Refuge Outreach", kind="early_help")
        Involvement.objects.create(
            child=child, practitioner=gone, service=refuge, role="Outreach worker",
            lead_professional=True, started_on=date(2025, 1, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
    lock = directory_services._lock

    def shielded_as_she_saves(*children):
        # Sam's shield commits, on a connection of its own, before her lock is taken.
        shielding = threading.Thread(target=shield_on_its_own_connection, args=(sam, child))
        shielding.start()
        shielding.join(30)
        lock(*children)

    monkeypatch.setattr(directory_services, "_lock", shielded_as_she_saves)
    try:
        told = officer_post(
            priya, directory_views.my_involvement,
            f"/children/{child.contactpoint_id}/my-involvement/",
            {"role": "Health visitor", "service": "", **date_boxes("started_on", "3 9 2025"),
             "lead_professional": "on"},
            contactpoint_id=child.contactpoint_id,
        )  # fmt: skip
        assert not any("Zqx" in message or "Gwen" in message for message in told), told
        assert any("has been shielded. Nothing has been saved" in m for m in told), told
        assert not Involvement.objects.filter(practitioner=priya).exists()
        assert Involvement.objects.get(practitioner=gone).lead_professional
    finally:
        committed_remove(
            *Involvement.objects.filter(child=child), *Shield.objects.filter(child=child),
            refuge, gone, sam,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("action", "refused"),
    [("reactivate", "is not suspended"), ("reset-two-factor", "has not set up two-factor")],
)
def test_a_user_action_confirmed_twice_at_once_is_done_once(
    committed_la_administrator, monkeypatch, action, refused
):
    """A double click on "Reactivate" or "Reset two-factor sign-in": each request had read her
    as she was, so the second moved the date she was reactivated (or reset her second factor
    again), signed her out again and was logged as done, not refused as a repeat is."""
    lee = committed_la_administrator
    with disable_auditlog():
        lara = User.objects.create_user(
            username="racing-lara", organisation=lee.organisation, roles=["la_administrator"],
            suspended_at=timezone.now(), vetting_checked_on=date(2026, 1, 5),
            training_completed_on=date(2026, 2, 1),
        )  # fmt: skip
        TOTPDevice.objects.create(user=lara, name="phone", confirmed=True)
    both_read_her = side_by_side()
    already_done = views._already_done

    def read_side_by_side(*args: Any) -> str | None:
        both_read_her()  # each request has read her as she was
        return already_done(*args)

    monkeypatch.setattr(views, "_already_done", read_side_by_side)
    told: list[str] = []

    def confirm() -> None:
        path = f"/accounts/users/{lara.pk}/{action}/"
        told.extend(officer_post(lee, views.user_action, path, CONFIRM, pk=lara.pk, action=action))

    assert at_once(confirm) == []
    assert sorted(refused in message for message in told) == [False, True], told


def test_a_user_suspended_twice_at_once_is_suspended_once(committed_la_administrator, monkeypatch):
    """Two tabs (or two administrators) answer "Are you sure?" for one suspension at once: both
    read her not yet suspended, and the second moved the date her access ended and logged a
    second suspension. The first stands now, and the second is told she is suspended already."""
    lee = committed_la_administrator
    with disable_auditlog():
        priya = User.objects.create_user(
            username="racing-suspended", organisation=lee.organisation, roles=["practitioner"],
            vetting_checked_on=date(2026, 1, 5), training_completed_on=date(2026, 2, 1),
        )  # fmt: skip
    both_checked = side_by_side()
    user_suspend, done = views.USER_ACTIONS["suspend"]

    def suspend_side_by_side(**kwargs: Any) -> None:
        both_checked()  # each request has found her not suspended
        user_suspend(**kwargs)

    monkeypatch.setitem(views.USER_ACTIONS, "suspend", (suspend_side_by_side, done))
    told: list[str] = []

    def suspend() -> None:
        path = f"/accounts/users/{priya.pk}/suspend/"
        told.extend(
            officer_post(lee, views.user_action, path, CONFIRM, pk=priya.pk, action="suspend")
        )

    assert at_once(suspend) == []
    name = priya.display_name
    assert User.objects.get(pk=priya.pk).suspended_at is not None
    assert sorted(told) == sorted(
        [
            f"{name} has been suspended and signed out everywhere",
            f"{name} is already suspended. Nothing has been changed.",
        ]
    )


def test_two_files_naming_the_same_new_child_uploaded_at_once_are_both_imported(
    committed_data_manager, monkeypatch
):
    """Dana uploads January's LA file and a colleague February's at the same moment, each
    bringing in Zephyrine for the first time: one waited for the other's new record, and then
    broke on it (a server error page) rather than importing its row as an update."""
    from directory.models import Child, FeedImport

    manager = committed_data_manager
    header = (
        b"la_record_id,given_name,family_name,date_of_birth,gender,address_line_1,"
        b"address_line_2,town,postcode,nhs_number,carer_given_name,carer_family_name,"
        b"carer_relationship,carer_parental_responsibility,carer_phone,service_kind,"
        b"service_started_on,caf_held,lead_professional\n"
    )
    row = "RC-1,Zephyrine,Quorrell,2016-04-02,female,{},,Northtown,NE1 4ST,,,,,,,,,,\n"
    january, february = (header + row.format(home).encode() for home in ("1 Mill", "2 Mill"))
    form = {**extracted_today(), "source": "la_system", "local_authority": manager.organisation_id}
    feed_uploaded_at_once(
        manager, form, ("january.csv", january), monkeypatch, second=("february.csv", february)
    )
    assert FeedImport.objects.filter(local_authority=manager.organisation).count() == 2
    assert Child.objects.filter(local_authority=manager.organisation).count() == 1


TWO_FACTOR = "/accounts/two-factor/"


def code_given_in_her_browser(user: User, code: str, browser: str) -> HttpResponse:
    """The two-factor step's answer to ``code`` in her session (signed in with her password),
    which it then saves if changed, as the session middleware does."""
    request = RequestFactory().post(TWO_FACTOR, {"otp_token": code})
    request.user = User.objects.get(pk=user.pk)
    request.session = SessionStore(session_key=browser)
    response = views.two_factor(request)
    if request.session.modified:
        request.session.save()
    return response


def test_her_code_sent_twice_at_once_signs_her_in_and_counts_no_failure(committed, monkeypatch):
    """A double click on "Continue" at the two-factor step: the second request waited for the
    first, found the code used, and counted a failure towards her lockout beside "not correct,
    or has been used", though the first had signed her in. Now it goes on, as she is."""
    device = TOTPDevice.objects.create(user=committed, name="Phone", confirmed=True)
    before = set(Session.objects.values_list("session_key", flat=True))
    browser = her_browser()
    both_read_her_code = side_by_side()
    form = views.SecurityCodeForm

    def form_once_both_have_read_her_code(*args, **kwargs):
        both_read_her_code()
        return form(*args, **kwargs)

    monkeypatch.setattr(views, "SecurityCodeForm", form_once_both_have_read_her_code)
    code = current_code(device)
    answers: list[HttpResponse] = []
    try:
        assert (
            at_once(lambda: answers.append(code_given_in_her_browser(committed, code, browser)))
            == []
        )
        assert [answer.status_code for answer in answers] == [302, 302]
        assert not any("not correct" in answer.content.decode() for answer in answers)
        assert not SignInFailure.objects.filter(username=committed.username).exists()
        device.refresh_from_db()
        assert device.throttling_failure_count == 0
    finally:  # her session, and the one her sign-in made
        Session.objects.exclude(session_key__in=before).delete()


@pytest.fixture
def review_offering_a_record_to_purge(django_db_setup, django_db_blocker):
    """A feed row waiting for review whose one candidate was archived over 6 years ago (the
    lifecycle job purges it today), and a data manager of their LA, committed."""
    from directory.models import Child, FeedImport, MatchReview, PurgedFeedRecord, SourceRecord
    from tests.personas import feed_review

    with django_db_blocker.unblock(), disable_auditlog():
        la, manager = la_and_user("RACE43", "racing-purge-dm", "data_manager")
        candidate = amelia_of(la)
        Child.objects.filter(pk=candidate.pk).update(
            status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 10)
        )
        review = feed_review(candidate)
        try:
            yield manager, review, candidate
        finally:
            MatchReview.objects.filter(pk=review.pk).delete()
            SourceRecord.objects.filter(pk=review.source_record_id).delete()
            PurgedFeedRecord.objects.filter(purged_on=date(2026, 11, 29)).delete()
            Child.objects.filter(local_authority=la).delete()
            FeedImport.objects.filter(local_authority=la).delete()
            manager.delete()
            la.delete()
            connections.close_all()


def test_a_match_decided_while_the_lifecycle_job_purges_its_record_is_no_deadlock(
    review_offering_a_record_to_purge, monkeypatch
):
    """Dana matched a waiting row to a record the nightly job was purging: her decision held
    the row, then waited for the record, which the job held while it waited for the row's
    review, so PostgreSQL ended one of them (a server error for her, or a failed night's
    job). The job now holds the waiting rows it takes before the records, as a decision
    does: it waits for her decision, then purges the record with the row she matched to it."""
    from directory import feed_import, services
    from directory.models import Child, SourceRecord

    manager, review, candidate = review_offering_a_record_to_purge
    monkeypatch.setattr(services, "record_event", lambda *args, **kwargs: None)
    holding = threading.Event()
    version = feed_import.review_version

    def job_waiting() -> bool:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            return cursor.fetchone()[0] > 0

    def read_then_wait_for_the_job(item, source_record):
        holding.set()  # the row and its review are held
        for _ in range(200):  # until the job waits for it
            if job_waiting():
                break
            time.sleep(0.05)
        return version(item, source_record)

    seen = version(review, review.source_record)
    monkeypatch.setattr(feed_import, "review_version", read_then_wait_for_the_job)
    one_then_the_other(
        (
            "decision",
            lambda: feed_import.review_decide(
                review=review, decision="match", child=candidate, by=manager, seen=seen
            ),
        ),
        ("job", lambda: services.lifecycle_apply(today=date(2026, 11, 29))),
        started=holding,
        finished=holding,
    )
    assert not Child.objects.filter(pk=candidate.pk).exists()
    assert not SourceRecord.objects.filter(pk=review.source_record_id).exists()


@pytest.fixture
def purged_childs_number_in_mias_file(django_db_setup, django_db_blocker):
    """Zed's NHS number, which came in his LA's file, on his record archived over 6 years ago
    (the lifecycle job purges it today), and Mia's record from the same LA's file, committed:
    Zed, Mia, and the number."""
    from directory.feed_import import feed_import
    from directory.models import (
        Child,
        ChildIdentifier,
        FeedImport,
        PurgedFeedRecord,
        Source,
        SourceRecord,
    )
    from tests.test_lifecycle import TestAPurgedChildsNumberPassesToNoOneElse as Numbers
    from tests.test_lifecycle import la_file

    with django_db_blocker.unblock(), disable_auditlog():
        la, _ = la_and_user("RACE44", "racing-purge-number", "data_manager")
        try:
            for name, row in [("2017.csv", Numbers.ZED), ("2018.csv", Numbers.MIA)]:
                feed_import(
                    source=Source.LA_SYSTEM, file_name=name, content=la_file(row),
                    local_authority=la, by=None,
                )  # fmt: skip
            zed = Child.objects.get(local_authority=la, given_name="Zed")
            Child.objects.filter(pk=zed.pk).update(
                status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1)
            )
            yield zed, Child.objects.get(local_authority=la, given_name="Mia"), Numbers
        finally:
            children = Child.objects.filter(local_authority=la)
            ChildIdentifier.objects.filter(child__in=children).delete()
            SourceRecord.objects.filter(last_import__local_authority=la).delete()
            children.delete()
            FeedImport.objects.filter(local_authority=la).delete()
            PurgedFeedRecord.objects.filter(purged_on=date(2026, 11, 29)).delete()
            User.objects.filter(username="racing-purge-number").delete()
            la.delete()
            connections.close_all()


class NightlyJob:
    """The lifecycle job (or other ``work``), started on a thread and connection of its own at
    the first call of a function the import makes (``name``): it runs until it commits, or
    until it waits for the import, before the import goes on."""

    def __init__(
        self,
        monkeypatch,
        owner: object,
        name: str,
        *,
        called_from: str = "",
        work: Callable[[], Any] | None = None,
    ) -> None:
        self.errors: list[tuple[str, BaseException]] = []
        self.done: dict[str, int] = {}
        self.ended_first = False  # whether it ended before the import went on
        self.thread = threading.Thread(name="job")
        self.work = work or self.purge
        function = getattr(owner, name)

        def the_job_runs_then(*args, **kwargs):
            answer = function(*args, **kwargs)
            caller = sys._getframe(1).f_code.co_name
            if self.thread.ident is None and called_from in ("", caller):
                self.thread = threading.Thread(target=self.run, name="job")
                self.thread.start()
                given_up_at = time.monotonic() + 30
                while self.thread.is_alive() and not self.waiting():
                    assert time.monotonic() < given_up_at, "the job never ended nor waited"
                    time.sleep(0.05)
                self.thread.join(0.5)  # waiting, it is still alive after
                self.ended_first = not self.thread.is_alive()
            return answer

        monkeypatch.setattr(owner, name, the_job_runs_then)

    def run(self) -> None:
        try:
            with disable_auditlog(), transaction.atomic():
                self.work()
        except BaseException as error:
            self.errors.append(("job", error))
        finally:
            connections.close_all()

    def purge(self) -> None:
        from directory import services

        self.done = services.lifecycle_apply(today=date(2026, 11, 29))

    @staticmethod
    def waiting() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted)")
            return cursor.fetchone() == (True,)

    def import_alongside(self, la: Organisation, *rows: dict[str, str], **options: Any):
        """Imports the rows as an LA file of ``la``'s, in a transaction that commits, the
        job running at its call; both must end without an error."""
        from directory import feed_import
        from directory.models import Source
        from tests.test_lifecycle import la_file

        try:
            with disable_auditlog(), transaction.atomic():
                outcome = feed_import.feed_import(
                    source=Source.LA_SYSTEM, file_name="2019.csv", content=la_file(*rows),
                    local_authority=la, by=None, **options,
                )  # fmt: skip
        except BaseException as error:
            self.errors.append(("import", error))
        finally:
            if self.thread.ident is not None:
                self.thread.join(60)
        assert self.thread.ident is not None, "the job ran"
        assert self.errors == [], [f"{who}: {type(e).__name__}: {e}" for who, e in self.errors]
        return outcome


def test_a_purged_childs_number_in_a_row_applied_as_the_purge_commits_passes_to_no_one(
    purged_childs_number_in_mias_file, monkeypatch
):
    """Dana's LA file changes Mia's address and carries Zed's NHS number (mistyped, or reused)
    while the nightly job purges Zed. The import asked whether the number was a purged
    record's just before the job committed (no: Zed held it), and gave it just after, when no
    record held it: Mia became Zed to every feed that numbers him so. Now the row applies as
    it would have just before the purge (Mia's new address, Zed's number given to no one) and
    the number stays purged."""
    from directory import services
    from directory.models import Address, Child, ChildIdentifier, PurgedFeedRecord

    zed, mia, numbers = purged_childs_number_in_mias_file
    monkeypatch.setattr(services, "record_event", lambda *args, **kwargs: None)
    # The import's last look before it gives a number (facts_apply).
    job = NightlyJob(monkeypatch, PurgedFeedRecord, "number_was_purged", called_from="facts_apply")
    moved = {**numbers.MIA, "nhs_number": numbers.NUMBER, "address_line_1": "5 West Road"}
    outcome = job.import_alongside(mia.local_authority, moved)
    assert not Child.objects.filter(pk=zed.pk).exists(), "the job purged Zed"
    assert dict(outcome.counts) == {"updated": 1}
    assert Address.objects.filter(child=mia, line_1="5 West Road", ended_on=None).exists()
    assert not ChildIdentifier.objects.filter(value=numbers.NUMBER).exists(), "Mia was given it"
    assert PurgedFeedRecord.number_was_purged("nhs_number", numbers.NUMBER)


def test_a_new_row_found_by_a_number_as_its_record_is_purged_is_refused_not_the_file(
    purged_childs_number_in_mias_file, monkeypatch
):
    """Dana's LA file sends Zed under a new LA record id, with his NHS number, and moves Mia,
    while the nightly job purges Zed: the import found Zed by the number just before the job
    committed, and joined the row to the record the job had deleted. The file then failed as
    it was committed (a server error for an upload). Now the row is refused as it would be
    once Zed is purged (it carries a purged record's number), and the rest of the file is
    imported."""
    from directory import feed_import, services
    from directory.models import Address, Child, ChildIdentifier, SourceRecord

    zed, mia, numbers = purged_childs_number_in_mias_file
    monkeypatch.setattr(services, "record_event", lambda *args, **kwargs: None)
    job = NightlyJob(monkeypatch, feed_import, "_by_identifier")
    again = {**numbers.ZED, "la_record_id": "9009"}
    moved = {**numbers.MIA, "address_line_1": "5 West Road"}
    outcome = job.import_alongside(mia.local_authority, again, moved, skip_invalid=True)
    assert not Child.objects.filter(pk=zed.pk).exists(), "the job purged Zed"
    assert dict(outcome.counts) == {"updated": 1}
    assert [message for _, message in outcome.validation.errors] == [
        feed_import.PURGED_NUMBER.format(kind="nhs_number", value=numbers.NUMBER)
    ]
    assert Address.objects.filter(child=mia, line_1="5 West Road", ended_on=None).exists()
    assert not ChildIdentifier.objects.filter(value=numbers.NUMBER).exists()
    assert not SourceRecord.objects.filter(record_id__endswith="9009").exists()


def test_a_new_row_joined_to_a_record_before_the_job_purges_it_goes_with_the_record(
    purged_childs_number_in_mias_file, monkeypatch
):
    """The other way round: the import joined Zed's new row to his record before the job
    came to it. The job leaves him to its next run, which purges the row with his record,
    and a file that sends it again is refused as his."""
    from directory import feed_import, services
    from directory.models import Child, Source, SourceRecord
    from tests.test_lifecycle import la_file

    zed, mia, numbers = purged_childs_number_in_mias_file
    monkeypatch.setattr(services, "record_event", lambda *args, **kwargs: None)
    job = NightlyJob(monkeypatch, feed_import, "link")
    again = {**numbers.ZED, "la_record_id": "9009"}
    outcome = job.import_alongside(mia.local_authority, again)
    assert dict(outcome.counts) == {"matched_by_identifier": 1}
    assert job.ended_first, "the job waited for the file"
    assert (job.done["purged"], job.done["purges_put_off"]) == (0, 1)
    with disable_auditlog(), transaction.atomic():  # the next run
        assert services.lifecycle_apply(today=date(2026, 11, 29))["purged"] == 1
    assert not Child.objects.filter(pk=zed.pk).exists(), "the next run purged Zed"
    assert not SourceRecord.objects.filter(record_id__endswith="9009").exists()
    with disable_auditlog(), transaction.atomic():
        resent = feed_import.feed_import(
            source=Source.LA_SYSTEM, file_name="2020.csv", content=la_file(again, numbers.MIA),
            local_authority=mia.local_authority, by=None,
        )  # fmt: skip
    assert dict(resent.counts) == {feed_import.PURGED: 1, "unchanged": 1}


@pytest.mark.parametrize("change", ["shield", "involvement"])
def test_a_record_is_changed_at_once_while_a_file_joins_a_new_row_to_it(
    purged_childs_number_in_mias_file, monkeypatch, change
):
    """A file joining a new row to Zed's record holds the record until it is imported, so
    that the lifecycle job cannot purge it meanwhile. An officer shielding him, or a
    practitioner recording her work with him, must not wait for the file: a large one takes
    minutes, past the page's 30 s."""
    from directory import feed_import
    from directory.models import Child, Involvement
    from directory.services import involvement_record_mine
    from shielding.models import Shield
    from shielding.services import shield_create

    zed, mia, numbers = purged_childs_number_in_mias_file
    Child.objects.filter(pk=zed.pk).update(status=Child.Status.ACTIVE, archived_on=None)
    zed.refresh_from_db()
    someone = User.objects.get(username="racing-purge-number")
    work = {
        "shield": lambda: shield_create(
            child=zed, by=someone, reason="domestic_abuse", justification="Fled",
            review_on=date(2027, 6, 1),
        ),
        "involvement": lambda: involvement_record_mine(
            child=zed, practitioner=someone, role="Class teacher", service=None,
            started_on=date(2026, 11, 1), caf_held=False, lead_professional=False,
        ),
    }  # fmt: skip
    job = NightlyJob(monkeypatch, feed_import, "link", work=work[change])
    outcome = job.import_alongside(mia.local_authority, {**numbers.ZED, "la_record_id": "9009"})
    assert dict(outcome.counts) == {"matched_by_identifier": 1}
    assert job.ended_first, f"the {change} waited for the file"
    made = {"shield": Shield.objects, "involvement": Involvement.objects}[change]
    assert made.filter(child=zed).exists()


def test_a_new_row_joined_to_a_record_as_it_is_merged_follows_it_with_the_next_file(
    purged_childs_number_in_mias_file, monkeypatch
):
    """Dana merges Zed's record into his other one while a file joins a new row of his to it:
    the merge moves what it sees, not the row still being imported, which stays with the
    merged record. The next file's row under its id updated that record, which no one sees,
    while his record kept the old address. It now goes to the record Zed was merged into,
    and the row with it."""
    from directory import feed_import
    from directory.models import Address, Child, Merge, Source, SourceRecord
    from directory.services import children_merge
    from tests.test_lifecycle import la_file

    zed, mia, numbers = purged_childs_number_in_mias_file
    Child.objects.filter(pk=zed.pk).update(status=Child.Status.ACTIVE, archived_on=None)
    zed.refresh_from_db()
    other = Child.objects.create(
        given_name="Zed", family_name="Quill", gender="male", date_of_birth=zed.date_of_birth,
        local_authority=zed.local_authority, source=zed.source,
    )  # fmt: skip
    manager = User.objects.get(username="racing-purge-number")
    job = NightlyJob(
        monkeypatch, feed_import, "link",
        work=lambda: children_merge(kept=other, absorbed=zed, by=manager),
    )  # fmt: skip
    again = {**numbers.ZED, "la_record_id": "9009"}
    try:
        job.import_alongside(mia.local_authority, again)
        assert job.ended_first, "the merge did not wait for the file"
        monkeypatch.undo()
        with disable_auditlog(), transaction.atomic():
            later = feed_import.feed_import(
                source=Source.LA_SYSTEM, file_name="2020.csv",
                content=la_file({**again, "address_line_1": "9 New Road"}),
                local_authority=mia.local_authority, by=None,
            )  # fmt: skip
        assert dict(later.counts) == {"updated": 1}, later.validation.errors
        assert Address.objects.filter(child=other, line_1="9 New Road", ended_on=None).exists()
        assert SourceRecord.objects.get(record_id__endswith="9009").child_id == other.pk
    finally:
        Merge.objects.filter(kept=other).delete()
        Child.objects.filter(pk=zed.pk).update(merged_into=None, status=Child.Status.ACTIVE)


def test_his_own_row_imported_as_the_job_purges_him_is_no_deadlock(
    purged_childs_number_in_mias_file, monkeypatch
):
    """Dana's LA file moves Zed while the nightly job purges him: the import held his feed
    row, and at its commit waited for his record, which the job held while it waited to
    delete the feed row, so PostgreSQL ended one of them (a failed file, or a failed night's
    job). The job now leaves a record whose feed row a file holds to its next run."""
    from directory import feed_import, services
    from directory.models import Address, Child

    zed, mia, numbers = purged_childs_number_in_mias_file
    monkeypatch.setattr(services, "record_event", lambda *args, **kwargs: None)
    job = NightlyJob(monkeypatch, feed_import, "_whose")
    outcome = job.import_alongside(mia.local_authority, {**numbers.ZED, "address_line_1": "7 Bay"})
    assert dict(outcome.counts) == {"updated": 1}
    assert (job.done["purged"], job.done["purges_put_off"]) == (0, 1)
    assert Address.objects.filter(child=zed, line_1="7 Bay", ended_on=None).exists()
    with disable_auditlog(), transaction.atomic():  # the next run
        assert services.lifecycle_apply(today=date(2026, 11, 29))["purged"] == 1
    assert not Child.objects.filter(pk=zed.pk).exists(), "the next run purged Zed"
    assert not Address.objects.filter(line_1="7 Bay").exists()


@pytest.mark.parametrize("his_row", ["new", "own"])
def test_a_row_joined_to_a_record_due_tonight_leaves_the_job_free_of_the_file(
    purged_childs_number_in_mias_file, monkeypatch, his_row
):
    """Dana's LA file joins a new row to Mia's record (she died over a year ago: the nightly
    job archives her tonight), then sends Zed (the job purges him tonight) a new row or his
    own moved. The job held every record due tonight at once, for update: it held Zed's,
    then waited for the file to be imported to hold Mia's, which the file held against
    deletion, and the file waited for Zed's, so PostgreSQL ended one of them (a failed file,
    or a failed night's job; until then the job held every record due tonight, and no one
    could shield one). The job now holds records against deletion only as it purges them,
    never waiting for a file: Mia is archived, and Zed purged, whatever the file holds."""
    from directory import feed_import, services
    from directory.models import Child, ChildIdentifier, Source
    from tests.test_lifecycle import la_file

    zed, mia, numbers = purged_childs_number_in_mias_file
    monkeypatch.setattr(services, "record_event", lambda *args, **kwargs: None)
    hers = "9434765013"
    with disable_auditlog(), transaction.atomic():
        feed_import.feed_import(
            source=Source.LA_SYSTEM, file_name="2018b.csv",
            content=la_file({**numbers.MIA, "nhs_number": hers}),
            local_authority=mia.local_authority, by=None,
        )  # fmt: skip
    assert ChildIdentifier.objects.filter(child=mia, value=hers).exists()
    Child.objects.filter(pk=mia.pk).update(
        status=Child.Status.DECEASED, date_of_death=date(2020, 1, 1)
    )
    assert zed.pk < mia.pk, "the job holds Zed's record first"
    job = NightlyJob(monkeypatch, feed_import, "link")  # once Mia's new row has joined her
    zeds = {"new": {**numbers.ZED, "la_record_id": "9009"},
            "own": {**numbers.ZED, "address_line_1": "7 Bay"}}[his_row]  # fmt: skip
    joins_her = {**numbers.MIA, "la_record_id": "2003", "nhs_number": hers}
    outcome = job.import_alongside(mia.local_authority, joins_her, zeds, skip_invalid=True)
    assert job.ended_first, "the job waited for the file"
    assert (job.done["archived_after_death"], job.done["purged"]) == (1, 1)
    assert Child.objects.get(pk=mia.pk).status == Child.Status.ARCHIVED
    assert not Child.objects.filter(pk=zed.pk).exists()
    assert outcome.counts["matched_by_identifier"] == 1


def her_browser_signed_in(user: User) -> str:
    """The key of a session of hers signed in with her password as it is now."""
    browser = her_browser()
    held = SessionStore(session_key=browser)
    held[SESSION_KEY], held[BACKEND_SESSION_KEY] = (
        str(user.pk),
        "django.contrib.auth.backends.ModelBackend",
    )
    held[HASH_SESSION_KEY] = user.get_session_auth_hash()
    held.save()
    return browser


def test_her_new_password_sent_twice_at_once_is_set_once_and_keeps_her_signed_in(
    committed, monkeypatch
):
    """A double click on "Change password" with JavaScript off: both requests read her session
    and her account before either changed her password. The second waited for the first, then
    checked her current password against the account it had read, and changed it again (a
    second event). Now it finds the password already the one it asks for: no second change,
    no failure counted, and the session her browser keeps is signed in with it."""
    before = set(Session.objects.values_list("session_key", flat=True))
    browser = her_browser_signed_in(committed)
    forms_checked_side_by_side(monkeypatch, views.ChangePasswordForm)
    chosen = "a-long-and-unusual-passphrase"
    answers: list[tuple[HttpResponse, HttpRequest]] = []

    def change() -> None:
        request = RequestFactory().post(
            "/accounts/password/",
            {
                "current_password": "the-right-password-1",
                "new_password1": chosen,
                "new_password2": chosen,
            },
        )
        request.user = User.objects.get(pk=committed.pk)
        request.session = SessionStore(session_key=browser)
        request.session.load()
        request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
        response = views.password_change(request)
        request.session.save()
        answers.append((response, request))

    try:
        assert at_once(change) == []
        assert [answer.status_code for answer, _ in answers] == [302, 302]
        changed = [request.audit.action for _, request in answers]  # type: ignore[attr-defined]
        assert changed.count(Action.PASSWORD_CHANGED) == 1, changed
        assert not SignInFailure.objects.filter(username=committed.username).exists()
        user = User.objects.get(pk=committed.pk)
        assert user.check_password(chosen)
        # Her browser keeps the cookie of the answer it got last.
        kept = SessionStore(session_key=answers[-1][1].session.session_key)
        assert kept[HASH_SESSION_KEY] == user.get_session_auth_hash()
    finally:
        Session.objects.exclude(session_key__in=before).delete()


def test_her_new_password_sent_twice_keeps_her_signed_in_when_the_second_read_her_session_first(
    committed, settings
):
    """A double click on "Change password" with JavaScript off: the second request read her
    session before the first committed, and her account after it. Django found the session's
    password old and ended it, deleting the key the first had left for it, and told her
    browser to drop its cookie: she was signed out of the session the first had renewed, and
    shown the sign-in page. Now the second finds the key renewed and sends her home."""
    before = set(Session.objects.values_list("session_key", flat=True))
    browser = her_browser_signed_in(committed)
    chosen = "a-long-and-unusual-passphrase"
    form = {"current_password": "the-right-password-1", "new_password1": chosen}
    form["new_password2"] = chosen

    def sent_from_her_browser() -> HttpRequest:
        request = RequestFactory().post("/accounts/password/", form)
        request.COOKIES[settings.SESSION_COOKIE_NAME] = browser
        SessionMiddleware(HttpResponse).process_request(request)
        request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
        return request

    second = sent_from_her_browser()
    assert second.session.get(SESSION_KEY) == str(committed.pk)  # read before the first commits
    first = sent_from_her_browser()
    first.user = User.objects.get(pk=committed.pk)
    try:
        with disable_auditlog(), transaction.atomic():
            assert views.password_change(first).status_code == 302
            SessionMiddleware(HttpResponse).process_response(first, HttpResponse())
        renewed = first.session.session_key
        with disable_auditlog(), transaction.atomic():
            AuthenticationMiddleware(HttpResponse).process_request(second)
            _ended_by_new_password(second)
            answer = AccessControlMiddleware._refusal(second, "accounts:password_change")
            assert isinstance(answer, HttpResponse)
            answer = SessionMiddleware(HttpResponse).process_response(second, answer)
        assert answer["Location"] == reverse("home")
        assert settings.SESSION_COOKIE_NAME not in answer.cookies, "her cookie is left alone"
        noted = getattr(second, "audit", None)  # no sign-out of hers is written
        assert noted is None or Action.SIGN_OUT not in [also.action for also in noted.also]
        kept = SessionStore(session_key=renewed)
        user = User.objects.get(pk=committed.pk)
        assert kept[HASH_SESSION_KEY] == user.get_session_auth_hash()
        assert SessionStore(session_key=browser).get(RENEWED_HERE), "left for a third click"
    finally:
        Session.objects.exclude(session_key__in=before).delete()


def test_new_backup_codes_asked_for_twice_at_once_are_made_once_and_count_no_failure(
    committed, monkeypatch
):
    """A double click on "Get new backup codes" with JavaScript off: her browser shows the
    second answer. The second request waited for the first, then found her app's code used
    (by the first) and counted it as a wrong code, under "not correct", while the codes the
    first made were never seen. Now it finds that code got her codes in this session, and
    tells her they were shown once: no failure, no second set."""
    before = set(Session.objects.values_list("session_key", flat=True))
    browser = her_browser()
    device = TOTPDevice.objects.create(user=committed, name="Phone", confirmed=True)
    code = current_code(device)
    forms_checked_side_by_side(monkeypatch, views.EnrolmentCodeForm)
    pages: list[str] = []

    def renew() -> None:
        request = RequestFactory().post("/accounts/two-factor/backup-codes/", {"otp_token": code})
        request.user = User.objects.get(pk=committed.pk)
        request.session = SessionStore(session_key=browser)
        request.session.load()
        pages.append(views.backup_codes_renew(request).content.decode())
        if request.session.modified:
            request.session.save()

    try:
        assert at_once(renew) == []
        assert not any("not correct" in page for page in pages)
        assert "You have new backup codes" in pages[0]
        assert "Your new backup codes were shown once" in pages[1]
        assert not SignInFailure.objects.filter(username=committed.username).exists()
        made = StaticToken.objects.filter(device__user=committed).values_list("token", flat=True)
        assert len(made) == 10 and not any(code in pages[1] for code in made)
    finally:
        Session.objects.exclude(session_key__in=before).delete()


def test_two_pages_finding_her_10_hours_up_at_once_sign_her_out_once(
    committed, monkeypatch, settings
):
    """Priya's 10 hours are up as two tabs of hers each ask for a page at once: both read her
    session before either ended it, found it timed out and recorded her sign-out, and her LA's
    auditors read two. Now the second waits for the first to end it, and records none."""
    before = set(Session.objects.values_list("session_key", flat=True))
    browser = her_browser_signed_in(committed)
    held = SessionStore(session_key=browser)
    held[SIGNED_IN_AT] = time.time() - 10 * 3600 - 1
    held[LAST_SEEN_AT] = time.time()
    held[SESSION_STAMP] = str(committed.session_stamp)
    held.save()
    both_found_it = side_by_side()
    found = middleware._session_problem

    def found_side_by_side(*args: Any) -> Any:
        problem = found(*args)
        both_found_it()
        return problem

    monkeypatch.setattr(middleware, "_session_problem", found_side_by_side)

    def home(request: HttpRequest) -> HttpResponseBase:
        return AccessControlMiddleware._refusal(request, "home") or HttpResponse()

    requests: list[HttpRequest] = []

    def page() -> None:
        """The home page asked for in her session, through the middleware before the access
        checks, as settings.MIDDLEWARE has them."""
        request = RequestFactory().get("/")
        request.COOKIES[settings.SESSION_COOKIE_NAME] = browser
        requests.append(request)
        SessionMiddleware(HttpResponse).process_request(request)
        AuthenticationMiddleware(HttpResponse).process_request(request)
        MessageMiddleware(HttpResponse).process_request(request)
        response = OTPMiddleware(home)(request)
        MessageMiddleware(HttpResponse).process_response(request, response)
        SessionMiddleware(HttpResponse).process_response(request, response)
        assert response["Location"].startswith(reverse("accounts:login"))

    try:
        assert at_once(page) == []
        noted = [getattr(request, "audit", None) for request in requests]
        sign_outs = [note for note in noted if note is not None and note.action == Action.SIGN_OUT]
        assert [note.detail for note in sign_outs] == [
            {"timed_out": "session_length", "minutes": 600}
        ]
        assert not Session.objects.filter(session_key=browser).exists()
    finally:
        Session.objects.exclude(session_key__in=before).delete()
