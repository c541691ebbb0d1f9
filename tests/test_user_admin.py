"""LA administrators manage their own organisation's users; national administrators, everyone."""

import json
import re
from datetime import date, timedelta
from html import unescape
from types import SimpleNamespace

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services, views
from accounts.lockout import sign_in_failure_record
from accounts.models import Organisation, SetupLink, User
from accounts.permissions import grantable_roles
from accounts.roles import Role
from audit.models import AuditEvent
from directory.models import Involvement, Source
from tests.commands import run_manage
from tests.personas import (
    CONFIRM,
    PASSWORD,
    authenticator,
    current_code,
    lee,
    make_child,
    make_user,
    nina,
    northshire,
    operator,
    priya,
    sam,
    shield,
    sign_in,
    southshire,
    xavier,
)

pytestmark = pytest.mark.django_db

USERS = reverse("accounts:user_list")
NEW_USER = reverse("accounts:user_create")


def assert_told_suspended_and_signed_out(browser: Client) -> None:
    """Her next page says she is suspended, and whom to contact; the one after asks her to
    sign in: her session has ended."""
    response = browser.get("/")
    assert response.status_code == 403
    assert "Your account has been suspended" in response.content.decode()
    assert browser.get("/")["Location"].startswith(reverse("accounts:login"))


def new_user_form(**overrides):
    data = {
        "username": "tom.baker",
        "first_name": "Tom",
        "last_name": "Baker",
        "email": "tom.baker@northshire.example.org",
        "job_title": "School nurse",
        "organisation": "",
        "roles": ["la_administrator"],
        "vetting_checked_on_0": "3",
        "vetting_checked_on_1": "2",
        "vetting_checked_on_2": "2026",
        "training_completed_on_0": "",
        "training_completed_on_1": "",
        "training_completed_on_2": "",
    }
    data.update(overrides)
    return data


def dates_as_recorded():
    """The vetting and training dates personas are made with, as the user form sends them:
    a form about an administrator's own account that leaves his checks as they are."""
    return {
        "vetting_checked_on_0": "5",
        "vetting_checked_on_1": "1",
        "vetting_checked_on_2": "2026",
        "training_completed_on_0": "1",
        "training_completed_on_1": "2",
        "training_completed_on_2": "2026",
    }


@pytest.fixture
def lee_client(client):
    admin = lee()
    sign_in(client, admin)
    client.admin = admin
    return client


@pytest.fixture
def lee_gives_practitioner(lee_client):
    """Lee holding the practitioner role too: he could give Priya hers, so he may change her
    details and checks, reactivate and unlock her (accounts.permissions.may_act_on)."""
    lee_client.admin.roles = [Role.PRACTITIONER.value, Role.LA_ADMINISTRATOR.value]
    lee_client.admin.save(update_fields=["roles"])
    return lee_client


def assert_link_does_not_work(link: str, user: User) -> None:
    """Neither its page nor a password sent to it: hers is not changed."""
    chosen = "a-long-and-unusual-passphrase"
    browser = Client()
    assert browser.get(link).status_code == 404
    browser.post(link, {"new_password1": chosen, "new_password2": chosen})
    user.refresh_from_db()
    assert not user.check_password(chosen)


def setup_path(html: str) -> str:
    match = re.search(r"/accounts/set-up/[\w-]+/", html)
    assert match, "the page shows a set-up link"
    return match.group(0)


def locked_out(username: str) -> None:
    """Enough failed sign-ins, just now, to lock the username out."""
    for _ in range(settings.LOCKOUT_USERNAME_FAILURES):
        sign_in_failure_record(username=username, ip_address="192.0.2.7", stage="password")


def action(client, user, name):
    """The action, confirmed where the page asks first (suspending, resetting two-factor)."""
    return client.post(reverse("accounts:user_action", args=[user.pk, name]), CONFIRM)


class TestListingUsers:
    def test_lee_sees_only_northshire_users(self, lee_client):
        priya()
        xavier()
        html = lee_client.get(USERS).content.decode()
        assert "priya" in html and "xavier" not in html

    def test_lee_searches_by_name(self, lee_client):
        priya()
        make_user("tom", Role.PRACTITIONER)
        html = lee_client.get(USERS, {"q": "pri"}).content.decode()
        assert "priya" in html and ">tom<" not in html
        searched = AuditEvent.objects.filter(path=USERS).latest("id")
        assert searched.search_criteria == {"query": "users", "q": "pri"}

    def test_a_list_too_long_to_show_says_so(self, lee_client):
        """A large LA has more users than the page lists: Lee is told how many there are and
        to search, not shown a count of those listed as if they were all."""
        shown = views.USERS_SHOWN
        User.objects.bulk_create(
            User(username=f"user{number:04d}", organisation=northshire(), last_name="Young")
            for number in range(shown + 10)
        )
        html = lee_client.get(USERS).content.decode()
        total = shown + 11  # and Lee himself
        assert f"{shown} of {total} users" in html
        assert "Search by name, username or email to find the others" in html
        assert f">{shown} users<" not in html

    def test_users_whose_access_ended_with_children_to_hand_over_are_flagged(self, lee_client):
        """Suspended, lapsed or dormant, a practitioner still stands on her children's
        records: the list marks her, so that Lee finds whose involvements need handing over.
        Not one whose access goes on, nor one with nothing current to hand over. One query
        for the lot, however many users are listed."""
        flag = "Involvements need handing over"
        suspended = make_user("una", Role.PRACTITIONER)
        suspended.suspended_at = timezone.now()
        lapsed = make_user("vic", Role.PRACTITIONER)
        lapsed.vetting_checked_on = date(2020, 1, 5)
        dormant = make_user("wyn", Role.PRACTITIONER)
        dormant.last_login = timezone.now() - timedelta(days=120)
        for user in (suspended, lapsed, dormant):
            user.save()
        active = make_user("zoe", Role.PRACTITIONER)
        all_ended = make_user("yan", Role.PRACTITIONER)
        all_ended.suspended_at = timezone.now()
        all_ended.save()
        involved(suspended, make_child(), lead_professional=True)
        involved(lapsed, make_child(given_name="Esme"))
        through_sensitive_service(dormant, make_child(given_name="Ivy"))  # counted all the same
        involved(active, make_child(given_name="Ruby"))
        involved(all_ended, make_child(given_name="Nell"), ended_on=date(2025, 6, 1))
        archived = make_child(given_name="Ada", status="archived", archived_on=date(2026, 1, 1))
        involved(all_ended, archived)

        def flagged() -> tuple[set[str], int]:
            with CaptureQueriesContext(connection) as queries:
                html = lee_client.get(USERS).content.decode()
            rows = html.split('<tr class="govuk-table__row">')[2:]
            found = {
                re.search(r'<td class="govuk-table__cell">([a-z0-9.]+)</td>', row).group(1)
                for row in rows
                if flag in row
            }
            return found, len(queries)

        found, queries = flagged()
        assert found == {"una", "vic", "wyn"}
        for number in range(5):  # more users whose access ended, and children to hand over
            more = make_user(f"more{number}", Role.PRACTITIONER)
            more.suspended_at = timezone.now()
            more.save()
            involved(more, make_child(given_name=f"Child{number}"))
        found, more_queries = flagged()
        assert found == {"una", "vic", "wyn"} | {f"more{number}" for number in range(5)}
        assert more_queries == queries, "no query per user listed"

    def test_another_las_user_does_not_exist_for_lee(self, lee_client):
        outsider = xavier()
        for url in (
            reverse("accounts:user_detail", args=[outsider.pk]),
            reverse("accounts:user_edit", args=[outsider.pk]),
        ):
            assert lee_client.get(url).status_code == 404
        assert action(lee_client, outsider, "suspend").status_code == 404
        outsider.refresh_from_db()
        assert outsider.suspended_at is None

    def test_nina_sees_every_organisations_users(self, client):
        sign_in(client, nina())
        priya()
        xavier()
        html = client.get(USERS).content.decode()
        assert "priya" in html and "xavier" in html

    def test_the_detail_page_shows_last_sign_in_and_dates(self, lee_client):
        user = priya()
        user.last_login = timezone.now().replace(year=2026, month=11, day=2, hour=9, minute=30)
        user.save()
        html = lee_client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
        assert "2 November 2026" in html
        assert "5 January 2029" in html, "vetting valid for 3 years from 5 January 2026"

    def test_the_event_of_a_users_page_or_form_names_her(self, lee_gives_practitioner):
        """Her page and her details form show her email, phone, checks and last sign-in: an
        auditor reading Lee's events must see whose, as he does for an action on her."""
        user = priya()
        for name in ("accounts:user_detail", "accounts:user_edit"):
            url = reverse(name, args=[user.pk])
            assert lee_gives_practitioner.get(url).status_code == 200
            shown = AuditEvent.objects.filter(path=url).get()
            assert shown.detail == {"user_id": user.pk, "username": "priya"}, name

    def test_the_event_of_the_list_names_the_users_it_shows(self, lee_client):
        """Names, roles and last sign-ins: an auditor reading Lee's events must see whose,
        with or without a search."""
        user, other = priya(), User.objects.get(username="lee")
        for query in ("", "?q=priya"):
            url = reverse("accounts:user_list") + query
            assert lee_client.get(url).status_code == 200
            shown = AuditEvent.objects.filter(path=reverse("accounts:user_list")).latest("id")
            listed = set((shown.detail or {}).get("users_listed", []))
            assert user.pk in listed and (other.pk in listed) is (query == ""), query

    def test_a_check_never_recorded_is_not_called_expired(self, lee_client):
        """Tom, just added, has no vetting date and Una no training date: "Vetting expired"
        sent Lee looking for a check that had run out, not for one still to be done."""
        lapsed = timezone.localdate() - timedelta(days=3 * 366)
        for username, fields in (
            ("tom", {"vetting_checked_on": None}),
            ("una", {"training_completed_on": None}),
            ("vic", {"vetting_checked_on": lapsed}),
            ("wes", {"training_completed_on": lapsed}),
        ):
            User.objects.filter(pk=make_user(username, Role.PRACTITIONER).pk).update(**fields)
        html = lee_client.get(USERS).content.decode()
        rows = {
            name: html.split(f">{name}<", 1)[1].split("</tr>", 1)[0]
            for name in "tom una vic wes".split()
        }
        status = {
            name: re.sub(r"<[^>]+>", "", row.rsplit("<td", 1)[1].split(">", 1)[1]).strip()
            for name, row in rows.items()
        }
        assert status == {
            "tom": "Vetting not recorded",
            "una": "Training not recorded",
            "vic": "Vetting expired",
            "wes": "Training expired",
        }

    def test_the_detail_page_says_access_ends_on_the_day_a_check_runs_out(self, lee_client):
        """Vetting checked on 5 January 2026 lets her in up to 4 January 2029: on 5 January
        she is turned away, so that day is not shown as one she is "valid until"."""
        user = priya()
        html = lee_client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
        assert "runs out on 5 January 2029" in html and "runs out on 1 February 2029" in html
        assert "valid until" not in html


