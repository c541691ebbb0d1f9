"""Ada the auditor reads her organisation's access log; national auditors read everyone's."""

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from auditlog.context import set_actor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from audit.models import Action, AuditEvent
from audit.recorder import LISTED_BESIDE, THROUGH_ANOTHER_RECORD
from audit.views import PAGE_SIZE
from directory.models import (
    Address,
    CareRelationship,
    Child,
    Involvement,
    ParentCarer,
    Service,
    Source,
)
from shielding.models import Shield
from shielding.policy import WITHHELD
from tests.html import input_tag
from tests.personas import (
    ada,
    dana,
    deleted_by_the_database_owner,
    event_at,
    lee,
    make_address,
    make_child,
    make_service,
    make_user,
    nina,
    northshire,
    operator,
    owen,
    priya,
    sam,
    shield,
    sign_in,
    southshire,
    xavier,
)

pytestmark = pytest.mark.django_db

EVENTS = reverse("audit:events")


def event(user, action=Action.VIEW_RECORD, at=None, **fields):
    values = {
        "user_id": user.pk,
        "username": user.username,
        "roles": user.roles,
        "organisation_id": user.organisation_id,
        "action": action,
        "path": "/",
    }
    values.update(fields)
    return event_at(at or timezone.now() - timedelta(minutes=5), **values)


def override_given(user: User) -> None:
    """Her roles made practitioner and override practitioner, as her administrator does."""
    from accounts import services

    services.user_update(
        user=user, first_name=user.first_name, last_name=user.last_name,
        email=user.email, job_title=user.job_title, phone="", home_postcode="",
        roles=[Role.PRACTITIONER, Role.OVERRIDE_PRACTITIONER],
        vetting_checked_on=user.vetting_checked_on,
        training_completed_on=user.training_completed_on,
    )  # fmt: skip


@pytest.fixture
def ada_client(client):
    auditor = ada()
    sign_in(client, auditor)
    client.auditor = auditor
    return client


