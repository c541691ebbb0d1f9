"""Signing in takes a password and a second factor; lockout, session limits and access expiry."""

import io
import re
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import logout
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import middleware, services, views
from accounts.models import SetupLink, SignInFailure, User
from accounts.roles import Role
from accounts.sessions import SessionStore
from audit.integrity import seal_closed_days, verify
from audit.models import Action, AuditEvent
from contactpoint.dates import moment_said
from tests.personas import (
    PASSWORD,
    ada,
    authenticator,
    current_code,
    lee,
    make_user,
    owen,
    priya,
    sign_in,
)

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
TWO_FACTOR = reverse("accounts:two_factor")
ENROL = reverse("accounts:enrol")


def key_shown(response) -> str:
    """The key the set-up page shows, for typing into an authenticator app."""
    page = response.content.decode()
    match = re.search(r'<code class="app-secret-key">([A-Z2-7 ]+)</code>', page)
    assert match, "the set-up page shows a key"
    return match.group(1)


def code_in_half_a_minute(device: TOTPDevice) -> str:
    """The app's next code, which is accepted now as well (the last one is used up)."""
    app = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    app.time = time.time() + device.step
    return f"{app.token():06d}"


def sent_twice_after_a_minute_on_the_page(
    client: Client, monkeypatch, page: str, form_name: str, code: str
):
    """``code`` sent twice to ``page`` after more than a minute there (long enough for her
    last-seen time to be noted again), as by a double click: the first request completes
    while the second, past the access checks, is about to read the form. Both answers, and
    the browser that holds the first's session."""
    session = client.session
    session["last_seen_at"] -= 61
    session.save()
    first_click = Client()
    first_click.cookies = SimpleCookie(client.cookies.output(header="", sep=";"))
    form, firsts = getattr(views, form_name), []

    def form_once_the_first_click_is_answered(*args, **kwargs):
        monkeypatch.setattr(views, form_name, form)
        firsts.append(first_click.post(page, {"otp_token": code}))
        return form(*args, **kwargs)

    monkeypatch.setattr(views, form_name, form_once_the_first_click_is_answered)
    second = client.post(page, {"otp_token": code})
    return firsts[0], second, first_click