class TestCreatingUsers:
    def test_lee_creates_a_user_who_finishes_with_a_one_time_link(self, lee_client, client):
        trained = {"training_completed_on_0": "2", "training_completed_on_1": "3",
                   "training_completed_on_2": "2026"}  # fmt: skip
        response = lee_client.post(NEW_USER, new_user_form(**trained))
        html = response.content.decode()
        assert "User added" in html
        path = setup_path(html)
        assert f"http://127.0.0.1:8000{path}" in html
        created = User.objects.get(username="tom.baker")
        assert created.organisation == northshire()
        assert not created.has_usable_password()
        newcomer = client.__class__()
        page = newcomer.get(path).content.decode()
        assert "Your username is <strong>tom.baker</strong>" in page
        short = newcomer.post(path, {"new_password1": "short", "new_password2": "short"})
        assert "Your password must be 12 characters or more" in short.content.decode()
        # Longer than sign-in takes: it could never be used.
        huge = "a-long-and-unusual-passphrase" * 40
        too_long = newcomer.post(path, {"new_password1": huge, "new_password2": huge})
        assert "Your password must be 1024 characters or fewer" in too_long.content.decode()
        chosen = "a-long-and-unusual-passphrase"
        response = newcomer.post(path, {"new_password1": chosen, "new_password2": chosen})
        assert response["Location"] == reverse("accounts:enrol")
        created.refresh_from_db()
        assert created.check_password(chosen)
        # The link works once.
        assert client.__class__().get(path).status_code == 404

    def test_a_newcomer_not_yet_trained_chooses_a_password_but_is_not_let_in(self, lee_client):
        """Tom's training is not recorded yet: his password stands for when it is, but he is
        told why he cannot use ContactPoint, and the log does not say he signed in."""
        html = lee_client.post(NEW_USER, new_user_form()).content.decode()
        chosen, tom = "a-long-and-unusual-passphrase", Client()
        response = tom.post(setup_path(html), {"new_password1": chosen, "new_password2": chosen})
        assert response.status_code == 403
        page = response.content.decode()
        assert "Your ContactPoint training has expired or has not been recorded" in page
        assert "Your password has been saved" in page
        created = User.objects.get(username="tom.baker")
        assert created.check_password(chosen)
        assert not AuditEvent.objects.filter(action="sign_in", user_id=created.pk).exists()
        failed = AuditEvent.objects.get(action="sign_in_failed", user_id=created.pk)
        assert failed.detail == {"set_up_link": True, "access_ended": "training"}
        assert tom.get(reverse("accounts:enrol")).status_code == 302  # not signed in

    def test_a_newcomer_not_let_in_is_the_event_though_someone_was_signed_in_there(
        self, lee_client
    ):
        """Tom opens his link on a computer Priya is still signed in on: the event is his
        refused sign-in, not a sign-out of hers."""
        path = setup_path(lee_client.post(NEW_USER, new_user_form()).content.decode())
        browser, chosen = Client(), "a-long-and-unusual-passphrase"
        sign_in(browser, priya())
        browser.post(path, {"new_password1": chosen, "new_password2": chosen})
        tom = User.objects.get(username="tom.baker")
        event = AuditEvent.objects.filter(path__startswith="/accounts/set-up/").get(
            action="sign_in_failed"
        )
        assert event.user_id == tom.pk
        assert browser.get("/").status_code == 302, "nobody is left signed in there"

    def test_a_newcomer_signing_in_where_someone_was_signed_in_ends_her_session_on_her_log(
        self, lee_client
    ):
        """Tom, trained, opens his link on a computer Priya is still signed in on: her session
        ends, and her LA's auditors see that his sign-in ended it."""
        trained = {"training_completed_on_0": "2", "training_completed_on_1": "3",
                   "training_completed_on_2": "2026"}  # fmt: skip
        path = setup_path(lee_client.post(NEW_USER, new_user_form(**trained)).content.decode())
        browser, chosen, left = Client(), "a-long-and-unusual-passphrase", priya()
        sign_in(browser, left)
        browser.post(path, {"new_password1": chosen, "new_password2": chosen})
        tom = User.objects.get(username="tom.baker")
        ended = AuditEvent.objects.get(action="session_replaced")
        assert (ended.user_id, ended.path) == (left.pk, "/accounts/set-up/[token]/")
        assert ended.detail == {"sign_in_user_id": tom.pk, "sign_in_username": "tom.baker"}
        assert AuditEvent.objects.get(action="sign_in").user_id == tom.pk

    def test_a_suspended_user_is_given_no_set_up_link(self, lee_client):
        """A link is a way in: its holder would choose the password she is let in with once
        reactivated. Lee is told to reactivate her first."""
        user = make_user("lara", Role.LA_ADMINISTRATOR)
        action(lee_client, user, "suspend")
        page = lee_client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
        assert "Reactivate" in page and "set-up link" not in page and "new password" not in page
        response = lee_client.post(
            reverse("accounts:user_action", args=[user.pk, "setup-link"]), follow=True
        )
        assert "is suspended. Reactivate them first, then give them a link." in (
            response.content.decode()
        )
        assert not SetupLink.objects.filter(user=user).exists()

    def test_a_set_up_link_expires_after_72_hours(self, lee_client):
        html = lee_client.post(NEW_USER, new_user_form()).content.decode()
        path = setup_path(html)
        SetupLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        response = lee_client.__class__().get(path)
        assert response.status_code == 404
        assert "has expired, has already been used" in response.content.decode()

    def test_only_a_hash_of_the_link_is_stored(self, lee_client):
        html = lee_client.post(NEW_USER, new_user_form()).content.decode()
        token = setup_path(html).split("/")[-2]
        assert not SetupLink.objects.filter(token_hash=token).exists()
        assert SetupLink.objects.filter(token_hash=SetupLink.hash_token(token)).exists()

    def test_it_keeps_a_set_up_links_token_out_of_the_access_log_and_gunicorns_log(
        self, lee_client
    ):
        """The token is the account's password until it is used: an auditor reading the access
        events, or anyone reading gunicorn's log, must not be able to set the account up."""
        from gunicorn.config import Config  # type: ignore[import-untyped]

        from contactpoint.gunicorn_logging import AccessLogger

        path = setup_path(lee_client.post(NEW_USER, new_user_form()).content.decode())
        token = path.split("/")[-2]
        assert lee_client.__class__().get(path).status_code == 200  # opened, not yet used
        opened = AuditEvent.objects.filter(path__startswith="/accounts/set-up/").get()
        assert token not in opened.path
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "RAW_URI": path,
                   "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": ""}  # fmt: skip
        response = SimpleNamespace(status="200 OK", headers=[], sent=100)
        atoms = AccessLogger(Config()).atoms(response, [], environ, timedelta(milliseconds=5))
        assert atoms["U"] == "/accounts/set-up/[token]/"
        assert token not in str(atoms)
        # The set-up page's own style sheet is asked for with the page as its referrer.
        referred = {**environ, "PATH_INFO": "/static/app.css", "RAW_URI": "/static/app.css",
                    "HTTP_REFERER": f"https://contactpoint.example{path}"}  # fmt: skip
        headers = [("Referer", referred["HTTP_REFERER"])]
        atoms = AccessLogger(Config()).atoms(response, headers, referred, timedelta(seconds=0))
        assert atoms["f"] == "https://contactpoint.example/accounts/set-up/[token]/"
        assert token not in str(atoms)

    def test_opening_a_set_up_link_is_an_event_of_the_account_it_is_for(self, lee_client):
        """Northshire's auditors see each visit to Tom's link, the one that sets his
        password and those after it that it refuses: a link opened from an unexpected place,
        or tried again once used, is theirs to notice."""
        path = setup_path(lee_client.post(NEW_USER, new_user_form()).content.decode())
        tom, chosen = User.objects.get(username="tom.baker"), "a-long-and-unusual-passphrase"
        newcomer = Client()
        newcomer.get(path)
        newcomer.post(path, {"new_password1": "short", "new_password2": "short"})
        newcomer.post(path, {"new_password1": chosen, "new_password2": chosen})
        Client().get(path)  # used: refused
        opened = AuditEvent.objects.filter(path__startswith="/accounts/set-up/").order_by("id")
        assert [(event.user_id, event.organisation_id) for event in opened] == [
            (tom.pk, northshire().pk)
        ] * 4
        assert opened.last().detail == {"set_up_link": True, "refused": True}

    def test_lee_cannot_give_a_role_he_does_not_hold(self, lee_client):
        response = lee_client.post(NEW_USER, new_user_form(roles=["practitioner"]))
        assert "Select only roles you are allowed to give" in response.content.decode()
        assert not User.objects.filter(username="tom.baker").exists()

    def test_nobody_but_nina_gives_a_national_role(self, lee_client):
        lee_client.admin.roles.append(Role.NATIONAL_ADMINISTRATOR)  # not grantable even if held
        assert "national_administrator" not in lee_client.get(NEW_USER).content.decode()
        response = lee_client.post(NEW_USER, new_user_form(roles=["national_administrator"]))
        assert "Select only roles you are allowed to give" in response.content.decode()

    def test_lee_cannot_place_a_user_in_another_organisation(self, lee_client):
        assert 'name="organisation"' not in lee_client.get(NEW_USER).content.decode()
        lee_client.post(NEW_USER, new_user_form(organisation=str(southshire().pk)))
        assert User.objects.get(username="tom.baker").organisation == northshire()

    def test_nina_creates_a_practitioner_in_any_local_authority(self, client):
        sign_in(client, nina())
        form = new_user_form(organisation=str(southshire().pk), roles=["practitioner"])
        assert "User added" in client.post(NEW_USER, form).content.decode()
        assert User.objects.get(username="tom.baker").organisation == southshire()

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("username", "", "Enter a username"),
            ("username", "Tom Baker", "Username must be lower-case letters"),
            ("username", "lee", "That username is already taken"),
            ("email", "not-an-email", "Enter an email address in the correct format"),
            ("vetting_checked_on_1", "13", "must be a real date"),
            ("vetting_checked_on_0", "2200000000", "must be a real date"),
            ("vetting_checked_on_0", "²", "must be a real date"),
            ("vetting_checked_on_2", "", "must include a year"),
            ("vetting_checked_on_2", "2099", "must be today or in the past"),
            ("first_name", "\u200b\u2066", "Enter a first name"),
            ("last_name", "B" * 151, "Last name must be 150 characters or fewer"),
            ("email", "a" * 250 + "@example.org", "Email address must be 254 characters or fewer"),
            ("job_title", "Nurse\x00", "Job title must not contain a null character"),
            ("roles", ["wizard"], "Select only roles you are allowed to give"),
            ("home_postcode", "XYZ 123", "Enter a real postcode, like NE1 4ST"),
            # Shown as "Telephone:" on the records of the children they work with.
            ("phone", "ask at reception", "Enter a work phone number, like 01632 960 001"),
            ("phone", "960123", "Enter a work phone number, like 01632 960 001"),
            ("phone", "01632 960 0012", "Enter a work phone number, like 01632 960 001"),
            ("phone", "7700 900982", "Enter a work phone number, like 01632 960 001"),
        ],
    )
    def test_bad_input_gets_a_clear_message_and_creates_nothing(
        self, lee_client, field, value, message
    ):
        response = lee_client.post(NEW_USER, new_user_form(**{field: value}))
        html = response.content.decode()
        assert response.status_code == 200
        assert message in html and "govuk-error-summary" in html
        assert User.objects.count() == 1


def test_a_work_phone_and_a_home_postcode_can_be_recorded(lee_client, client):
    """The phone shows on the records of children they work with; the home postcode only feeds
    the auditors' check for searches of the user's own street (tests/test_auditor_screens.py)."""
    lee_client.post(NEW_USER, new_user_form(phone="01632 960123", home_postcode="ne1 4st"))
    created = User.objects.get(username="tom.baker")
    assert (created.phone, created.home_postcode) == ("01632 960123", "NE1 4ST")
    page = lee_client.get(reverse("accounts:user_detail", args=[created.pk])).content.decode()
    assert "01632 960123" in page and "NE1 4ST" not in page
    edit = {
        **new_user_form(phone="01632 960999", remove_home_postcode="on"),
        "username": "ignored",
    }
    lee_client.post(reverse("accounts:user_edit", args=[created.pk]), edit)
    created.refresh_from_db()
    assert (created.phone, created.home_postcode) == ("01632 960999", "")


