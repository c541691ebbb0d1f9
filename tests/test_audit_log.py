"""Every request is an access event, written in its own transaction and kept append-only."""

from datetime import UTC, date, datetime, timedelta
from http.cookies import SimpleCookie
from ipaddress import ip_network

import pytest
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import middleware
from accounts.models import User
from audit.models import Action, AuditEvent, AuditSeal
from directory.models import Child
from tests.personas import (
    CONFIRM,
    PASSWORD,
    authenticator,
    break_the_access_log,
    current_code,
    lee,
    priya,
    sam,
    sign_in,
)
from tests.walk import forms_on, open_as_allowed_user, targets

pytestmark = pytest.mark.django_db


def events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


class TestEveryRequestIsAnEvent:
    def test_a_long_method_name_is_recorded_not_refused(self, client):
        """gunicorn passes methods of up to 20 letters; the event keeps the first ten."""
        sign_in(client, priya())
        response = client.generic("VERSION-CONTROL", reverse("home"))
        assert response.status_code < 500
        (event,) = events(path=reverse("home"))
        assert event.method == "VERSION-CO" and event.status == response.status_code

    def test_an_anonymous_page_view(self, client):
        client.get(reverse("accounts:login"), HTTP_USER_AGENT="Firefox/140")
        (event,) = events(path="/accounts/login/")
        assert event.action == Action.PAGE_VIEW and event.status == 200
        assert event.user_id is None and event.method == "GET"
        assert event.ip_address == "127.0.0.1" and event.user_agent == "Firefox/140"
        assert event.request_id is not None

    def test_a_signed_in_users_page_view_records_who_they_were(self, client):
        user = priya()
        sign_in(client, user)
        client.get("/")
        (event,) = events(path="/")
        assert (event.user_id, event.username, event.roles) == (user.pk, "priya", ["practitioner"])
        assert event.organisation_id == user.organisation_id

    def test_signing_in_and_out(self, client):
        device = authenticator(priya())
        client.post(reverse("accounts:login"), {"username": "priya", "password": "wrong"})
        client.post(reverse("accounts:login"), {"username": "priya", "password": PASSWORD})
        client.post(reverse("accounts:two_factor"), {"otp_token": "000000"})
        device.refresh_from_db()
        device.throttle_reset()
        client.post(reverse("accounts:two_factor"), {"otp_token": current_code(device)})
        client.post(reverse("accounts:logout"))
        actions = [event.action for event in events(method="POST")]
        assert actions == [
            Action.SIGN_IN_FAILED,
            Action.SIGN_IN,
            Action.TWO_FACTOR_FAILED,
            Action.TWO_FACTOR_PASSED,
            Action.SIGN_OUT,
        ]
        failed = events(action=Action.SIGN_IN_FAILED)[0]
        assert failed.detail == {"username": "priya"}
        assert failed.organisation_id == device.user.organisation_id, "her LA's auditors see it"
        assert events(action=Action.SIGN_OUT)[0].username == "priya"

    @pytest.mark.parametrize("left_signed_in", ["priya", "sam"])
    def test_a_refused_sign_in_where_someone_is_still_signed_in_is_the_refused_one(
        self, client, left_signed_in
    ):
        """Priya left herself signed in on a shared computer (or Sam did, before he was
        suspended), and suspended Sam tries to sign in there: the event is Sam's refused
        sign-in, where his LA's auditors see it, not a sign-out that hides it."""
        suspended = sam()
        sign_in(client, suspended if left_signed_in == "sam" else priya())
        suspended.suspended_at = timezone.now()
        suspended.save(update_fields=["suspended_at"])
        client.post(reverse("accounts:login"), {"username": "sam", "password": PASSWORD})
        (event,) = events(path=reverse("accounts:login"), action=Action.SIGN_IN_FAILED)
        assert event.user_id == suspended.pk
        assert event.detail == {"username": "sam", "access_ended": "suspended"}
        assert not events(action=Action.SIGN_OUT)
        assert client.get("/").status_code == 302, "nobody is left signed in there"

    @pytest.mark.parametrize("left_signed_in", ["priya", "sam"])
    def test_a_sign_in_over_a_session_still_open_there_ends_it_on_its_users_log(
        self, client, left_signed_in
    ):
        """Priya signs in again on a computer where her own earlier session (or Sam's) was
        still open: that session ends, and its user's log says so and why, with no secret."""
        signing_in = priya()
        left = signing_in if left_signed_in == "priya" else sam()
        sign_in(client, left)
        replaced_key = client.session.session_key
        client.post(reverse("accounts:login"), {"username": "priya", "password": PASSWORD})
        (ended,) = events(action=Action.SESSION_REPLACED)
        assert (ended.user_id, ended.organisation_id) == (left.pk, left.organisation_id)
        assert ended.detail == {"sign_in_user_id": signing_in.pk, "sign_in_username": "priya"}
        assert ended.request_id == events(action=Action.SIGN_IN)[0].request_id
        assert replaced_key not in str(AuditEvent.objects.values().get(pk=ended.pk))
        assert not Session.objects.filter(session_key=replaced_key).exists()

    def test_a_session_she_signs_out_of_as_another_signs_in_over_it_ends_once(
        self, client, monkeypatch
    ):
        """Priya clicks "Sign out" in one tab of a shared computer as Sam signs in in another,
        at the same moment: the sign-in read her session before her sign-out ended it. Her
        LA's auditors read her sign-out, and not her session replaced by Sam's as well."""
        left, signing_in = priya(), sam()
        sign_in(client, left)
        tab = Client()
        tab.cookies = SimpleCookie(client.cookies.output(header="", sep=";"))
        noted = middleware.session_replaced_note

        def once_she_has_signed_out(request, *, by):
            # The sign-in has read her session; her other tab's "Sign out" ends it first.
            assert tab.post(reverse("accounts:logout")).status_code == 302
            noted(request, by=by)

        monkeypatch.setattr(middleware, "session_replaced_note", once_she_has_signed_out)
        client.post(reverse("accounts:login"), {"username": "sam", "password": PASSWORD})
        assert [event.action for event in events(user_id=left.pk)] == [Action.SIGN_OUT]
        assert events(action=Action.SIGN_IN)[0].user_id == signing_in.pk

    def test_a_refused_sign_in_over_a_session_still_open_there_ends_it_on_its_users_log(
        self, client
    ):
        """Suspended Sam is refused on a computer where Priya was still signed in: her
        session ends all the same, and her log says why."""
        left, suspended = priya(), sam()
        suspended.suspended_at = timezone.now()
        suspended.save(update_fields=["suspended_at"])
        sign_in(client, left)
        client.post(reverse("accounts:login"), {"username": "sam", "password": PASSWORD})
        (ended,) = events(action=Action.SESSION_REPLACED)
        assert ended.user_id == left.pk
        assert ended.detail == {"sign_in_user_id": suspended.pk, "sign_in_username": "sam"}

    def test_a_sign_in_on_a_browser_nobody_was_signed_in_on_ends_no_session(self, client):
        authenticator(priya())
        client.get(reverse("accounts:login"))
        client.post(reverse("accounts:login"), {"username": "priya", "password": PASSWORD})
        assert not events(action=Action.SESSION_REPLACED)

    def test_a_username_that_names_no_account_is_not_kept(self, client):
        """It is often the password, typed in the username box."""
        authenticator(priya())
        client.post(reverse("accounts:login"), {"username": "Tr0ub4dor&3xyz", "password": "x"})
        (event,) = events(action=Action.SIGN_IN_FAILED)
        assert event.detail == {"username_unknown": True}
        assert event.user_id is None and "Tr0ub4dor" not in str(event.path)

    def test_a_username_typed_in_another_case_is_her_account(self, client, settings):
        """The lockout counts "PRIYA" as priya's attempts, and locks her account by them: her
        LA's auditors see them as hers, not as a username naming no account."""
        settings.LOCKOUT_USERNAME_FAILURES = 1
        user = priya()
        for _ in range(2):  # a wrong password, then refused as locked
            client.post(reverse("accounts:login"), {"username": "PRIYA", "password": "x"})
        failed = events(action=Action.SIGN_IN_FAILED)
        assert [event.detail for event in failed] == [
            {"username": "PRIYA"},
            {"username": "PRIYA", "locked": True},
        ]
        assert {event.user_id for event in failed} == {user.pk}

    def test_an_administrators_action_names_what_was_done_to_whom(self, client):
        sign_in(client, lee())
        user = priya()
        client.post(reverse("accounts:user_action", args=[user.pk, "suspend"]), CONFIRM)
        (event,) = events(action=Action.ADMIN_ACTION)
        assert event.detail == {"action": "suspend", "user_id": user.pk, "username": "priya"}
        assert event.status == 302

    def test_the_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(
        self, client, settings
    ):
        client.get("/accounts/login/", HTTP_X_FORWARDED_FOR="203.0.113.7")
        settings.TRUSTED_PROXIES = [ip_network("127.0.0.1")]
        client.get("/accounts/login/", HTTP_X_FORWARDED_FOR="203.0.113.8, 127.0.0.1")
        first, second = events(path="/accounts/login/")
        assert first.ip_address == "127.0.0.1"
        assert second.ip_address == "203.0.113.8"

    def test_trusted_proxies_may_be_a_range(self, client, settings):
        settings.TRUSTED_PROXIES = [ip_network("10.0.0.0/8")]
        client.get(
            "/accounts/login/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.9.9.9"
        )
        client.get("/accounts/login/", REMOTE_ADDR="192.0.2.5", HTTP_X_FORWARDED_FOR="203.0.113.9")
        behind_the_range, outside_it = events(path="/accounts/login/")
        assert behind_the_range.ip_address == "203.0.113.9"
        assert outside_it.ip_address == "192.0.2.5"

    @pytest.mark.parametrize(
        ("remote", "forwarded", "recorded"),
        [
            ("::ffff:10.0.0.2", "203.0.113.5", "203.0.113.5"),  # a server bound to [::]
            ("10.0.0.2", "203.0.113.5:51234", "203.0.113.5"),  # a hop with its port
            ("10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
            ("10.0.0.2", "10.0.0.9", "10.0.0.9"),  # every hop a proxy: the first is the client
            ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ],
    )
    def test_addresses_as_proxies_write_them(self, client, settings, remote, forwarded, recorded):
        settings.TRUSTED_PROXIES = [ip_network("10.0.0.0/24")]
        client.get("/accounts/login/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
        (event,) = events(path="/accounts/login/")
        assert event.ip_address == recorded


class TestFailClosed:
    def test_no_page_is_shown_if_its_event_cannot_be_written(self, client):
        sign_in(client, priya())
        break_the_access_log()
        response = client.get("/")
        html = response.content.decode()
        assert response.status_code == 503
        assert "could not record this request" in html
        assert "Priya" not in html and "signed in as" not in html

    @pytest.mark.parametrize(("name", "names"), targets())
    def test_no_page_of_the_walk_is_shown_if_its_event_cannot_be_written(
        self, client, settings, name, names
    ):
        """Each page, opened (GET or HEAD) or sent its forms by someone it lets in: the
        service-unavailable page, nothing of the child the page is about."""
        settings.SEARCH_RATE_LIMIT = 0
        url, _ = open_as_allowed_user(client, name, names)
        page = client.get(url)
        forms = [] if page.streaming else forms_on(page.content.decode(), url)
        break_the_access_log()
        sent = [client.generic(method, url) for method in ("GET", "HEAD")]
        sent += [(client.get if method == "GET" else client.post)(url) for method, _ in forms]
        given_names = {child.given_name for child in Child.objects.all()}
        for response in sent:
            body = b"".join(response) if response.streaming else response.content
            assert response.status_code == 503, (url, response.status_code)
            assert not any(given.encode() in body for given in given_names), url

    def test_no_change_is_kept_if_its_event_cannot_be_written(self, client):
        sign_in(client, lee())
        user = priya()
        break_the_access_log()
        response = client.post(reverse("accounts:user_action", args=[user.pk, "suspend"]), CONFIRM)
        assert response.status_code == 503
        user.refresh_from_db()
        assert user.suspended_at is None

    def test_signing_out_signs_out_even_if_its_event_cannot_be_written(self, client):
        """Staying signed in is never the safer failure: on a shared computer the next person
        would have Priya's session. She is told the service is unavailable, and is signed out."""
        sign_in(client, priya())
        break_the_access_log()
        response = client.post(reverse("accounts:logout"))
        assert response.status_code == 503
        assert not Session.objects.exists()


class TestAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE audit_event SET username = 'someone else'",
            "DELETE FROM audit_event",
            "TRUNCATE audit_event",
            "TRUNCATE audit_event_y{month}",
            "UPDATE auditlog_logentry SET object_repr = 'x'",
            "DELETE FROM auditlog_logentry",
            "TRUNCATE auditlog_logentry",
            "DELETE FROM audit_seal",
            "TRUNCATE audit_event_digest",
            "TRUNCATE audit_change_digest",
        ],
    )
    def test_postgresql_refuses_to_change_or_remove_audit_rows(self, client, statement):
        client.get("/accounts/login/")
        sign_in(client, lee())
        client.post(
            reverse("accounts:user_action", args=[priya().pk, "suspend"]), CONFIRM
        )  # a change log entry
        AuditSeal.objects.create(
            day=date(2026, 1, 1), event_count=0, events_hash="", previous_seal_hash="", seal_hash=""
        )
        month = timezone.now().astimezone(UTC).strftime("%Ym%m")
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE waits on FK checks
        refused = pytest.raises(DatabaseError, match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement.format(month=month))

    def test_events_can_still_be_added(self):
        AuditEvent.objects.create(occurred_at=timezone.now(), action=Action.PAGE_VIEW)
        assert AuditEvent.objects.count() == 1


