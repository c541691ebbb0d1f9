"""A signed-in user changes her own password and gets new backup codes, without asking her
administrator; both need her second factor, and a wrong password or code counts towards the
lockout as at sign-in."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.lockout import sign_in_failure_record
from accounts.models import SignInFailure
from audit.models import Action, AuditEvent
from tests.personas import (
    PASSWORD,
    authenticator,
    break_the_access_log,
    current_code,
    priya,
    sign_in,
)

pytestmark = pytest.mark.django_db

CHANGE = reverse("accounts:password_change")
RENEW = reverse("accounts:backup_codes_renew")
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
            ({"new": "short"}, "Your password must be 12 characters or more"),
            ({"new": "password1234"}, "Your password must not be a commonly used password"),
            ({"new": "483920571638"}, "Your password must include letters or symbols, not only"),
            ({"new": "Priya"}, "Your password must not be like your username"),
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

    def test_a_double_click_keeps_her_signed_in_here_and_counts_no_failure(self):
        """With JavaScript off her browser sends the form twice, each time with the session
        cookie it held when she clicked. The first request changes her password and gives
        her session a new key (a copy of the old cookie no longer works); the second, with
        the old key, was answered as signed out and ended the browser's session cookie."""
        user = priya()
        browser = Client(enforce_csrf_checks=True)
        sign_in(browser, user)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(CHANGE).text)
        form = {
            "csrfmiddlewaretoken": token and token[1],
            "current_password": PASSWORD,
            "new_password1": CHOSEN,
            "new_password2": CHOSEN,
        }
        held = {name: cookie.value for name, cookie in browser.cookies.items()}
        assert browser.post(CHANGE, form).status_code == 302
        second_click = Client(enforce_csrf_checks=True)
        for name, value in held.items():
            second_click.cookies[name] = value
        answer = second_click.post(CHANGE, form)
        browser.cookies.update(answer.cookies)  # her browser keeps the second answer's cookies
        assert answer["Location"] == reverse("home")
        home = browser.get("/")
        assert home.status_code == 200 and "Your password has been changed" in home.text
        user.refresh_from_db()
        assert user.check_password(CHOSEN)
        assert not SignInFailure.objects.exists()
        assert AuditEvent.objects.filter(action=Action.PASSWORD_CHANGED).count() == 1
        # A copy of the cookie she held before still signs nobody in.
        copied = Client()
        copied.cookies[settings.SESSION_COOKIE_NAME] = held[settings.SESSION_COOKIE_NAME]
        assert copied.get("/")["Location"].startswith(LOGIN)

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
        assert "You cannot change your password for now" in error_shown(change(client))
        user.refresh_from_db()
        assert user.check_password(PASSWORD)
        failed = AuditEvent.objects.filter(action=Action.SIGN_IN_FAILED, user_id=user.pk)
        assert failed.filter(detail__changing_password=True).count() == 6
        at_sign_in = Client().post(LOGIN, {"username": "priya", "password": PASSWORD})
        assert "signing in is locked" in at_sign_in.content.decode()

    def test_a_wrong_current_password_is_listed_with_a_mistake_in_the_new_one(self, client):
        """GOV.UK lists every error at once: she is not told of her wrong current password
        only once her new one is right. Each submission with a wrong one counts once towards
        the lockout, whatever else is wrong; a right one with a mistaken new one, not at all."""
        user = priya()
        sign_in(client, user)
        for _ in range(2):
            page = error_shown(change(client, current="wrong-password-here", new="short"))
            assert "Your current password is not correct" in page
            assert "Your password must be 12 characters or more" in page
        assert SignInFailure.objects.filter(username="priya", stage="password").count() == 2
        failed = AuditEvent.objects.filter(action=Action.SIGN_IN_FAILED, user_id=user.pk)
        assert failed.filter(detail__changing_password=True).count() == 2
        page = error_shown(change(client, new="short"))
        assert "Your current password is not correct" not in page
        assert SignInFailure.objects.count() == 2
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

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