@pytest.mark.parametrize(
    "phone", ["01632 960123", "(01632) 960-123", "+44 (0)191 383 3000", "01632 960123 ext 214"]
)
def test_a_work_phone_is_taken_as_people_write_it(lee_client, phone):
    lee_client.post(NEW_USER, new_user_form(phone=phone))
    assert User.objects.get(username="tom.baker").phone == phone


def test_a_role_sent_twice_is_given_once(lee_client):
    lee_client.post(NEW_USER, new_user_form(roles=["la_administrator", "la_administrator"]))
    assert User.objects.get(username="tom.baker").roles == ["la_administrator"]


def involved(practitioner: User, child, **fields) -> Involvement:
    """``practitioner``'s involvement with ``child``, current unless ``ended_on`` is given."""
    values = {"role": "Health visitor", "started_on": date(2025, 1, 1)} | fields
    return Involvement.objects.create(
        child=child, practitioner=practitioner, source=Source.PRACTITIONER, **values
    )


def said(html: str) -> list[str]:
    """The page's paragraphs of body text, without the markup around them."""
    return [unescape(p) for p in re.findall(r'<p class="govuk-body">(.*?)</p>', html, re.S)]


def asked_to_suspend(client: Client, user: User) -> list[str]:
    """What the question before suspending ``user`` says."""
    return said(
        client.get(reverse("accounts:user_action", args=[user.pk, "suspend"])).content.decode()
    )


def user_page(client: Client, user: User) -> str:
    return client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()


class TestHandingOverHerChildren:
    """Suspended, Priya still stands on her children's records as involved, and as lead
    professional, marked "ContactPoint access ended": Lee is told how many, so that her team
    arranges a handover. Counts only: never which children (child data Lee may not see), and
    a shielded child's counted as any other's."""

    asked = staticmethod(asked_to_suspend)
    her_page = staticmethod(user_page)

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_lee_is_told_how_many_children_she_is_involved_with_before_and_after(self, lee_client):
        user = priya()
        led = make_child(given_name="Ruby", family_name="Lowe")
        involved(user, led, lead_professional=True)
        hidden = make_child(given_name="Esme", family_name="Vale")
        shield(hidden)
        involved(user, hidden)
        involved(user, make_child(given_name="Ivy"), ended_on=date(2025, 6, 1))  # not counted
        archived = make_child(given_name="Nell", status="archived", archived_on=date(2026, 1, 1))
        involved(user, archived)  # nobody could take over on an archived record
        asked = self.asked(lee_client, user)
        assert (
            "They are currently involved with 2 children, and the lead professional for 1 of "
            "them. Once they are suspended, each child's record will say that their "
            "ContactPoint access has ended."
        ) in asked
        assert views.HANDOVER in asked
        assert "involved with" not in self.her_page(lee_client, user), "not while she has access"
        page = lee_client.get(action(lee_client, user, "suspend").url).content.decode()
        assert (
            "They are still recorded as involved with 2 children, and the lead professional "
            "for 1 of them, but their ContactPoint access has ended."
        ) in said(page)
        assert views.HANDOVER in said(page)
        for child in (led, hidden):
            for asked_or_told in (" ".join(asked), page):
                assert child.given_name not in asked_or_told
                assert child.family_name not in asked_or_told
                assert child.contactpoint_id not in asked_or_told
        assert "shield" not in page.lower() and "shield" not in " ".join(asked).lower()

    def test_a_shielded_childs_involvement_reads_as_any_others(self, lee_client):
        """Counted alike and said alike: shielding the one child she leads changes nothing
        Lee reads, or the question would tell him that child is shielded."""
        user = priya()
        child = make_child()
        involved(user, child, lead_professional=True)
        before = self.asked(lee_client, user)
        assert (
            "They are currently involved with 1 child, and the lead professional for that "
            "child. Once they are suspended, each child's record will say that their "
            "ContactPoint access has ended."
        ) in before
        shield(child)
        assert self.asked(lee_client, user) == before

    def test_suspending_someone_whose_access_has_ended_already_says_so(self, lee_client):
        """Dormant, Priya's records say her access has ended already: the question does not
        say they will once she is suspended."""
        user = priya()
        involved(user, make_child())
        user.last_login = timezone.now() - timedelta(days=120)
        user.save(update_fields=["last_login"])
        asked = self.asked(lee_client, user)
        assert (
            "They are still recorded as involved with 1 child, but their ContactPoint access "
            "has ended."
        ) in asked
        assert views.HANDOVER in asked

    def test_nothing_is_said_of_a_handover_where_none_is_needed(self, lee_client):
        """Her involvements all ended (or none ever recorded): no handover to arrange."""
        user = priya()
        involved(user, make_child(), ended_on=date(2025, 6, 1), lead_professional=True)
        assert views.HANDOVER not in self.asked(lee_client, user)
        page = lee_client.get(action(lee_client, user, "suspend").url).content.decode()
        assert "involved with" not in page and views.HANDOVER not in said(page)

    def test_her_page_asks_for_a_handover_once_her_vetting_has_run_out(self, lee_client):
        """Her access ends without a suspension too: her records say so all the same."""
        user = priya()
        involved(user, make_child())
        user.vetting_checked_on = date(2020, 1, 5)
        user.save(update_fields=["vetting_checked_on"])
        page = said(self.her_page(lee_client, user))
        assert (
            "They are still recorded as involved with 1 child, but their ContactPoint access "
            "has ended."
        ) in page
        assert views.HANDOVER in page


def through_sensitive_service(practitioner: User, child, category="sexual_health", **fields):
    """``practitioner``'s involvement with ``child`` through a sensitive service, recorded (as
    the constraint asks) with the child's consent."""
    sensitive = {"sensitive_category": category, "sensitive_basis": "consent"}
    return involved(practitioner, child, **sensitive, **fields)


class TestHandingOverSensitiveServices:
    """Priya's involvements through a sensitive service (sexual health, mental health,
    substance misuse) are hidden from everyone but the child's LA's shielding officers: Lee
    cannot hand them over, so he is told how many there are and that those officers arrange
    their handover. Counts only: never which child, which service or which local authority."""

    asked = staticmethod(asked_to_suspend)

    def test_lee_is_told_how_many_are_with_sensitive_services_and_who_hands_them_over(
        self, lee_client
    ):
        user = priya()
        involved(user, make_child(given_name="Ruby"), lead_professional=True)
        hidden = make_child(given_name="Esme", family_name="Vale")
        shield(hidden)
        through_sensitive_service(user, hidden, "mental_health")
        elsewhere = make_child(given_name="Nell", family_name="Quill", local_authority=southshire())
        through_sensitive_service(user, elsewhere, "substance_misuse")
        both = make_child(given_name="Ivy", family_name="Rowe")
        involved(user, both)
        through_sensitive_service(user, both)
        asked = self.asked(lee_client, user)
        assert asked[-3:] == [
            "They are currently involved with 4 children, and the lead professional for 1 of "
            "them. Once they are suspended, each child's record will say that their "
            "ContactPoint access has ended.",
            # Ivy, whom her team sees her with, is not said to be one of them.
            "Their involvements with 2 of them are through sensitive services, which only "
            "shielding officers can see: the shielding officers of each child's local "
            "authority arrange their handover.",
            "For their other involvements, ask their team to arrange a handover: whoever takes "
            "over records their own involvement with each child, as lead professional where "
            "this user was the lead.",
        ]
        page = lee_client.get(action(lee_client, user, "suspend").url).content.decode()
        assert (
            "Their involvements with 2 of them are through sensitive services, which only "
            "shielding officers can see: the shielding officers of each child's local "
            "authority arrange their handover."
        ) in said(page)
        told = " ".join(asked) + page
        for child in (hidden, elsewhere, both):
            assert child.given_name not in told and child.family_name not in told
            assert child.contactpoint_id not in told
        for never in ("Sexual health", "Mental health", "Substance misuse", "Southshire"):
            assert never.lower() not in told.lower()
        assert "shielded" not in told.lower()

    def test_one_sensitive_involvement_among_others(self, lee_client):
        user = priya()
        involved(user, make_child(given_name="Ruby"))
        through_sensitive_service(user, make_child(given_name="Esme"))
        asked = self.asked(lee_client, user)
        assert (
            "Their involvement with 1 of them is through a sensitive service, which only "
            "shielding officers can see: the shielding officers of that child's local "
            "authority arrange its handover."
        ) in asked
        assert views.OTHERS_HANDOVER in asked and views.HANDOVER not in asked

    def test_only_sensitive_involvements_ask_nothing_of_her_team(self, lee_client):
        """Her one child is through a sensitive service: her team has nothing to hand over,
        and could not see it if it had."""
        user = priya()
        through_sensitive_service(user, make_child())
        user.vetting_checked_on = date(2020, 1, 5)
        user.save(update_fields=["vetting_checked_on"])
        for told in (self.asked(lee_client, user), said(user_page(lee_client, user))):
            held = told.index(
                "They are still recorded as involved with 1 child, but their ContactPoint "
                "access has ended."
            )
            assert told[held + 1] == (
                "Their involvement with that child is through a sensitive service, which only "
                "shielding officers can see: the shielding officers of the child's local "
                "authority arrange its handover."
            )
            assert views.HANDOVER not in told and views.OTHERS_HANDOVER not in told

    def test_a_sensitive_involvement_ended_or_on_an_archived_record_is_not_counted(
        self, lee_client
    ):
        user = priya()
        involved(user, make_child(given_name="Ruby"))
        through_sensitive_service(user, make_child(given_name="Esme"), ended_on=date(2025, 6, 1))
        archived = make_child(given_name="Nell", status="archived", archived_on=date(2026, 1, 1))
        through_sensitive_service(user, archived)
        asked = self.asked(lee_client, user)
        assert "sensitive" not in " ".join(asked) and views.HANDOVER in asked

    def test_a_child_her_team_sees_her_with_is_not_said_to_be_through_a_sensitive_service(
        self, lee_client
    ):
        """Ivy, Priya's only child, is on Priya's team's screens through her ordinary
        involvement; her involvement with Ivy through a sensitive service too is hidden from
        them. Told "their involvement with that child is through a sensitive service", Lee
        (and her team, whom he asks to hand Ivy over) would learn that Ivy has one: a child
        her team sees is counted with the others, never as a sensitive service's."""
        user = priya()
        ivy = make_child(given_name="Ivy", family_name="Rowe")
        involved(user, ivy)
        through_sensitive_service(user, ivy)
        asked = self.asked(lee_client, user)
        assert "sensitive" not in " ".join(asked).lower()
        assert asked[-2:] == [
            "They are currently involved with 1 child. Once they are suspended, each child's "
            "record will say that their ContactPoint access has ended.",
            views.HANDOVER,
        ]

    def test_the_sensitive_count_is_the_same_whether_the_child_is_shielded(self, lee_client):
        """Shielding a child she works with through a sensitive service changes nothing Lee
        reads."""
        user = priya()
        involved(user, make_child(given_name="Ruby"))
        child = make_child(given_name="Esme")
        through_sensitive_service(user, child)
        before = self.asked(lee_client, user)
        shield(child)
        assert self.asked(lee_client, user) == before