def give_password(client, username="priya", password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


class TestTwoFactorSignIn:
    def test_the_password_alone_does_not_open_any_page(self, client):
        authenticator(priya())
        response = give_password(client)
        assert response.status_code == 302 and response["Location"].startswith(TWO_FACTOR)
        for page in ("/", reverse("accounts:user_list")):
            assert client.get(page)["Location"].startswith(TWO_FACTOR)

    def test_the_code_from_the_app_completes_sign_in(self, client):
        device = authenticator(priya())
        give_password(client)
        response = client.post(TWO_FACTOR, {"otp_token": current_code(device)})
        assert response.status_code == 302
        assert "You are signed in as Priya" in client.get("/").content.decode()

    def test_only_both_factors_count_as_a_sign_in(self, client):
        """The last sign-in (which the 90 days of dormancy count from) is not moved by the
        password alone: someone with only the password cannot keep an account alive."""
        user = priya()
        device = authenticator(user)
        before = timezone.now() - timedelta(days=80)
        type(user).objects.filter(pk=user.pk).update(last_login=before)
        give_password(client)
        user.refresh_from_db()
        assert user.last_login == before
        client.post(TWO_FACTOR, {"otp_token": current_code(device)})
        user.refresh_from_db()
        assert user.last_login > before

    def test_signing_in_ends_a_set_up_link_she_no_longer_needs(self, client):
        """Lee made Priya a link when she forgot her password; she remembered it and signed
        in. The link, left in her email, still let whoever found it choose her password for
        72 hours."""
        user = priya()
        device = authenticator(user)
        link = services.setup_link_create(user=user, by=None)
        give_password(client)
        client.post(TWO_FACTOR, {"otp_token": current_code(device)})
        assert "You are signed in as Priya" in client.get("/").content.decode()
        assert Client().get(urlsplit(link).path).status_code == 404

    def test_a_link_ended_by_her_sign_in_is_said_so_of_anyone(self, client):
        """Why a link ended is a label administrators may be shown, of any user: it read
        "She signed in"."""
        user = priya()
        device = authenticator(user)
        services.setup_link_create(user=user, by=None)
        give_password(client)
        client.post(TWO_FACTOR, {"otp_token": current_code(device)})
        ended = SetupLink.objects.get(user=user)
        assert ended.get_ended_because_display() == "The user signed in"

    def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(self, client):
        device = authenticator(priya())
        response = give_password(client, **{"QUERY_STRING": "next=/accounts/users/"})
        assert "next=%2Faccounts%2Fusers%2F" in response["Location"]
        reply = client.post(
            TWO_FACTOR + "?next=https://evil.example/", {"otp_token": current_code(device)}
        )
        assert reply["Location"] == "/"

    def test_a_page_opened_before_the_code_is_given_is_where_the_code_leads(self, client):
        """Lee has given his password, and opens a link to his users list: asked for his code
        first, he is then taken to that list, as when the password page was asked for it."""
        device = authenticator(lee())
        give_password(client, username="lee")
        asked = client.get(reverse("accounts:user_list"))
        assert asked["Location"].startswith(TWO_FACTOR)
        reply = client.post(asked["Location"], {"otp_token": current_code(device)})
        assert reply["Location"] == reverse("accounts:user_list")

    def test_a_wrong_code_is_refused_with_a_clear_message(self, client):
        authenticator(priya())
        give_password(client)
        response = client.post(TWO_FACTOR, {"otp_token": "000000"})
        html = response.content.decode()
        assert "The security code is not correct" in html and "govuk-error-summary" in html
        assert client.get("/")["Location"].startswith(TWO_FACTOR)

    def test_her_code_sent_twice_after_a_minute_on_the_page_signs_her_in(self, client, monkeypatch):
        """A double click on "Continue" after more than a minute on the code page: the
        second request, noting when she was last seen, saved the session the first had just
        replaced on signing her in, and Django answered 400 "Bad Request"."""
        device = authenticator(priya())
        give_password(client)
        first, second, her_browser = sent_twice_after_a_minute_on_the_page(
            client, monkeypatch, TWO_FACTOR, "SecurityCodeForm", current_code(device)
        )
        assert [first.status_code, second.status_code] == [302, 302]
        assert "You are signed in as Priya" in her_browser.get("/").content.decode()
        assert not SignInFailure.objects.exists()

    def test_the_session_key_changes_at_each_step(self, client):
        device = authenticator(priya())
        client.get(LOGIN)
        before = client.session.session_key
        give_password(client)
        after_password = client.session.session_key
        client.post(TWO_FACTOR, {"otp_token": current_code(device)})
        assert len({before, after_password, client.session.session_key}) == 3

    def test_a_backup_code_works_once(self, client):
        user = priya()
        authenticator(user)
        code = services.backup_codes_create(user=user)[0]
        give_password(client)
        assert client.post(TWO_FACTOR, {"otp_token": code.upper()}).status_code == 302
        assert StaticToken.objects.filter(token=code).count() == 0
        client.post(reverse("accounts:logout"))
        give_password(client)
        response = client.post(TWO_FACTOR, {"otp_token": code})
        assert response.status_code == 200 and "has been used" in response.content.decode()

    def test_her_last_backup_code_tells_her_how_to_get_new_ones(self, client):
        """ "You have 0 left" left her to find out, at her next sign-in without her phone,
        that nothing would let her in."""
        user = priya()
        authenticator(user)
        last = services.backup_codes_create(user=user)[0]
        StaticToken.objects.filter(device__user=user).exclude(token=last).delete()
        give_password(client)
        client.post(TWO_FACTOR, {"otp_token": last})
        page = client.get("/").content.decode()
        assert "You have used your last backup code" in page and "0 left" not in page
        assert "Get new backup codes now, from your home page" in page
        assert f'href="{reverse("accounts:backup_codes_renew")}"' in page

    def test_mistyped_app_codes_do_not_lock_her_backup_codes(self, client):
        """Each code was tried on every device, and a wrong try slows the device it was tried
        on: a month of sign-ins, each after one typo, left her backup codes refused for days
        ("not correct, or has been used") when she lost her phone."""
        user = priya()
        device = authenticator(user)
        code = services.backup_codes_create(user=user)[0]

        def a_while_later(while_: timedelta) -> None:
            for devices in (TOTPDevice.objects, StaticDevice.objects):
                devices.filter(user=user, throttling_failure_timestamp__isnull=False).update(
                    throttling_failure_timestamp=timezone.now() - while_
                )

        for _ in range(20):
            give_password(client)
            client.post(TWO_FACTOR, {"otp_token": "000000"})
            a_while_later(timedelta(minutes=1))  # she looks at her app again
            assert client.post(TWO_FACTOR, {"otp_token": current_code(device)}).status_code == 302
            client.post(reverse("accounts:logout"))
            TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # her app's next code
            a_while_later(timedelta(days=1))
        give_password(client)
        assert client.post(TWO_FACTOR, {"otp_token": code}).status_code == 302

    def test_the_right_code_just_after_a_wrong_one_asks_her_to_wait(self, client):
        """django-otp pauses her app's codes for a second after a wrong one. Her right code
        in that second was refused as "not correct" and counted towards her lockout; it is
        now not checked, not counted, and she is told to wait, after which it works."""
        user = priya()
        device = authenticator(user)
        give_password(client)
        client.post(TWO_FACTOR, {"otp_token": "000000"})
        assert SignInFailure.objects.filter(username="priya").count() == 1
        page = client.post(TWO_FACTOR, {"otp_token": current_code(device)}).content.decode()
        assert "You entered a wrong code just now. Wait 1 second, then enter the newest code" in (
            page
        )
        assert "not correct" not in page
        assert SignInFailure.objects.filter(username="priya").count() == 1
        assert AuditEvent.objects.filter(
            action=Action.TWO_FACTOR_FAILED, detail__too_soon=True
        ).exists()
        time.sleep(1.1)
        assert client.post(TWO_FACTOR, {"otp_token": current_code(device)}).status_code == 302

    @pytest.mark.parametrize(("wrong_in_a_row", "wait"), [(12, "35 minutes"), (14, "3 hours")])
    def test_a_long_pause_is_told_in_minutes_or_hours(self, client, wrong_in_a_row, wait):
        """django-otp doubles the pause with each wrong code in a row, across lockouts: after
        a dozen she was told to wait 2048 seconds, a number nobody can act on."""
        device = authenticator(priya())
        TOTPDevice.objects.filter(pk=device.pk).update(
            throttling_failure_count=wrong_in_a_row, throttling_failure_timestamp=timezone.now()
        )
        give_password(client)
        page = client.post(TWO_FACTOR, {"otp_token": current_code(device)}).content.decode()
        assert f"You entered a wrong code just now. Wait {wait}, then enter the newest code" in (
            page
        )


class TestEnrolment:
    def test_first_sign_in_shows_a_qr_code_then_ten_backup_codes_once(self, client):
        user = priya()
        response = give_password(client)
        assert response["Location"] == ENROL
        page = client.get(ENROL).content.decode()
        assert "<svg" in page and "QR code for your authenticator app" in page
        device = TOTPDevice.objects.get(user=user, confirmed=False)
        wrong = client.post(ENROL, {"otp_token": "123456"}).content.decode()
        assert "not correct" in wrong
        device.refresh_from_db()
        too_soon = client.post(ENROL, {"otp_token": current_code(device)}).content.decode()
        assert "Wait 1 second, then enter the newest code" in too_soon
        time.sleep(1.1)
        done = client.post(ENROL, {"otp_token": current_code(device)}).content.decode()
        assert "Two-factor sign-in is set up" in done
        codes = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
        assert len(codes) == 10 and all(code in done for code in codes)
        assert client.get("/").status_code == 200
        # Shown once: the enrolment page is closed now that a device is confirmed.
        assert client.get(ENROL)["Location"] == TWO_FACTOR

    def test_setting_up_two_factor_sign_in_leads_on_to_the_page_asked_for(self, client):
        """Lee, new, follows a link to his users list: once he has set up two-factor sign-in
        he is taken to that list, as he would be after giving his code."""
        user = lee()
        response = give_password(client, username="lee", QUERY_STRING="next=/accounts/users/")
        assert response["Location"] == f"{ENROL}?next=%2Faccounts%2Fusers%2F"
        client.get(response["Location"])
        device = TOTPDevice.objects.get(user=user, confirmed=False)
        done = client.post(response["Location"], {"otp_token": current_code(device)})
        assert 'href="/accounts/users/"' in done.content.decode()

    def test_the_two_factor_step_sends_her_to_set_up_with_the_page_asked_for(self, client):
        lee()
        give_password(client, username="lee")
        asked = client.get(reverse("accounts:user_list"))
        assert client.get(asked["Location"])["Location"] == f"{ENROL}?next=%2Faccounts%2Fusers%2F"

    def test_her_code_sent_twice_after_a_minute_on_the_page_sets_her_up(self, client, monkeypatch):
        """As at the two-factor step: the second request of a double click after more than a
        minute on the set-up page saved the session the first had replaced (400)."""
        user = priya()
        give_password(client)
        client.get(ENROL)
        device = TOTPDevice.objects.get(user=user, confirmed=False)
        first, second, her_browser = sent_twice_after_a_minute_on_the_page(
            client, monkeypatch, ENROL, "EnrolmentCodeForm", current_code(device)
        )
        assert "Two-factor sign-in is set up" in first.content.decode()
        assert second.status_code == 302
        assert her_browser.get("/").status_code == 200

    def test_setting_up_two_factor_sign_in_never_leads_to_another_site(self, client):
        user = priya()
        give_password(client)
        client.get(ENROL)
        device = TOTPDevice.objects.get(user=user, confirmed=False)
        done = client.post(
            f"{ENROL}?next=https://evil.example/", {"otp_token": current_code(device)}
        )
        page = done.content.decode()
        assert "Two-factor sign-in is set up" in page and "evil.example" not in page

    def test_two_devices_left_by_a_double_click_before_the_fix_still_let_her_enrol(self, client):
        """Two loads of the page at once used to make two devices being set up; the page then
        failed on every load. Her next sign-in is shown a new key, which enrols her."""
        user = priya()
        for _ in range(2):
            TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
        give_password(client)
        assert client.get(ENROL).status_code == 200
        shown = TOTPDevice.objects.get(user=user)
        done = client.post(ENROL, {"otp_token": current_code(shown)}).content.decode()
        assert "Two-factor sign-in is set up" in done
        assert list(TOTPDevice.objects.filter(user=user)) == [shown]

    def test_someone_else_with_her_password_is_not_shown_the_key_she_is_setting_up(self, client):
        """Whoever has Priya's password and signs in while she enrols must not see the key she
        is about to confirm: he would hold her second factor for good, and she would not know."""
        priya()
        give_password(client)
        hers = key_shown(client.get(ENROL))
        someone = Client()
        give_password(someone)
        assert key_shown(someone.get(ENROL)) != hers
        assert key_shown(client.get(ENROL)) != hers, "the key both were shown is gone"

    def test_a_key_another_session_was_shown_does_not_let_it_in_once_she_has_enrolled(self, client):
        user = priya()
        someone = Client()
        give_password(someone)
        someone.get(ENROL)
        his = TOTPDevice.objects.get(user=user)
        give_password(client)
        client.get(ENROL)
        hers = TOTPDevice.objects.get(user=user)
        done = client.post(ENROL, {"otp_token": current_code(hers)}).content.decode()
        assert "Two-factor sign-in is set up" in done
        give_password(someone)
        someone.post(TWO_FACTOR, {"otp_token": code_in_half_a_minute(his)})
        assert someone.get("/")["Location"].startswith(TWO_FACTOR)

    def test_an_administrators_reset_while_her_code_is_checked_is_not_undone(
        self, client, monkeypatch
    ):
        """Checking a code saves the whole device: a copy read before the reset deleted it
        came back, confirmed. (A double click on Continue undid a confirmation the same way.)"""
        user = priya()
        give_password(client)
        client.get(ENROL)
        device = TOTPDevice.objects.get(user=user)
        form = views.EnrolmentCodeForm

        def reset_meanwhile(*args, **kwargs):
            services.user_two_factor_reset(user=User.objects.get(pk=user.pk))
            return form(*args, **kwargs)

        monkeypatch.setattr(views, "EnrolmentCodeForm", reset_meanwhile)
        client.post(ENROL, {"otp_token": current_code(device)})
        assert not TOTPDevice.objects.filter(user=user).exists()

    def test_a_new_user_timed_out_while_setting_up_is_told_how_to_finish(self, client):
        """Priya, new, chooses her password through her set-up link and takes 21 minutes to
        find her phone and scan the QR code: the idle time-out signs her out. She is told to
        sign in with the password she chose and scan a new code; the set-up page then says
        the one she scanned no longer works, and the new one sets her up."""
        user = priya()
        link = urlsplit(services.setup_link_create(user=user, by=None)).path
        chosen = "a-long-and-unusual-passphrase"
        client.post(link, {"new_password1": chosen, "new_password2": chosen})
        assert "This is a new QR code" not in client.get(ENROL).content.decode()
        scanned = TOTPDevice.objects.get(user=user)
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        told = client.post(ENROL, {"otp_token": current_code(scanned)}, follow=True)
        assert told.redirect_chain[-1][0].startswith(LOGIN)
        assert (
            "did nothing for 20 minutes, to protect children&#x27;s information. Sign in again "
            "with your username and the password you chose, then finish setting up two-factor "
            "sign-in. You will be shown a new QR code: scan that one." in told.content.decode()
        )
        assert "If you chose your password with it, sign in" in client.get(link).content.decode()
        assert give_password(client, password=chosen)["Location"] == ENROL
        page = client.get(ENROL).content.decode()
        assert (
            "This is a new QR code. If you scanned a QR code for ContactPoint before, delete it "
            "from your authenticator app: its codes no longer work. Scan this one instead."
        ) in page
        shown = TOTPDevice.objects.get(user=user)
        done = client.post(ENROL, {"otp_token": current_code(shown)}).content.decode()
        assert "Two-factor sign-in is set up" in done

    def test_a_timed_out_user_who_has_set_up_is_only_asked_to_sign_in_again(self, client):
        user = priya()
        authenticator(user)
        sign_in(client, user, verified=False)
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        told = client.get(TWO_FACTOR, follow=True).content.decode()
        assert "information. Sign in again.<" in told and "QR code" not in told

    def test_an_unverified_user_cannot_see_another_qr_code_once_enrolled(self, client):
        authenticator(priya())
        give_password(client)
        assert client.get(ENROL)["Location"] == TWO_FACTOR


class TestLockout:
    def test_five_wrong_passwords_lock_the_username(self, client):
        authenticator(priya())
        for _ in range(5):
            assert (
                "Enter a correct username and password"
                in give_password(client, password="x").content.decode()
            )
        response = give_password(client)
        assert "signing in is locked" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_the_lock_names_no_account_so_unknown_usernames_lock_the_same_way(self, client):
        for _ in range(5):
            give_password(client, username="nobody", password="x")
        assert "signing in is locked" in give_password(client, username="nobody").content.decode()

    def test_many_failures_from_one_address_lock_that_address(self, client, settings):
        authenticator(priya())
        for n in range(settings.LOCKOUT_IP_FAILURES):
            give_password(client, username=f"guess{n}", password="x")
        page = give_password(client).content.decode()
        assert "signing in from it is locked for now" in page
        assert AuditEvent.objects.filter(detail__address_locked=True).exists()
        other = give_password(client.__class__(), REMOTE_ADDR="192.0.2.9")
        assert other.status_code == 302

    def test_a_locked_address_is_told_how_long_the_lock_lasts_where_it_is_set(
        self, client, settings
    ):
        """The period is a setting (LOCKOUT_MINUTES): told "30 minutes" where it is 60, she
        would try again, be refused again, and not know why."""
        settings.LOCKOUT_IP_FAILURES = 3
        settings.LOCKOUT_PERIOD = timedelta(minutes=60)
        for n in range(3):
            give_password(client, username=f"guess{n}", password="x")
        page = give_password(client).content.decode()
        assert "Try again in 1 hour." in page and "30 minutes" not in page

    def test_it_locks_an_ipv6_guesser_however_many_of_his_networks_addresses_he_uses(
        self, client, settings
    ):
        """One IPv6 connection is given a /64 network: billions of addresses to try from."""
        settings.LOCKOUT_IP_FAILURES = 3
        authenticator(priya())
        for n in range(3):
            give_password(
                client, username=f"guess{n}", password="x", REMOTE_ADDR=f"2001:db8:1:2::{n}"
            )
        page = give_password(client, REMOTE_ADDR="2001:db8:1:2:ffff::9").content.decode()
        assert "signing in from it is locked for now" in page
        elsewhere = give_password(client.__class__(), REMOTE_ADDR="2001:db8:1:3::1")
        assert elsewhere.status_code == 302

    def test_a_user_signing_in_at_her_desk_does_not_give_a_guesser_his_guesses_back(
        self, client, settings
    ):
        settings.LOCKOUT_IP_FAILURES = 3
        user = priya()
        device = authenticator(user)
        guesser = client.__class__(REMOTE_ADDR="198.51.100.7")
        for _ in range(3):
            give_password(guesser, password="Summer2026!")
        give_password(client)  # from her desk, both factors: her failures no longer count
        client.post(TWO_FACTOR, {"otp_token": current_code(device)})
        assert client.get("/").status_code == 200
        assert not SignInFailure.objects.filter(cleared_at__isnull=True).exists()
        assert (
            "signing in from it is locked"
            in give_password(guesser, username="owen").content.decode()
        )

    def test_an_office_whose_colleagues_mistyped_then_signed_in_is_not_locked_out(
        self, client, settings
    ):
        """Each colleague's sign-in takes back their own typos from the office's address."""
        settings.LOCKOUT_IP_FAILURES = 3
        for user in (priya(), owen()):
            device = authenticator(user)
            colleague = client.__class__()
            give_password(colleague, username=user.username, password="typo")
            give_password(colleague, username=user.username)
            colleague.post(TWO_FACTOR, {"otp_token": current_code(device)})
            assert colleague.get("/").status_code == 200
        authenticator(lee())
        give_password(client, username="lee", password="typo")
        assert give_password(client, username="lee").status_code == 302

    def test_wrong_codes_count_towards_the_lock(self, client):
        """Each wrong code that was checked counts; one sent in django-otp's pause after a
        wrong code is not checked (see above), so each here waits that pause out."""
        device = authenticator(priya())
        give_password(client)
        for _ in range(5):
            client.post(TWO_FACTOR, {"otp_token": "000000"})
            TOTPDevice.objects.filter(pk=device.pk).update(
                throttling_failure_timestamp=timezone.now() - timedelta(minutes=1)
            )
        assert SignInFailure.objects.filter(stage="second_factor").count() == 5
        page = client.post(TWO_FACTOR, {"otp_token": "000000"}).content.decode()
        assert "signing in is locked" in page
        assert AuditEvent.objects.filter(action=Action.TWO_FACTOR_FAILED, detail__locked=True)
        client.post(reverse("accounts:logout"))
        assert "signing in is locked" in give_password(client).content.decode()

    def test_the_lock_lifts_after_the_lockout_period(self, client, settings):
        authenticator(priya())
        for _ in range(5):
            give_password(client, password="x")
        SignInFailure.objects.update(failed_at=timezone.now() - settings.LOCKOUT_PERIOD)
        assert give_password(client).status_code == 302

    def test_an_administrator_unlocks_at_once(self, client):
        user = priya()
        authenticator(user)
        for _ in range(5):
            give_password(client, password="x")
        admin = client.__class__()
        # One who could give Priya her role: only he may unlock her.
        sign_in(admin, make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER))
        admin.post(reverse("accounts:user_action", args=[user.pk, "unlock"]))
        assert give_password(client).status_code == 302

    def test_an_unlock_ends_the_pause_after_her_wrong_codes(self, client):
        """django-otp's pause doubles with each wrong code in a row (a dozen make it over half
        an hour) and only a right code ended it: unlocked, her right code met the wait."""
        user = priya()
        device = authenticator(user)
        TOTPDevice.objects.filter(pk=device.pk).update(
            throttling_failure_count=12, throttling_failure_timestamp=timezone.now()
        )
        for _ in range(5):
            give_password(client, password="x")
        admin = client.__class__()
        sign_in(admin, make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER))
        admin.post(reverse("accounts:user_action", args=[user.pk, "unlock"]))
        give_password(client)
        assert client.post(TWO_FACTOR, {"otp_token": current_code(device)}).status_code == 302

    def test_the_lock_ignores_a_forged_forwarded_for_header(self, client, settings):
        settings.TRUSTED_PROXIES = []
        for n in range(settings.LOCKOUT_IP_FAILURES):
            give_password(
                client, username=f"g{n}", password="x", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
            )
        assert set(SignInFailure.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


class TestSessions:
    def test_twenty_idle_minutes_sign_you_out(self, client):
        sign_in(client, priya())
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        response = client.get("/", follow=True)
        assert "did nothing for 20 minutes" in response.content.decode()
        assert response.redirect_chain[-1][0].startswith(LOGIN)

    def test_signing_out_of_a_timed_out_session_then_in_again_opens_the_service(self, client):
        """Priya comes back after lunch and presses "Sign out": she is told she was signed
        out already, and signing in again must not take her back to the sign-out, a page
        only a form can send (405, "Method not allowed")."""
        user = priya()
        device = authenticator(user)
        sign_in(client, user)
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        response = client.post(reverse("accounts:logout"), follow=True)
        assert "did nothing for 20 minutes" in response.content.decode()
        give_password(client, **{"QUERY_STRING": response.request["QUERY_STRING"]})
        home = client.post(
            TWO_FACTOR + "?" + response.request["QUERY_STRING"],
            {"otp_token": current_code(device)},
            follow=True,
        )
        assert home.status_code == 200 and "You are signed in as Priya" in home.content.decode()

    def test_a_page_that_does_not_exist_ends_an_idle_session_too(self, client):
        practitioner = priya()
        sign_in(client, practitioner)
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        response = client.get("/no-such-page/", follow=True)
        assert "did nothing for 20 minutes" in response.content.decode()
        assert "_auth_user_id" not in client.session
        sign_in(client, practitioner)
        missing = client.get("/no-such-page/")
        assert missing.status_code == 404, "a current session still gets the page not found"

    def test_the_message_names_the_limits_the_service_is_set_to(self, client, settings):
        settings.SESSION_IDLE_TIMEOUT = timedelta(minutes=45)
        settings.SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=1)
        practitioner = priya()
        sign_in(client, practitioner)
        session = client.session
        session["last_seen_at"] -= 46 * 60
        session.save()
        assert "did nothing for 45 minutes" in client.get("/", follow=True).content.decode()
        sign_in(client, practitioner)
        session = client.session
        session["signed_in_at"] -= 3601
        session.save()
        assert "signed in for 1 hour." in client.get("/", follow=True).content.decode()

    def test_activity_keeps_the_session_alive(self, client):
        sign_in(client, priya())
        session = client.session
        session["last_seen_at"] -= 19 * 60
        session.save()
        assert client.get("/").status_code == 200
        assert client.get("/").status_code == 200

    def test_the_idle_time_out_counts_from_her_last_request_not_from_when_it_was_noted(
        self, client
    ):
        """Priya's activity is noted at most once a minute: the page she opens half a minute
        after it was last noted is not. 20 minutes less a second after that page she is still
        signed in (she was signed out up to a minute early); once a page is noted, her next
        request over 21 minutes after it signs her out, told of the 20 minutes."""
        sign_in(client, priya())
        session = client.session
        session["last_seen_at"] -= 30
        session.save()
        noted = client.session["last_seen_at"]
        assert client.get("/").status_code == 200
        assert client.session["last_seen_at"] == noted, "a page this soon is not noted"
        session = client.session
        for clock in ("signed_in_at", "last_seen_at"):
            session[clock] -= 20 * 60 - 1
        session.save()
        assert client.get("/").status_code == 200
        session = client.session
        assert session["last_seen_at"] > noted, "a page over a minute later is noted"
        session["last_seen_at"] -= 21 * 60 + 1
        session.save()
        assert "did nothing for 20 minutes" in client.get("/", follow=True).content.decode()

    def test_ten_hours_sign_you_out_however_busy(self, client):
        sign_in(client, priya())
        session = client.session
        session["signed_in_at"] -= 10 * 3600 + 1
        session.save()
        assert "signed in for 10 hours" in client.get("/", follow=True).content.decode()

    @pytest.mark.parametrize(
        ("clock", "back", "why", "minutes"),
        [
            ("last_seen_at", 21 * 60, "idle", 20),
            ("signed_in_at", 10 * 3600 + 1, "session_length", 600),
        ],
    )
    def test_the_sign_out_of_a_timed_out_session_says_why(self, client, clock, back, why, minutes):
        """Auditors tell a time-out from a sign-out Priya made herself, and read the time
        allowed then, whatever it is set to when they read it."""
        user = priya()
        sign_in(client, user)
        session = client.session
        session[clock] -= back
        session.save()
        client.get("/")
        event = AuditEvent.objects.latest("id")
        assert event.action == "sign_out" and event.user_id == user.pk
        assert event.detail == {"timed_out": why, "minutes": minutes}

    def test_a_session_past_both_limits_is_said_to_have_ended_by_the_first(self, client):
        """Priya signed in 11 hours ago and left her computer half an hour later: her session
        ended 20 minutes after that, by the idle time-out, not by its length 10 hours in, and
        she and her LA's auditors are told so, as the daily clean-up would have said it."""
        user = priya()
        sign_in(client, user)
        session = client.session
        session["signed_in_at"] -= 11 * 3600
        session["last_seen_at"] -= 10 * 3600 + 30 * 60
        session.save()
        page = client.get("/", follow=True).content.decode()
        assert "did nothing for 20 minutes" in page and "signed in for 10 hours" not in page
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"timed_out": "idle", "minutes": 20}

    @pytest.mark.parametrize("clock", ["last_seen_at", "signed_in_at"])
    def test_a_timed_out_session_needs_both_factors_again(self, client, clock):
        user = priya()
        device = authenticator(user)
        sign_in(client, user)
        session = client.session
        session[clock] -= 11 * 3600
        session.save()
        response = give_password(client)  # the sign-in page is open; nothing ended it there
        assert response["Location"].startswith(TWO_FACTOR)
        assert client.get("/")["Location"].startswith(TWO_FACTOR), (
            "the password alone opened a page"
        )
        client.post(TWO_FACTOR, {"otp_token": current_code(device)})
        assert client.get("/").status_code == 200

    def test_suspension_ends_every_session_of_the_user(self, client):
        user = priya()
        sign_in(client, user)
        other_browser = client.__class__()
        sign_in(other_browser, user)
        services.user_suspend(user=user)
        for browser in (client, other_browser):
            response = browser.get("/")
            # Told she is suspended and whom to contact, not to sign in again: she cannot.
            assert response.status_code == 403
            assert "Your account has been suspended" in response.content.decode()
            assert "01632 960000" in response.content.decode()
            assert browser.get("/")["Location"].startswith(LOGIN), "the session has ended"

    def test_a_suspension_found_after_a_time_out_is_not_told(self, client):
        """Whoever sits at her computer after she left it is told to sign in, as for any
        time-out, and learns nothing of her account."""
        user = priya()
        sign_in(client, user)
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        services.user_suspend(user=user)
        response = client.get("/")
        assert response["Location"].startswith(LOGIN)
        assert "suspended" not in client.get(response["Location"]).content.decode()

    @pytest.mark.parametrize(
        ("change", "why"),
        [
            ("user_suspend", {"access_ended": "suspended"}),
            ("user_two_factor_reset", {"two_factor_reset": True}),
        ],
        ids=["suspended", "two_factor_reset"],
    )
    def test_a_session_timed_out_before_her_account_changed_says_only_that_it_timed_out(
        self, client, change, why
    ):
        """Priya left her computer 21 minutes ago, then Lee suspended her or reset her two-factor
        sign-in: whoever sits there is told of the time-out, as for any, not that her account
        was changed; her LA's auditors read both reasons in her sign-out."""
        user = priya()
        sign_in(client, user)
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        getattr(services, change)(user=User.objects.get(pk=user.pk))
        response = client.get("/")
        page = client.get(response["Location"]).content.decode()
        assert "did nothing for 20 minutes" in page
        assert "account was changed" not in page
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"timed_out": "idle", "minutes": 20, **why}

    def test_a_two_factor_reset_ends_every_session_and_removes_the_devices(self, client):
        user = priya()
        sign_in(client, user)
        services.user_two_factor_reset(user=user)
        assert client.get("/")["Location"].startswith(LOGIN)
        assert not TOTPDevice.objects.filter(user=user).exists()
        assert give_password(client)["Location"] == ENROL

    def test_sign_out_ends_the_session(self, client):
        sign_in(client, priya())
        client.post(reverse("accounts:logout"))
        assert client.get("/")["Location"].startswith(LOGIN)

    @staticmethod
    def other_tab(client: Client) -> Client:
        """Another tab of her browser, sending her session."""
        tab = Client()
        tab.cookies = SimpleCookie(client.cookies.output(header="", sep=";"))
        return tab

    @staticmethod
    def sign_outs(user: User) -> list[dict]:
        events = AuditEvent.objects.filter(action=Action.SIGN_OUT, user_id=user.pk)
        return [event.detail or {} for event in events.order_by("id")]

    @pytest.mark.parametrize("other", ["page_in_another_tab", "daily_clean_up"])
    def test_a_session_ended_by_another_as_a_page_finds_it_timed_out_is_signed_out_once(
        self, client, monkeypatch, other
    ):
        """Priya's 10 hours are up as a page she opens finds it, and, as that request runs,
        a page she opens in another tab at the same moment finds it too, or the daily
        clean-up finds her session expired, and ends it first: her LA's auditors read one
        sign-out, not two."""
        user = priya()
        sign_in(client, user)
        session = client.session
        session["signed_in_at"] -= 10 * 3600 + 1
        session.save()
        tab, found = self.other_tab(client), middleware._session_problem

        def found_once_the_other_has_ended_it(*args, **kwargs):
            monkeypatch.setattr(middleware, "_session_problem", found)
            if other == "page_in_another_tab":
                assert tab.get("/")["Location"].startswith(LOGIN)
            else:
                Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
                assert "1 sign-outs recorded" in TestSessionsNobodyCameBackTo.clear_sessions()
            return found(*args, **kwargs)

        monkeypatch.setattr(middleware, "_session_problem", found_once_the_other_has_ended_it)
        response = client.get("/", follow=True)
        assert "signed in for 10 hours" in response.content.decode()
        assert self.sign_outs(user) == [{"timed_out": "session_length", "minutes": 600}]

    def test_signing_out_as_another_tab_finds_her_10_hours_up_is_one_sign_out(
        self, client, monkeypatch
    ):
        """Priya presses "Sign out" a moment before her 10 hours are up; as that request runs
        they are, and a page she opens in another tab finds it and ends her session first. Her
        LA's auditors read that time-out, not a sign-out of her own as well."""
        user = priya()
        sign_in(client, user)
        tab = self.other_tab(client)

        def when_the_other_tab_has_ended_it(request):
            stored = SessionStore(client.session.session_key)
            stored["signed_in_at"] -= 10 * 3600 + 1
            stored.save()
            assert tab.get("/")["Location"].startswith(LOGIN)
            logout(request)

        # What the sign-out page calls to end her session.
        monkeypatch.setattr(
            "django.contrib.auth.views.auth_logout", when_the_other_tab_has_ended_it
        )
        assert client.post(reverse("accounts:logout")).status_code == 302
        assert client.get("/")["Location"].startswith(LOGIN), "she is signed out"
        assert self.sign_outs(user) == [{"timed_out": "session_length", "minutes": 600}]

    def test_two_tabs_finding_her_password_chosen_anew_sign_her_out_once(self, client, monkeypatch):
        """Priya chose a new password through a link Lin gave her, which ends her other
        sessions. Two tabs of the browser she left signed in send a request at the same
        moment; each finds her session's password old. Her LA's auditors read one sign-out
        saying why, not two."""
        user = priya()
        sign_in(client, user)
        tab = self.other_tab(client)
        chosen = "a-long-and-unusual-passphrase"
        lin = make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER)
        link = services.setup_link_create(user=user, by=lin)
        Client().post(link, {"new_password1": chosen, "new_password2": chosen})
        asks = middleware.kept_if_renewed

        @contextmanager
        def once_the_other_tab_has_ended_it(session):
            # This request has read her session; the other tab's ends it before this asks.
            monkeypatch.setattr(middleware, "kept_if_renewed", asks)
            assert tab.get("/")["Location"].startswith(LOGIN)
            with asks(session):
                yield

        monkeypatch.setattr(middleware, "kept_if_renewed", once_the_other_tab_has_ended_it)
        assert client.get("/")["Location"].startswith(LOGIN)
        assert self.sign_outs(user) == [{"password_changed": True}]