class TestGettingNewBackupCodes:
    def test_it_is_reached_from_her_home_page(self, client):
        sign_in(client, priya())
        assert f'href="{RENEW}"' in client.get("/").content.decode()
        assert "Get new backup codes" in client.get(RENEW).content.decode()

    def test_a_code_from_her_app_replaces_her_backup_codes_shown_once(self, client):
        user = priya()
        sign_in(client, user)
        device = TOTPDevice.objects.get(user=user)
        old = services.backup_codes_create(user=user)
        response = client.post(RENEW, {"otp_token": current_code(device)})
        page = response.content.decode()
        assert response.status_code == 200 and "You have new backup codes" in page
        new = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
        assert len(new) == 10 and not new & set(old)
        assert all(code in page for code in new)
        event = AuditEvent.objects.get(action=Action.BACKUP_CODES_RENEWED)
        assert event.user_id == user.pk and not any(code in str(event.detail) for code in new)
        # Shown once: the page asks for a code again, and lists none.
        again = client.get(RENEW).content.decode()
        assert not any(code in again for code in new)

    def test_refreshing_the_page_of_her_new_codes_shows_none_changes_none_counts_nothing(
        self, client
    ):
        """Her browser sends the code again, which django-otp refuses as used: that is no
        guess, so it is not counted towards the lockout (nor slows her app's next code), and
        she is told the codes were shown once, without a second set made."""
        user = priya()
        sign_in(client, user)
        device = TOTPDevice.objects.get(user=user)
        code = current_code(device)
        client.post(RENEW, {"otp_token": code})
        shown = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
        response = client.post(RENEW, {"otp_token": code})
        page = response.content.decode()
        assert response.status_code == 200 and "govuk-error-summary" not in page
        assert "Your new backup codes were shown once" in page
        assert not any(code in page for code in shown)
        kept = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
        assert set(kept) == shown
        assert not SignInFailure.objects.exists()
        assert not AuditEvent.objects.filter(action=Action.TWO_FACTOR_FAILED).exists()
        assert AuditEvent.objects.filter(action=Action.BACKUP_CODES_RENEWED).count() == 1
        device.refresh_from_db()
        assert device.throttling_failure_count == 0

    def test_no_code_is_shown_or_changed_if_its_event_cannot_be_written(self, client):
        user = priya()
        sign_in(client, user)
        device = TOTPDevice.objects.get(user=user)
        old = services.backup_codes_create(user=user)
        break_the_access_log()
        response = client.post(RENEW, {"otp_token": current_code(device)})
        assert response.status_code == 503
        kept = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
        assert sorted(kept) == sorted(old)

    def test_a_new_backup_code_signs_her_in(self, client):
        user = priya()
        sign_in(client, user)
        device = TOTPDevice.objects.get(user=user)
        client.post(RENEW, {"otp_token": current_code(device)})
        code = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)[0]
        browser = Client()
        browser.post(LOGIN, {"username": "priya", "password": PASSWORD})
        assert browser.post(TWO_FACTOR, {"otp_token": code}).status_code == 302
        assert browser.get("/").status_code == 200

    @pytest.mark.parametrize(
        ("typed", "message"),
        [
            ("000000", "The security code is not correct"),
            ("", "Enter the security code from your authenticator app"),
            ("backup", "The security code is not correct"),  # an old backup code will not do
        ],
    )
    def test_a_wrong_code_is_shown_and_changes_nothing(self, client, typed, message):
        user = priya()
        sign_in(client, user)
        old = services.backup_codes_create(user=user)
        page = error_shown(
            client.post(RENEW, {"otp_token": old[0] if typed == "backup" else typed})
        )
        assert message in page
        kept = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
        assert sorted(kept) == sorted(old)
        assert not AuditEvent.objects.filter(action=Action.BACKUP_CODES_RENEWED).exists()

    def test_a_wrong_code_counts_towards_the_lockout(self, client):
        user = priya()
        sign_in(client, user)
        device = TOTPDevice.objects.get(user=user)
        for _ in range(5):
            client.post(RENEW, {"otp_token": "000000"})
            # Past django-otp's pause after a wrong code, so that each one is checked.
            TOTPDevice.objects.filter(pk=device.pk).update(
                throttling_failure_timestamp=timezone.now() - timedelta(minutes=1)
            )
        assert SignInFailure.objects.filter(stage="second_factor").count() == 5
        locked = error_shown(client.post(RENEW, {"otp_token": current_code(device)}))
        assert "You cannot get new backup codes for now" in locked
        assert not AuditEvent.objects.filter(action=Action.BACKUP_CODES_RENEWED).exists()

    def test_it_is_refused_without_a_second_factor(self, client):
        """Someone with her password alone cannot swap her backup codes for his own."""
        user = priya()
        device = authenticator(user)
        old = services.backup_codes_create(user=user)
        sign_in(client, user, verified=False)
        assert client.get(RENEW)["Location"].startswith(TWO_FACTOR)
        response = client.post(RENEW, {"otp_token": current_code(device)})
        assert response["Location"].startswith(TWO_FACTOR)
        kept = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
        assert sorted(kept) == sorted(old)