class TestChangingUsers:
    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_lee_records_vetting_and_training_dates(self, lee_client):
        user = priya()
        form = new_user_form(
            roles=[],
            vetting_checked_on_0="1",
            vetting_checked_on_1="10",
            vetting_checked_on_2="2026",
            training_completed_on_0="2",
            training_completed_on_1="10",
            training_completed_on_2="2026",
        )
        lee_client.post(reverse("accounts:user_edit", args=[user.pk]), form)
        user.refresh_from_db()
        assert str(user.vetting_checked_on) == "2026-10-01"
        assert str(user.training_completed_on) == "2026-10-02"

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_a_check_too_old_to_give_access_is_refused_when_recorded(self, lee_client):
        """Vetting and training last 3 years: recording an older date is a mistake to correct,
        not a user left unable to sign in without being told."""
        user = priya()
        long_ago = timezone.localdate() - timedelta(days=3 * 366)
        for field, label in (
            ("vetting_checked_on", "date of enhanced vetting check"),
            ("training_completed_on", "date ContactPoint training was completed"),
        ):
            form = new_user_form(
                roles=[],
                **{
                    f"{field}_0": str(long_ago.day),
                    f"{field}_1": str(long_ago.month),
                    f"{field}_2": str(long_ago.year),
                },
            )
            html = lee_client.post(reverse("accounts:user_edit", args=[user.pk]), form)
            html = html.content.decode()
            assert f"The {label} must be in the last 3 years" in html, field
            assert "govuk-error-summary" in html
            created = lee_client.post(NEW_USER, form).content.decode()
            assert f"The {label} must be in the last 3 years" in created, field
        user.refresh_from_db()
        assert user.vetting_checked_on != long_ago and user.training_completed_on != long_ago
        assert not User.objects.filter(username="tom.baker").exists()

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_a_user_whose_check_has_run_out_can_still_have_other_details_changed(self, lee_client):
        user = priya()
        old = timezone.localdate() - timedelta(days=3 * 366)
        User.objects.filter(pk=user.pk).update(vetting_checked_on=old)
        form = new_user_form(
            roles=[],
            job_title="Head of year",
            vetting_checked_on_0=str(old.day),
            vetting_checked_on_1=str(old.month),
            vetting_checked_on_2=str(old.year),
        )
        lee_client.post(reverse("accounts:user_edit", args=[user.pk]), form)
        user.refresh_from_db()
        assert (user.job_title, user.vetting_checked_on) == ("Head of year", old)

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_suspend_and_reactivate(self, lee_client):
        user = priya()
        assert action(lee_client, user, "suspend").status_code == 302
        user.refresh_from_db()
        assert user.suspended_at is not None
        action(lee_client, user, "reactivate")
        user.refresh_from_db()
        assert user.suspended_at is None

    def test_suspending_someone_already_suspended_keeps_when_it_was_done(self, lee_client):
        """The date of a suspension says when her access ended: a second one (a page left
        open, a link followed) must not move it."""
        user = priya()
        action(lee_client, user, "suspend")
        user.refresh_from_db()
        first = user.suspended_at
        response = action(lee_client, user, "suspend")
        user.refresh_from_db()
        assert user.suspended_at == first
        page = lee_client.get(response.url).content.decode()
        assert "is already suspended" in page

    @pytest.mark.parametrize(
        ("name", "told"),
        [
            ("reactivate", "is not suspended, and has signed in within 90 days"),
            ("unlock", "is not locked out"),
            ("reset-two-factor", "has not set up two-factor sign-in yet"),
        ],
    )
    def test_an_action_already_done_or_not_needed_changes_nothing(self, lee_client, name, told):
        """A page left open, or a link followed: reactivating someone who can sign in would
        restart her 90 days, unlocking someone not locked out would record an unlock, and
        resetting a second factor never set up would sign her out for nothing."""
        user = make_user("lara", Role.LA_ADMINISTRATOR)  # roles Lee holds: he may reset her
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
        before = User.objects.filter(pk=user.pk).values().get()
        response = action(lee_client, user, name)
        assert User.objects.filter(pk=user.pk).values().get() == before
        assert told in lee_client.get(response.url).content.decode()
        refused = AuditEvent.objects.filter(path__endswith=f"/{name}/").latest("id")
        assert (refused.detail or {}).get("refused") is True

    def test_suspending_her_ends_a_set_up_link_she_has_not_used(self, lee_client):
        """Suspension ends access: whoever holds a link given her before must not choose her
        password (nor be recorded as signing in), to be let in when she is reactivated."""
        user = make_user("lara", Role.LA_ADMINISTRATOR)  # roles Lee holds: he may give a link
        path = setup_path(action(lee_client, user, "setup-link").content.decode())
        lee_client.post(reverse("accounts:user_action", args=[user.pk, "suspend"]), CONFIRM)
        chosen = "a-long-and-unusual-passphrase"
        response = Client().post(path, {"new_password1": chosen, "new_password2": chosen})
        assert response.status_code == 404
        user.refresh_from_db()
        assert not user.check_password(chosen)
        assert not AuditEvent.objects.filter(action="sign_in", user_id=user.pk).exists()

    def test_suspending_her_tells_lee_of_the_set_up_link_it_withdraws(self, lee_client):
        """The question and the message said nothing of the link Lee gave Lara and she had not
        used: he would not know to give her a new one once she is reactivated. As a two-factor
        reset says, both now tell him."""
        user = make_user("lara", Role.LA_ADMINISTRATOR)  # roles Lee holds: he may give a link
        action(lee_client, user, "setup-link")
        url = reverse("accounts:user_action", args=[user.pk, "suspend"])
        asked = lee_client.get(url).content.decode()
        assert "The set-up link they have not used yet will stop working" in asked
        told = lee_client.get(action(lee_client, user, "suspend").url).content.decode()
        assert "has been suspended and signed out everywhere" in told
        assert "The set-up link they had not used yet no longer works" in told

    def test_suspending_her_says_nothing_of_a_link_she_was_not_given(self, lee_client):
        """Neither the question nor the message speaks of a link Lara never had, which
        would leave Lee wondering whether one had gone out."""
        user = make_user("lara", Role.LA_ADMINISTRATOR)
        asked = lee_client.get(reverse("accounts:user_action", args=[user.pk, "suspend"]))
        assert "Are you sure you want to suspend" in asked.content.decode()
        assert "set-up link" not in asked.content.decode()
        told = lee_client.get(action(lee_client, user, "suspend").url).content.decode()
        assert "has been suspended and signed out everywhere" in told
        assert "set-up link" not in told

    def test_a_link_ended_by_her_suspension_says_so_once_she_is_reactivated(self, lee_client):
        """Lara follows the link she was sent before Lee suspended her, now that he has
        reactivated her: it did not expire, it was withdrawn, and she is told so, and whom to
        ask for a new one. Not why: whoever finds the link in an old email learns nothing of a
        suspension, as the sign-in page says it only after the right password."""
        user = make_user("lara", Role.LA_ADMINISTRATOR)  # roles Lee holds: he may give a link
        path = setup_path(action(lee_client, user, "setup-link").content.decode())
        action(lee_client, user, "suspend")
        action(lee_client, user, "reactivate")
        user.refresh_from_db()
        assert user.suspended_at is None
        response = Client().get(path)
        assert response.status_code == 404
        page = response.content.decode()
        assert "This link has been withdrawn by your local authority" in page
        assert "suspended" not in page
        assert "Ask your local authority's ContactPoint administrator for a new link" in page
        assert "expired" not in page

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_resetting_her_two_factor_sign_in_withdraws_a_set_up_link_she_has_not_used(
        self, lee_client
    ):
        """Priya was given a link to choose a new password, then her two-factor sign-in was
        reset (her phone lost, say, with her email on it). Whoever holds the link would choose
        her password and set up an authenticator of their own: all it takes to be her once
        the reset has removed hers. The link is withdrawn, its page says so (not why), and
        Lee is told to give her a new one."""
        user = priya()
        authenticator(user)
        path = setup_path(action(lee_client, user, "setup-link").content.decode())
        url = reverse("accounts:user_action", args=[user.pk, "reset-two-factor"])
        asked = lee_client.get(url).content.decode()
        assert "The set-up link they have not used yet will stop working" in asked
        response = action(lee_client, user, "reset-two-factor")
        told = lee_client.get(response.url).content.decode()
        assert "two-factor sign-in has been reset" in told
        assert "The set-up link they had not used yet no longer works" in told
        assert_link_does_not_work(path, user)
        assert not AuditEvent.objects.filter(action="sign_in", user_id=user.pk).exists()
        page = Client().get(path).content.decode()
        assert "This link has been withdrawn by your local authority" in page
        assert "two-factor" not in page and "expired" not in page
        ended = SetupLink.objects.get(user=user)
        assert ended.get_ended_because_display() == "Two-factor sign-in was reset"

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_resetting_her_two_factor_sign_in_says_nothing_of_a_link_she_was_not_given(
        self, lee_client
    ):
        user = priya()
        authenticator(user)
        url = reverse("accounts:user_action", args=[user.pk, "reset-two-factor"])
        asked = lee_client.get(url).content.decode()
        assert "Are you sure you want to reset" in asked and "set-up link" not in asked
        response = action(lee_client, user, "reset-two-factor")
        told = lee_client.get(response.url).content.decode()
        assert "two-factor sign-in has been reset" in told
        assert "set-up link" not in told

    def test_a_link_replaced_or_used_says_which(self, lee_client):
        """Lara holds two links, the first replaced by the second, which she then uses: each
        says why it no longer works, neither that it expired."""
        user = make_user("lara", Role.LA_ADMINISTRATOR)  # roles Lee holds: he may give a link
        first = setup_path(action(lee_client, user, "setup-link").content.decode())
        second = setup_path(action(lee_client, user, "setup-link").content.decode())
        chosen = "a-long-and-unusual-passphrase"
        Client().post(second, {"new_password1": chosen, "new_password2": chosen})
        for path, told in (
            (first, "A newer link has been made for your account"),
            (second, "This link has already been used"),
        ):
            page = Client().get(path).content.decode()
            assert told in page and "expired" not in page, path

    def test_lee_cannot_suspend_himself(self, lee_client):
        action(lee_client, lee_client.admin, "suspend")
        lee_client.admin.refresh_from_db()
        assert lee_client.admin.suspended_at is None
        refused = AuditEvent.objects.filter(path__endswith="/suspend/").latest("id")
        assert (refused.detail or {}).get("refused") is True, "recorded as refused, not done"

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_reactivating_a_dormant_user_lets_them_back_in(self, lee_client):
        user = priya()
        last = timezone.now() - timedelta(days=120)
        user.last_login = last
        user.save()
        page = lee_client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
        assert "Dormant" in page and "/reactivate/" in page
        action(lee_client, user, "reactivate")
        user.refresh_from_db()
        assert user.access_problem(timezone.now()) is None
        assert user.last_login == last, "no sign-in is made up: the page still shows the last"

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_a_dormant_user_whose_training_has_lapsed_can_be_reactivated(self, lee_client):
        """Away for months, her training lapsed too: Lee reactivates her and records her
        renewed training, in either order, and she can sign in. Her lapsed training must
        not hide that she is dormant (nor tell Lee she has signed in within 90 days)."""
        user = priya()
        user.last_login = timezone.now() - timedelta(days=120)
        user.training_completed_on = timezone.localdate() - timedelta(days=5 * 366)
        user.save()
        assert user.access_problem(timezone.now()) == "training"
        page = lee_client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
        assert "/reactivate/" in page
        response = action(lee_client, user, "reactivate")
        told = "has been reactivated, but cannot sign in until their completed training is recorded"
        assert told in lee_client.get(response.url).content.decode()
        User.objects.filter(pk=user.pk).update(training_completed_on=timezone.localdate())
        user.refresh_from_db()
        assert user.access_problem(timezone.now()) is None

    def test_actions_are_posts(self, lee_client):
        user = priya()
        for name in ("reactivate", "unlock", "setup-link"):
            url = reverse("accounts:user_action", args=[user.pk, name])
            assert lee_client.get(url).status_code == 405, name
        assert not SetupLink.objects.filter(user=user).exists()

    @pytest.mark.parametrize("name", ["reset-two-factor", "setup-link"])
    def test_only_someone_who_could_give_the_roles_resets_the_credentials(self, lee_client, name):
        """Lee holds no practitioner role: a fresh second factor or set-up link for Priya
        would let him sign in as her and see what she sees, recorded under her name."""
        user = priya()
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        response = lee_client.post(
            reverse("accounts:user_action", args=[user.pk, name]), follow=True
        )
        assert "holds a role you do not hold" in response.content.decode()
        refused = AuditEvent.objects.filter(path__endswith=f"/{name}/").latest("id")
        assert (refused.detail or {}).get("refused") is True
        assert "/accounts/set-up/" not in response.content.decode()
        assert not SetupLink.objects.filter(user=user).exists()
        assert TOTPDevice.objects.filter(pk=device.pk).exists()
        colleague = make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER)
        sign_in(lee_client, colleague)
        action(lee_client, user, name)  # an administrator holding the role may
        if name == "setup-link":
            assert SetupLink.objects.filter(user=user).exists()
        else:
            assert not TOTPDevice.objects.filter(pk=device.pk).exists()

    @pytest.mark.parametrize(
        "meanwhile",
        [
            # Nina makes Priya a shielding officer: Lin could not give that link now.
            "priya_given_a_role_lin_does_not_hold",
            # Lin is suspended, say for misuse.
            "lin_suspended",
            # Lin's enhanced check lapsed, or was not renewed for what it found.
            "lin_vetting_lapsed",
        ],
    )
    def test_a_set_up_link_ends_when_its_maker_could_no_longer_give_it(self, meanwhile):
        """Lin, who may give Priya's roles, gives her a link. Once Lin could not give it,
        the link, which she may still hold, must not let its holder choose Priya's password."""
        user = priya()
        lin = make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER)
        link = services.setup_link_create(user=user, by=lin)
        if meanwhile == "priya_given_a_role_lin_does_not_hold":
            user.roles = [Role.PRACTITIONER.value, Role.SHIELDING_OFFICER.value]
            user.save(update_fields=["roles"])
        elif meanwhile == "lin_suspended":
            services.user_suspend(user=lin)
        else:
            User.objects.filter(pk=lin.pk).update(vetting_checked_on=None)
        assert_link_does_not_work(link, user)

    def test_an_administrator_cannot_vouch_for_his_own_checks(self, lee_client):
        admin = lee_client.admin
        form = new_user_form(
            roles=[],
            vetting_checked_on_0="1",
            vetting_checked_on_1="10",
            vetting_checked_on_2="2026",
            training_completed_on_0=str(admin.training_completed_on.day),
            training_completed_on_1=str(admin.training_completed_on.month),
            training_completed_on_2=str(admin.training_completed_on.year),
        )
        url = reverse("accounts:user_edit", args=[admin.pk])
        response = lee_client.post(url, form)
        assert "Another administrator must record your own checks" in response.content.decode()
        admin.refresh_from_db()
        assert str(admin.vetting_checked_on) == "2026-01-05"
        # The log says he tried, and which fields, not only that he looked at his own page.
        refused = AuditEvent.objects.get(path=url, method="POST").detail or {}
        assert (refused["action"], refused["user_id"], refused["refused"]) == (
            "change_user", admin.pk, True,
        )  # fmt: skip
        assert "vetting_checked_on" in refused["changed"]
        assert "2026-10-01" not in json.dumps(refused)

    def test_a_change_names_the_fields_changed_not_their_values(
        self, lee_client, lee_gives_practitioner
    ):
        user = priya()
        user.last_name, user.email = "Patel", "priya.patel@northshire.example.org"
        user.save(update_fields=["last_name", "email"])
        form = new_user_form(
            roles=["practitioner"], first_name=user.first_name, last_name=user.last_name,
            email=user.email, job_title=user.job_title, phone="01632 960555",
            vetting_checked_on_0=str(user.vetting_checked_on.day),
            vetting_checked_on_1=str(user.vetting_checked_on.month),
            vetting_checked_on_2=str(user.vetting_checked_on.year),
            training_completed_on_0=str(user.training_completed_on.day),
            training_completed_on_1=str(user.training_completed_on.month),
            training_completed_on_2=str(user.training_completed_on.year),
        )  # fmt: skip
        url = reverse("accounts:user_edit", args=[user.pk])
        assert lee_client.post(url, form).status_code == 302
        changed = AuditEvent.objects.get(path=url, method="POST")
        assert changed.detail == {
            "action": "change_user", "user_id": user.pk, "username": "priya",
            "changed": ["phone"],
        }  # fmt: skip

    def test_a_phone_number_stored_before_the_check_does_not_stop_other_changes(
        self, lee_client, lee_gives_practitioner
    ):
        """Priya's number was stored before numbers were checked: Lee, changing only her job
        title, has it saved, and is told on the phone field that the number is none to ring.
        A new number he types is checked as ever."""
        user = priya()
        User.objects.filter(pk=user.pk).update(phone="ask at reception")
        url = reverse("accounts:user_edit", args=[user.pk])
        html = lee_client.get(url).content.decode()
        assert (
            "Shown on the records of the children they work with. The number recorded is not "
            "a phone number anyone can ring: correct it if you can, like 01632 960 001" in html
        )
        form = edit_form(user, lee_client.admin, job_title="School nurse")
        form["phone"] = "ask at reception"
        assert lee_client.post(url, form).status_code == 302
        user.refresh_from_db()
        assert (user.job_title, user.phone) == ("School nurse", "ask at reception")
        form.update(job_title="Health visitor", phone="ask at the desk")
        html = lee_client.post(url, form).content.decode()
        assert "Enter a work phone number, like 01632 960 001" in html
        user.refresh_from_db()
        assert (user.job_title, user.phone) == ("School nurse", "ask at reception")

    def test_an_account_he_was_refused_adding_is_named_on_the_log(self, lee_client):
        """Lee tries to add a username already taken: the log says which he tried."""
        priya()
        lee_client.post(NEW_USER, new_user_form(username="priya"))
        refused = AuditEvent.objects.get(path=NEW_USER, method="POST", action="admin_action")
        detail = refused.detail or {}
        assert (detail["action"], detail["username"], detail["refused"]) == (
            "create_user", "priya", True,
        )  # fmt: skip
        assert User.objects.filter(username="priya").count() == 1

    def test_an_administrator_cannot_change_his_own_home_postcode(self, lee_client):
        """It is there to catch his searches of his own street (the auditors' report compares
        each with it as it is now): Lee, a practitioner too, must not move it away."""
        admin = lee_client.admin
        admin.roles = [Role.PRACTITIONER.value, Role.LA_ADMINISTRATOR.value]
        admin.home_postcode = "NE1 4ST"
        admin.save(update_fields=["roles", "home_postcode"])
        form = new_user_form(
            roles=["practitioner", "la_administrator"],
            home_postcode="SW1A 1AA",
            **dates_as_recorded(),
        )
        response = lee_client.post(reverse("accounts:user_edit", args=[admin.pk]), form)
        assert "Another administrator must change your own home postcode" in (
            response.content.decode()
        )
        admin.refresh_from_db()
        assert admin.home_postcode == "NE1 4ST"

    def test_an_administrator_cannot_give_himself_a_role(self, client):
        """Nina may give anyone any role, but not herself: as an override practitioner she
        could unmask any shielded child's address, and as the service operator's auditor read
        the log of her own actions, with no one else having agreed. Another administrator
        gives her a role; she may still give one up."""
        admin = nina()
        sign_in(client, admin)
        page = reverse("accounts:user_edit", args=[admin.pk])
        own_page = client.get(page).content.decode()
        assert 'value="override_practitioner"' not in own_page
        assert "Another administrator must give you a new one" in own_page
        form = new_user_form(
            roles=["national_administrator", "override_practitioner", "auditor"],
            **dates_as_recorded(),
        )
        response = client.post(page, form)
        assert "Select only roles you are allowed to give" in response.content.decode()
        admin.refresh_from_db()
        assert admin.roles == ["national_administrator"]
        colleague = make_user("nadia", Role.NATIONAL_ADMINISTRATOR, organisation=operator())
        sign_in(client, colleague)
        client.post(page, form)
        admin.refresh_from_db()
        assert admin.roles == ["override_practitioner", "auditor", "national_administrator"]

    def test_an_administrator_may_give_up_a_role(self, lee_client):
        admin = lee_client.admin
        admin.roles = [Role.PRACTITIONER.value, Role.LA_ADMINISTRATOR.value]
        admin.save(update_fields=["roles"])
        form = new_user_form(
            roles=["la_administrator"],
            **dates_as_recorded(),
        )
        lee_client.post(reverse("accounts:user_edit", args=[admin.pk]), form)
        admin.refresh_from_db()
        assert admin.roles == ["la_administrator"]

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_a_suspension_made_while_lee_saves_her_details_stands(self, lee_client, monkeypatch):
        """Lin suspends Priya while Lee's change to her details is under way: saving his copy of
        her account must not make her active again, nor let her old sessions back in."""
        user = priya()
        her_browser = Client()
        sign_in(her_browser, user)
        form = views.UserForm

        def suspended_meanwhile(*args, **kwargs):
            services.user_suspend(user=User.objects.get(pk=user.pk))
            return form(*args, **kwargs)

        monkeypatch.setattr(views, "UserForm", suspended_meanwhile)
        lee_client.post(
            reverse("accounts:user_edit", args=[user.pk]), new_user_form(roles=[], job_title="Head")
        )
        user.refresh_from_db()
        assert user.suspended_at is not None and user.job_title == "Head"
        assert_told_suspended_and_signed_out(her_browser)

    def test_a_user_who_forgot_her_password_is_given_a_link_to_choose_a_new_one(self, client):
        """There is no self-service reset: her administrator (one who could give her roles)
        gives her a link. Her second factor is still asked for afterwards."""
        user = priya()
        device = authenticator(user)
        sign_in(client, make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER))
        page = client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
        assert "Give a link to choose a new password" in page
        made = action(client, user, "setup-link").content.decode()
        assert "Link to choose a new password made" in made
        her_browser = Client()
        path = setup_path(made)
        assert "Choose a new password" in her_browser.get(path).content.decode()
        chosen = "a-long-and-unusual-passphrase"
        her_browser.post(path, {"new_password1": chosen, "new_password2": chosen})
        user.refresh_from_db()
        assert user.check_password(chosen)
        assert her_browser.get("/")["Location"].startswith(reverse("accounts:two_factor"))
        her_browser.post(reverse("accounts:two_factor"), {"otp_token": current_code(device)})
        assert her_browser.get("/").status_code == 200

    def test_choosing_a_new_password_through_the_link_signs_her_out_everywhere_else(self):
        """Whoever is signed in as her (it may be why she asked) is signed out."""
        user = priya()
        elsewhere = Client()
        sign_in(elsewhere, user)
        lin = make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER)
        link = services.setup_link_create(user=user, by=lin)
        chosen = "a-long-and-unusual-passphrase"
        Client().post(link, {"new_password1": chosen, "new_password2": chosen})
        assert elsewhere.get("/")["Location"].startswith(reverse("accounts:login"))
        # Her LA's auditors see that session end, and why.
        ended = AuditEvent.objects.get(path="/", action="sign_out")
        assert ended.user_id == user.pk and ended.detail == {"password_changed": True}

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_resetting_her_two_factor_sign_in_signs_her_out_everywhere_saying_why(self, lee_client):
        """Her authenticator key no longer lets anyone in: each session she had ends at its
        next request, and her LA's auditors read that it ended for the reset, not a sign-out
        she made."""
        user = priya()
        sessions = [Client(), Client()]
        for browser in sessions:
            sign_in(browser, user)
        action(lee_client, user, "reset-two-factor")
        for browser in sessions:
            assert browser.get("/")["Location"].startswith(reverse("accounts:login"))
        ended = AuditEvent.objects.filter(action="sign_out", user_id=user.pk)
        assert [event.detail for event in ended] == [{"two_factor_reset": True}] * 2

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_suspending_her_signs_her_out_everywhere_saying_why(self, lee_client):
        """As when her vetting lapses as she works: her LA's auditors read that her session
        ended for the suspension, not a sign-out she made."""
        user = priya()
        elsewhere = Client()
        sign_in(elsewhere, user)
        action(lee_client, user, "suspend")
        assert_told_suspended_and_signed_out(elsewhere)
        ended = AuditEvent.objects.get(action="sign_out", user_id=user.pk)
        assert ended.detail == {"access_ended": "suspended"}

    def test_a_sign_in_where_her_session_ended_by_her_new_password_was_is_the_signers(self):
        """Sam signs in on the computer where Priya's session was left open before she chose
        a new password: his sign-in is his, and her log says her session ended, and why."""
        user, signer = priya(), sam()
        elsewhere = Client()
        sign_in(elsewhere, user)
        user.set_password("a-long-and-unusual-passphrase")
        user.save(update_fields=["password"])
        elsewhere.post(reverse("accounts:login"), {"username": "sam", "password": PASSWORD})
        login = AuditEvent.objects.filter(path=reverse("accounts:login"))
        assert login.get(action="sign_in").user_id == signer.pk
        assert login.get(action="sign_out").user_id == user.pk

    def test_an_unknown_action_is_not_found(self, lee_client):
        assert action(lee_client, priya(), "delete").status_code == 404


