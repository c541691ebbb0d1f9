"""Requests sent side by side, as an attacker would send them, on connections of their own.

These run outside the test's transaction, so each thread commits for real; they call the view
inside a transaction as the audit middleware does, but without it, so that no audit row (which
the database refuses to delete) is left behind. Everything they make is deleted at the end.
"""

import threading
from datetime import date

import pytest
from auditlog.context import disable_auditlog
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections, transaction
from django.test import RequestFactory

from accounts import views
from accounts.models import Organisation, SignInFailure, User

GUESSES = 12


@pytest.fixture
def committed(django_db_setup, django_db_blocker, settings):
    """A user committed to the test database, with the real (slow) password hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    with django_db_blocker.unblock(), disable_auditlog():
        organisation = Organisation.objects.create(
            code="RACE01", name="Raceshire", kind="local_authority",
            team_phone="01632 960000", team_email="team@raceshire.example.org",
        )  # fmt: skip
        user = User.objects.create_user(
            username="guessed", password="the-right-password-1", organisation=organisation,
            roles=["practitioner"], vetting_checked_on=date(2026, 1, 5),
            training_completed_on=date(2026, 2, 1),
        )  # fmt: skip
        try:
            yield user
        finally:
            SignInFailure.objects.filter(username="guessed").delete()
            user.delete()
            organisation.delete()
            connections.close_all()


def test_guesses_sent_at_once_are_held_to_the_lockout_limit(committed, settings):
    settings.LOCKOUT_USERNAME_FAILURES = 5
    outcomes: list[str] = []

    def guess(number: int) -> None:
        request = RequestFactory().post(
            "/accounts/login/", {"username": "guessed", "password": f"wrong-{number}"}
        )
        request.user, request.session = AnonymousUser(), SessionStore()
        try:
            with transaction.atomic():
                page = views.sign_in(request).content.decode()
            outcomes.append("refused unchecked" if "locked" in page else "checked")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == GUESSES
    assert outcomes.count("checked") == 5, outcomes