class TestWhenSheIsLockedOut:
    """Too many wrong passwords or codes lock her account (or her network) as at sign-in, but
    she is signed in: the page says what she cannot do, that she is still signed in, and
    when she can try again, not that signing in is locked."""

    def locked(self, user, minutes_ago: int) -> None:
        for _ in range(5):
            sign_in_failure_record(username=user.username, ip_address="127.0.0.1", stage="password")
        SignInFailure.objects.update(failed_at=timezone.now() - timedelta(minutes=minutes_ago))

    def test_the_password_page_says_she_cannot_change_it_until_the_lock_lifts(self, client):
        user = priya()
        sign_in(client, user)
        self.locked(user, minutes_ago=20)
        page = error_shown(change(client))
        assert "You cannot change your password for now" in page
        assert "You are still signed in. Try again in 10 minutes, or ask your local " in page
        assert "signing in is locked" not in page and "attempts to sign in" not in page
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

    def test_the_backup_codes_page_says_she_cannot_get_new_ones_until_the_lock_lifts(self, client):
        user = priya()
        sign_in(client, user)
        old = services.backup_codes_create(user=user)
        self.locked(user, minutes_ago=1)
        device = TOTPDevice.objects.get(user=user)
        page = error_shown(client.post(RENEW, {"otp_token": current_code(device)}))
        assert "You cannot get new backup codes for now" in page
        assert "You are still signed in. Try again in 29 minutes" in page
        assert "signing in is locked" not in page
        kept = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
        assert sorted(kept) == sorted(old)

    def test_she_is_told_when_enough_failures_age_out_to_lift_the_lock(self, client):
        """Four failures 25 minutes ago and one 5 minutes ago: in 5 minutes only one counts."""
        user = priya()
        sign_in(client, user)
        self.locked(user, minutes_ago=25)
        SignInFailure.objects.filter(pk=SignInFailure.objects.order_by("pk").first().pk).update(
            failed_at=timezone.now() - timedelta(minutes=5)
        )
        assert "Try again in 5 minutes" in error_shown(change(client))

    def test_a_locked_network_is_told_as_hers_with_no_administrator_to_ask(self, client, settings):
        """An administrator's unlock is of her account, not of her network."""
        settings.LOCKOUT_IP_FAILURES = 3
        user = priya()
        sign_in(client, user)
        for n in range(3):
            sign_in_failure_record(username=f"guess{n}", ip_address="127.0.0.1", stage="password")
        page = error_shown(change(client))
        assert (
            "because too many wrong passwords or security codes have been entered from your "
            in page
        )
        assert "network. You are still signed in. Try again in 30 minutes." in page
        assert "signing in from it is locked" not in page and "administrator" not in page