class TestAUserHoldingARoleHeCannotGive:
    """Lee holds only the LA administrator role; Sam is a shielding officer of his LA. He could
    not have made her account, so he must not keep it open or open it again: recording her
    checks, reactivating or unlocking her, a fresh second factor or a set-up link would let
    him (or whoever he gives it to) into the shielded records. He may still suspend her: that
    only takes access away, and an LA must be able to stop a leaver at once."""

    @staticmethod
    def ready_for(name: str) -> User:
        """Sam, as she would be for ``name`` to change something."""
        user = sam()
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        if name == "reactivate":
            services.user_suspend(user=user)
        if name == "unlock":
            locked_out("sam")
        return User.objects.get(pk=user.pk)

    @pytest.mark.parametrize(
        "name", ["change_user", "reactivate", "unlock", "reset-two-factor", "setup-link"]
    )
    def test_lee_is_refused_and_nothing_changes(self, lee_client, name):
        user = self.ready_for(name)
        before = User.objects.filter(pk=user.pk).values().get()
        if name == "change_user":
            url = reverse("accounts:user_edit", args=[user.pk])
            assert lee_client.get(url)["Location"] == reverse(
                "accounts:user_detail", args=[user.pk]
            )
            form = new_user_form(
                username="sam", roles=["la_administrator"], vetting_checked_on_0="1"
            )
            response = lee_client.post(url, form, follow=True)
        else:
            url = reverse("accounts:user_action", args=[user.pk, name])
            response = lee_client.post(url, CONFIRM, follow=True)
        html = response.content.decode()
        assert "Sam holds a role you do not hold" in html
        assert "/accounts/set-up/" not in html
        assert User.objects.filter(pk=user.pk).values().get() == before
        assert TOTPDevice.objects.filter(user=user).exists()
        assert not SetupLink.objects.filter(user=user).exists()
        if name == "unlock":
            assert "Locked" in html, "still locked out"
        refused = AuditEvent.objects.filter(path=url, action="admin_action").latest("id")
        assert refused.detail == {
            "action": name,
            "user_id": user.pk,
            "username": "sam",
            "refused": True,
        }

    def test_her_page_offers_lee_only_to_suspend_her(self, lee_client):
        user = self.ready_for("unlock")
        html = lee_client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
        assert "/suspend/" in html
        for name in ("edit", "unlock", "reset-two-factor", "setup-link"):
            assert f"/{user.pk}/{name}/" not in html, name
        assert "You can suspend them" in html

    def test_lee_suspends_her(self, lee_client):
        user = sam()
        her_browser = Client()
        sign_in(her_browser, user)
        action(lee_client, user, "suspend")
        user.refresh_from_db()
        assert user.suspended_at is not None
        assert_told_suspended_and_signed_out(her_browser)

    def test_an_administrator_holding_her_role_may_reactivate_her(self, client):
        user = self.ready_for("reactivate")
        sign_in(client, make_user("lin", Role.LA_ADMINISTRATOR, Role.SHIELDING_OFFICER))
        action(client, user, "reactivate")
        user.refresh_from_db()
        assert user.suspended_at is None