class TestSessionsNobodyCameBackTo:
    """The daily ``clearsessions`` (docs/deployment.md) records the sign-out of each expired
    session a user was signed in to: one whose browser was closed, or left idle, never makes
    the request that would record it, and her LA's auditors would read a sign-in with no end."""

    @staticmethod
    def left(client: Client, *, signed_in: timedelta, last_seen: timedelta) -> str:
        """Her session as she left it, ``signed_in`` and ``last_seen`` ago, and past its
        expiry in the session table; its key."""
        session = client.session
        now = time.time()
        session["signed_in_at"] = now - signed_in.total_seconds()
        session["last_seen_at"] = now - last_seen.total_seconds()
        session.save()
        key = str(session.session_key)
        Session.objects.filter(session_key=key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
        return key

    @staticmethod
    def left_before(
        client: Client, found: datetime, *, signed_in: timedelta, last_seen: timedelta
    ) -> None:
        """Her session as the clean-up finds it at ``found``: signed in and last seen that
        long before, and expired by then."""
        session = client.session
        session["signed_in_at"] = (found - signed_in).timestamp()
        session["last_seen_at"] = (found - last_seen).timestamp()
        session.save()
        Session.objects.filter(session_key=session.session_key).update(
            expire_date=found - timedelta(seconds=1)
        )

    @staticmethod
    def clear_sessions() -> str:
        out = io.StringIO()
        call_command("clearsessions", stdout=out)
        return out.getvalue()

    def test_a_closed_browsers_session_ends_when_it_would_have_timed_out(self, client):
        """Priya's activity was last noted 30 minutes ago, and she closed her browser: her
        session ended 21 minutes after that, as the idle time-out would have ended it (20
        minutes after her last request, which may have come up to a minute after it was
        noted), and its sign-out says so, dated then."""
        user = priya()
        sign_in(client, user)
        key = self.left(client, signed_in=timedelta(hours=2), last_seen=timedelta(minutes=30))
        before = timezone.now()
        assert "1 sign-outs recorded" in self.clear_sessions()
        assert not Session.objects.filter(session_key=key).exists()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"timed_out": "idle", "minutes": 20}
        assert event.username == "priya" and event.organisation_id == user.organisation_id
        ended = before - timedelta(minutes=9)
        assert abs(event.occurred_at - ended) < timedelta(seconds=5)

    def test_a_session_ended_by_its_length_says_so(self, client, settings):
        settings.SESSION_ABSOLUTE_TIMEOUT = timedelta(minutes=40)
        user = priya()
        sign_in(client, user)
        self.left(client, signed_in=timedelta(minutes=50), last_seen=timedelta(minutes=15))
        before = timezone.now()
        self.clear_sessions()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"timed_out": "session_length", "minutes": 40}
        assert abs(event.occurred_at - (before - timedelta(minutes=10))) < timedelta(seconds=5)

    def test_a_session_whose_account_changed_before_it_ended_says_both(self, client):
        """Her two-factor sign-in was reset 15 minutes ago, before her idle session ended."""
        user = priya()
        sign_in(client, user)
        self.left(client, signed_in=timedelta(hours=2), last_seen=timedelta(minutes=30))
        services.user_two_factor_reset(user=User.objects.get(pk=user.pk))
        User.objects.filter(pk=user.pk).update(
            two_factor_reset_at=timezone.now() - timedelta(minutes=15)
        )
        self.clear_sessions()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"timed_out": "idle", "minutes": 20, "two_factor_reset": True}

    @pytest.mark.parametrize("change", ["user_two_factor_reset", "user_suspend"])
    def test_a_change_after_it_ended_is_not_said_to_have_ended_it(self, client, change):
        """Her idle session ended 10 minutes ago; her account was changed since: the change
        did not end it, and her sign-out does not say it did."""
        user = priya()
        sign_in(client, user)
        self.left(client, signed_in=timedelta(hours=2), last_seen=timedelta(minutes=30))
        getattr(services, change)(user=User.objects.get(pk=user.pk))
        self.clear_sessions()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"timed_out": "idle", "minutes": 20}

    def test_a_session_ended_by_a_new_password_chosen_before_it_timed_out_says_so(self, client):
        """Priya left her computer 30 minutes ago; 15 minutes ago, before it would have timed
        out, she chose a new password through a link Lin gave her: that ended the session,
        and its sign-out says so, dated then, as the middleware says it when she comes back."""
        user = priya()
        sign_in(client, user)
        self.left(client, signed_in=timedelta(hours=2), last_seen=timedelta(minutes=30))
        chosen = "a-long-and-unusual-passphrase"
        lin = make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER)
        link = services.setup_link_create(user=user, by=lin)
        Client().post(link, {"new_password1": chosen, "new_password2": chosen})
        chosen_at = timezone.now() - timedelta(minutes=15)
        assert SetupLink.objects.filter(user=user).update(used_at=chosen_at) == 1
        self.clear_sessions()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"password_changed": True}
        assert event.occurred_at == chosen_at
        auditor = Client()
        sign_in(auditor, ada())
        page = auditor.get(reverse("audit:user_activity", args=[user.pk])).content.decode()
        assert "Signed out: password changed" in page and "idle for" not in page

    @pytest.mark.parametrize(
        ("last_seen", "why"),
        [
            (timedelta(minutes=30), {"timed_out": "idle", "minutes": 20}),
            (timedelta(minutes=5), {"password_changed": True}),
        ],
        ids=["after_its_time_out", "before_its_time_out"],
    )
    def test_a_new_password_chosen_on_her_page_is_said_to_end_it_only_if_it_did(
        self, client, last_seen, why
    ):
        """Priya left her first browser ``last_seen`` ago and has just changed her password
        on her account page in a second: a session idle for 30 minutes had timed out 10
        minutes before, and the change did not end it; one idle for 5 (expired, though its
        time-out had not come) ended when she changed it, and its sign-out is dated then."""
        user = priya()
        sign_in(client, user)
        self.left(client, signed_in=timedelta(hours=2), last_seen=last_seen)
        elsewhere = Client()
        sign_in(elsewhere, user)
        chosen = "a-long-and-unusual-passphrase"
        elsewhere.post(
            reverse("accounts:password_change"),
            {"current_password": PASSWORD, "new_password1": chosen, "new_password2": chosen},
        )
        changed = AuditEvent.objects.get(action=Action.PASSWORD_CHANGED, user_id=user.pk)
        self.clear_sessions()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == why
        assert (event.occurred_at == changed.occurred_at) == ("password_changed" in why)

    @pytest.mark.parametrize(
        ("last_seen", "why"),
        [
            (timedelta(minutes=30), {"timed_out": "idle", "minutes": 20}),
            (timedelta(minutes=5), {"account_deleted": True}),
        ],
        ids=["after_its_time_out", "before_its_time_out"],
    )
    def test_a_deleted_users_session_is_signed_out_as_she_was_recorded(
        self, client, last_seen, why
    ):
        """Priya left her computer ``last_seen`` ago, and her account has just been deleted:
        after her session timed out (30 minutes idle), or before (5; expired, though its
        time-out had not come), which ended it then. Her LA's auditors still read the end of
        the sign-in they saw, and why, under the name, roles and organisation her sign-in
        recorded."""
        user = priya()
        sign_in(client, user)
        assert client.get("/").status_code == 200  # an event of hers, naming her
        self.left(client, signed_in=timedelta(hours=2), last_seen=last_seen)
        User.objects.get(pk=user.pk).delete()
        deleted_at = LogEntry.objects.get(
            object_pk=str(user.pk), action=LogEntry.Action.DELETE
        ).timestamp
        assert "1 sign-outs recorded" in self.clear_sessions()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == why
        assert (event.username, event.roles, event.organisation_id) == (
            "priya",
            list(user.roles),
            user.organisation_id,
        )
        timed_out = timezone.now() - timedelta(minutes=9)
        ends = deleted_at if "account_deleted" in why else timed_out
        assert abs(event.occurred_at - ends) < timedelta(seconds=5)

    def test_a_session_with_no_sign_in_time_is_signed_out_when_its_session_expired(self, client):
        """A session signed in with no sign-in time kept (before it was kept) cannot say when
        it timed out: its sign-out is dated when its session expired, the latest it can have
        ended, and says so."""
        user = priya()
        sign_in(client, user)
        session = client.session
        del session["signed_in_at"]
        session.save()
        expired = timezone.now() - timedelta(minutes=5)
        Session.objects.update(expire_date=expired)
        assert "1 sign-outs recorded" in self.clear_sessions()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"sign_in_unrecorded": True} and event.occurred_at == expired
        auditor = Client()
        sign_in(auditor, ada())
        page = auditor.get(reverse("audit:user_activity", args=[user.pk])).content.decode()
        assert "Signed out: no sign-in time recorded, dated when its session expired" in page

    def test_one_with_no_sign_in_time_that_comes_back_is_named_as_the_clean_up_names_it(
        self, client
    ):
        """The same session, with no sign-in time kept, brought back by its browser rather
        than found by the clean-up: the request called it a 10-hour time-out, which nothing
        showed; both now say that it kept no sign-in time (``session_time_out``). Dated by
        its request, its auditors' row does not say it was dated when its session expired."""
        user = priya()
        sign_in(client, user)
        session = client.session
        del session["signed_in_at"]
        session.save()
        page = client.get("/", follow=True).content.decode()
        assert "You have been signed out, to protect children&#x27;s information." in page
        assert "signed in for" not in page and "did nothing for" not in page
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.detail == {"sign_in_unrecorded": True} and event.path == "/"
        auditor = Client()
        sign_in(auditor, ada())
        rows = auditor.get(reverse("audit:user_activity", args=[user.pk])).content.decode()
        assert "Signed out: no sign-in time recorded<" in rows
        assert "dated when its session expired" not in rows

    def test_one_that_ended_in_a_day_that_may_be_sealed_is_recorded_now_saying_when(self, client):
        """A sealed day gains no event (audit_verify would find it inserted): one that ended
        two days ago is dated when it was found, and says when it ended."""
        user = priya()
        sign_in(client, user)
        self.left(client, signed_in=timedelta(days=2, hours=1), last_seen=timedelta(days=2))
        before = timezone.now()
        self.clear_sessions()
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert event.occurred_at >= before
        ended = datetime.fromisoformat(event.detail.pop("ended_at"))
        assert abs(ended - (before - timedelta(days=2) + timedelta(minutes=21))) < timedelta(
            seconds=5
        )
        assert event.detail == {"timed_out": "idle", "minutes": 20}
        auditor = Client()
        sign_in(auditor, ada())
        page = auditor.get(reverse("audit:user_activity", args=[user.pk])).content.decode()
        shown = moment_said(ended, seconds=True)
        assert (
            f"Signed out: idle for 20 minutes, ended {shown}, recorded when its session was cleared"
        ) in page

    def test_one_that_ended_yesterday_is_not_dated_then_within_the_hour_before_sealing(
        self, client
    ):
        """At 00:45 UTC the sealing job (from 01:00) may seal yesterday while the clean-up's
        transaction is still open: a session that ended at 23:50 is dated when it was found,
        not in the day about to be sealed."""
        found = datetime.combine(timezone.now().astimezone(UTC).date(), time_of_day(0, 45), UTC)
        user = priya()
        sign_in(client, user)
        self.left_before(
            client, found, signed_in=timedelta(hours=2), last_seen=timedelta(minutes=76)
        )
        assert services.sessions_expired_clear(now=found) == 1
        event = AuditEvent.objects.get(action=Action.SIGN_OUT, user_id=user.pk)
        assert found <= event.occurred_at < found + timedelta(seconds=5)
        assert (event.detail or {})["ended_at"] == (found - timedelta(minutes=55)).isoformat()

    def test_a_clean_up_still_running_when_yesterday_is_sealed_dates_nothing_in_it(
        self, client, monkeypatch
    ):
        """The clean-up starts at 00:20 UTC and is still going at 01:05, when the sealing job
        seals yesterday: a session that ended at 23:50, found after that, is dated when it was
        found, not in the sealed day, and audit_verify finds nothing inserted there."""
        started = datetime.combine(timezone.now().astimezone(UTC).date(), time_of_day(0, 20), UTC)
        for user in (priya(), owen()):
            browser = Client()
            sign_in(browser, user)
            self.left_before(
                browser, started, signed_in=timedelta(hours=2), last_seen=timedelta(minutes=51)
            )
        # The clock stands still but for the 45 minutes the first sign-out takes.
        clock = [timezone.now()]
        monkeypatch.setattr(timezone, "now", lambda: clock[-1])
        recorded = services.record_event

        def then_the_sealing_job_runs(*args, **kwargs):
            recorded(*args, **kwargs)
            if len(clock) == 1:
                clock.append(clock[0] + timedelta(minutes=45))
                seal_closed_days(now=started + timedelta(minutes=45))

        monkeypatch.setattr(services, "record_event", then_the_sealing_job_runs)
        assert services.sessions_expired_clear(now=started) == 2
        first, second = AuditEvent.objects.filter(action=Action.SIGN_OUT).order_by("id")
        assert first.occurred_at == started - timedelta(minutes=30)
        assert second.occurred_at == started + timedelta(minutes=45)
        assert (second.detail or {})["ended_at"] == (started - timedelta(minutes=30)).isoformat()
        assert verify().ok

    def test_a_session_nobody_signed_in_to_goes_without_an_event(self, client):
        client.get(LOGIN)
        session = client.session
        session["anything"] = True
        session.save()
        Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
        assert "0 sign-outs recorded" in self.clear_sessions()
        assert not Session.objects.exists()
        assert not AuditEvent.objects.filter(action=Action.SIGN_OUT).exists()

    def test_a_session_not_yet_expired_is_left_alone(self, client):
        user = priya()
        sign_in(client, user)
        self.clear_sessions()
        assert client.get("/").status_code == 200
        assert not AuditEvent.objects.filter(action=Action.SIGN_OUT).exists()

    def test_a_session_ended_at_its_next_request_is_recorded_once(self, client):
        """Priya came back after her time-out: the middleware recorded her sign-out, and
        the job finds no session of hers to record again."""
        user = priya()
        sign_in(client, user)
        self.left(client, signed_in=timedelta(hours=2), last_seen=timedelta(minutes=30))
        Session.objects.update(expire_date=timezone.now() + timedelta(hours=1))
        client.get("/")
        Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
        self.clear_sessions()
        assert AuditEvent.objects.filter(action=Action.SIGN_OUT, user_id=user.pk).count() == 1