class TestPartitions:
    def test_partitions_exist_ahead_and_the_command_adds_more(self):
        from django.core.management import call_command

        from audit.integrity import partitions

        call_command("audit_partitions", "--months-ahead", "18", stdout=None)
        months = partitions()
        now = timezone.now().date()
        assert months[-1] >= (now.replace(day=1) + timedelta(days=18 * 31)).replace(
            day=1
        ) - timedelta(days=31)

    @pytest.mark.parametrize(
        "arguments",
        [("audit_partitions", "--months-ahead", "999999"), ("audit_retention", "--years", "99999")],
    )
    def test_a_count_past_the_dates_a_month_can_have_is_refused_in_one_line(self, arguments):
        """Partitions for ten thousand years on, or a retention reaching back before year 1,
        were a ValueError's traceback from the date arithmetic; now a message, and exit 2."""
        from tests.commands import run_manage

        result = run_manage(*arguments)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().count("\n") == 0 and "must be at most" in result.stderr

    def test_an_event_in_a_month_without_a_partition_is_refused(self):
        with pytest.raises(DatabaseError, match="no partition"), transaction.atomic():
            AuditEvent.objects.create(
                occurred_at=datetime(2001, 1, 1, tzinfo=UTC), action=Action.PAGE_VIEW
            )


def test_users_are_not_deleted_by_accident():
    """Events keep a snapshot of who acted; a user row is never needed to read them."""
    assert User._meta.get_field("organisation").remote_field.on_delete.__name__ == "PROTECT"


class TestChangeLogAddress:
    def test_the_change_log_believes_forwarded_addresses_only_from_trusted_proxies(
        self, client, settings
    ):
        from auditlog.models import LogEntry

        settings.TRUSTED_PROXIES = [ip_network("127.0.0.1")]
        sign_in(client, lee())
        user = priya()
        response = client.post(
            reverse("accounts:user_action", args=[user.pk, "suspend"]),
            CONFIRM,
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR="203.0.113.66",
            HTTP_X_FORWARDED_PORT="99999999999999999999",
        )
        assert response.status_code == 302
        entry = LogEntry.objects.get_for_object(user).latest("timestamp")
        assert entry.remote_addr == "198.51.100.7", "not the address the client wrote"
        assert entry.remote_port is None