class TestAnAdministratorsOwnSetUpLink:
    """A link to choose a new password for himself would let Lee change it without giving
    the old one (to someone who found his session open, say): another administrator must."""

    def test_he_is_refused_one(self, lee_client):
        admin = lee_client.admin
        page = lee_client.get(reverse("accounts:user_detail", args=[admin.pk])).content.decode()
        assert "/setup-link/" not in page
        response = lee_client.post(
            reverse("accounts:user_action", args=[admin.pk, "setup-link"]), follow=True
        )
        html = response.content.decode()
        assert "You cannot give yourself a link to choose a new password" in html
        assert "/accounts/set-up/" not in html
        assert not SetupLink.objects.filter(user=admin).exists()

    def test_one_he_made_himself_does_not_work(self):
        admin = lee()
        link = services.setup_link_create(user=admin, by=admin)
        assert_link_does_not_work(link, admin)


class TestCheckBeforeSuspendingOrResettingTwoFactor:
    """GOV.UK's check before a destructive action: suspending a user or resetting their second
    factor signs them out everywhere, so the first press asks, and only the answer acts."""

    @pytest.fixture
    def lara(self):
        """An LA administrator of Lee's: he holds every role she holds, so he may reset her."""
        user = make_user("lara", Role.LA_ADMINISTRATOR)
        user.first_name, user.last_name = "Lara", "Quinn"
        user.save()
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        return user

    @staticmethod
    def unchanged(user: User) -> bool:
        user.refresh_from_db()
        return (
            user.suspended_at is None
            and user.two_factor_reset_at is None
            and TOTPDevice.objects.filter(user=user).exists()
        )

    @pytest.mark.parametrize(
        ("name", "question"),
        [
            ("suspend", "Are you sure you want to suspend Lara Quinn?"),
            ("reset-two-factor", "Are you sure you want to reset Lara Quinn&#x27;s two-factor"),
        ],
    )
    def test_it_asks_first_and_changes_nothing(self, lee_client, lara, name, question):
        url = reverse("accounts:user_action", args=[lara.pk, name])
        for first in (lee_client.get(url), lee_client.post(url)):
            html = first.content.decode()
            assert first.status_code == 200
            assert question in html and "signed out everywhere" in html
            assert 'class="govuk-button govuk-button--warning"' in html
            assert 'name="confirm" value="yes"' in html and "csrfmiddlewaretoken" in html
            assert f'href="{reverse("accounts:user_detail", args=[lara.pk])}">Cancel<' in html
            assert first["Cache-Control"].startswith("max-age=0")
        assert self.unchanged(lara)
        assert not AuditEvent.objects.filter(action="admin_action").exists(), "nothing was done"
        asked = AuditEvent.objects.filter(path=url).latest("id")
        assert asked.detail == {"page": f"confirm_{name}", "user_id": lara.pk, "username": "lara"}

    def test_the_answer_suspends(self, lee_client, lara):
        response = action(lee_client, lara, "suspend")
        assert response.status_code == 302
        lara.refresh_from_db()
        assert lara.suspended_at is not None

    def test_the_answer_resets_two_factor(self, lee_client, lara):
        response = action(lee_client, lara, "reset-two-factor")
        assert response.status_code == 302
        assert not TOTPDevice.objects.filter(user=lara).exists()

    def test_the_detail_page_leads_to_the_question_not_to_the_action(self, lee_client, lara):
        html = lee_client.get(reverse("accounts:user_detail", args=[lara.pk])).content.decode()
        for name in ("suspend", "reset-two-factor"):
            url = reverse("accounts:user_action", args=[lara.pk, name])
            assert f'<a href="{url}"' in html and f'action="{url}"' not in html

    @pytest.mark.parametrize("name", ["suspend", "reset-two-factor"])
    def test_outsiders_are_refused_either_step(self, client, name):
        """Xavier is another LA's: Lee gets a 404. Priya is no administrator: a 403."""
        outsider = xavier()
        TOTPDevice.objects.create(user=outsider, name="phone", confirmed=True)
        administrator = lee()
        for signed_in, target, status in (
            (administrator, outsider, 404),
            (priya(), administrator, 403),
        ):
            sign_in(client, signed_in)
            url = reverse("accounts:user_action", args=[target.pk, name])
            assert client.get(url).status_code == status
            assert client.post(url, CONFIRM).status_code == status
        assert self.unchanged(outsider)

    @pytest.mark.parametrize("method", ["get", "post"])
    def test_a_made_up_action_is_not_found_and_not_logged_as_one(self, lee_client, method):
        """A hand-made URL naming no action answered 404 after writing an administrative
        action on Priya, which the events list showed as done to her."""
        user = priya()
        url = reverse("accounts:user_action", args=[user.pk, "frobnicate"])
        assert getattr(lee_client, method)(url, CONFIRM).status_code == 404
        event = AuditEvent.objects.latest("occurred_at")
        assert event.path == url and event.action != "admin_action" and event.detail is None


class TestChangeLog:
    def test_every_administrative_change_is_recorded_with_who_and_before_after(self, lee_client):
        user = make_user("lara", Role.LA_ADMINISTRATOR)  # roles Lee holds: he may reset her
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        locked_out("lara")
        for name in ("suspend", "reactivate", "reset-two-factor", "unlock"):
            action(lee_client, user, name)
        entries = LogEntry.objects.get_for_object(user).filter(actor=lee_client.admin)
        changed = [set(entry.changes_dict) for entry in entries.order_by("timestamp")]
        assert changed == [
            {"suspended_at"},
            {"suspended_at", "reactivated_at"},
            {"two_factor_reset_at"},
            {"unlocked_at"},
        ]
        suspension = entries.order_by("timestamp").first()
        before, after = suspension.changes_dict["suspended_at"]
        assert before == "None" and after != "None"

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_role_changes_are_recorded(self, lee_client):
        user = priya()
        lee_client.post(
            reverse("accounts:user_edit", args=[user.pk]), new_user_form(roles=["la_administrator"])
        )
        entry = (
            LogEntry.objects.get_for_object(user).filter(actor=lee_client.admin).latest("timestamp")
        )
        assert "roles" in entry.changes_dict

    def test_passwords_never_reach_the_change_log(self, lee_client):
        lee_client.post(NEW_USER, new_user_form())
        for entry in LogEntry.objects.all():
            assert "password" not in entry.changes_dict
            assert "token_hash" not in entry.changes_dict