class TestScope:
    def test_ada_sees_her_organisations_events_only(self, ada_client):
        event(priya(), child_contactpoint_id="111111111111")
        event(xavier(), child_contactpoint_id="222222222222")
        html = ada_client.get(EVENTS).content.decode()
        assert "111111111111" in html and "222222222222" not in html

    def test_a_national_auditor_sees_every_organisation(self, client):
        sign_in(client, make_user("nadia", Role.AUDITOR, organisation=operator()))
        event(priya(), child_contactpoint_id="111111111111")
        event(xavier(), child_contactpoint_id="222222222222")
        html = client.get(EVENTS).content.decode()
        assert "111111111111" in html and "222222222222" in html

    def test_a_users_page_shows_who_changed_their_roles_and_access(self, ada_client):
        from accounts import services

        user, admin = priya(), lee()
        with set_actor(admin):
            override_given(user)
            services.user_suspend(user=user)
        html = ada_client.get(reverse("audit:user_activity", args=[user.pk])).content.decode()
        section = html.split("Changes to the account", 1)[1]
        assert "Roles: Practitioner → Practitioner, Override practitioner" in section
        assert "Suspended at: not set → " in section and "lee" in section

    def test_what_her_administrator_changed_stays_on_ada_s_screen_once_he_has_left(
        self, ada_client
    ):
        """Lee, Northshire's administrator, made Priya an override practitioner and then
        moved to Southshire: the change left Priya's page, read as another LA's
        administrator's, and Ada could no longer see who gave her the right to override."""
        user, admin = priya(), lee()
        with set_actor(admin):
            override_given(user)
        admin.organisation = southshire()
        admin.save()
        html = ada_client.get(reverse("audit:user_activity", args=[user.pk])).content.decode()
        section = html.split("Changes to the account", 1)[1]
        assert "Roles: Practitioner → Practitioner, Override practitioner" in section
        assert "lee" in section

    def test_a_user_who_moved_here_brings_no_other_las_history_onto_ada_s_screen(self, ada_client):
        from accounts import services

        mover = make_user("mover", Role.PRACTITIONER, organisation=southshire())
        theirs = make_user("southlee", Role.LA_ADMINISTRATOR, organisation=southshire())
        with set_actor(theirs):
            services.user_suspend(user=mover)
        mover.organisation = northshire()
        mover.save()
        with set_actor(lee()):
            services.user_reactivate(user=mover)
        html = ada_client.get(reverse("audit:user_activity", args=[mover.pk])).content.decode()
        section = html.split("Changes to the account", 1)[1]
        assert "lee" in section and "southlee" not in section

    def test_another_las_user_has_no_activity_page_for_ada(self, ada_client):
        assert ada_client.get(reverse("audit:user_activity", args=[xavier().pk])).status_code == 404

    def test_a_leavers_activity_here_is_ada_s_to_read_but_not_where_she_works_now(self, ada_client):
        """Priya moved to Southshire: her Northshire events are still on Ada's list, and the
        link to her activity led to 'Page not found'. Ada reads what Priya did in Northshire,
        not her new LA, her roles there, nor what she has done there since."""
        leaver = priya()
        event(leaver, child_contactpoint_id="111111111111", path="/before")
        leaver.organisation = southshire()
        leaver.save()
        event(leaver, child_contactpoint_id="222222222222", path="/since")
        response = ada_client.get(reverse("audit:user_activity", args=[leaver.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        assert "/before" in html and "/since" not in html
        assert "Southshire" not in html and "Roles now" not in html
        assert "No longer" in html

    def test_a_leavers_account_changes_since_she_left_are_not_ada_s_to_read(self, ada_client):
        """Priya moved to Southshire, where Nina gave her the shielding officer's role and a
        new job title and phone: Ada's page said she was 'No longer Northshire', and its
        change table then listed those changes, the service operator's. Ada reads what was
        changed while Priya was hers, not where she went or what she does there."""
        from accounts import services

        leaver = priya()
        with set_actor(lee()):
            services.user_update(
                user=leaver, first_name="Priya", last_name="Patel", email="",
                job_title="School nurse", phone="", home_postcode="",
                roles=[Role.PRACTITIONER], vetting_checked_on=leaver.vetting_checked_on,
                training_completed_on=leaver.training_completed_on,
            )  # fmt: skip
        event(leaver, path="/before")
        leaver.organisation = southshire()
        leaver.save()
        with set_actor(nina()):
            services.user_update(
                user=leaver, first_name="Priya", last_name="Patel",
                email="priya@southshire.example.org", job_title="Refuge liaison officer",
                phone="01632 960999", home_postcode="",
                roles=[Role.PRACTITIONER, Role.SHIELDING_OFFICER],
                vetting_checked_on=leaver.vetting_checked_on,
                training_completed_on=leaver.training_completed_on,
            )  # fmt: skip
        html = ada_client.get(reverse("audit:user_activity", args=[leaver.pk])).content.decode()
        section = html.split("Changes to the account", 1)[1]
        assert "School nurse" in section
        for since in ("Shielding officer", "Refuge liaison", "01632 960999", "southshire"):
            assert since not in section
        assert f"Organisation: {northshire().pk} → {southshire().pk}" not in section


class TestFilters:
    def test_by_user_child_action_and_dates(self, ada_client):
        user, other = priya(), make_user("tom", Role.PRACTITIONER)
        child = make_child()
        event(user, child_contactpoint_id=child.contactpoint_id, path="/wanted")
        event(user, action=Action.SEARCH, result_ids=[child.contactpoint_id], path="/search-hit")
        event(other, path="/other-user")
        event(user, at=timezone.now() - timedelta(days=40), path="/too-old")
        query = {
            "username": "priya",
            "contactpoint_id": child.contactpoint_id_display,
            "date_from": (timezone.localdate() - timedelta(days=7)).isoformat(),
        }
        html = ada_client.get(EVENTS, query).content.decode()
        assert "/wanted" in html and "/search-hit" in html
        assert "/other-user" not in html and "/too-old" not in html
        html = ada_client.get(EVENTS, {**query, "action": "search"}).content.decode()
        assert "/search-hit" in html and "/wanted" not in html

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"contactpoint_id": "12345"}, "Enter a ContactPoint ID of 12 digits"),
            ({"contactpoint_id": "1234 5678 9012"}, "a digit is wrong or two are swapped"),
            (
                {"date_from_0": "31", "date_from_1": "2", "date_from_2": "2026"},
                "Date from must be a real date",
            ),
            ({"date_from_0": "1", "date_from_2": "2026"}, "Date from must include a month"),
            ({"date_from": "2026-13-40"}, "Date from must be a real date"),
            ({"date_from": "yesterday"}, "Date from must be a real date"),
            ({"date_from": "11/01/2026"}, "Date from must be a real date"),  # which day?
            (
                {
                    "date_from_0": "20",
                    "date_from_1": "11",
                    "date_from_2": "2026",
                    "date_to_0": "1",
                    "date_to_1": "11",
                    "date_to_2": "2026",
                },
                "Date to must be the same as or after date from",
            ),
            ({"action": "steal"}, "Select one of the options for action"),
        ],
    )
    def test_bad_filters_get_a_clear_message(self, ada_client, query, message):
        html = ada_client.get(EVENTS, query).content.decode()
        assert message in html and "govuk-error-summary" in html

    @pytest.mark.parametrize(
        ("boxes", "first_wrong", "outlined"),
        [
            (("1", "", "2026"), "date_from_1", ["date_from_1"]),
            (("", "", "2026"), "date_from_0", ["date_from_0", "date_from_1"]),
            (("1", "13", "2026"), "date_from_1", ["date_from_1"]),
            (("1", "11", "26"), "date_from_2", ["date_from_2"]),
            (("31", "2", "2026"), "date_from_0", ["date_from_0"]),
            (("9" * 5000, "2", "2026"), "date_from_0", ["date_from_0"]),
        ],
    )
    def test_a_date_error_points_at_the_box_to_mend(self, ada_client, boxes, first_wrong, outlined):
        """GOV.UK: the summary's link goes to the first box with the problem, and only the boxes
        with the problem are outlined; a missing month linked to the day, all three in red."""
        query = {f"date_from_{index}": value for index, value in enumerate(boxes)}
        html = ada_client.get(EVENTS, query).content.decode()
        assert f'href="#id_{first_wrong}"' in html
        for index in range(3):
            tag = input_tag(html, f"id_date_from_{index}")
            assert ("govuk-input--error" in tag) == (f"date_from_{index}" in outlined), tag

    @pytest.mark.parametrize("page", ["audit:events", "audit:anomalies", "audit:charts"])
    def test_dates_are_typed_as_day_month_and_year(self, ada_client, page):
        """The GOV.UK date input, as everywhere else in the service, not the browser's own
        picker (which reads "mm/dd/yyyy" in an American browser); the days chosen are kept
        in the inputs, and the next page's link keeps them."""
        html = ada_client.get(
            reverse(page),
            {"date_from_0": "2", "date_from_1": "11", "date_from_2": "2026",
             "date_to_0": "3", "date_to_1": "11", "date_to_2": "2026"},
        ).content.decode()  # fmt: skip
        assert 'type="date"' not in html and "govuk-error-summary" not in html
        for name, value in (("date_from_0", "2"), ("date_from_1", "11"), ("date_to_0", "3")):
            assert re.search(
                rf'name="{name}" type="text" inputmode="numeric" value="{value}"', html
            )

    def test_a_period_typed_as_day_month_and_year_filters_the_events(self, ada_client):
        user = priya()
        event(user, at=timezone.now() - timedelta(days=3), path="/three-days-ago")
        event(user, at=timezone.now() - timedelta(days=40), path="/too-old")
        since = timezone.localdate() - timedelta(days=7)
        query = {"date_from_0": since.day, "date_from_1": since.month, "date_from_2": since.year}
        html = ada_client.get(EVENTS, query).content.decode()
        assert "/three-days-ago" in html and "/too-old" not in html

    def test_each_query_is_itself_an_event(self, ada_client):
        ada_client.get(EVENTS, {"username": "priya"})
        logged = AuditEvent.objects.filter(action=Action.AUDITOR_QUERY).get()
        assert logged.username == "ada"
        assert logged.search_criteria == {"query": "events", "username": "priya"}

    def test_older_events_are_a_page_away(self, ada_client):
        user = priya()
        for n in range(55):
            event(user, path=f"/page-{n}")
        first = ada_client.get(EVENTS).content.decode()
        assert "/page-54" in first and "/page-3<" not in first
        link = first.split('href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        second = ada_client.get(f"{EVENTS}?{link}").content.decode()
        assert "/page-3<" in second and "/page-54" not in second

    def test_a_refused_admin_action_reads_as_refused(self, ada_client):
        """Lee suspending Priya, and Lee's second try refused (she was already suspended),
        are two events at the same path with the same status: the list must say which one
        changed nothing, or Ada reads two suspensions. Asking first is its own page."""
        admin, user = lee(), priya()
        said = {"user_id": user.pk, "username": user.username}
        path = f"/accounts/users/{user.pk}/suspend/"
        event(
            admin,
            Action.PAGE_VIEW,
            path=path,
            status=200,
            detail={"page": "confirm_suspend", **said},
        )
        event(
            admin, Action.ADMIN_ACTION, path=path, status=302, detail={"action": "suspend", **said}
        )
        event(
            admin, Action.ADMIN_ACTION, path=path, status=302,
            detail={"action": "suspend", **said, "refused": True},
        )  # fmt: skip
        html = ada_client.get(EVENTS, {"username": "lee"}).content.decode()
        assert html.count("Refused: nothing was changed") == 1
        assert html.count("Asked to confirm: suspend") == 1

    def test_a_sign_out_says_why_the_session_ended(self, ada_client):
        """Priya's sign-outs by time-out, new password, reset or ended access are not ones she
        made herself: Ada reads why in the list, not only in the export."""
        user = priya()
        reasons = {
            "Signed out: idle for 20 minutes": {"timed_out": "idle", "minutes": 20},
            "Signed out: signed in for 10 hours": {"timed_out": "session_length", "minutes": 600},
            # Kept before the time allowed was, which today's setting may not be.
            "Signed out: idle for longer than allowed": {"timed_out": "idle"},
            "Signed out: signed in for longer than allowed": {"timed_out": "session_length"},
            "Signed out: password changed": {"password_changed": True},
            "Signed out: account deleted": {"account_deleted": True},
            # Found by a request; the clean-up's, below, is dated when its session expired.
            "Signed out: no sign-in time recorded<": {"sign_in_unrecorded": True},
            "Signed out: access ended (suspended)<": {"access_ended": "suspended"},
            "Signed out: access ended (suspended, since reactivated)": {
                "access_ended": "suspended",
                "reactivated": True,
            },
            "Signed out: two-factor sign-in reset": {"two_factor_reset": True},
            "Signed out: access ended (vetting check expired or not recorded)": {
                "access_ended": "vetting"
            },
            "Signed out: access ended (90 days without signing in)": {"access_ended": "dormant"},
        }
        for detail in (None, *reasons.values()):
            event(user, Action.SIGN_OUT, path="/", status=302, detail=detail)
        cleared = "Signed out: no sign-in time recorded, dated when its session expired"
        reasons[cleared] = {"sign_in_unrecorded": True}
        event(user, Action.SIGN_OUT, path="", method="", status=None, detail=reasons[cleared])
        html = ada_client.get(EVENTS, {"username": "priya"}).content.decode()
        for said in reasons:
            assert html.count(said) == 1, said
        assert html.count("Signed out:") == len(reasons), "her own sign-out gives no reason"

    def test_a_time_out_is_said_as_it_was_set_then(self, ada_client, settings):
        """Priya's session timed out after 20 idle minutes; the service now allows 30. Ada
        read "idle for 30 minutes": the event is said with the time allowed when it ended."""
        user, theirs = priya(), Client()
        sign_in(theirs, user)
        session = theirs.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        theirs.get("/")
        settings.SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
        html = ada_client.get(EVENTS, {"username": "priya"}).content.decode()
        assert "Signed out: idle for 20 minutes" in html and "30 minutes" not in html


class TestUsersNamed:
    """Ada read only usernames ("asmith2"), where every other page names people: each table
    of hers names a user as the service does, with the username that tells apart two people
    of one name."""

    def two_ann_smiths(self):
        anns = [make_user(username, Role.PRACTITIONER) for username in ("asmith", "asmith2")]
        for ann in anns:
            ann.first_name, ann.last_name = "Ann", "Smith"
            ann.save()
        return anns

    def test_the_event_list_and_a_users_page_name_each_user(self, ada_client):
        ann, other = self.two_ann_smiths()
        for user in (ann, other):
            event(user, path=f"/by-{user.username}")
        html = ada_client.get(EVENTS).content.decode()
        assert ">Ann Smith (asmith)</a>" in html and ">Ann Smith (asmith2)</a>" in html
        activity = ada_client.get(reverse("audit:user_activity", args=[other.pk]))
        assert ">Ann Smith (asmith2)</a>" in activity.content.decode()

    def test_a_change_history_names_who_made_each_change(self, ada_client):
        from shielding.services import shield_lift

        amy, officer = make_child(given_name="Amy"), sam()
        officer.last_name = "Okafor"
        officer.save()
        shield(amy)
        with set_actor(officer):
            shield_lift(shield=Shield.objects.get(child=amy), by=officer, note="Moved away")
        html = history_of(ada_client, amy)
        assert '<td class="govuk-table__cell">Sam Okafor (sam)</td>' in html
        assert "Lifted by: not set → Sam Okafor (sam)" in html

    def test_the_anomaly_reports_name_each_user(self, ada_client):
        ann, _ = self.two_ann_smiths()
        event(ann, Action.OVERRIDE, child_contactpoint_id="111111111111", reason="Police call")
        html = ada_client.get(ANOMALIES).content.decode()
        overrides = html.split("Shield overrides", 1)[1].split("<h2", 1)[0]
        assert ">Ann Smith (asmith)</td>" in overrides

    def test_a_page_of_many_users_looks_them_up_at_once(self, ada_client):
        """Named by a query for each row, a page of 50 events would cost 50 more queries."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        def queries_for_a_page_of(users):
            for n, user in enumerate(users):
                event(user, path=f"/row-{n}")
            with CaptureQueriesContext(connection) as queries:
                ada_client.get(EVENTS)
            return len(queries)

        one = queries_for_a_page_of([make_user("one", Role.PRACTITIONER)] * 5)
        many = queries_for_a_page_of([make_user(f"many{n}", Role.PRACTITIONER) for n in range(5)])
        assert one == many


class TestChangesByAUserSinceDeleted:
    """django-auditlog clears the actor of a deleted user's entries, keeping her email (blank
    where she had none): the change history said "system", and an auditor would believe an
    automatic process had made the change. A person did."""

    def test_a_childs_history_says_a_user_since_deleted_made_the_change(self, ada_client):
        child = make_child()  # by no one signed in: "system"
        named, unnamed = make_user("tom", Role.PRACTITIONER), make_user("una", Role.PRACTITIONER)
        named.email = "tom.baker@northshire.example.org"
        named.save()
        for user, line_1 in ((named, "1 Mill Lane"), (unnamed, "2 Mill Lane")):
            with set_actor(user):
                make_address(child, line_1=line_1)
        for user in (named, unnamed):
            deleted_by_the_database_owner(user)
        by = [who for who, _ in changes_by(history_of(ada_client, child))]
        assert by == [
            "system",
            "a user since deleted (tom.baker@northshire.example.org)",
            "a user since deleted",
        ], "the child, then the addresses"

    def test_a_users_page_says_a_user_since_deleted_changed_her_account(self, ada_client):
        from accounts import services

        user, admin = priya(), make_user("lena", Role.LA_ADMINISTRATOR)
        admin.email = "lena@northshire.example.org"
        admin.save()
        with set_actor(admin):
            services.user_suspend(user=user)
        deleted_by_the_database_owner(admin)
        html = ada_client.get(reverse("audit:user_activity", args=[user.pk])).content.decode()
        assert "Suspended at: not set → " in html.split("Changes to the account", 1)[1]
        suspended = [who for who, what in changes_by(html) if what.startswith("update")]
        assert suspended == ["a user since deleted (lena@northshire.example.org)"]

    def test_a_user_since_deleted_named_by_a_change_is_said_to_be(self, ada_client):
        """Tom worked with Amy and handed her over to Priya; his account was since deleted.
        Ada read his id in the history ("Practitioner: 17 → Priya (priya)"): she reads that
        a user since deleted worked with Amy, as the "By" column names one."""
        amy, tom = make_child(given_name="Amy"), make_user("tom", Role.PRACTITIONER)
        involvement = Involvement.objects.create(
            child=amy, practitioner=tom, started_on=timezone.localdate(), source=Source.LA_SYSTEM
        )
        with set_actor(dana()):
            involvement.practitioner = priya()
            involvement.save()
        deleted_by_the_database_owner(tom)
        html = history_of(ada_client, amy)
        assert "Practitioner: not set → a user since deleted" in html, "her first involvement"
        assert "Practitioner: a user since deleted → Priya (priya)" in html, "its handover"
        assert f"{tom.pk} →" not in html and f"→ {tom.pk}<" not in html


class TestOrganisationsNamed:
    """A child's move between LAs read "Local authority: 1 → 2" in her history: Southshire's
    auditor reads the LAs' names, where the change is hers to read at all."""

    def moved_to_southshire(self, *, shielded: bool) -> Child:
        amy = make_child(given_name="Amy")
        if shielded:
            shield(amy)
        amy.local_authority = southshire()
        amy.save()
        return amy

    def test_a_childs_move_names_the_las(self, client):
        amy = self.moved_to_southshire(shielded=False)
        sign_in(client, make_user("sue", Role.AUDITOR, organisation=southshire()))
        assert "Local authority: Northshire → Southshire" in history_of(client, amy)

    def test_a_shielded_childs_move_stays_withheld(self, client):
        amy = self.moved_to_southshire(shielded=True)
        sign_in(client, make_user("sue", Role.AUDITOR, organisation=southshire()))
        html = history_of(client, amy)
        assert f"Local authority: {WITHHELD}" in html and "Northshire" not in html
        sign_in(client, make_user("sol", Role.AUDITOR, Role.SHIELDING_OFFICER,
                                  organisation=southshire()))  # fmt: skip
        assert "Local authority: Northshire → Southshire" in history_of(client, amy)