class TestAccessEnds:
    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (
                {"vetting_checked_on": timezone.localdate() - timedelta(days=3 * 366)},
                "vetting check has expired",
            ),
            ({"vetting_checked_on": None}, "vetting check has expired or has not been recorded"),
            ({"training_completed_on": None}, "training has expired or has not been recorded"),
            ({"last_login": timezone.now() - timedelta(days=91)}, "not signed in for 90 days"),
            ({"suspended_at": timezone.now()}, "suspended"),
        ],
    )
    def test_access_ends_with_a_message_saying_whom_to_contact(self, client, change, message):
        user = priya()
        sign_in(client, user)
        for field, value in change.items():
            setattr(user, field, value)
        user.save()
        response = client.get("/")
        html = response.content.decode()
        assert response.status_code == 403
        assert message in html
        assert "01632 960000" in html and "contactpoint@northshire.example.org" in html
        assert client.get("/")["Location"].startswith(LOGIN), "the session has ended"

    def test_the_sign_out_of_a_session_whose_access_ended_says_why(self, client):
        """Her vetting lapsed as she worked: auditors read why she was signed out, not a
        sign-out like any other, as they read why a password was refused."""
        user = priya()
        sign_in(client, user)
        user.vetting_checked_on = None
        user.save()
        client.get("/")
        event = AuditEvent.objects.latest("id")
        assert event.action == "sign_out" and event.user_id == user.pk
        assert (event.detail or {}).get("access_ended") == "vetting"

    @pytest.mark.parametrize(
        ("changes", "why"),
        [
            (["user_suspend"], {"access_ended": "suspended"}),
            (["user_two_factor_reset"], {"two_factor_reset": True}),
            (
                ["user_suspend", "user_reactivate"],
                {"access_ended": "suspended", "reactivated": True},
            ),
        ],
        ids=["suspended", "two_factor_reset", "suspension_lifted"],
    )
    def test_the_sign_out_of_a_session_ended_by_an_administrator_says_why(
        self, client, changes, why
    ):
        """Lee suspends Priya (and perhaps reactivates her before her next click) or resets her
        two-factor sign-in while she works: auditors read why her session ended."""
        user = priya()
        sign_in(client, user)
        for change in changes:
            getattr(services, change)(user=User.objects.get(pk=user.pk))
        client.get("/")
        event = AuditEvent.objects.latest("id")
        assert event.action == "sign_out" and event.user_id == user.pk
        assert event.detail == why

    def test_the_reason_is_only_shown_after_the_right_password(self, client):
        user = priya()
        user.suspended_at = timezone.now()
        user.save()
        assert "suspended" not in give_password(client, password="wrong").content.decode()
        assert "suspended" in give_password(client).content.decode()

    def test_vetting_is_valid_for_exactly_three_years(self):
        user = priya()
        user.vetting_checked_on = timezone.localdate().replace(year=timezone.localdate().year - 3)
        assert user.access_problem(timezone.now()) == "vetting"
        user.vetting_checked_on += timedelta(days=1)
        assert user.access_problem(timezone.now()) is None

    @pytest.mark.parametrize(
        ("moment", "problem"),
        [
            (datetime(2026, 5, 31, 22, 30, tzinfo=UTC), None),  # 23:30 BST on 31 May
            (datetime(2026, 5, 31, 23, 30, tzinfo=UTC), "vetting"),  # 00:30 BST on 1 June
        ],
    )
    def test_vetting_ends_at_midnight_in_england_not_at_midnight_utc(self, moment, problem):
        """Checked on 1 June 2023, her vetting is valid until 1 June 2026 begins in England:
        in summer time that is an hour before it begins in UTC."""
        user = priya()
        user.vetting_checked_on = date(2023, 6, 1)
        assert user.access_problem(moment) == problem