class TestOrganisations:
    def test_nina_adds_a_local_authority_with_its_contact_team(self, client):
        sign_in(client, nina())
        url = reverse("accounts:organisation_create")
        form = {
            "code": "E06000047",
            "name": "County Durham",
            "kind": "local_authority",
            "team_name": "",
            "team_phone": "",
            "team_email": "",
        }
        html = client.post(url, form).content.decode()
        assert "Enter the phone number of the local authority&#x27;s ContactPoint team" in html
        assert not Organisation.objects.filter(code="E06000047").exists()
        form.update(team_phone="03000 260000", team_email="contactpoint@durham.example.org")
        assert client.post(url, form).status_code == 302
        assert Organisation.objects.get(code="E06000047").team_phone == "03000 260000"
        assert "County Durham" in client.get(reverse("accounts:organisation_list")).content.decode()

    def test_a_team_phone_stored_before_the_check_does_not_stop_other_changes(self, client):
        """Northshire's team phone was stored before numbers were checked: Nina, changing only
        its team's email, has it saved, and is told the number is none to ring."""
        la = northshire()
        Organisation.objects.filter(pk=la.pk).update(team_phone="ring the switchboard")
        sign_in(client, nina())
        url = reverse("accounts:organisation_edit", args=[la.pk])
        html = client.get(url).content.decode()
        assert "The number recorded is not a phone number anyone can ring" in html
        form = {
            "code": la.code, "name": la.name, "kind": la.kind, "team_name": la.team_name,
            "team_phone": "ring the switchboard", "team_email": "cp@northshire.example.org",
        }  # fmt: skip
        assert client.post(url, form).status_code == 302
        la.refresh_from_db()
        assert (la.team_phone, la.team_email) == ("ring the switchboard", form["team_email"])

    def test_the_kind_of_organisation_is_chosen_with_words_not_dashes(self, client):
        """Nina's list of kinds opened on "---------", Django's blank, where the service's other
        selects say what to choose."""
        sign_in(client, nina())
        html = client.get(reverse("accounts:organisation_create")).content.decode()
        assert '<option value="">Choose a kind of organisation</option>' in html
        assert "---------" not in html

    def test_an_organisation_with_no_contactpoint_team_says_not_recorded(self, client):
        """The operator has no ContactPoint team: its cell said nothing at all, beside Northshire's
        phone number and email."""
        northshire()
        sign_in(client, nina())
        html = client.get(reverse("accounts:organisation_list")).content.decode()
        operator_row = html[html.index("ContactPoint National Service</a>") :].split("</tr>")[0]
        assert operator_row.rstrip().endswith('<td class="govuk-table__cell">Not recorded</td>')
        assert "01632 960000<br>contactpoint@northshire.example.org" in html
        # The operator is listed too, so the table's caption names it.
        assert "Local authorities, national partners and the service operator</caption>" in html

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("code", "e06000099", "An organisation with that code already exists"),
            ("code", "E06 000047", "Code must be letters and numbers, like E06000047"),
            ("name", "\u200b\u200b", "Enter a name"),
            ("team_phone", "\u200b", "Enter the phone number of the local authority"),
            ("team_phone", "ask for Jo", "Enter the ContactPoint team phone number, like 01632"),
            ("team_email", "contactpoint.durham.example.org", "Enter the ContactPoint team"),
            ("kind", "council", "Select a kind of organisation"),
        ],
    )
    def test_what_cannot_be_seen_or_differs_only_in_case_is_refused(
        self, client, field, value, message
    ):
        """A second Northshire under a lower-case code, a name of invisible characters, or an
        LA team whose phone number practitioners would see as blank; and what is not an email
        address or a kind, in GOV.UK's words, not Django's ("Enter a valid email address.")."""
        northshire()
        sign_in(client, nina())
        form = {
            "code": "E06000047", "name": "County Durham", "kind": "local_authority",
            "team_name": "", "team_phone": "03000 260000",
            "team_email": "contactpoint@durham.example.org",
        }  # fmt: skip
        form[field] = value
        response = client.post(reverse("accounts:organisation_create"), form)
        html = response.content.decode()
        assert response.status_code == 200 and message in html, html[-3000:]
        assert Organisation.objects.count() == 2, "Northshire and the operator only"

    def test_an_la_that_looks_after_children_stays_a_local_authority(self, client):
        """Its ContactPoint team is who practitioners contact about its shielded children:
        made a national partner, its team's phone and email could be blanked, and a shielded
        Northshire child's record would give no way to reach anyone."""
        org = northshire()
        make_child()
        sign_in(client, nina())
        form = {
            "code": org.code, "name": org.name, "kind": "national_partner",
            "team_name": "", "team_phone": "", "team_email": "",
        }  # fmt: skip
        response = client.post(reverse("accounts:organisation_edit", args=[org.pk]), form)
        html = response.content.decode()
        assert response.status_code == 200
        assert "Northshire looks after children&#x27;s records" in html, html[-3000:]
        org.refresh_from_db()
        assert (org.kind, org.team_phone) == ("local_authority", "01632 960000")

    def test_a_change_made_while_nina_saves_another_stands(self, client, monkeypatch):
        """Another national administrator changes Northshire's team phone while Nina renames
        it: her save must not write back the phone number her page was read with."""
        org = northshire()
        sign_in(client, nina())
        form = views.OrganisationForm

        def changed_meanwhile(*args, **kwargs):
            Organisation.objects.filter(pk=org.pk).update(team_phone="01632 960999")
            return form(*args, **kwargs)

        monkeypatch.setattr(views, "OrganisationForm", changed_meanwhile)
        client.post(
            reverse("accounts:organisation_edit", args=[org.pk]),
            {
                "code": org.code, "name": "North Shire", "kind": "local_authority",
                "team_name": org.team_name, "team_phone": org.team_phone,
                "team_email": org.team_email,
            },
        )  # fmt: skip
        org.refresh_from_db()
        assert (org.name, org.team_phone) == ("North Shire", "01632 960999")

    def test_an_organisation_code_is_kept_in_capitals(self, client):
        """As ONS codes are written, without what cannot be seen."""
        sign_in(client, nina())
        form = {
            "code": " e06\u202e000047 ", "name": "County Durham", "kind": "local_authority",
            "team_name": "", "team_phone": "03000 260000",
            "team_email": "contactpoint@durham.example.org",
        }  # fmt: skip
        assert client.post(reverse("accounts:organisation_create"), form).status_code == 302
        assert Organisation.objects.filter(code="E06000047").exists()

    def test_nina_changes_an_organisation_and_it_is_recorded(self, client):
        admin = nina()
        sign_in(client, admin)
        org = northshire()
        form = {
            "code": org.code,
            "name": "Northshire Council",
            "kind": org.kind,
            "team_name": org.team_name,
            "team_phone": org.team_phone,
            "team_email": org.team_email,
        }
        client.post(reverse("accounts:organisation_edit", args=[org.pk]), form)
        org.refresh_from_db()
        assert org.name == "Northshire Council"
        assert LogEntry.objects.get_for_object(org).filter(actor=admin).exists()

    def test_the_event_of_a_change_names_the_organisation_and_the_fields_not_their_values(
        self, client
    ):
        """An auditor reads which organisation Nina changed, and what: its team's new phone
        number is not the log's to copy."""
        sign_in(client, nina())
        org = northshire()
        form = {
            "code": org.code, "name": org.name, "kind": org.kind, "team_name": org.team_name,
            "team_phone": "01632 960123", "team_email": org.team_email,
        }  # fmt: skip
        client.post(reverse("accounts:organisation_edit", args=[org.pk]), form)
        (event,) = AuditEvent.objects.filter(action="admin_action")
        assert event.detail == {
            "action": "change_organisation",
            "organisation_id": org.pk,
            "organisation_code": org.code,
            "changed": ["team_phone"],
        }
        assert "960123" not in str(AuditEvent.objects.values().get(pk=event.pk))

    def test_the_event_of_a_new_organisation_names_it(self, client):
        sign_in(client, nina())
        form = {
            "code": "E06000047", "name": "County Durham", "kind": "national_partner",
            "team_name": "", "team_phone": "", "team_email": "",
        }  # fmt: skip
        client.post(reverse("accounts:organisation_create"), form)
        created = Organisation.objects.get(code="E06000047")
        detail = AuditEvent.objects.get(action="admin_action").detail or {}
        assert detail["action"] == "create_organisation"
        assert detail["organisation_id"] == created.pk
        assert {"code", "name", "kind"} <= set(detail["changed"])

    def test_a_refused_new_organisation_is_named_by_the_code_tried(self, client):
        org = northshire()
        sign_in(client, nina())
        form = {
            "code": org.code, "name": "North Shire", "kind": "national_partner",
            "team_name": "", "team_phone": "", "team_email": "",
        }  # fmt: skip
        url = reverse("accounts:organisation_create")
        assert (
            "An organisation with that code already exists"
            in client.post(url, form).content.decode()
        )
        detail = AuditEvent.objects.get(path=url, action="admin_action").detail or {}
        assert (detail["action"], detail["organisation_code"], detail["refused"]) == (
            "create_organisation", org.code, True,
        )  # fmt: skip

    def test_an_organisations_page_and_a_refused_change_name_it(self, client):
        """Nina opens Northshire's page, then sends a change that is refused: both events say
        which organisation, and the refusal that nothing was changed."""
        sign_in(client, nina())
        org = northshire()
        url = reverse("accounts:organisation_edit", args=[org.pk])
        client.get(url)
        form = {
            "code": org.code, "name": "", "kind": org.kind, "team_name": org.team_name,
            "team_phone": org.team_phone, "team_email": org.team_email,
        }  # fmt: skip
        assert "Enter a name" in client.post(url, form).content.decode()
        opened, refused = AuditEvent.objects.filter(path=url).order_by("id")
        named = {"organisation_id": org.pk, "organisation_code": org.code}
        assert opened.detail == named
        assert (refused.action, refused.detail) == (
            "admin_action",
            {"action": "change_organisation", **named, "changed": ["name"], "refused": True},
        )

    @pytest.mark.parametrize("code", ["e06000047", "ce.charity"])
    def test_an_organisation_made_before_codes_were_capitals_keeps_its_code(self, client, code):
        """An LA system's feed records are filed under its code (E06000047/123): changing its
        team's phone number must not change the code's case, or the next file would find none
        of them; nor refuse a code older than the rule."""
        sign_in(client, nina())
        org = Organisation.objects.create(
            code=code, name="County Durham", kind="local_authority",
            team_phone="03000 260000", team_email="contactpoint@durham.example.org",
        )  # fmt: skip
        form = {
            "code": code, "name": "County Durham", "kind": "local_authority", "team_name": "",
            "team_phone": "03000 260001", "team_email": "contactpoint@durham.example.org",
        }  # fmt: skip
        response = client.post(reverse("accounts:organisation_edit", args=[org.pk]), form)
        assert response.status_code == 302, response.content.decode()[-2000:]
        org.refresh_from_db()
        assert (org.code, org.team_phone) == (code, "03000 260001")

    def test_the_list_of_organisations_names_those_it_shows(self, client):
        """Each row shows an LA team's phone and email: the event says whose."""
        sign_in(client, nina())
        shown = {northshire().pk, southshire().pk, operator().pk}
        client.get(reverse("accounts:organisation_list"))
        (event,) = AuditEvent.objects.filter(path=reverse("accounts:organisation_list"))
        assert set((event.detail or {})["organisations_listed"]) == shown

    def test_lee_cannot_manage_organisations(self, lee_client):
        assert lee_client.get(reverse("accounts:organisation_list")).status_code == 403


