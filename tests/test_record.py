"""The child record shows who is involved, masks a shielded child, and lets practitioners
record their own involvement."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from audit.models import Action, AuditEvent
from directory import services
from directory.models import (
    Address,
    CareRelationship,
    Child,
    ChildName,
    Involvement,
    ParentCarer,
    Service,
    Source,
)
from tests.date_input import date_boxes
from tests.html import input_tag
from tests.personas import (
    CONFIRM,
    lee,
    make_address,
    make_carer,
    make_child,
    make_service,
    make_user,
    owen,
    priya,
    sam,
    shield,
    sign_in,
    southshire,
    xavier,
)

pytestmark = pytest.mark.django_db


def record_url(child: Child, suffix: str = "") -> str:
    return reverse("directory:child_record", args=[child.contactpoint_id]) + suffix


def full_child() -> Child:
    """Amelia: two homes, a past address, a mother abroad, a school, a GP, early help, CAMHS."""
    child = make_child()
    ChildName.objects.create(
        child=child,
        kind="former",
        given_name="Amelia",
        family_name="Okafor",
        source=Source.LA_SYSTEM,
    )
    make_address(child, "NE1 4ST", line_1="1 Mill Lane", started_on=date(2020, 1, 1))
    make_address(child, "NE2 1AB", line_1="9 Quay Road", started_on=date(2021, 5, 1))
    make_address(
        child,
        "NE3 3XY",
        line_1="4 Old Street",
        started_on=date(2015, 3, 14),
        ended_on=date(2019, 12, 31),
    )
    mother = ParentCarer.objects.create(
        given_name="Marie",
        family_name="Laurent",
        phone="+33 4 00 00 00",
        line_1="3 rue de la Paix",
        town="Lyon",
        postcode="69003",
        country="FR",
        source=Source.CHILD_BENEFIT,
    )
    CareRelationship.objects.create(
        child=child,
        carer=mother,
        relationship="mother",
        parental_responsibility=True,
        source=Source.CHILD_BENEFIT,
    )
    school = make_service(
        Service.Kind.SCHOOL, name="Northshire Primary School", phone="01632 960200"
    )
    gp = make_service(Service.Kind.GP_PRACTICE, name="Quayside Surgery", phone="01632 960300")
    early_help = make_service(Service.Kind.EARLY_HELP, name="Northshire Early Help")
    camhs = make_service(Service.Kind.MENTAL_HEALTH, name="Northshire CAMHS")
    old_school = make_service(Service.Kind.EARLY_YEARS, name="Little Acorns Nursery")
    for service, extra in (
        (school, {}),
        (gp, {}),
        (
            early_help,
            {"caf_held": True, "lead_professional": True, "role": "Family support worker"},
        ),
        (camhs, {"sensitive_category": "mental_health", "sensitive_basis": "consent"}),
        (old_school, {"ended_on": date(2019, 7, 20)}),
    ):
        Involvement.objects.create(
            child=child,
            service=service,
            started_on=date(2019, 9, 1) if "ended_on" not in extra else date(2017, 9, 1),
            source=Source.SCHOOL_CENSUS,
            **extra,
        )
    return child


class TestTheRecord:
    def test_it_shows_everything_a_practitioner_needs(self, client):
        sign_in(client, priya())
        child = full_child()
        html = client.get(record_url(child)).content.decode()
        for fact in (
            "Amelia",
            "Hart",
            "Former name",
            "Okafor",
            "14 March 2015",
            "Female",
            "1 Mill Lane",
            "NE1 4ST",
            "9 Quay Road",
            "NE2 1AB",
            "Marie Laurent",
            "Mother",
            "has parental responsibility",
            "+33 4 00 00 00",
            "overseas",
            "Northshire Primary School",
            "01632 960200",
            "Quayside Surgery",
            "Northshire Early Help",
            "Lead professional",
            "Holds a CAF",
            "A Common Assessment Framework (CAF) assessment is held",
            "Ended involvements",
            "Little Acorns Nursery",
            "From the school census, received",
        ):
            assert fact in html, fact
        assert "4 Old Street" not in html, "past addresses only on request"
        assert "Show 1 past address" in html
        assert "4 Old Street" in client.get(record_url(child, "?past=1")).content.decode()
        views = AuditEvent.objects.filter(action=Action.VIEW_RECORD, child_id=child.pk)
        shown = [(e.detail or {}).get("past_addresses", False) for e in views.order_by("id")]
        assert shown == [False, True]

    def test_every_fact_says_where_it_came_from_and_when(self, client):
        """DESIGN.md "Provenance": former names and past addresses too, said in English."""
        sign_in(client, priya())
        child = full_child()
        ChildName.objects.filter(child=child).update(received_at=datetime(2024, 2, 3, tzinfo=UTC))
        Address.objects.filter(child=child, ended_on__isnull=False).update(
            source=Source.GP_REGISTRATION, received_at=datetime(2023, 4, 5, tzinfo=UTC)
        )
        html = client.get(record_url(child, "?past=1")).content.decode()
        former = html.split("Former name", 1)[1].split("</div>", 1)[0]
        assert "From a local authority system, received 3 February 2024" in former, former
        past = html.split("Past addresses", 1)[1].split("</ul>", 1)[0]
        assert "From GP registrations, received 5 April 2023" in past, past

    def test_where_a_fact_came_from_reads_as_english_for_every_source(self):
        from directory.models import SOURCE_SAID

        said = {source: SOURCE_SAID.get(source, "") for source in Source}
        assert all(words[:1].isupper() for words in said.values()), said
        assert not any(words.startswith("From recorded") for words in said.values())
        assert said[Source.GP_REGISTRATION] == "From GP registrations"
        assert said[Source.PRACTITIONER] == "Recorded by a practitioner"

    def test_an_overseas_carers_country_is_named_not_coded(self, client):
        """A practitioner reads "Poland", not "PL"; a code with no name is shown as given."""
        sign_in(client, priya())
        child = full_child()
        ParentCarer.objects.update(country="PL")
        assert "(Poland, overseas)" in client.get(record_url(child)).content.decode()
        ParentCarer.objects.update(country="XK")
        assert "(XK, overseas)" in client.get(record_url(child)).content.decode()

    @pytest.mark.parametrize("held", ["ask at reception", "n/a", "7700 900123"])
    def test_a_carers_phone_that_is_no_number_is_not_shown_as_one(self, client, held):
        """A feed applied before phones were checked left "ask at reception" as a mother's
        telephone: her record said "Telephone: ask at reception", as if someone could ring it.
        It is kept, and shown as what it is."""
        child = make_child()
        make_carer(child, phone=held, source=Source.CHILD_BENEFIT)
        sign_in(client, priya())
        html = client.get(record_url(child)).content.decode()
        shown = " ".join(re.sub(r"<[^>]+>", " ", html).replace("&quot;", '"').split())
        assert f"Telephone: {held}" not in shown
        assert f'Telephone: not a valid telephone number (recorded as "{held}")' in shown

    def test_sensitive_services_are_hidden_from_practitioners(self, client):
        child = full_child()
        sign_in(client, priya())
        assert "CAMHS" not in client.get(record_url(child)).content.decode()
        sam_client = client.__class__()
        sign_in(sam_client, sam())
        assert "Northshire CAMHS" in sam_client.get(record_url(child)).content.decode()
        # Another LA's team brokers no contact for this child: they do not see it either.
        theirs = client.__class__()
        sign_in(theirs, make_user("sol", Role.SHIELDING_OFFICER, organisation=southshire()))
        assert "CAMHS" not in theirs.get(record_url(child)).content.decode()

    def test_viewing_is_audited_and_never_cached(self, client):
        sign_in(client, priya())
        child = full_child()
        response = client.get(record_url(child))
        event = AuditEvent.objects.get(action=Action.VIEW_RECORD)
        assert (event.child_id, event.child_contactpoint_id, event.child_shielded) == (
            child.pk,
            child.contactpoint_id,
            False,
        )
        assert "no-store" in response["Cache-Control"]

    def test_an_archived_record_is_not_found_by_practitioners(self, client):
        sign_in(client, priya())
        child = make_child(status=Child.Status.ARCHIVED, archived_on=date(2026, 1, 1))
        assert client.get(record_url(child)).status_code == 404

    def test_a_record_merged_into_an_archived_one_is_not_found_by_practitioners(self, client):
        """The record merged away still shows the mother both records had: archived data."""
        kept = make_child()
        absorbed = make_child(given_name="Amy")
        mother = ParentCarer.objects.create(
            given_name="Marie", family_name="Laurent", phone="07700 900123", source=Source.DEMO
        )
        for child in (kept, absorbed):
            CareRelationship.objects.create(
                child=child,
                carer=mother,
                relationship="mother",
                parental_responsibility=True,
                source=Source.DEMO,
            )
        services.children_merge(kept=kept, absorbed=absorbed, by=None)
        archived = timezone.localdate() - timedelta(days=30)
        Child.objects.filter(pk=kept.pk).update(status=Child.Status.ARCHIVED, archived_on=archived)
        sign_in(client, priya())
        assert client.get(record_url(absorbed)).status_code == 404
        assert client.get(record_url(absorbed, "my-involvement/")).status_code == 404
        data_manager = client.__class__()
        sign_in(data_manager, make_user("dana", Role.DATA_MANAGER))
        assert "Marie Laurent" in data_manager.get(record_url(absorbed)).content.decode()

    def test_an_unknown_id_is_not_found(self, client):
        sign_in(client, priya())
        assert client.get("/children/123456789018/").status_code == 404

    def test_it_gives_a_child_who_died_the_age_she_died_at(self, client):
        """Her age did not stop at her death: "age 10" for a girl who died at 9."""
        sign_in(client, priya())
        died = timezone.localdate() - timedelta(days=30)
        born = died - timedelta(days=3650)  # 2 or 3 days short of her tenth birthday
        child = make_child(date_of_birth=born, date_of_death=died, status=Child.Status.DECEASED)
        html = client.get(record_url(child)).content.decode()
        assert "(age 9)" in html and "(age 10)" not in html
        assert f"(died {died.day} {died:%B %Y})" in html

    def test_a_babys_age_is_in_months(self, client):
        """ "(age 0)" tells a health visitor nothing about a baby of four months."""
        sign_in(client, priya())
        today = timezone.localdate()
        month, year = (
            (today.month - 4, today.year) if today.month > 4 else (today.month + 8, today.year - 1)
        )
        baby = make_child(date_of_birth=date(year, month, 1))
        assert "(age 4 months)" in client.get(record_url(baby)).content.decode()
        newborn = make_child(given_name="Ivy", date_of_birth=today - timedelta(days=3))
        assert "(age under 1 month)" in client.get(record_url(newborn)).content.decode()

    def test_the_number_of_queries_does_not_grow_with_the_record(self, client):
        sign_in(client, priya())
        small = make_child(given_name="Solo")
        with CaptureQueriesContext(connection) as few:
            client.get(record_url(small))
        big = full_child()
        for n in range(5):
            make_address(big, "NE4 5AA", line_1=f"{n} Extra Row")
            Involvement.objects.create(
                child=big,
                service=make_service(Service.Kind.VOLUNTARY, name=f"Charity {n}"),
                started_on=date(2024, 1, 1),
                source=Source.LA_SYSTEM,
            )
        with CaptureQueriesContext(connection) as many:
            client.get(record_url(big))
        assert len(many) == len(few)
        assert len(many) <= 16


class TestShieldedRecord:
    def test_a_practitioner_sees_only_who_the_child_is_and_whom_to_contact(self, client):
        child = full_child()
        shield(child)
        sign_in(client, priya())
        html = client.get(record_url(child)).content.decode()
        for shown in (
            "Amelia",
            "Hart",
            "Okafor",
            "14 March 2015",
            "Female",
            child.contactpoint_id_display,
            "This record is shielded",
            "01632 960000",
            "contactpoint@northshire.example.org",
        ):
            assert shown in html, shown
        for hidden in (
            "Mill Lane",
            "NE1",
            "NE2",
            "Quay Road",
            "Marie",
            "Laurent",
            "+33",
            "Lyon",
            "Northshire Primary",
            "Quayside",
            "Early Help",
            "CAF",
            "Little Acorns",
            "Lead professional",
            "past address",
        ):
            assert hidden not in html, hidden
        event = AuditEvent.objects.get(action=Action.VIEW_RECORD)
        assert event.child_shielded is True and event.detail == {"masked": True}

    def test_another_las_practitioner_sees_it_masked_too(self, client):
        child = full_child()
        shield(child)
        sign_in(client, xavier())
        assert "Mill Lane" not in client.get(record_url(child)).content.decode()

    def test_the_childs_la_shielding_officer_sees_it_in_full(self, client):
        child = full_child()
        shield(child)
        sign_in(client, sam())
        html = client.get(record_url(child)).content.decode()
        assert "Mill Lane" in html and "Marie Laurent" in html
        other_officer = client.__class__()
        sign_in(other_officer, make_user("sol", Role.SHIELDING_OFFICER, organisation=southshire()))
        assert "Mill Lane" not in other_officer.get(record_url(child)).content.decode()

    def test_a_practitioner_cannot_record_involvement_through_a_shield(self, client):
        child = full_child()
        shield(child)
        sign_in(client, owen())
        assert client.get(record_url(child, "my-involvement/")).status_code == 404


class TestMyInvolvement:
    def form(self, **overrides):
        data = {
            "role": "Health visitor",
            "service": "",
            "started_on": "1 9 2025",
            "caf_held": "",
            "lead_professional": "",
        }
        data.update(overrides)
        posted = {key: value for key, value in data.items() if value != "" and key != "started_on"}
        # The start date as she types it in the date input's three boxes.
        return posted | (date_boxes("started_on", data["started_on"]) if data["started_on"] else {})

    def test_a_practitioner_records_updates_and_ends_their_own_involvement(self, client):
        user = priya()
        user.phone, user.job_title = "07700 900123", "Health visitor"
        user.save()
        sign_in(client, user)
        child = make_child()
        url = record_url(child, "my-involvement/")
        assert client.post(url, self.form(caf_held="on")).status_code == 302
        html = client.get(record_url(child)).content.decode()
        assert "Priya" in html and "07700 900123" in html and "Holds a CAF" in html
        client.post(url, self.form(role="Named health visitor", lead_professional="on"))
        mine = Involvement.objects.get(child=child, practitioner=user)
        assert (mine.role, mine.lead_professional) == ("Named health visitor", True)
        client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        mine.refresh_from_db()
        assert mine.ended_on is not None
        assert "Ended involvements" in client.get(record_url(child)).content.decode()
        assert LogEntry.objects.get_for_object(mine).filter(actor=user).count() == 3

    def test_only_one_lead_professional_at_a_time(self, client):
        child = make_child()
        Involvement.objects.create(
            child=child,
            practitioner=owen(),
            service=make_service(Service.Kind.SOCIAL_CARE, name="Children's Services"),
            lead_professional=True,
            started_on=date(2025, 1, 1),
            source=Source.PRACTITIONER,
        )
        sign_in(client, priya())
        html = client.post(
            record_url(child, "my-involvement/"), self.form(lead_professional="on")
        ).content.decode()
        assert "Owen at Children&#x27;s Services is already the lead professional" in html
        assert not Involvement.objects.filter(child=child, practitioner__username="priya").exists()

    def test_a_practitioner_with_no_name_recorded_is_named_by_their_username(self, client):
        """Owen, made by the create_user command, has no first or last name: his involvement
        had no practitioner row and the lead professional was his service; his username names
        him, as on every other page."""
        child = make_child()
        nameless = owen()
        User.objects.filter(pk=nameless.pk).update(first_name="", last_name="")
        Involvement.objects.create(
            child=child,
            practitioner=nameless,
            lead_professional=True,
            started_on=date(2025, 1, 1),
            source=Source.PRACTITIONER,
        )
        sign_in(client, priya())
        html = client.get(record_url(child)).content.decode()
        assert "The lead professional is owen." in html
        assert 'govuk-summary-card__title">owen</h3>' in html

    @pytest.mark.parametrize("gone", ["suspended", "vetting", "dormant"])
    def test_the_lead_of_someone_whose_access_has_ended_passes_to_who_takes_it(self, client, gone):
        """Owen has left (suspended), his check has run out, or he has not signed in for 90
        days: he can never step down, so the lead would stay his forever. Priya takes it, and
        Owen's involvement stays on the record, no longer lead, with the change logged."""
        owen_now = owen()
        if gone == "suspended":
            owen_now.suspended_at = timezone.now()
        elif gone == "vetting":
            owen_now.vetting_checked_on = timezone.localdate() - timedelta(days=3 * 366)
        else:
            owen_now.last_login = timezone.now() - timedelta(days=91)
            owen_now.date_joined = owen_now.last_login
        owen_now.save()
        child = make_child()
        his = Involvement.objects.create(
            child=child, practitioner=owen_now, lead_professional=True,
            started_on=date(2025, 1, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
        user = priya()
        sign_in(client, user)
        response = client.post(
            record_url(child, "my-involvement/"), self.form(lead_professional="on")
        )
        assert response.status_code == 302
        his.refresh_from_db()
        assert not his.lead_professional and his.ended_on is None
        assert Involvement.objects.get(child=child, practitioner=user).lead_professional
        assert LogEntry.objects.get_for_object(his).filter(actor=user).exists()
        html = client.get(record_url(child)).content.decode()
        assert "You are now the lead professional" in html
        assert "Owen" in html and "ContactPoint access has ended" in html

    @pytest.mark.parametrize("gone", ["suspended", "vetting"])
    def test_a_practitioner_whose_access_has_ended_is_not_offered_as_a_contact(self, client, gone):
        """Owen has left (suspended) or his check has run out: his involvement stays on the
        record with his details, but Priya is told his access has ended and whom to contact
        instead, rather than ring a number that may no longer reach him."""
        owen_now = owen()
        owen_now.phone = "01632 960 555"
        if gone == "suspended":
            owen_now.suspended_at = timezone.now()
        else:
            owen_now.vetting_checked_on = timezone.localdate() - timedelta(days=3 * 366)
        owen_now.save()
        child = make_child()
        Involvement.objects.create(
            child=child, practitioner=owen_now, lead_professional=True,
            service=make_service(Service.Kind.SOCIAL_CARE, name="Children's Services"),
            started_on=date(2025, 1, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
        sign_in(client, priya())
        html = client.get(record_url(child)).content.decode()
        assert "01632 960 555" in html  # the history is kept
        assert (
            "The lead professional is Owen, whose ContactPoint access has ended: they may no "
            "longer be able to act as lead professional. Contact Children&#x27;s Services "
            "instead, or, if you now lead the work with this child, record your involvement as "
            "lead professional." in html
        )
        assert "ContactPoint access ended</strong>" in html
        assert "Their ContactPoint access has ended</strong>: they may have left" in html

    def test_a_practitioner_with_access_and_a_past_involvement_are_not_flagged(self, client):
        """Only a current involvement of someone who can no longer sign in is flagged: Priya's
        own is not, nor one Owen ended before he left."""
        owen_now = owen()
        owen_now.suspended_at = timezone.now()
        owen_now.save()
        child = make_child()
        user = priya()
        Involvement.objects.create(
            child=child, practitioner=user, lead_professional=True,
            started_on=date(2025, 1, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
        Involvement.objects.create(
            child=child, practitioner=owen_now, started_on=date(2025, 1, 1),
            ended_on=date(2025, 6, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
        sign_in(client, user)
        html = client.get(record_url(child)).content.decode()
        assert "Owen" in html
        assert "access has ended" not in html and "access ended" not in html

    def test_a_sensitive_service_is_never_the_hidden_lead(self, client):
        """A lead hidden from practitioners would leave the record saying there is none, and
        refuse anyone asking to take it without saying why: the database refuses it."""
        child = make_child()
        hidden = Involvement(
            child=child, practitioner=owen(), lead_professional=True, started_on=date(2025, 1, 1),
            service=make_service(Service.Kind.MENTAL_HEALTH, name="Harbour CAMHS Team"),
            sensitive_category="mental_health", sensitive_basis="consent",
            source=Source.LA_SYSTEM,
        )  # fmt: skip
        with pytest.raises(IntegrityError), transaction.atomic():
            hidden.save()
        hidden.lead_professional = False
        hidden.save()
        sign_in(client, priya())
        client.post(record_url(child, "my-involvement/"), self.form(lead_professional="on"))
        assert Involvement.objects.get(practitioner__username="priya").lead_professional

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("role", "", "Enter your role with the child"),
            ("started_on", "", "Enter when you started working with the child"),
            ("started_on", "1  2025", "The start date must include a month"),
            ("started_on", "1 13 2025", "The start date must be a real date"),
            ("started_on", "1 9 2099", "The start date must be today or in the past"),
            (
                "started_on",
                "13 3 2015",
                "The start date must be on or after the child&#x27;s date of birth, 14 March 2015",
            ),
        ],
    )
    def test_bad_input_gets_a_clear_message_and_changes_nothing(
        self, client, field, value, message
    ):
        sign_in(client, priya())
        child = make_child()
        html = client.post(
            record_url(child, "my-involvement/"), self.form(**{field: value})
        ).content.decode()
        assert message in html and "govuk-error-summary" in html
        assert not Involvement.objects.filter(child=child).exists()

    def test_the_start_date_is_typed_in_the_govuk_date_input(self, client):
        """Day, month and year boxes, as every other date in the service: an error links to
        the box to mend, and changing her involvement shows her start date in the boxes."""
        sign_in(client, priya())
        url = record_url(make_child(), "my-involvement/")
        html = client.post(url, self.form(started_on="1  2025")).content.decode()
        assert "The start date must include a month" in html and 'href="#id_started_on_1"' in html
        client.post(url, self.form(started_on="1 9 2025"))
        page = client.get(url).content.decode()
        for box, value in enumerate(("1", "9", "2025")):
            assert f'value="{value}"' in input_tag(page, f"id_started_on_{box}")

    def test_a_record_merged_into_another_takes_no_involvement(self, client):
        """An involvement left on the merged-away record would be seen by nobody looking at the
        child, and could make a second lead professional: the practitioner is sent, with
        nothing saved, to the kept record, which is the child's now."""
        kept, absorbed = make_child(), make_child(given_name="Amelie")
        Involvement.objects.create(
            child=kept, practitioner=owen(), role="Social worker", lead_professional=True,
            started_on=date(2025, 1, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
        services.children_merge(kept=kept, absorbed=absorbed, by=None)
        sign_in(client, priya())
        page = client.get(record_url(absorbed)).content.decode()
        assert "Record that I work with this child" not in page
        for suffix in ("my-involvement/end/", "my-involvement/"):
            response = client.post(record_url(absorbed, suffix), self.form(lead_professional="on"))
            assert response.status_code == 302 and response.url == record_url(kept, suffix)
        followed = client.get(response.url).content.decode()
        assert f"merged into record {kept.contactpoint_id_display}" in followed
        # The kept record's page names the merged one too: its event lists it.
        shown = AuditEvent.objects.filter(path=response.url).latest("id")
        assert shown.child_contactpoint_id == kept.contactpoint_id
        assert shown.result_ids == [absorbed.contactpoint_id]
        assert not Involvement.objects.filter(practitioner__username="priya").exists()
        assert Involvement.objects.filter(lead_professional=True, ended_on=None).count() == 1

    @pytest.mark.parametrize("meanwhile", ["shielded", "merged into a shielded record"])
    def test_a_form_read_before_the_record_was_shielded_saves_nothing(self, client, meanwhile):
        """Priya's form was open when the record was shielded, or merged into a shielded one:
        nothing is saved, and she is told so on the masked record (its LA team to contact),
        where her post used to answer 404, a dead end."""
        child, kept = make_child(), make_child(given_name="Amelie")
        if meanwhile == "shielded":
            shield(child)
        else:
            shield(kept)
            services.children_merge(kept=kept, absorbed=child, by=None)
        sign_in(client, priya())
        response = client.post(record_url(child, "my-involvement/"), self.form())
        assert response.status_code == 302 and response.url == record_url(child)
        page = client.get(response.url).content.decode()
        assert "This record has been shielded. Nothing has been saved" in page
        assert "This record is shielded" in page
        assert not Involvement.objects.filter(practitioner__username="priya").exists()
        refused = AuditEvent.objects.get(path=record_url(child, "my-involvement/"))
        assert refused.detail == {"refused": "record_shielded"} and refused.child_shielded
        assert client.get(record_url(child, "my-involvement/")).status_code == 404

    def test_an_archived_record_takes_no_involvement(self, client):
        """A data manager who is also a practitioner can find an archived record; it is kept
        for the record, not worked on."""
        archived = make_child(status=Child.Status.ARCHIVED, archived_on=date.today())
        sign_in(client, make_user("pat", Role.PRACTITIONER, Role.DATA_MANAGER))
        page = client.get(record_url(archived)).content.decode()
        assert "Record that I work with this child" not in page
        response = client.post(record_url(archived, "my-involvement/"), self.form())
        assert response.url == record_url(archived)
        assert "This record is archived" in client.get(response.url).content.decode()
        refused = AuditEvent.objects.get(path=record_url(archived, "my-involvement/"))
        assert (refused.child_id, refused.detail) == (archived.pk, {"refused": "record_archived"})
        assert not Involvement.objects.filter(child=archived).exists()

    def test_a_child_who_died_is_offered_work_recorded_in_the_past(self, client):
        """Her record stays live for a year after her death, so that whoever worked with her
        can be found: Priya is asked to record that she worked with the child, not that she
        works with her, and told until when it may have started."""
        died = timezone.localdate() - timedelta(days=60)
        child = make_child(status=Child.Status.DECEASED, date_of_death=died)
        sign_in(client, priya())
        page = client.get(record_url(child)).content.decode()
        assert "Record that I worked with this child" in page
        assert "Record that I work with this child" not in page
        form = client.get(record_url(child, "my-involvement/")).content.decode()
        assert "Record that you worked with this child</h1>" in form
        assert f"This child died on {died.day} {died:%B %Y}." in form

    def test_an_involvement_cannot_start_after_the_child_died(self, client):
        # Within the year her record stays live: later, it is archived and found by no one.
        died = timezone.localdate() - timedelta(days=60)
        child = make_child(status=Child.Status.DECEASED, date_of_death=died)
        sign_in(client, priya())
        later = died + timedelta(days=1)
        html = client.post(
            record_url(child, "my-involvement/"),
            self.form(started_on=f"{later.day} {later.month} {later.year}"),
        ).content.decode()
        assert "govuk-error-summary" in html
        assert (
            f"The start date must be on or before the date the child died, {died.day} {died:%B %Y}"
            in html
        )
        assert not Involvement.objects.filter(child=child).exists()
        client.post(
            record_url(child, "my-involvement/"),
            self.form(started_on=f"{died.day} {died.month} {died.year}"),
        )
        assert Involvement.objects.filter(child=child).exists()

    def test_an_involvement_ended_after_the_child_died_ends_on_the_day_she_died(self, client):
        """Priya closes her work with a child who died two months ago: the record does not
        say she worked with the child until today, months after."""
        died = timezone.localdate() - timedelta(days=60)
        child = make_child(status=Child.Status.DECEASED, date_of_death=died)
        sign_in(client, priya())
        started = died - timedelta(days=100)
        client.post(
            record_url(child, "my-involvement/"),
            self.form(started_on=f"{started.day} {started.month} {started.year}"),
        )
        client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        assert Involvement.objects.get(child=child).ended_on == died

    def test_a_death_recorded_while_she_ended_it_is_seen_under_the_lock(self):
        """A feed recorded the death while Priya's request waited for the record (read before
        it): her involvement still ends on the day the child died, not today."""
        user = priya()
        read_before = make_child()
        Involvement.objects.create(
            child=read_before, practitioner=user, role="Health visitor",
            started_on=date(2025, 3, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
        Child.objects.filter(pk=read_before.pk).update(
            status=Child.Status.DECEASED, date_of_death=date(2025, 8, 31)
        )
        services.involvement_end_mine(
            child=read_before, practitioner=user, ended_on=timezone.localdate()
        )
        assert Involvement.objects.get(child=read_before).ended_on == date(2025, 8, 31)

    def merged_with_two_of_mine(self, user):
        """Priya worked with both records of the child, which are then merged."""
        kept, absorbed = make_child(), make_child(given_name="Amelie")
        for child, role, started in (
            (kept, "Health visitor", date(2025, 1, 1)),
            (absorbed, "Named health visitor", date(2025, 3, 1)),
        ):
            Involvement.objects.create(
                child=child, practitioner=user, role=role, started_on=started,
                source=Source.PRACTITIONER,
            )  # fmt: skip
        services.children_merge(kept=kept, absorbed=absorbed, by=None)
        return kept

    def test_ending_my_involvement_after_a_merge_ends_it(self, client):
        user = priya()
        kept = self.merged_with_two_of_mine(user)
        sign_in(client, user)
        html = client.post(
            record_url(kept, "my-involvement/end/"), CONFIRM, follow=True
        ).content.decode()
        assert "Your involvement has ended" in html and "End my involvement" not in html
        assert not Involvement.objects.filter(practitioner=user, ended_on=None).exists()
        assert Involvement.objects.filter(practitioner=user, child=kept).count() == 2

    def test_the_question_after_a_merge_says_she_stops_being_lead_whichever_holds_it(self, client):
        """Her older involvement holds the lead and the record shows her newer one: ending
        ends both, so the question must say that she stops being the lead professional."""
        user = priya()
        kept = self.merged_with_two_of_mine(user)
        Involvement.objects.filter(practitioner=user, started_on=date(2025, 1, 1)).update(
            lead_professional=True
        )
        sign_in(client, user)
        html = client.get(record_url(kept, "my-involvement/end/")).content.decode()
        assert "or as their lead professional." in html

    def test_changing_my_involvement_after_a_merge_changes_the_one_shown(self, client):
        user = priya()
        kept = self.merged_with_two_of_mine(user)
        sign_in(client, user)
        page = client.get(record_url(kept, "my-involvement/")).content.decode()
        assert 'value="Named health visitor"' in page
        shown = re.search(r'name="involvement" value="(\d+)"', page)
        client.post(
            record_url(kept, "my-involvement/"),
            self.form(
                role="Lead health visitor",
                started_on="1 3 2025",
                involvement=shown[1] if shown else "",
            ),
        )
        roles = Involvement.objects.filter(practitioner=user).values_list("role", flat=True)
        assert sorted(roles) == ["Health visitor", "Lead health visitor"]

    def test_after_a_merge_the_lead_moves_to_the_involvement_she_changes(self, client):
        """She was lead on one record and not on the other: asking to be lead on the one her
        form shows is no handover to agree with herself."""
        user = priya()
        kept = self.merged_with_two_of_mine(user)
        Involvement.objects.filter(role="Health visitor").update(lead_professional=True)
        sign_in(client, user)
        page = client.get(record_url(kept, "my-involvement/")).content.decode()
        shown = re.search(r'name="involvement" value="(\d+)"', page)
        response = client.post(
            record_url(kept, "my-involvement/"),
            self.form(role="Named health visitor", started_on="1 3 2025",
                      lead_professional="on", involvement=shown[1] if shown else ""),
        )  # fmt: skip
        assert response.status_code == 302
        leads = Involvement.objects.filter(child=kept, lead_professional=True, ended_on=None)
        assert [i.role for i in leads] == ["Named health visitor"]

    def sensitive_involvement_of(self, user, child):
        return Involvement.objects.create(
            child=child, practitioner=user, role="CAMHS worker", started_on=date(2025, 1, 1),
            service=make_service(Service.Kind.MENTAL_HEALTH, name="Harbour CAMHS Team"),
            sensitive_category="mental_health", sensitive_basis="consent",
            source=Source.LA_SYSTEM,
        )  # fmt: skip

    def test_my_hidden_sensitive_involvement_is_left_alone_when_i_record_mine(self, client):
        """Owen's CAMHS involvement is hidden from him: recording his involvement (as lead,
        which a sensitive service never is) adds his own beside it, and rewrites nothing."""
        user, child = owen(), make_child()
        hidden = self.sensitive_involvement_of(user, child)
        sign_in(client, user)
        early_help = make_service(Service.Kind.EARLY_HELP, name="Northshire Early Help")
        response = client.post(
            record_url(child, "my-involvement/"),
            self.form(role="Youth worker", service=early_help.pk, lead_professional="on"),
        )
        assert response.status_code == 302
        hidden.refresh_from_db()
        assert (hidden.role, hidden.service.name, hidden.lead_professional) == (
            "CAMHS worker", "Harbour CAMHS Team", False,
        )  # fmt: skip
        html = client.get(record_url(child)).content.decode()
        assert "Youth worker" in html and "The lead professional is Owen" in html
        client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        hidden.refresh_from_db()
        assert hidden.ended_on is None

    def test_a_sensitive_involvement_is_not_offered_to_change_to_those_who_see_it(self, client):
        """A shielding officer who is also a practitioner sees her own CAMHS involvement, but
        it is recorded on its own basis, not through her own-involvement form."""
        user, child = make_user("shona", Role.PRACTITIONER, Role.SHIELDING_OFFICER), make_child()
        self.sensitive_involvement_of(user, child)
        sign_in(client, user)
        html = client.get(record_url(child)).content.decode()
        assert "Harbour CAMHS Team" in html
        assert "Record that I work with this child" in html and "End my involvement" not in html

    def test_changing_my_involvement_says_it_was_received_today(self, client):
        """Her CAF flag was recorded today, not when she first recorded the involvement, nor
        when a feed first sent it."""
        user, child = priya(), make_child()
        mine = Involvement.objects.create(
            child=child, practitioner=user, role="Health visitor", started_on=date(2025, 1, 1),
            source=Source.LA_SYSTEM,
        )  # fmt: skip
        long_ago = datetime(2024, 1, 1, tzinfo=UTC)
        Involvement.objects.filter(pk=mine.pk).update(received_at=long_ago)
        sign_in(client, user)
        client.post(record_url(child, "my-involvement/"), self.form(caf_held="on"))
        mine.refresh_from_db()
        assert mine.caf_held and mine.received_at > long_ago
        assert (mine.source, mine.source_reference) == (Source.PRACTITIONER, "priya")
        html = client.get(record_url(child)).content.decode()
        received = timezone.localtime(mine.received_at)
        assert f"Recorded by a practitioner, received {received:%-d %B %Y}" in html
        Involvement.objects.filter(pk=mine.pk).update(received_at=long_ago)
        client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        mine.refresh_from_db()
        assert mine.ended_on and mine.received_at > long_ago

    def test_changing_my_caf_flag_keeps_a_service_no_longer_offered_to_me(self, client):
        """Priya recorded her involvement with Southshire's health visiting before she moved to
        Northshire: ticking CAF held keeps that service, rather than clearing it unseen
        because her new LA's list does not offer it."""
        user, child = priya(), make_child()
        before = make_service(
            Service.Kind.HEALTH_VISITING, name="Southshire Health Visiting",
            local_authority=southshire(),
        )  # fmt: skip
        mine = Involvement.objects.create(
            child=child, practitioner=user, service=before, role="Health visitor",
            started_on=date(2025, 1, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
        sign_in(client, user)
        page = client.get(record_url(child, "my-involvement/")).content.decode()
        assert f'<option value="{before.pk}" selected>' in page
        form = self.form(started_on="1 1 2025", caf_held="on", service=str(before.pk))
        client.post(record_url(child, "my-involvement/"), {**form, "involvement": mine.pk})
        mine.refresh_from_db()
        assert (mine.caf_held, mine.service) == (True, before)
        other = make_service(
            Service.Kind.HEALTH_VISITING, name="Southshire Family Nurses",
            local_authority=southshire(),
        )  # fmt: skip
        html = client.post(
            record_url(child, "my-involvement/"), {**form, "service": str(other.pk)}
        ).content.decode()
        assert "Select one of the options for your service" in html, "only hers is kept"

    @pytest.mark.parametrize(
        "kind",
        [Service.Kind.SEXUAL_HEALTH, Service.Kind.MENTAL_HEALTH, Service.Kind.SUBSTANCE_MISUSE],
    )
    def test_a_sensitive_service_is_not_hers_to_record_from_the_record_page(self, client, kind):
        """A sensitive service is recorded only with the child's consent or where significant
        harm is suspected, with the reason (DESIGN.md): the record page asks for neither, so
        it neither offers her LA's sensitive service nor takes one posted to it."""
        user, child = priya(), make_child()
        sensitive = make_service(kind, name="Northshire Confidential Service")
        sign_in(client, user)
        url = record_url(child, "my-involvement/")
        assert "Northshire Confidential Service" not in client.get(url).content.decode()
        response = client.post(url, self.form(service=str(sensitive.pk)))
        assert "Select one of the options for your service" in response.content.decode()
        assert not Involvement.objects.filter(child=child).exists()

    def test_a_change_from_a_tab_left_open_after_ending_it_records_nothing(self, client):
        """Priya ended her involvement in one tab, then saved the change form still open in
        another: she is told it has ended, rather than a new involvement being recorded that
        she never asked for."""
        user, child = priya(), make_child()
        sign_in(client, user)
        client.post(record_url(child, "my-involvement/"), self.form())
        mine = Involvement.objects.get(child=child)
        client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        response = client.post(
            record_url(child, "my-involvement/"),
            {**self.form(caf_held="on"), "involvement": mine.pk},
        )
        html = response.content.decode()
        assert response.status_code == 200 and '<a href="#id_role">' in html
        assert "You ended this involvement meanwhile, so nothing has been saved" in html
        assert list(Involvement.objects.filter(child=child)) == [mine]
        mine.refresh_from_db()
        assert mine.ended_on is not None and not mine.caf_held
        assert AuditEvent.objects.filter(action=Action.CHANGE).count() == 2, "recorded, ended"

    def test_a_change_refused_as_ended_keeps_what_she_typed_for_a_new_involvement(self, client):
        """The GOV.UK error pattern rather than a banner over an empty form: her answers are
        kept, and saving them once more records a new involvement, as she then asks."""
        user, child = priya(), make_child()
        sign_in(client, user)
        client.post(record_url(child, "my-involvement/"), self.form())
        mine = Involvement.objects.get(child=child)
        client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        changed = {**self.form(role="School nurse", caf_held="on"), "involvement": mine.pk}
        html = client.post(record_url(child, "my-involvement/"), changed).content.decode()
        assert 'value="School nurse"' in html and "Record that you work with this child" in html
        assert "value=" not in input_tag(html, "id_involvement"), "not the ended one"
        client.post(record_url(child, "my-involvement/"), {**changed, "involvement": ""})
        again = Involvement.objects.get(child=child, ended_on__isnull=True)
        assert (again.role, again.caf_held) == ("School nurse", True)

    def test_an_ended_lead_is_shown_to_others_as_a_past_lead(self, client):
        """Priya was lead professional and has stepped away: Xavier, reading the record, is
        not shown her among the ended involvements tagged as the lead he should contact."""
        child = make_child()
        sign_in(client, priya())
        client.post(record_url(child, "my-involvement/"), self.form(lead_professional="on"))
        client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        sign_in(client, xavier())
        html = client.get(record_url(child)).content.decode()
        assert "There is no lead professional" in html and "Ended involvements" in html
        assert "Was lead professional" in html and ">Lead professional<" not in html

    def test_ending_when_nothing_is_current_changes_nothing_and_is_logged_as_such(self, client):
        child = make_child()
        sign_in(client, priya())
        html = client.post(
            record_url(child, "my-involvement/end/"), CONFIRM, follow=True
        ).content.decode()
        assert "You have no current involvement with this child to end" in html
        ending = AuditEvent.objects.get(path=record_url(child, "my-involvement/end/"))
        assert (ending.action, ending.child_id) == (Action.PAGE_VIEW, child.pk)
        assert not AuditEvent.objects.filter(action=Action.CHANGE).exists()

    def test_a_practitioner_cannot_end_someone_elses_involvement(self, client):
        child = make_child()
        theirs = Involvement.objects.create(
            child=child,
            practitioner=owen(),
            role="Social worker",
            started_on=date(2025, 1, 1),
            source=Source.PRACTITIONER,
        )
        sign_in(client, priya())
        client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        theirs.refresh_from_db()
        assert theirs.ended_on is None


class TestCheckBeforeEndingMyInvolvement:
    """GOV.UK's check before a destructive action: ending her involvement takes Priya off the
    child's record (and stands her down as lead professional), so the first press asks."""

    @staticmethod
    def involved(child: Child, practitioner) -> Involvement:
        return Involvement.objects.create(
            child=child, practitioner=practitioner, role="Health visitor",
            started_on=date(2025, 1, 1), lead_professional=True, source=Source.PRACTITIONER,
        )  # fmt: skip

    def test_it_asks_first_and_changes_nothing(self, client):
        user = priya()
        child = make_child(given_name="Zenobia", family_name="Quillfeather")
        mine = self.involved(child, user)
        sign_in(client, user)
        url = record_url(child, "my-involvement/end/")
        for first in (client.get(url), client.post(url)):
            html = first.content.decode()
            assert first.status_code == 200
            question = "Are you sure you want to end your involvement with record "
            assert f"{question}{child.contactpoint_id_display}?" in html
            assert "no longer show you as working with Zenobia Quillfeather" in html
            assert "or as their lead professional" in html
            assert 'class="govuk-button govuk-button--warning"' in html
            assert 'name="confirm" value="yes"' in html and "csrfmiddlewaretoken" in html
            assert f'href="{record_url(child)}">Cancel<' in html
            assert first["Cache-Control"].startswith("max-age=0")
        mine.refresh_from_db()
        assert mine.ended_on is None and mine.lead_professional
        assert not AuditEvent.objects.filter(action=Action.CHANGE).exists()
        asked = AuditEvent.objects.filter(path=url).latest("id")
        assert (asked.action, asked.child_id) == (Action.VIEW_RECORD, child.pk)
        assert asked.detail == {"page": "confirm_end_own_involvement"}

    def test_the_answer_ends_it(self, client):
        user = priya()
        child = make_child()
        mine = self.involved(child, user)
        sign_in(client, user)
        response = client.post(record_url(child, "my-involvement/end/"), CONFIRM)
        assert response.status_code == 302 and response.url == record_url(child)
        mine.refresh_from_db()
        assert mine.ended_on == timezone.localdate()

    def test_the_record_page_leads_to_the_question_not_to_the_action(self, client):
        user = priya()
        child = make_child()
        self.involved(child, user)
        sign_in(client, user)
        html = client.get(record_url(child)).content.decode()
        url = record_url(child, "my-involvement/end/")
        assert f'href="{url}"' in html and f'action="{url}"' not in html

    def test_outsiders_are_refused_either_step(self, client):
        """Through a shield a practitioner who is not involved gets a 404, as for the record's
        other involvement pages; Lee, who has no child-facing role, a 403."""
        child, practitioner = make_child(), priya()
        mine = self.involved(child, practitioner)
        shield(child)
        for who, status in ((make_user("penny", Role.PRACTITIONER), 404), (lee(), 403)):
            sign_in(client, who)
            url = record_url(child, "my-involvement/end/")
            assert client.get(url).status_code == status
            assert client.post(url, CONFIRM).status_code == status
        mine.refresh_from_db()
        assert mine.ended_on is None


def test_no_page_title_names_the_child(client):
    """Titles are kept in browser history and shown in tab lists: the ID, never the name."""
    child = make_child(given_name="Zenobia", family_name="Quillfeather")
    sign_in(client, priya())
    client.post(record_url(child, "my-involvement/"), TestMyInvolvement().form())
    for suffix in ("", "my-involvement/", "my-involvement/end/"):
        html = client.get(record_url(child, suffix)).content.decode()
        title = html.split("<title>", 1)[1].split("</title>", 1)[0]
        assert child.contactpoint_id_display in title and "Zenobia" not in title, title


def test_a_child_is_named_the_same_on_her_record_and_the_pages_about_her(client):
    """Emily Rose Lane was "Emily Rose Lane" on her record but "Emily Lane" on the page that
    records Priya's work with her, and on the team's request for contact."""
    from shielding.models import ContactRequest

    child = make_child(given_name="Emily", middle_names="Rose", family_name="Lane")
    practitioner = priya()
    sign_in(client, practitioner)
    pages = [client.get(record_url(child)), client.get(record_url(child, "my-involvement/"))]
    shield(child)
    asked = ContactRequest.objects.create(
        child=child, requester=practitioner, service="Health visiting",
        reason="Missed immunisations", reply_to="01632 960555",
    )  # fmt: skip
    sign_in(client, sam())
    pages.append(client.get(reverse("shielding:contact_request", args=[asked.pk])))
    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200 and "Emily Rose Lane" in html, page.request["PATH_INFO"]
        assert "Emily Lane" not in html, page.request["PATH_INFO"]