def changes_by(html: str) -> list[tuple[str, str]]:
    """Who made each change in a page's change table, and what it was, oldest first."""
    table = html.split('<h2 class="govuk-heading-m">Changes to', 1)[1].split("</table>", 1)[0]
    rows = [
        re.findall(r'<td class="govuk-table__cell">([^<]*)</td>', row)
        for row in re.findall(r"<tr [^>]*>(.*?)</tr>", table, re.S)
    ]
    return [(unescape(who), unescape(what)) for _, who, what, *_ in filter(None, rows)]


class TestDatesSaid:
    """Ada read a change made "2026-11-30 18:26:15.470081", as the change log keeps it, in
    UTC: every table of hers says it as GOV.UK pages do, in UK time."""

    def test_a_change_history_says_its_dates_in_words_in_uk_time(self, ada_client):
        user = priya()
        with set_actor(lee()):
            user.suspended_at = datetime(2026, 11, 30, 18, 26, 15, 470081, tzinfo=UTC)
            user.vetting_checked_on = date(2026, 3, 2)
            user.save()
            user.suspended_at = datetime(2026, 7, 1, 11, 5, tzinfo=UTC)  # 12:05pm, summer time
            user.save()
        html = ada_client.get(reverse("audit:user_activity", args=[user.pk])).content.decode()
        section = html.split("Changes to the account", 1)[1]
        assert "Suspended at: not set → 30 November 2026, 6:26pm" in section
        assert "Suspended at: 30 November 2026, 6:26pm → 1 July 2026, 12:05pm" in section
        assert "Vetting checked on: 5 January 2026 → 2 March 2026" in section
        assert "2026-" not in section
        first_cells = r'<tr class="govuk-table__row">\s*<td class="govuk-table__cell">(.*?)</td>'
        when = re.findall(first_cells, section)
        assert when and all(
            re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}, (\d{1,2}(:\d\d)?[ap]m|midday|midnight)", said)
            for said in when
        ), when

    def test_the_access_events_and_reports_say_when_in_words_in_uk_time(self, ada_client):
        user = owen()
        event(user, at=datetime(2026, 11, 30, 18, 26, 15, tzinfo=UTC))
        event(user, Action.OVERRIDE, at=datetime(2026, 7, 1, 11, 5, 9, tzinfo=UTC),
              child_contactpoint_id="111111111111", reason="Police call")  # fmt: skip
        html = ada_client.get(EVENTS, {"username": "owen"}).content.decode()
        assert "30 November 2026, 6:26:15pm" in html and "1 July 2026, 12:05:09pm" in html
        report = ada_client.get(
            ANOMALIES, {"date_from": "2026-07-01", "date_to": "2026-07-01"}
        ).content.decode()
        assert ">1 July 2026, 12:05pm</td>" in report

    def test_the_csv_export_keeps_its_machine_readable_times(self, ada_client):
        event(priya(), at=datetime(2026, 11, 30, 18, 26, 15, tzinfo=UTC))
        body = b"".join(ada_client.get(reverse("audit:export")).streaming_content).decode()
        rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
        assert "2026-11-30 18:26:15+00:00" in [row["occurred_at"] for row in rows]