class TestCreateUserCommand:
    def run(self, *args):
        return run_manage("create_user", *args)

    def test_it_refuses_an_unknown_role_in_one_line(self):
        result = self.run("tom", "--organisation", "X", "--role", "wizard")
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "invalid choice: 'wizard'" in result.stderr

    def test_it_needs_an_organisation_and_a_role(self):
        result = self.run("tom")
        assert result.returncode == 2
        assert "the following arguments are required: --organisation, --role" in result.stderr

    def test_it_prints_a_set_up_link(self, capsys):
        from django.core.management import call_command

        northshire()
        call_command(
            "create_user",
            "tom",
            "--organisation",
            "E06000099",
            "--role",
            "practitioner",
            "--role",
            "auditor",
            "--email",
            "tom@example.org",
        )
        output = capsys.readouterr().out
        assert setup_path(output)
        user = User.objects.get(username="tom")
        assert user.roles == ["practitioner", "auditor"]

    def test_a_new_deployment_makes_its_first_administrator_and_her_organisation(self, client):
        """A new deployment holds no organisation, and only a national administrator adds one
        on a page: the command makes the service operator with its first administrator, and
        records her checks, as no one else can vouch for her."""
        from django.core.management import call_command

        from tests.personas import PASSWORD, authenticator

        assert not Organisation.objects.exists()
        call_command(
            "create_user", "boot", "--organisation", "cpnational",
            "--new-organisation", "ContactPoint National Service",
            "--role", "national_administrator",
            "--vetting-checked-on", "2026-01-05", "--training-completed-on", "2026-02-01",
        )  # fmt: skip
        user = User.objects.get(username="boot")
        assert str(user.vetting_checked_on) == "2026-01-05"
        assert (user.organisation.code, user.organisation.kind) == (
            "CPNATIONAL", "service_operator"
        )  # fmt: skip
        user.set_password(PASSWORD)  # as the set-up link would
        user.save()
        device = authenticator(user)
        client.post(reverse("accounts:login"), {"username": "boot", "password": PASSWORD})
        client.post(reverse("accounts:two_factor"), {"otp_token": current_code(device)})
        assert client.get(reverse("accounts:organisation_create")).status_code == 200

    def test_a_new_organisation_is_refused_under_a_code_taken(self):
        from django.core.management import CommandError, call_command

        northshire()
        with pytest.raises(CommandError, match="An organisation with that code already exists"):
            call_command(
                "create_user", "boot", "--organisation", "E06000099",
                "--new-organisation", "Another", "--role", "national_administrator",
            )  # fmt: skip
        assert not User.objects.filter(username="boot").exists()
        assert Organisation.objects.get(code="E06000099").name != "Another"

    @pytest.mark.parametrize("day", ["2099-01-01", "5 Jan 2026"])
    def test_it_refuses_a_check_date_in_the_future_or_not_a_date(self, day):
        result = self.run(
            "tom", "--organisation", "X", "--role", "practitioner", "--vetting-checked-on", day
        )
        assert result.returncode == 2 and "--vetting-checked-on" in result.stderr

    @pytest.mark.parametrize("option", ["--vetting-checked-on", "--training-completed-on"])
    def test_it_refuses_a_check_too_old_to_give_access(self, option):
        from django.core.management import CommandError, call_command

        northshire()
        long_ago = (timezone.localdate() - timedelta(days=3 * 366)).isoformat()
        dates = {"--vetting-checked-on": "2026-01-05", "--training-completed-on": "2026-02-01"}
        dates[option] = long_ago
        with pytest.raises(CommandError, match=f"{option} is too long ago"):
            call_command(
                "create_user", "boot", "--organisation", "E06000099", "--role",
                "la_administrator", *[part for pair in dates.items() for part in pair],
            )  # fmt: skip
        assert not User.objects.filter(username="boot").exists()

    @pytest.mark.parametrize(
        ("username", "option", "value", "message"),
        [
            ("tom", "--email", "a" * 250 + "@example.org", "email must be 254 characters"),
            ("tom", "--first-name", "T" * 151, "first name must be 150 characters"),
            ("t" * 151, "--last-name", "Baker", "username must be 150 characters"),
        ],
    )
    def test_it_refuses_what_is_too_long_to_keep(self, username, option, value, message):
        from django.core.management import CommandError, call_command

        northshire()
        with pytest.raises(CommandError, match=message):
            call_command(
                "create_user", username, "--organisation", "E06000099", "--role",
                "practitioner", option, value,
            )  # fmt: skip
        assert not User.objects.exists()

    @pytest.mark.parametrize("username", ["has space", "ＡＤＭＩＮ", "x\u200by", "tom ", "tom\n"])
    def test_it_refuses_a_username_the_form_would(self, username):
        from django.core.management import CommandError, call_command

        northshire()
        with pytest.raises(CommandError, match="Username must be lower-case letters"):
            call_command(
                "create_user", username, "--organisation", "E06000099", "--role", "practitioner"
            )
        assert not User.objects.exists()

    def test_it_refuses_an_unknown_organisation(self):
        from django.core.management import CommandError, call_command

        with pytest.raises(CommandError, match="No organisation has the code 'NOPE'"):
            call_command("create_user", "tom", "--organisation", "NOPE", "--role", "practitioner")


def test_the_code_helper_matches_what_the_app_accepts(client):
    """The tests' authenticator gives codes the sign-in page accepts (a check on the harness)."""
    from tests.personas import authenticator

    device = authenticator(priya())
    client.post(
        reverse("accounts:login"), {"username": "priya", "password": "correct-horse-battery-staple"}
    )
    assert (
        client.post(reverse("accounts:two_factor"), {"otp_token": current_code(device)}).status_code
        == 302
    )


def test_a_mistyped_date_is_shown_again_for_correcting(client):
    sign_in(client, lee())
    html = client.post(NEW_USER, new_user_form(vetting_checked_on_1="13")).content.decode()
    assert 'name="vetting_checked_on_1" type="text" inputmode="numeric" value="13"' in html
    assert 'for="id_vetting_checked_on_2">Year</label>' in html


def edit_form(user, admin, **overrides):
    """``user``'s edit form as the page gives ``admin`` it, the home postcode left empty."""
    data = {
        "username": "ignored",
        "first_name": user.first_name,
        "last_name": "Sharma",
        "email": "priya@northshire.example.org",
        "roles": [role.value for role in grantable_roles(admin) if user.has_role(role)],
        "home_postcode": "",
        "vetting_checked_on_0": str(user.vetting_checked_on.day),
        "vetting_checked_on_1": str(user.vetting_checked_on.month),
        "vetting_checked_on_2": str(user.vetting_checked_on.year),
        "training_completed_on_0": str(user.training_completed_on.day),
        "training_completed_on_1": str(user.training_completed_on.month),
        "training_completed_on_2": str(user.training_completed_on.year),
    }
    return new_user_form(**data | overrides)


class TestTheHomePostcodeIsNeverShown:
    """A user's home postcode is there only for the auditors' report of searches of their own
    street: administrators record, replace and remove it without ever seeing it."""

    @pytest.fixture
    def priya_at_home(self):
        user = priya()
        user.home_postcode = "NE1 4ST"
        user.save(update_fields=["home_postcode"])
        return user

    @pytest.fixture(params=["lee", "nina"])
    def admin_client(self, request, client):
        client.admin = lee() if request.param == "lee" else nina()
        if request.param == "lee":  # he could give Priya her role: he may change her details
            client.admin.roles = [Role.PRACTITIONER.value, Role.LA_ADMINISTRATOR.value]
            client.admin.save(update_fields=["roles"])
        sign_in(client, client.admin)
        return client

    def test_it_is_not_on_the_edit_form(self, admin_client, priya_at_home):
        page = admin_client.get(reverse("accounts:user_edit", args=[priya_at_home.pk]))
        html = page.content.decode()
        assert "NE1" not in html and "4ST" not in html
        assert "A home postcode is recorded. Leave this empty to keep it." in html
        assert "Remove the recorded home postcode" in html

    def test_a_user_without_one_is_offered_no_removal(self, admin_client):
        user = priya()
        html = admin_client.get(reverse("accounts:user_edit", args=[user.pk])).content.decode()
        assert "Home postcode (optional)" in html and "Remove the recorded" not in html

    def test_saving_without_touching_it_keeps_it(self, admin_client, priya_at_home):
        edit = reverse("accounts:user_edit", args=[priya_at_home.pk])
        response = admin_client.post(edit, edit_form(priya_at_home, admin_client.admin))
        assert response.status_code == 302
        priya_at_home.refresh_from_db()
        assert (priya_at_home.last_name, priya_at_home.home_postcode) == ("Sharma", "NE1 4ST")
        changes = LogEntry.objects.get_for_object(priya_at_home).latest("pk").changes_dict
        assert "last_name" in changes and "home_postcode" not in changes

    @pytest.mark.parametrize(
        ("typed", "held"),
        [({"home_postcode": "sw1a 1aa"}, "SW1A 1AA"), ({"remove_home_postcode": "on"}, "")],
    )
    def test_it_can_be_replaced_or_removed(self, admin_client, priya_at_home, typed, held):
        edit = reverse("accounts:user_edit", args=[priya_at_home.pk])
        admin_client.post(edit, edit_form(priya_at_home, admin_client.admin, **typed))
        priya_at_home.refresh_from_db()
        assert priya_at_home.home_postcode == held

    def test_a_new_one_and_its_removal_at_once_is_refused(self, admin_client, priya_at_home):
        edit = reverse("accounts:user_edit", args=[priya_at_home.pk])
        response = admin_client.post(
            edit,
            edit_form(
                priya_at_home,
                admin_client.admin,
                home_postcode="SW1A 1AA",
                remove_home_postcode="on",
            ),
        )
        html = response.content.decode()
        assert "Enter a new home postcode or remove the recorded one, not both" in html
        assert "NE1 4ST" not in html
        priya_at_home.refresh_from_db()
        assert priya_at_home.home_postcode == "NE1 4ST"

    @pytest.mark.usefixtures("lee_gives_practitioner")
    def test_only_auditors_read_it_in_the_change_log(self, lee_client, priya_at_home):
        """Ada the auditor, whose report it feeds, reads its changes; Lee, who made them,
        has no change log to read, and another LA's auditor does not know Priya."""
        edit = reverse("accounts:user_edit", args=[priya_at_home.pk])
        lee_client.post(edit, edit_form(priya_at_home, lee_client.admin, home_postcode="SW1A 1AA"))
        activity = reverse("audit:user_activity", args=[priya_at_home.pk])
        ada_client = Client()
        sign_in(ada_client, make_user("ada", Role.AUDITOR))
        assert "SW1A 1AA" in ada_client.get(activity).content.decode()
        assert lee_client.get(activity).status_code in (403, 404)
        other = Client()
        sign_in(other, make_user("una", Role.AUDITOR, organisation=southshire()))
        assert other.get(activity).status_code == 404
