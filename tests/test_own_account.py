"""A signed-in user changes her own password without asking her administrator; it needs her
second factor, and a wrong current password counts towards the lockout as at sign-in."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import SignInFailure
from audit.models import Action, AuditEvent
from tests.personas import (
    PASSWORD,
    authenticator,
    break_the_access_log,
    priya,
    sign_in,
)

pytestmark = pytest.mark.django_db

CHANGE = reverse("accounts:password_change")
LOGIN = reverse("accounts:login")
TWO_FACTOR = reverse("accounts:two_factor")
CHOSEN = "a-long-and-unusual-passphrase"


def change(client: Client, current: str = PASSWORD, new: str = CHOSEN, again: str | None = None):
    return client.post(
        CHANGE,
        {"current_password": current, "new_password1": new, "new_password2": again or new},
    )


def error_shown(response) -> str:
    page = response.content.decode()
    assert response.status_code == 200 and "govuk-error-summary" in page
    return page


class TestChangingHerPassword:
    def test_it_is_reached_from_her_home_page(self, client):
        sign_in(client, priya())
        assert f'href="{CHANGE}"' in client.get("/").content.decode()
        assert "Change your password" in client.get(CHANGE).content.decode()

    def test_it_changes_her_password_and_keeps_her_signed_in_here(self, client):
        user = priya()
        sign_in(client, user)
        response = change(client)
        assert response.status_code == 302 and response["Location"] == reverse("home")
        user.refresh_from_db()
        assert user.check_password(CHOSEN) and not user.check_password(PASSWORD)
        home = client.get("/")
        assert home.status_code == 200
        assert "Your password has been changed" in home.content.decode()

    def test_it_signs_her_out_everywhere_else(self, client):
        """Whoever is signed in as her elsewhere (it may be why she changes it) is signed
        out, and her LA's auditors see that session end, and why."""
        user = priya()
        sign_in(client, user)
        elsewhere = Client()
        sign_in(elsewhere, user)
        change(client)
        assert elsewhere.get("/")["Location"].startswith(LOGIN)
        ended = AuditEvent.objects.get(action=Action.SIGN_OUT, path="/")
        assert ended.user_id == user.pk and ended.detail == {"password_changed": True}
        assert client.get("/").status_code == 200

    def test_it_writes_an_audit_event(self, client):
        user = priya()
        sign_in(client, user)
        change(client)
        event = AuditEvent.objects.get(action=Action.PASSWORD_CHANGED)
        assert event.user_id == user.pk and event.path == CHANGE and event.status == 302
        assert CHOSEN not in str(event.detail) and PASSWORD not in str(event.detail)

    @pytest.mark.parametrize(
        ("form", "message"),
        [
            ({"current": "wrong-password-here"}, "Your current password is not correct"),
            ({"current": ""}, "Enter your current password"),
            ({"new": ""}, "Enter a new password"),
            ({"again": "another-long-passphrase"}, "The passwords do not match"),
            ({"new": "short"}, "This password is too short"),
            ({"new": "password1234"}, "This password is too common"),
            ({"new": "483920571638"}, "This password is entirely numeric"),
            ({"new": PASSWORD}, "Your new password must be different from your current one"),
        ],
    )
    def test_a_mistake_is_shown_and_changes_nothing(self, client, form, message):
        user = priya()
        sign_in(client, user)
        elsewhere = Client()
        sign_in(elsewhere, user)
        page = error_shown(change(client, **form))
        assert message in page
        user.refresh_from_db()
        assert user.check_password(PASSWORD)
        assert not AuditEvent.objects.filter(action=Action.PASSWORD_CHANGED).exists()
        for browser in (client, elsewhere):
            assert browser.get("/").status_code == 200

    def test_it_changes_nothing_if_its_event_cannot_be_written(self, client):
        user = priya()
        sign_in(client, user)
        break_the_access_log()
        assert change(client).status_code == 503
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

    def test_a_wrong_current_password_counts_towards_the_lockout(self, client):
        """Someone at a computer she left signed in cannot guess her password here: five
        wrong ones lock her username, as at sign-in, and then even the right one is refused."""
        user = priya()
        authenticator(user)
        sign_in(client, user)
        for _ in range(5):
            assert "Your current password is not correct" in error_shown(
                change(client, current="wrong-password-here")
            )
        assert SignInFailure.objects.filter(username="priya", stage="password").count() == 5
        assert "signing in is locked" in error_shown(change(client))
        user.refresh_from_db()
        assert user.check_password(PASSWORD)
        failed = AuditEvent.objects.filter(action=Action.SIGN_IN_FAILED, user_id=user.pk)
        assert failed.filter(detail__changing_password=True).count() == 6
        at_sign_in = Client().post(LOGIN, {"username": "priya", "password": PASSWORD})
        assert "signing in is locked" in at_sign_in.content.decode()

    def test_it_is_refused_without_a_second_factor(self, client):
        """Someone with her password alone cannot change it, and lock her out."""
        user = priya()
        authenticator(user)
        sign_in(client, user, verified=False)
        assert client.get(CHANGE)["Location"].startswith(TWO_FACTOR)
        assert change(client)["Location"].startswith(TWO_FACTOR)
        user.refresh_from_db()
        assert user.check_password(PASSWORD)
        assert not AuditEvent.objects.filter(action=Action.PASSWORD_CHANGED).exists()