class TestTheChildrenAnAuditorReads:
    """Ada's own events name the children whose ContactPoint IDs her pages show her, so that a
    child's access history (for a subject access request) lists Ada's reading too."""

    def read_by_ada(self, ada_client, path):
        """Ada's latest event at the path, not one naming the children listed beside it."""
        read = AuditEvent.objects.filter(user_id=ada_client.auditor.pk, path=path)
        return read.filter(detail__isnull=True).latest("id")

    def test_a_page_of_events_names_the_children_it_shows_and_not_the_next_pages(self, ada_client):
        user, older, newer = priya(), make_child(), make_child(given_name="Ben")
        event(user, child_contactpoint_id=older.contactpoint_id, path="/older")
        for n in range(PAGE_SIZE):
            event(user, path=f"/page-{n}")
        event(user, child_contactpoint_id=newer.contactpoint_id, path="/newer")
        first = ada_client.get(EVENTS).content.decode()
        assert newer.contactpoint_id in first and older.contactpoint_id not in first
        assert self.read_by_ada(ada_client, EVENTS).result_ids == [newer.contactpoint_id]
        link = first.split('href="?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        second = ada_client.get(f"{EVENTS}?{link}").content.decode()
        assert older.contactpoint_id in second
        assert self.read_by_ada(ada_client, EVENTS).result_ids == [older.contactpoint_id]

    def test_a_users_activity_names_the_children_it_shows_and_not_the_next_pages(self, ada_client):
        user, older, newer = priya(), make_child(), make_child(given_name="Ben")
        event(user, child_contactpoint_id=older.contactpoint_id)
        for _ in range(PAGE_SIZE):
            event(user)
        event(user, child_contactpoint_id=newer.contactpoint_id)
        page = reverse("audit:user_activity", args=[user.pk])
        assert newer.contactpoint_id in ada_client.get(page).content.decode()
        assert self.read_by_ada(ada_client, page).result_ids == [newer.contactpoint_id]

    def test_a_child_searched_for_by_her_id_is_named(self, ada_client):
        """Priya's search by ContactPoint ID found no one (the record is archived), but the
        list shows the ID she typed."""
        child = make_child()
        event(priya(), action=Action.SEARCH, result_count=0,
              search_criteria={"contactpoint_id": child.contactpoint_id})  # fmt: skip
        assert child.contactpoint_id in ada_client.get(EVENTS).content.decode()
        assert self.read_by_ada(ada_client, EVENTS).result_ids == [child.contactpoint_id]

    def test_the_child_filtered_for_is_named_where_events_were_found(self, ada_client):
        """The list says that Priya's search found her, though it shows no ID for it."""
        child, nobody = make_child(), make_child(given_name="Ben")
        event(priya(), action=Action.SEARCH, result_ids=[child.contactpoint_id], result_count=1)
        ada_client.get(EVENTS, {"contactpoint_id": child.contactpoint_id})
        assert self.read_by_ada(ada_client, EVENTS).result_ids == [child.contactpoint_id]
        ada_client.get(EVENTS, {"contactpoint_id": nobody.contactpoint_id})
        assert self.read_by_ada(ada_client, EVENTS).result_ids == [], "no event was shown"

    def test_events_that_found_the_child_filtered_for_name_her_in_the_child_column(
        self, ada_client
    ):
        """Filtered by Amy's ID, the list shows Priya's search that found her and another
        auditor's query that read her ID with Amy's ID in the Child column, saying how each
        named her, not with a blank where the child should be."""
        amy = make_child(given_name="Amy")
        event(priya(), action=Action.SEARCH, result_ids=[amy.contactpoint_id], result_count=1)
        event(make_user("ava", Role.AUDITOR), action=Action.AUDITOR_QUERY,
              result_ids=[amy.contactpoint_id], search_criteria={"query": "events"})  # fmt: skip
        html = ada_client.get(EVENTS, {"contactpoint_id": amy.contactpoint_id}).content.decode()
        cells = re.findall(r'<td class="govuk-table__cell">(.*?)</td>', html, re.S)
        said = [cell for cell in cells if amy.contactpoint_id_display in cell]
        assert len(said) == 2, "each event names her"
        assert "Found by this search" in said[1] and "Read in this query" in said[0]

    def test_another_las_auditors_do_not_learn_which_child_ada_asked_for_beside_theirs(
        self, ada_client
    ):
        """Sam's page of Southshire's record lists Ada's child beside it (a shield for sharing
        protecting her). Ada reads her child's events: Southshire's auditors read, in their
        child's history, that Ada read their child's ID, and not whom she asked for."""
        ours, theirs = make_child(), make_child(local_authority=southshire())
        event(sam(), child_contactpoint_id=theirs.contactpoint_id,
              result_ids=[ours.contactpoint_id])  # fmt: skip
        ada_client.get(EVENTS, {"contactpoint_id": ours.contactpoint_id})
        assert self.read_by_ada(ada_client, EVENTS).result_ids == [ours.contactpoint_id]
        southern = Client()
        sign_in(southern, make_user("sue", Role.AUDITOR, organisation=southshire()))
        history = history_of(southern, theirs)
        assert ">Ada (ada)</a>" in history and "Listed with the child asked for" in history
        assert ours.contactpoint_id not in history

    def test_the_export_names_every_child_in_the_file(self, ada_client):
        """The file's rows name the children viewed, found or searched for by ID; the event,
        written before any row leaves, names them all, and no one else."""
        user = priya()
        viewed, found, typed, other = (make_child(given_name=name) for name in "ABCD")
        event(user, child_contactpoint_id=viewed.contactpoint_id)
        event(
            user, action=Action.SEARCH, result_ids=[found.contactpoint_id, viewed.contactpoint_id]
        )
        event(
            user, action=Action.SEARCH, search_criteria={"contactpoint_id": typed.contactpoint_id}
        )
        event(user, action=Action.SEARCH, search_criteria={"contactpoint_id": "not an ID"})
        event(xavier(), child_contactpoint_id=other.contactpoint_id)
        response = ada_client.get(reverse("audit:export"), {"username": "priya"})
        download = self.read_by_ada(ada_client, reverse("audit:export"))
        named = {viewed.contactpoint_id, found.contactpoint_id, typed.contactpoint_id}
        assert sorted(download.result_ids) == sorted(named)
        body = b"".join(response.streaming_content).decode()
        assert all(cpid in body for cpid in named) and other.contactpoint_id not in body
        history = history_of(ada_client, found)
        assert reverse("audit:export") in history

    def test_her_access_history_says_the_auditor_asked_for_the_download(self, ada_client):
        """Not that Ada searched for "query events_csv", as if in the directory."""
        child = make_child()
        event(priya(), child_contactpoint_id=child.contactpoint_id)
        ada_client.get(reverse("audit:export"), {"username": "priya"})
        history = history_of(ada_client, child)
        assert "Asked for: query events_csv, username priya" in history
        assert "Searched for: query" not in history

    def test_an_export_of_one_childs_events_names_the_others_apart(self, ada_client):
        child, beside = make_child(), make_child(given_name="Ben")
        event(priya(), action=Action.SEARCH,
              result_ids=[child.contactpoint_id, beside.contactpoint_id])  # fmt: skip
        export = reverse("audit:export")
        ada_client.get(export, {"contactpoint_id": child.contactpoint_id})
        assert self.read_by_ada(ada_client, export).result_ids == [child.contactpoint_id]
        apart = AuditEvent.objects.get(path=export, detail__has_key=LISTED_BESIDE)
        assert apart.result_ids == [beside.contactpoint_id] and apart.action == Action.EXPORT

    def test_her_access_history_lists_ada_reading_her_id(self, ada_client):
        child = make_child()
        event(priya(), child_contactpoint_id=child.contactpoint_id)
        ada_client.get(EVENTS, {"username": "priya"})
        history = history_of(ada_client, child)
        assert "Auditor query" in history and "Asked for: query events, username priya" in history


def sees_the_clinic(child: Child) -> None:
    """The child sees Brookside sexual health clinic, with her consent: a sensitive service,
    recorded by Priya (her change-log entry)."""
    clinic = make_service(Service.Kind.SEXUAL_HEALTH, name="Brookside Clinic")
    with set_actor(priya()):
        Involvement.objects.create(
            child=child, service=clinic, started_on=timezone.localdate(),
            sensitive_category="sexual_health", sensitive_basis="consent",
            source=Source.LA_SYSTEM,
        )  # fmt: skip


def history_of(client, child: Child) -> str:
    """The child's history page, as the signed-in auditor reads it."""
    return client.get(reverse("audit:child_history", args=[child.contactpoint_id])).content.decode()


def amy_at_mill_lane() -> Child:
    """Amy, whose address a practitioner recorded: a change her history lists."""
    amy = make_child(given_name="Amy")
    with set_actor(priya()):
        Address.objects.create(
            child=amy, line_1="1 Mill Lane", postcode="NE1 4ST", source=Source.PRACTITIONER
        )
    return amy


class TestChildHistory:
    def test_it_lists_who_saw_or_found_the_child_and_what_changed(self, ada_client):
        child = make_child()
        user = priya()
        event(user, child_contactpoint_id=child.contactpoint_id, path="/viewed")
        event(user, action=Action.SEARCH, result_ids=[child.contactpoint_id], path="/found")
        with set_actor(user):
            Address.objects.create(
                child=child, line_1="1 Mill Lane", postcode="NE1 4ST", source=Source.PRACTITIONER
            )
        html = history_of(ada_client, child)
        assert "/viewed" in html and "/found" in html
        assert "NE1 4ST" in html and "Print this page" in html

    def test_the_childs_id_is_shown_in_groups_of_four_as_on_every_other_page(self, ada_client):
        """An auditor reads the ID out, or types it, as the record page prints it."""
        child = make_child()
        event(priya(), child_contactpoint_id=child.contactpoint_id, path="/viewed")
        spaced = child.contactpoint_id_display
        assert f"Access history of ContactPoint ID {spaced}</h1>" in history_of(ada_client, child)
        listed = ada_client.get(reverse("audit:events")).content.decode()
        assert f">{spaced}</a>" in listed

    def test_it_includes_the_accesses_to_records_merged_into_the_childs(self, ada_client):
        """Two records of one child, merged: a subject access request is about the child,
        and who saw her under the record that was merged away saw her."""
        from directory.services import children_merge

        kept, absorbed = make_child(), make_child(given_name="Amy")
        user = priya()
        event(user, child_contactpoint_id=absorbed.contactpoint_id, path="/viewed-before")
        event(user, action=Action.SEARCH, result_ids=[absorbed.contactpoint_id], path="/found")
        children_merge(kept=kept, absorbed=absorbed, by=dana())
        html = history_of(ada_client, kept)
        assert "/viewed-before" in html and "/found" in html
        listed = "Records merged into this one, whose accesses are listed too:"
        assert f"{listed} {absorbed.contactpoint_id_display}." in html

    @pytest.mark.parametrize("shielded", [False, True])
    def test_it_includes_the_changes_to_records_merged_into_the_childs(self, ada_client, shielded):
        """What was changed on the record merged away was changed about her; masked as her
        record is, if it is shielded."""
        from directory.services import children_merge

        kept, absorbed = make_child(), amy_at_mill_lane()
        children_merge(kept=kept, absorbed=absorbed, by=dana())
        if shielded:
            shield(kept)
        html = history_of(ada_client, kept)
        assert ("1 Mill Lane" in html) is not shielded
        assert (WITHHELD in html) is shielded

    def test_a_change_made_while_merged_is_masked_once_the_record_it_went_back_to_is_shielded(
        self, ada_client
    ):
        """Two records wrongly merged (twins): while merged, Amy's new address was typed on
        the kept record, so its entry names Amelia's. The merge undone, the address is Amy's
        again and Amy is shielded: the entry says where Amy lives, so it is masked in
        Amelia's history as in Amy's own."""
        from directory.models import Merge
        from directory.services import children_merge, children_unmerge

        kept, absorbed = make_child(), make_child(given_name="Amy")
        practitioner, manager = priya(), dana()
        with set_actor(practitioner):
            home = Address.objects.create(
                child=absorbed, line_1="1 Mill Lane", postcode="NE1 4ST",
                source=Source.PRACTITIONER,
            )  # fmt: skip
        merge = children_merge(kept=kept, absorbed=absorbed, by=manager)
        with set_actor(practitioner):
            home.refresh_from_db()
            home.line_1, home.postcode = "5 Refuge Road", "NE7 7HW"
            home.save()
        children_unmerge(merge=Merge.objects.get(pk=merge.pk), by=manager)
        shield(absorbed)
        html = history_of(ada_client, kept)
        assert "5 Refuge Road" not in html and "NE7 7HW" not in html
        assert WITHHELD in html

    @pytest.mark.parametrize("undone", [False, True])
    def test_her_history_includes_changes_to_her_rows_made_while_she_was_merged(
        self, ada_client, undone
    ):
        """Amy's record was merged into Amelia's: her address, moved with it, was changed
        while merged, so its entry names Amelia's record. It is Amy's data, and her subject
        access answer lists it, merge undone or not; Amelia's own address changed meanwhile
        is Amelia's, and is not listed."""
        from directory.models import Merge
        from directory.services import children_merge, children_unmerge

        kept, absorbed = make_child(), make_child(given_name="Amy")
        practitioner, manager = priya(), dana()
        hers, amelias = make_address(absorbed), make_address(kept, "NE2 2AA")
        merge = children_merge(kept=kept, absorbed=absorbed, by=manager)
        with set_actor(practitioner):
            for address, line in ((hers, "5 Orchard Way"), (amelias, "9 Quay Street")):
                address.refresh_from_db()
                address.line_1 = line
                address.save()
        if undone:
            children_unmerge(merge=Merge.objects.get(pk=merge.pk), by=manager)
        html = history_of(ada_client, absorbed)
        assert "5 Orchard Way" in html
        assert "9 Quay Street" not in html and "NE2 2AA" not in html

    def test_her_history_follows_her_rows_into_a_record_her_keeper_was_merged_into(
        self, ada_client
    ):
        """Amy's record was merged into Amelia's, and Amelia's then into a third record: her
        address, changed there, names the third record. It is still Amy's data."""
        from directory.services import children_merge

        amy, amelia, third = make_child(given_name="Amy"), make_child(), make_child()
        hers, manager = make_address(amy), dana()
        children_merge(kept=amelia, absorbed=amy, by=manager)
        children_merge(kept=third, absorbed=amelia, by=manager)
        with set_actor(priya()):
            hers.refresh_from_db()
            hers.line_1 = "5 Orchard Way"
            hers.save()
        html = history_of(ada_client, amy)
        assert "5 Orchard Way" in html

    @pytest.mark.parametrize("shielded", [False, True])
    def test_her_history_includes_her_mothers_changes_made_while_she_was_merged(
        self, ada_client, shielded
    ):
        """Amy's mother's link moved with her record into Amelia's: her phone changed while
        merged names Amelia's record. She is Amy's mother: Amy's subject access answer lists
        it, masked if Amy is shielded."""
        from directory.services import children_merge

        amy, amelia = make_child(given_name="Amy"), make_child()
        if shielded:
            shield(amy)
        mother = ParentCarer.objects.create(
            given_name="Jo", family_name="Hart", phone="07700 900001", source=Source.LA_SYSTEM
        )
        CareRelationship.objects.create(
            child=amy, carer=mother, relationship="mother", parental_responsibility=True,
            started_on=date(2010, 1, 1), source=Source.LA_SYSTEM,
        )  # fmt: skip
        children_merge(kept=amelia, absorbed=amy, by=dana())
        mother.refresh_from_db()
        mother.phone = "07700 987654"
        mother.save()
        html = history_of(ada_client, amy)
        assert ("07700 987654" in html) is not shielded
        assert (WITHHELD in html) is shielded

    def test_her_changes_made_while_merged_are_masked_as_her_record_is(self, ada_client):
        """Amy is shielded: her address, changed by Sam while merged, is masked for Ada as on
        her own record, and shown to Sasha, whose LA team shielded her; her clinic's changed
        reason is hidden from Ada and shown to Sasha, who brokers contact."""
        from directory.services import children_merge

        kept, absorbed = make_child(), make_child(given_name="Amy")
        shield(absorbed)
        home = make_address(absorbed)
        sees_the_clinic(absorbed)
        children_merge(kept=kept, absorbed=absorbed, by=dana())
        with set_actor(sam()):
            home.refresh_from_db()
            home.line_1 = "5 Refuge Road"
            home.save()
            clinic = Involvement.objects.get(child=kept, sensitive_category="sexual_health")
            clinic.sensitive_basis_note = "Asked at the clinic"
            clinic.save()
        url = reverse("audit:child_history", args=[absorbed.contactpoint_id])
        html = ada_client.get(url).content.decode()
        assert "5 Refuge Road" not in html and "Asked at the clinic" not in html
        assert WITHHELD in html
        sign_in(ada_client, make_user("sasha", Role.AUDITOR, Role.SHIELDING_OFFICER))
        html = ada_client.get(url).content.decode()
        assert "5 Refuge Road" in html and "Asked at the clinic" in html

    def test_a_change_is_said_in_plain_words(self, ada_client):
        """Sam shielded Amy and lifted the shield: Ada read ``reason: None → domestic_abuse``
        and ``lifted_by: None → 17``. Each field is said by its name, no value as "not set", a
        reason by its label and the officer by his name."""
        from shielding.services import shield_lift

        amy, officer = make_child(given_name="Amy"), sam()
        shield(amy)
        with set_actor(officer):
            shield_lift(shield=Shield.objects.get(child=amy), by=officer, note="Moved away")
        html = history_of(ada_client, amy)
        assert "Reason: not set → Domestic abuse" in html
        assert "Lifted by: not set → Sam" in html and "Lift note: not set → Moved away" in html
        assert "domestic_abuse" not in html and "lifted_by" not in html
        assert "None →" not in html and "→ None" not in html

    def test_a_records_creation_does_not_list_its_related_rows_by_their_managers_name(
        self, ada_client
    ):
        """Amy's record was logged with ``Addresses: not set → directory.Address.None`` and
        the like for each kind of row that belongs to her: words that say nothing. Her
        address's own entry says what was recorded."""
        amy = amy_at_mill_lane()
        html = history_of(ada_client, amy)
        assert "Given name: not set → Amy" in html and "1 Mill Lane" in html
        assert ".None" not in html and "Addresses:" not in html

    def test_an_overrides_entries_say_in_plain_words_what_is_withheld(self, ada_client):
        """Owen overrode Amy's shield and Sam signed it off: Ada reads each field of those
        entries by its name, and that its details are withheld, not ``reason: [shielded] →
        [shielded]``; the reason and the note, which may say where Amy is, stay hidden."""
        from shielding.services import override_request, override_sign_off

        amy, practitioner, officer = make_child(given_name="Amy"), owen(), sam()
        shield(amy)
        with set_actor(practitioner):
            override, _ = override_request(
                child=amy, practitioner=practitioner, reason="Seen at Mill Lane school"
            )
        with set_actor(officer):
            override_sign_off(override=override, by=officer, note="Owen was at the school")
        html = history_of(ada_client, amy)
        assert "Mill Lane" not in html and "at the school" not in html
        assert "[shielded] → [shielded]" not in html
        assert "review_note" not in html and "requested_at" not in html
        assert f"Reason: {WITHHELD}" in html and f"Review note: {WITHHELD}" in html

    def test_a_history_too_long_for_one_page_says_so(self, ada_client, monkeypatch):
        """Printed for a subject access request, a page cut short without a word would look
        like the whole answer."""
        monkeypatch.setattr("audit.views.CHILD_HISTORY_MOST", 2)
        child, user = make_child(), priya()
        for n in range(3):
            event(user, child_contactpoint_id=child.contactpoint_id, path=f"/viewed-{n}")
        html = history_of(ada_client, child)
        assert "/viewed-0" in html and "/viewed-2" not in html
        assert "This page lists only the first 2 of 3 events" in html

    def test_a_shielded_childs_location_is_masked_in_the_change_history(self, ada_client):
        child = make_child()
        Shield.objects.create(
            child=child,
            reason="domestic_abuse",
            justification="Fled abuse",
            review_on=timezone.localdate(),
        )
        with set_actor(sam()):
            Address.objects.create(
                child=child, line_1="7 Secret Row", postcode="NE9 9ZZ", source=Source.PRACTITIONER
            )
            child.given_name = "Amy"
            child.save()
        html = history_of(ada_client, child)
        assert "Secret Row" not in html and "NE9 9ZZ" not in html and "Fled abuse" not in html
        assert WITHHELD in html
        assert "Amy" in html, "names stay visible on a shielded record"

    def test_a_mothers_changes_are_not_in_the_history_of_a_child_she_no_longer_cares_for(
        self, ada_client
    ):
        """Her phone after the link ended is no business of his, and would be a shielded
        half-sister's mother's phone on an unshielded record's page."""
        amy, cal = make_child(given_name="Amy"), make_child(given_name="Cal")
        mother = ParentCarer.objects.create(
            given_name="Jo", family_name="Hart", phone="07700 900001", source=Source.LA_SYSTEM
        )
        for child, ended_on in ((amy, None), (cal, date(2020, 1, 1))):
            CareRelationship.objects.create(
                child=child, carer=mother, relationship="mother", parental_responsibility=True,
                started_on=date(2010, 1, 1), ended_on=ended_on, source=Source.LA_SYSTEM,
            )  # fmt: skip
        shield(amy)
        mother.phone = "07700 987654"
        mother.save()
        html = history_of(ada_client, cal)
        assert "07700 987654" not in html
        assert (
            "07700 987654"
            not in ada_client.get(
                reverse("audit:child_history", args=[amy.contactpoint_id])
            ).content.decode()
        ), "masked in her own history"

    def test_an_la_auditor_sees_everyone_who_saw_her_las_child_and_only_her_own_of_others(
        self, ada_client
    ):
        ours, theirs = make_child(), make_child(local_authority=southshire())
        outsider = xavier()  # Southshire's practitioner
        event(outsider, child_contactpoint_id=ours.contactpoint_id, path="/outsider-saw-ours")
        event(outsider, action=Action.SEARCH, result_ids=[ours.contactpoint_id], path="/found")
        event(outsider, child_contactpoint_id=theirs.contactpoint_id, path="/outsider-saw-theirs")
        event(priya(), child_contactpoint_id=theirs.contactpoint_id, path="/ours-saw-theirs")
        mine = ada_client.get(reverse("audit:child_history", args=[ours.contactpoint_id]))
        assert "/outsider-saw-ours" in mine.content.decode() and "/found" in mine.content.decode()
        assert "from any organisation" in mine.content.decode()
        other = ada_client.get(reverse("audit:child_history", args=[theirs.contactpoint_id]))
        html = other.content.decode()
        assert "/ours-saw-theirs" in html and "/outsider-saw-theirs" not in html
        assert "lists only your organisation's users" in html

    def test_ada_reading_another_las_childs_history_is_in_it_for_that_la(self, ada_client):
        """For that LA's answer to the child's subject access request; without whether she is
        shielded, which Ada's own auditors would otherwise read from Ada's event."""
        theirs = make_child(local_authority=southshire())
        shield(theirs)
        url = reverse("audit:child_history", args=[theirs.contactpoint_id])
        ada_client.get(url)
        read = AuditEvent.objects.get(user_id=ada_client.auditor.pk, path=url)
        assert read.result_ids == [theirs.contactpoint_id] and read.child_shielded is None
        southern = Client()
        sign_in(southern, make_user("sue", Role.AUDITOR, organisation=southshire()))
        assert ">Ada (ada)</a>" in history_of(southern, theirs)

    def test_a_malformed_id_is_not_found(self, ada_client):
        assert ada_client.get("/audit/children/12345/").status_code == 404

    def test_reading_the_history_is_itself_in_the_childs_access_history(self, ada_client):
        child = make_child()
        url = reverse("audit:child_history", args=[child.contactpoint_id])
        ada_client.get(url)
        html = ada_client.get(url).content.decode()
        assert html.count(url) >= 1, "the first reading is listed on the second"
        assert AuditEvent.objects.filter(
            user_id=ada_client.auditor.pk, child_contactpoint_id=child.contactpoint_id
        ).exists()

    def test_reading_a_merged_records_changes_is_in_its_own_history_once_unmerged(self, ada_client):
        """Ada read Amy's address changes on Amelia's history while Amy was merged into
        Amelia. The merge was wrong and is undone: Amy's subject access request must still say
        that Ada read them."""
        from directory.models import Merge
        from directory.services import children_merge, children_unmerge

        kept, absorbed = make_child(), amy_at_mill_lane()
        manager = dana()
        merge = children_merge(kept=kept, absorbed=absorbed, by=manager)
        read = reverse("audit:child_history", args=[kept.contactpoint_id])
        assert "1 Mill Lane" in ada_client.get(read).content.decode()
        children_unmerge(merge=Merge.objects.get(pk=merge.pk), by=manager)
        assert read in history_of(ada_client, absorbed)

    def test_sensitive_services_stay_hidden_from_auditors(self, ada_client):
        """Not even masked: a masked entry naming its fields would say the child has a
        sexual health, mental health or substance misuse service, and on what basis (and
        call a child who is not shielded "[shielded]")."""
        child = make_child()
        clinic = make_service(Service.Kind.SEXUAL_HEALTH, name="Brookside Clinic")
        with set_actor(priya()):
            sensitive = Involvement.objects.create(
                child=child, service=clinic, started_on=timezone.localdate(),
                sensitive_category="sexual_health", sensitive_basis="consent",
                source=Source.LA_SYSTEM,
            )  # fmt: skip
            sensitive.sensitive_basis_note = "Asked at the clinic"
            sensitive.save()
            Involvement.objects.create(
                child=child, service=make_service(), role="Class teacher",
                started_on=timezone.localdate(), source=Source.SCHOOL_CENSUS,
            )  # fmt: skip
        url = reverse("audit:child_history", args=[child.contactpoint_id])
        html = ada_client.get(url).content.decode()
        assert "Class teacher" in html, "other involvements' changes are listed"
        assert "Sexual health" not in html and "Brookside" not in html
        assert "Asked at the clinic" not in html and "[shielded]" not in html
        assert "consented" not in html
        assert "Sensitive category: not set → not set" in html, "only the school's, empty"
        assert html.count("Sensitive category") == 1
        sign_in(ada_client, make_user("sasha", Role.AUDITOR, Role.SHIELDING_OFFICER))
        html = ada_client.get(url).content.decode()
        assert "Sexual health" in html and "Asked at the clinic" in html, "who brokers sees it"

    def test_a_merge_in_the_history_does_not_count_the_sensitive_services_that_moved(
        self, ada_client
    ):
        """The merge's entry listed, by id, every involvement it moved: one more than the
        entries shown would say the child has a service the auditor may not see. What moved
        is shown only to those who see sensitive services."""
        from directory.services import children_merge

        kept, absorbed = make_child(), make_child(given_name="Amy")
        sees_the_clinic(absorbed)
        children_merge(kept=kept, absorbed=absorbed, by=None)
        url = reverse("audit:child_history", args=[kept.contactpoint_id])
        html = ada_client.get(url).content.decode()
        assert "merge" in html.lower(), "the merge is listed"
        assert "directory.Involvement&quot;: [" not in html and "moved:" not in html
        sign_in(ada_client, make_user("sasha", Role.AUDITOR, Role.SHIELDING_OFFICER))
        assert "directory.Involvement&quot;: [" in ada_client.get(url).content.decode()

    def test_another_las_childs_sensitive_service_moved_by_an_undone_merge_stays_hidden(
        self, ada_client
    ):
        """Southshire's child was merged into Northshire's by mistake and the merge undone:
        the entries of her clinic moving over and back name Northshire's record, but the
        service is hers, and only Southshire's team may know of it. Sasha, auditor and
        shielding officer in Northshire, does not read it in Northshire's child's history."""
        from directory.models import Merge
        from directory.services import children_merge, children_unmerge

        kept = make_child()
        absorbed = make_child(given_name="Amy", local_authority=southshire())
        sees_the_clinic(absorbed)
        merge = children_merge(kept=kept, absorbed=absorbed, by=None)
        children_unmerge(merge=Merge.objects.get(pk=merge.pk), by=None)
        sign_in(ada_client, make_user("sasha", Role.AUDITOR, Role.SHIELDING_OFFICER))
        url = reverse("audit:child_history", args=[kept.contactpoint_id])
        html = ada_client.get(url).content.decode()
        assert "update: involvement" not in html, "not even that a service of hers moved"
        assert "merge" in html.lower(), "the merge and its undoing are listed"

    def test_an_la_auditor_reads_only_her_own_las_change_history(self, ada_client):
        child = make_child(local_authority=southshire())
        with set_actor(priya()):
            Address.objects.create(
                child=child, line_1="1 Mill Lane", postcode="NE1 4ST", source=Source.PRACTITIONER
            )
        url = reverse("audit:child_history", args=[child.contactpoint_id])
        assert "NE1 4ST" not in ada_client.get(url).content.decode()
        read = AuditEvent.objects.filter(path=url).latest("id")
        assert read.child_id is None and read.child_shielded is None, "nor whether it is shielded"
        assert (read.search_criteria or {}).get("contactpoint_id") == child.contactpoint_id
        sign_in(ada_client, make_user("nadia", Role.AUDITOR, organisation=operator()))
        assert "NE1 4ST" in ada_client.get(url).content.decode(), "a national auditor may"

    def test_an_la_auditor_does_not_read_which_records_were_merged_into_another_las_child(
        self, ada_client
    ):
        """No child details beyond what the log itself shows: Priya's view of Southshire's
        record names that record, not the one it was merged into since. Ada reads it under
        the record it names; on the kept record's page, not that the two are one child."""
        from directory.services import children_merge

        kept = make_child(local_authority=southshire())
        absorbed = make_child(given_name="Amy", local_authority=southshire())
        event(priya(), child_contactpoint_id=absorbed.contactpoint_id, path="/viewed-before")
        children_merge(kept=kept, absorbed=absorbed, by=None)
        url = reverse("audit:child_history", args=[kept.contactpoint_id])
        html = ada_client.get(url).content.decode()
        assert absorbed.contactpoint_id not in html and "/viewed-before" not in html
        own = reverse("audit:child_history", args=[absorbed.contactpoint_id])
        assert "/viewed-before" in ada_client.get(own).content.decode()
        sign_in(ada_client, make_user("nadia", Role.AUDITOR, organisation=operator()))
        assert absorbed.contactpoint_id in ada_client.get(url).content.decode(), "a national may"


ANOMALIES = reverse("audit:anomalies")


class TestAnomalies:
    def report(self, ada_client, title):
        html = ada_client.get(reverse("audit:anomalies")).content.decode()
        section = html.split(title, 1)[1].split("<h2", 1)[0]
        return section

    def test_many_records_in_ten_minutes(self, ada_client, settings):
        settings.AUDIT_MANY_VIEWS = 5
        user, start = priya(), timezone.now().replace(minute=0, second=0) - timedelta(hours=1)
        for n in range(6):
            event(user, at=start + timedelta(minutes=n), child_contactpoint_id=f"{n:012d}")
        assert "priya" in self.report(ada_client, "Many records viewed")

    def test_many_records_in_ten_minutes_across_the_hands_of_the_clock(self, ada_client, settings):
        """Six views in three minutes, from 10.08 to 10.11, are as many in a short time as six
        from 10.00: the ten minutes are counted from any view, not from the clock's tens."""
        settings.AUDIT_MANY_VIEWS = 5
        user, start = priya(), timezone.now().replace(minute=0, second=0) - timedelta(hours=1)
        for n in range(6):
            event(
                user,
                at=start + timedelta(minutes=8, seconds=30 * n),
                child_contactpoint_id=f"{n:012d}",
            )
        assert "priya" in self.report(ada_client, "Many records viewed")

    def test_one_record_opened_again_and_again_is_not_many_records(self, ada_client, settings):
        """Reloading the record she is working on is one record viewed, not six."""
        settings.AUDIT_MANY_VIEWS = 5
        user, start = priya(), timezone.now().replace(minute=0, second=0) - timedelta(hours=1)
        for n in range(6):
            event(user, at=start + timedelta(minutes=n), child_contactpoint_id="000000000001")
        event(user, at=start + timedelta(minutes=7), child_contactpoint_id="000000000002")
        assert "priya" not in self.report(ada_client, "Many records viewed")

    def test_searching_for_your_own_surname_or_postcode(self, ada_client):
        user = priya()
        user.last_name, user.home_postcode = "Sharma", "NE1 4ST"
        user.save()
        event(user, action=Action.SEARCH, search_criteria={"surname": "SHARMA", "forename": "Ravi"})
        event(
            user, action=Action.SEARCH, search_criteria={"surname": "Jones", "postcode": "ne1 4st"}
        )
        event(
            user, action=Action.SEARCH, search_criteria={"surname": "Jones", "postcode": "NE2 1AB"}
        )
        section = self.report(ada_client, "own surname or home postcode")
        assert "SHARMA" in section and "Jones ne1 4st" in section and "NE2 1AB" not in section

    def test_searching_the_district_of_your_own_postcode(self, ada_client):
        """The search takes a postcode's first part, like NE1: a practitioner who searches her
        own district with a neighbour's surname is looking up her neighbours as much as with
        the full postcode. Another district that starts the same way is not hers."""
        user = priya()
        user.last_name, user.home_postcode = "Sharma", "NE1 4ST"
        user.save()
        event(user, action=Action.SEARCH, search_criteria={"surname": "Jones", "postcode": "NE1"})
        event(user, action=Action.SEARCH, search_criteria={"surname": "Smith", "postcode": "NE12"})
        event(user, action=Action.SEARCH, search_criteria={"surname": "Brown", "postcode": "NE"})
        section = self.report(ada_client, "own surname or home postcode")
        assert "Jones NE1" in section
        assert "Smith" not in section and "Brown" not in section

    def test_own_surname_searches_are_found_however_the_name_was_typed(self, ada_client):
        """The search finds O'Brien-Öztürk's family under OBrien, o'brien with a curly
        apostrophe, or Ozturk (it ignores case, accents, apostrophes and hyphens, and matches each
        part of a double-barrelled name), so the report counts those as her own surname too."""
        user = priya()
        user.last_name = "O'Brien-Öztürk"
        user.save()
        for typed in ("OBrien", "o\u2019brien", "OZTURK", "O Brien Ozturk", "Jones"):
            event(user, action=Action.SEARCH, search_criteria={"surname": typed, "forename": "A"})
        section = self.report(ada_client, "own surname or home postcode")
        for typed in ("OBrien", "o\u2019brien", "OZTURK"):
            assert typed in section, typed
        assert "O Brien Ozturk" in section and "Jones" not in section

    def test_out_of_hours_use(self, ada_client):
        user = priya()
        london_night = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # a Wednesday, 11.30pm
        event(user, at=london_night, action=Action.SEARCH)
        event(user, at=london_night.replace(hour=11), action=Action.SEARCH)
        html = ada_client.get(
            reverse("audit:anomalies"), {"date_from": "2026-11-25", "date_to": "2026-11-25"}
        ).content.decode()
        section = html.split("Use out of hours", 1)[1].split("<h2", 1)[0]
        assert "11:30pm" in section and "11am" not in section

    def test_one_download_out_of_hours_is_one_use(self, ada_client):
        """An export of one child's events names the others she read with them in a second
        event (``LISTED_BESIDE``): one download, not two."""
        night = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
        asked = {"query": "events_csv", "contactpoint_id": "111111111116"}
        event(ada_client.auditor, at=night, action=Action.EXPORT, search_criteria=asked)
        event(ada_client.auditor, at=night, action=Action.EXPORT,
              search_criteria={"query": "events_csv"}, detail={LISTED_BESIDE: True})  # fmt: skip
        html = ada_client.get(
            reverse("audit:anomalies"), {"date_from": "2026-11-25", "date_to": "2026-11-25"}
        ).content.decode()
        section = html.split("Use out of hours", 1)[1].split("<h2", 1)[0]
        assert section.count("11:30pm") == 1

    def test_one_override_through_another_record_out_of_hours_is_one_use(self, ada_client):
        """Owen's override at 2am of a record shielded for sharing Cal's home is written as two
        events, the second naming Cal to her LA (``THROUGH_ANOTHER_RECORD``): one override,
        which the report listed twice, as the charts no longer count it."""
        night, practitioner = datetime(2026, 11, 25, 2, 0, tzinfo=UTC), owen()
        event(practitioner, Action.OVERRIDE, at=night, child_contactpoint_id="111111111116")
        event(practitioner, Action.OVERRIDE, at=night, child_contactpoint_id="222222222226",
              child_local_authority_id=practitioner.organisation_id,
              detail={THROUGH_ANOTHER_RECORD: "111111111116"})  # fmt: skip
        html = ada_client.get(
            reverse("audit:anomalies"), {"date_from": "2026-11-25", "date_to": "2026-11-25"}
        ).content.decode()
        section = html.split("Use out of hours", 1)[1].split("<h2", 1)[0]
        assert section.count("2am") == 1 and "owen" in section

    def test_changes_to_records_out_of_hours_are_use_too(self, ada_client):
        """A shield lifted, a merge or an involvement recorded at 2am is as much use of the
        directory as a search, and brokering contact names a shielded child."""
        user = sam()
        night = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
        event(user, at=night, action=Action.CHANGE, detail={"change": "shield_lift"})
        event(user, at=night.replace(minute=10), action=Action.BROKERED_CONTACT)
        event(user, at=night.replace(minute=20), action=Action.SIGN_IN)
        html = ada_client.get(
            reverse("audit:anomalies"), {"date_from": "2026-11-25", "date_to": "2026-11-25"}
        ).content.decode()
        section = html.split("Use out of hours", 1)[1].split("<h2", 1)[0]
        assert "2am" in section and "2:10am" in section and "2:20am" not in section

    def test_out_of_hours_use_says_what_was_done_in_words(self, ada_client):
        """Ada read "brokered_contact" and "change", the codes the log keeps."""
        night = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
        event(sam(), at=night, action=Action.BROKERED_CONTACT)
        event(dana(), at=night, action=Action.CHANGE)
        html = ada_client.get(
            reverse("audit:anomalies"), {"date_from": "2026-11-25", "date_to": "2026-11-25"}
        ).content.decode()
        section = html.split("Use out of hours", 1)[1].split("<h2", 1)[0]
        assert ">Brokered-contact request</td>" in section and ">Change to a record</td>" in section
        assert "brokered_contact" not in section and ">change<" not in section

    def test_a_long_report_lists_its_first_rows_and_says_there_are_more(
        self, ada_client, monkeypatch
    ):
        """A year of a national service's night work would be a page no server finishes."""
        monkeypatch.setattr("audit.selectors.ANOMALY_ROWS", 2)
        user, night = priya(), datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
        for minute in (1, 2, 3):
            event(user, at=night.replace(minute=minute), action=Action.SEARCH)
        html = ada_client.get(
            reverse("audit:anomalies"), {"date_from": "2026-11-25", "date_to": "2026-11-25"}
        ).content.decode()
        section = html.split("Use out of hours", 1)[1].split("<h2", 1)[0]
        assert "2:01am" in section and "2:02am" in section and "2:03am" not in section
        assert "Only the first 2 are listed. Choose a shorter period" in section

    def test_overrides_and_searches_without_a_view(self, ada_client):
        user = priya()
        event(
            user,
            action=Action.OVERRIDE,
            child_contactpoint_id="123456789018",
            reason="Section 47 enquiry",
        )
        event(user, action=Action.SEARCH, result_count=3, at=timezone.now() - timedelta(hours=2))
        assert "Section 47 enquiry" in self.report(ada_client, "Shield overrides")
        assert "priya" in self.report(ada_client, "Searches with no record viewed")

    def test_the_children_a_report_lists_are_named_in_its_event(self, ada_client):
        """The overrides report shows the child's ContactPoint ID: Ada's read of it is in her
        access history, as any page's that lists children."""
        child = make_child()
        event(priya(), action=Action.OVERRIDE, child_contactpoint_id=child.contactpoint_id,
              reason="Section 47 enquiry")  # fmt: skip
        assert child.contactpoint_id in self.report(ada_client, "Shield overrides")
        read = AuditEvent.objects.get(user_id=ada_client.auditor.pk, path=ANOMALIES)
        assert read.result_ids == [child.contactpoint_id]
        history = reverse("audit:child_history", args=[child.contactpoint_id])
        assert ANOMALIES in ada_client.get(history).content.decode()

    def test_a_search_followed_by_a_view_is_not_an_anomaly(self, ada_client):
        user, at = priya(), timezone.now() - timedelta(hours=2)
        event(user, action=Action.SEARCH, result_count=3, at=at)
        event(user, action=Action.VIEW_RECORD, at=at + timedelta(minutes=2))
        assert "None found" in self.report(ada_client, "Searches with no record viewed")

    def test_ada_sees_another_las_overrides_and_views_of_her_las_shielded_child(self, ada_client):
        """Each override is flagged to the child's LA's auditors (DESIGN.md), and an LA auditor
        sees everyone's access to her own LA's children, whatever their organisation."""
        child = make_child()
        shield(child)
        facts = {
            "child_contactpoint_id": child.contactpoint_id,
            "child_shielded": True,
            "child_local_authority_id": child.local_authority_id,
        }
        outsider = make_user("olga", Role.PRACTITIONER, Role.OVERRIDE_PRACTITIONER,
                             organisation=southshire())  # fmt: skip
        event(outsider, **facts)
        event(outsider, action=Action.OVERRIDE, reason="Section 47 enquiry", **facts)
        event(xavier(), child_contactpoint_id="999999999999", child_shielded=True,
              child_local_authority_id=southshire().pk)  # fmt: skip
        assert "Section 47 enquiry" in self.report(ada_client, "Shield overrides")
        section = self.report(ada_client, "another local authority")
        assert "olga" in section and "999999999999" not in section

    def test_a_view_of_her_las_shielded_child_under_a_merged_records_id_is_flagged(
        self, ada_client
    ):
        """A Southshire record merged into Amelia's Northshire one, and Amelia shielded:
        Xavier, of Southshire, opens the old record, which Northshire's shield masks. It is a
        view of Northshire's shielded child from outside Northshire, as her own ID's would be."""
        from directory.services import children_merge

        amelia, duplicate = make_child(), make_child(local_authority=southshire())
        children_merge(kept=amelia, absorbed=duplicate, by=None)
        shield(amelia)
        practitioner = ada_client.__class__()
        sign_in(practitioner, xavier())
        page = practitioner.get(reverse("directory:child_record", args=[duplicate.contactpoint_id]))
        assert "This record is shielded" in page.content.decode()
        section = self.report(ada_client, "another local authority")
        assert "xavier" in section and duplicate.contactpoint_id in section

    def test_views_of_another_las_shielded_children(self, client):
        sign_in(client, make_user("nadia", Role.AUDITOR, organisation=operator()))
        child = make_child()
        event(
            xavier(),
            child_contactpoint_id=child.contactpoint_id,
            child_shielded=True,
            child_local_authority_id=child.local_authority_id,
        )
        event(
            priya(),
            child_contactpoint_id="999999999999",
            child_shielded=True,
            child_local_authority_id=child.local_authority_id,
        )
        html = client.get(reverse("audit:anomalies")).content.decode()
        section = html.split("another local authority", 1)[1].split("<h2", 1)[0]
        assert "xavier" in section and "999999999999" not in section


class TestChartsAndExport:
    def test_activity_charts_are_svg_with_tables(self, ada_client):
        event(priya())
        html = ada_client.get(reverse("audit:charts")).content.decode()
        assert html.count('<svg class="app-chart"') == 2
        assert '<title id="chart-events-per-day">Events per day</title>' in html
        assert "Northshire" in html

    def test_the_days_are_said_in_full_in_the_table_and_short_on_the_chart(self, ada_client):
        """The table beside the chart said "3 Nov 2026", where every other auditors' screen
        says "3 November 2026"; the chart's axis, with room for a few letters, says "3 Nov"."""
        event(priya(), at=datetime(2026, 11, 3, 12, 0, tzinfo=UTC))
        html = ada_client.get(
            reverse("audit:charts"), {"date_from": "2026-11-03", "date_to": "2026-11-03"}
        ).content.decode()
        assert re.search(r">3 November 2026</td><td [^>]*>1</td>", html)
        assert "3 Nov 2026" not in html
        assert re.search(r"<text [^>]*>3 Nov</text>", html)
        assert "From 3 November 2026 to 3 November 2026." in html

    def test_a_filtered_read_counts_once_in_the_charts_and_on_her_page(self, ada_client):
        """Ada's read of Amy's events, which list Ben beside her, is written as two events
        (``LISTED_BESIDE``), so that Ben's history lists it without naming Amy: one read,
        which the charts and Ada's own page counted twice. So is Owen's override of a record
        shielded for sharing Cal's home (``THROUGH_ANOTHER_RECORD``)."""
        amy, ben = make_child(given_name="Amy"), make_child(given_name="Ben")
        now = timezone.now()
        event(priya(), at=now, child_contactpoint_id=ben.contactpoint_id,
              result_ids=[amy.contactpoint_id])  # fmt: skip
        practitioner = owen()
        event(practitioner, Action.OVERRIDE, at=now, child_contactpoint_id="111111111116")
        event(practitioner, Action.OVERRIDE, at=now, child_contactpoint_id="222222222226",
              child_local_authority_id=practitioner.organisation_id,
              detail={THROUGH_ANOTHER_RECORD: "111111111116"})  # fmt: skip
        ada_client.get(EVENTS, {"contactpoint_id": amy.contactpoint_id})
        assert AuditEvent.objects.filter(user_id=ada_client.auditor.pk).count() == 2
        html = ada_client.get(reverse("audit:charts")).content.decode()
        per_organisation = html.split("Events per organisation", 2)[2]
        assert re.search(r">Northshire</td><td [^>]*>3</td>", per_organisation)
        today = re.escape(f"{timezone.localdate():%-d %B %Y}")
        assert re.search(rf">{today}</td><td [^>]*>3</td>", html)
        ada_page = reverse("audit:user_activity", args=[ada_client.auditor.pk])
        assert "Auditor query: 2<" in ada_client.get(ada_page).content.decode(), "and the charts"

    def test_the_csv_export_streams_the_filtered_events(self, ada_client):
        user = priya()
        for n in range(3):
            event(user, path=f"/exported-{n}")
        event(xavier(), path="/not-ours")
        response = ada_client.get(reverse("audit:export"), {"username": "priya"})
        assert response.streaming and response["Content-Type"].startswith("text/csv")
        rows = list(
            csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
        )
        assert rows[0][:3] == ["id", "occurred_at", "username"]
        assert [row[7] for row in rows[1:]] == ["/exported-0", "/exported-1", "/exported-2"]
        assert AuditEvent.objects.filter(action=Action.EXPORT, username="ada").exists()

    def test_what_was_searched_for_is_on_the_screens_and_in_the_export(self, ada_client):
        criteria = {"surname": "Zebedee", "forename": "=Amelia"}
        found = event(priya(), action=Action.SEARCH, search_criteria=criteria, result_count=0)
        html = ada_client.get(EVENTS, {"action": "search"}).content.decode()
        assert "Searched for: surname Zebedee, forename =Amelia" in html
        activity = ada_client.get(reverse("audit:user_activity", args=[found.user_id]))
        assert "Searched for: surname Zebedee" in activity.content.decode()
        body = b"".join(
            ada_client.get(reverse("audit:export"), {"action": "search"}).streaming_content
        ).decode()
        rows = list(csv.DictReader(io.StringIO(body)))
        assert json.loads(rows[0]["search_criteria"]) == criteria

    def test_the_postcode_a_shielded_child_was_found_by_is_masked(self, ada_client):
        """Found by surname and postcode before she was shielded: her access history (printed
        for subject access requests), the user's page, the list and the export show the search
        without the postcode, as her change history masks her addresses."""
        hidden, seen = make_child(), make_child(given_name="Ben")
        shield(hidden)
        user = priya()
        for child, postcode in ((hidden, "NE9 9ZZ"), (seen, "NE1 4ST")):
            event(user, action=Action.SEARCH, result_ids=[child.contactpoint_id],
                  search_criteria={"surname": "Hart", "postcode": postcode})  # fmt: skip
        pages = [
            ada_client.get(url).content.decode()
            for url in (
                reverse("audit:child_history", args=[hidden.contactpoint_id]),
                reverse("audit:user_activity", args=[user.pk]),
                EVENTS,
            )
        ]
        pages.append(b"".join(ada_client.get(reverse("audit:export")).streaming_content).decode())
        for page in pages:
            assert "NE9 9ZZ" not in page and "[shielded]" in page
        assert "NE1 4ST" in pages[2] and "NE1 4ST" in pages[3], "an unshielded child's stays"

    def test_the_own_surname_report_masks_it_too(self, ada_client):
        hidden = make_child(family_name="Sharma")
        shield(hidden)
        user = priya()
        user.last_name = "Sharma"
        user.save()
        event(user, action=Action.SEARCH, result_ids=[hidden.contactpoint_id],
              search_criteria={"surname": "Sharma", "postcode": "NE9 9ZZ"})  # fmt: skip
        report = ada_client.get(reverse("audit:anomalies")).content.decode()
        assert "Sharma [shielded]" in report and "NE9 9ZZ" not in report
        # And the reports' CSV, as the page.
        rows = anomalies_csv(ada_client.get(reverse("audit:anomaly_export")))
        assert [row["Searched for"] for row in rows if row["Searched for"]] == ["Sharma [shielded]"]
        assert "NE9 9ZZ" not in str(rows)

    def test_the_csv_export_never_hands_a_spreadsheet_a_formula(self, ada_client):
        user = priya()
        event(user, user_agent='=HYPERLINK("http://x.example","click")', path="-2+3")
        # Spreadsheets pass over spaces and line breaks before a formula.
        event(user, user_agent=" =1+1", path="\n@SUM(1)")
        body = b"".join(ada_client.get(reverse("audit:export")).streaming_content).decode()
        cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
        assert '\'=HYPERLINK("http://x.example","click")' in cells and "'-2+3" in cells
        assert "' =1+1" in cells and "'\n@SUM(1)" in cells
        assert not [cell for cell in cells if cell.lstrip()[:1] in ("=", "+", "-", "@")]

    def test_the_csv_export_opens_as_utf_8_in_a_spreadsheet(self, ada_client):
        """Without a byte-order mark Excel reads a CSV file as Windows-1252, and a search for
        Zoë reads as a search for ZoÃ«."""
        event(priya(), action=Action.SEARCH, search_criteria={"surname": "Öztürk"})
        body = b"".join(ada_client.get(reverse("audit:export")).streaming_content)
        assert body.startswith("\ufeff".encode()) and body.count("\ufeff".encode()) == 1
        assert "Öztürk" in body.decode("utf-8-sig")

    def test_an_export_too_large_to_stream_in_time_is_refused_with_a_message(
        self, ada_client, settings
    ):
        """Cut off by the server's timeout, a file would just stop, and look complete."""
        settings.AUDIT_EXPORT_MAX_ROWS = 2
        user = priya()
        for _ in range(3):
            event(user)
        response = ada_client.get(reverse("audit:export"), {"username": "priya"})
        assert response.status_code == 400 and not response.streaming
        assert "There are more than 2 events to download" in response.content.decode()
        assert not AuditEvent.objects.filter(action=Action.EXPORT).exists()
        settings.AUDIT_EXPORT_MAX_ROWS = 3
        response = ada_client.get(reverse("audit:export"), {"username": "priya"})
        assert response.streaming and len(b"".join(response.streaming_content).splitlines()) == 4

    def test_an_export_refused_for_a_form_that_makes_no_sense_is_an_auditor_query(self, ada_client):
        """Ada's refused download is hers on the log, as a refused query, not a page view."""
        response = ada_client.get(reverse("audit:export"), {"date_from": "2026-13-40"})
        assert response.status_code == 400
        refused = AuditEvent.objects.filter(path=reverse("audit:export")).get()
        assert refused.action == Action.AUDITOR_QUERY
        assert refused.search_criteria == {"query": "events_csv", "refused": "invalid"}

    def test_each_page_of_events_read_is_recorded(self, ada_client):
        user = priya()
        for _ in range(3):
            event(user)
        ada_client.get(EVENTS, {"before": "3"})
        read = AuditEvent.objects.filter(user_id=ada_client.auditor.pk, path=EVENTS).latest("id")
        assert read.search_criteria == {"query": "events", "before": "3"}


def test_a_reversed_report_period_gets_a_clear_message(ada_client):
    html = ada_client.get(
        reverse("audit:anomalies"), {"date_from": "2026-11-20", "date_to": "2026-11-01"}
    ).content.decode()
    assert "Date to must be the same as or after date from" in html


@pytest.mark.parametrize("page", ["audit:anomalies", "audit:charts", "audit:events"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_to": "9999-12-31"}, "Date to must be between 1 January 2000 and today"),
        ({"date_from": "0001-01-03"}, "Date from must be between 1 January 2000 and today"),
    ],
)
def test_dates_outside_the_services_life_get_a_clear_message(ada_client, page, query, message):
    response = ada_client.get(reverse(page), query)
    assert response.status_code == 200
    assert message in response.content.decode()


@pytest.mark.parametrize("page", ["audit:anomalies", "audit:charts"])
def test_a_report_covers_a_year_at_most(ada_client, page):
    html = ada_client.get(reverse(page), {"date_from": "2020-01-01"}).content.decode()
    assert "Enter a period of a year or less" in html


def test_the_event_list_may_cover_any_period(ada_client):
    html = ada_client.get(EVENTS, {"date_from": "2020-01-01"}).content.decode()
    assert "govuk-error-summary" not in html


def anomalies_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


class TestAnomalyExport:
    """Auditors run reports and export them (DESIGN.md): Ada downloads the anomaly reports of
    the period she is looking at, one row for each row the page lists."""

    def test_each_reports_rows_are_in_the_file_under_its_title(self, ada_client):
        user, child = priya(), make_child()
        event(user, action=Action.OVERRIDE, child_contactpoint_id=child.contactpoint_id,
              reason="Section 47 enquiry")  # fmt: skip
        event(user, action=Action.SEARCH, result_count=3, at=timezone.now() - timedelta(hours=2))
        rows = anomalies_csv(ada_client.get(reverse("audit:anomaly_export")))
        overrides = [row for row in rows if row["Report"] == "Shield overrides"]
        assert [(row["ContactPoint ID"], row["Reason"]) for row in overrides] == [
            (child.contactpoint_id, "Section 47 enquiry")
        ]
        # Named as the page names her, at the moment the page shows, to the second.
        page = ada_client.get(ANOMALIES).content.decode()
        assert overrides[0]["User"] in page and "priya" in overrides[0]["User"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", overrides[0]["When"])
        searches = [row for row in rows if row["Report"].startswith("Searches with no record")]
        assert [row["Results"] for row in searches] == ["3"]

    def test_it_covers_the_period_asked_for_only(self, ada_client):
        event(priya(), action=Action.OVERRIDE, child_contactpoint_id="123456789018",
              reason="Long ago", at=datetime(2026, 11, 3, 12, 0, tzinfo=UTC))  # fmt: skip
        asked = {"date_from": "2026-11-03", "date_to": "2026-11-03"}
        rows = anomalies_csv(ada_client.get(reverse("audit:anomaly_export"), asked))
        assert [row["Reason"] for row in rows if row["Report"] == "Shield overrides"] == [
            "Long ago"
        ]
        this_week = anomalies_csv(ada_client.get(reverse("audit:anomaly_export")))
        assert [row for row in this_week if row["Report"] == "Shield overrides"] == []

    def test_an_la_auditors_file_holds_only_what_her_page_shows(self, ada_client):
        event(xavier(), action=Action.OVERRIDE, child_contactpoint_id="999999999999",
              child_local_authority_id=southshire().pk, reason="Not Northshire's")  # fmt: skip
        rows = anomalies_csv(ada_client.get(reverse("audit:anomaly_export")))
        assert "Not Northshire's" not in str(rows)

    def test_the_download_is_an_export_event_naming_the_children_it_lists(self, ada_client):
        child = make_child()
        event(priya(), action=Action.OVERRIDE, child_contactpoint_id=child.contactpoint_id,
              reason="Section 47 enquiry")  # fmt: skip
        ada_client.get(reverse("audit:anomaly_export"))
        download = AuditEvent.objects.get(
            user_id=ada_client.auditor.pk, path=reverse("audit:anomaly_export")
        )
        assert download.action == Action.EXPORT
        assert download.result_ids == [child.contactpoint_id]
        assert (download.search_criteria or {}).get("query") == "anomalies_csv"
        history = reverse("audit:child_history", args=[child.contactpoint_id])
        assert reverse("audit:anomaly_export") in ada_client.get(history).content.decode()

    def test_the_page_offers_the_download_of_the_period_it_shows(self, ada_client):
        html = ada_client.get(
            ANOMALIES, {"date_from": "2026-11-03", "date_to": "2026-11-04"}
        ).content.decode()
        link = reverse("audit:anomaly_export") + "?date_from=2026-11-03&amp;date_to=2026-11-04"
        assert f'href="{link}"' in html
        wrong = ada_client.get(ANOMALIES, {"date_from": "2026-11-04", "date_to": "2026-11-03"})
        assert reverse("audit:anomaly_export") not in wrong.content.decode()

    def test_a_wrong_period_gets_a_clear_message_and_no_file(self, ada_client):
        response = ada_client.get(
            reverse("audit:anomaly_export"), {"date_from": "2026-11-04", "date_to": "2026-11-03"}
        )
        assert response.status_code == 400
        assert "Date to must be the same as or after date from" in response.content.decode()
        assert not AuditEvent.objects.filter(action=Action.EXPORT).exists()

    def test_a_report_longer_than_the_page_lists_is_refused_not_cut_short(
        self, ada_client, monkeypatch
    ):
        from audit import selectors

        monkeypatch.setattr(selectors, "ANOMALY_ROWS", 1)
        user = priya()
        for reason in ("First", "Second"):
            event(user, action=Action.OVERRIDE, child_contactpoint_id="123456789018",
                  reason=reason)  # fmt: skip
        response = ada_client.get(reverse("audit:anomaly_export"))
        assert response.status_code == 400
        html = response.content.decode()
        assert "A report finds more than 1 rows. Choose a shorter period" in html
        assert "Second" not in html and "First" not in html
        assert not AuditEvent.objects.filter(action=Action.EXPORT).exists()
        # The page offers no download it would refuse, and says why.
        page = ada_client.get(ANOMALIES).content.decode()
        assert reverse("audit:anomaly_export") not in page
        assert "choose a shorter period to download the reports" in page

    def test_the_file_never_hands_a_spreadsheet_a_formula(self, ada_client):
        """The reasons given for overrides and the names searched for are anyone's to type."""
        user = priya()
        user.last_name = "=cmd"
        user.save()
        event(user, action=Action.OVERRIDE, child_contactpoint_id=make_child().contactpoint_id,
              reason='=HYPERLINK("http://x.example","click")')  # fmt: skip
        event(user, action=Action.SEARCH, search_criteria={"surname": "=cmd"})
        response = ada_client.get(reverse("audit:anomaly_export"))
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        assert '\'=HYPERLINK("http://x.example","click")' in cells and "'=cmd" in cells
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]

    def test_a_national_auditors_file_holds_every_las_rows(self, client):
        sign_in(client, make_user("nadia", Role.AUDITOR, organisation=operator()))
        event(priya(), action=Action.OVERRIDE, child_contactpoint_id="111111111111",
              reason="Northshire's")  # fmt: skip
        event(xavier(), action=Action.OVERRIDE, child_contactpoint_id="222222222222",
              child_local_authority_id=southshire().pk, reason="Southshire's")  # fmt: skip
        rows = anomalies_csv(client.get(reverse("audit:anomaly_export")))
        reasons = {row["Reason"] for row in rows if row["Report"] == "Shield overrides"}
        assert reasons == {"Northshire's", "Southshire's"}
