"""What must never be wrong in the directory is refused by PostgreSQL itself, whatever the code."""

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Organisation, User
from accounts.roles import Role
from directory.models import (
    Address,
    CareRelationship,
    Child,
    Involvement,
    ParentCarer,
    SensitiveCategory,
    Service,
    Source,
)
from shielding.models import Shield
from tests.personas import make_child, make_service, northshire, priya

pytestmark = pytest.mark.django_db


def refused(constraint: str):
    """Expect PostgreSQL to reject the statement by naming the constraint that protects it."""
    return pytest.raises(IntegrityError, match=constraint)


def involvement(child: Child, **fields: object) -> Involvement:
    values: dict[str, object] = {
        "child": child,
        "service": make_service(name=f"Service {Service.objects.count()}"),
        "started_on": date(2024, 9, 1),
        "source": Source.LA_SYSTEM,
    }
    values.update(fields)
    with transaction.atomic():
        return Involvement.objects.create(**values)


class TestOneLeadProfessional:
    def test_it_refuses_a_second_current_lead_professional(self):
        child = make_child()
        involvement(child, lead_professional=True, caf_held=True)
        with refused("one_lead_professional_per_child"):
            involvement(child, lead_professional=True)

    def test_it_allows_a_new_lead_once_the_old_one_has_ended(self):
        child = make_child()
        first = involvement(child, lead_professional=True)
        first.ended_on = date(2025, 1, 31)
        first.save(update_fields=["ended_on"])
        second = involvement(child, lead_professional=True)
        assert second.lead_professional

    def test_two_children_may_each_have_their_own_lead(self):
        involvement(make_child(), lead_professional=True)
        involvement(make_child(given_name="Noah"), lead_professional=True)
        assert Involvement.objects.filter(lead_professional=True).count() == 2


class TestDatesInOrder:
    def test_an_involvement_cannot_end_before_it_starts(self):
        with refused("involvement_ends_after_it_starts"):
            involvement(make_child(), started_on=date(2025, 5, 1), ended_on=date(2025, 4, 30))

    def test_an_address_cannot_end_before_it_starts(self):
        with refused("address_ends_after_it_starts"), transaction.atomic():
            Address.objects.create(
                child=make_child(),
                line_1="1 Mill Lane",
                postcode="NE1 4ST",
                started_on=date(2024, 1, 1),
                ended_on=date(2023, 1, 1),
                source=Source.LA_SYSTEM,
            )

    def test_a_child_cannot_die_before_being_born(self):
        with refused("child_dies_after_birth"):
            make_child(status=Child.Status.DECEASED, date_of_death=date(2010, 1, 1))

    def test_a_deceased_child_has_a_date_of_death(self):
        with refused("child_deceased_has_date_of_death"):
            make_child(status=Child.Status.DECEASED)

    def test_an_archived_child_has_an_archive_date(self):
        with refused("child_archived_has_date"):
            make_child(status=Child.Status.ARCHIVED)


class TestAddresses:
    def test_a_child_may_have_several_current_addresses(self):
        child = make_child()
        for line, postcode in (("1 Mill Lane", "NE1 4ST"), ("9 Quay Road", "NE2 1AB")):
            Address.objects.create(
                child=child, line_1=line, postcode=postcode, source=Source.CHILD_BENEFIT
            )
        assert child.addresses.filter(ended_on__isnull=True).count() == 2

    def test_a_residential_address_needs_a_line_and_a_postcode(self):
        with refused("address_residential_has_line_and_postcode"), transaction.atomic():
            Address.objects.create(child=make_child(), line_1="1 Mill Lane", source=Source.DEMO)

    def test_no_known_address_holds_no_location(self):
        child = make_child()
        Address.objects.create(child=child, kind=Address.Kind.NO_KNOWN_ADDRESS, source=Source.DEMO)
        with refused("address_non_residential_has_no_location"), transaction.atomic():
            Address.objects.create(
                child=child,
                kind=Address.Kind.NO_KNOWN_ADDRESS,
                postcode="NE1 4ST",
                source=Source.DEMO,
            )

    def test_only_a_child_who_left_england_has_an_expected_return(self):
        child = make_child()
        Address.objects.create(
            child=child,
            kind=Address.Kind.LEFT_ENGLAND,
            expected_return_by=date(2027, 9, 1),
            source=Source.DEMO,
        )
        with refused("address_return_date_only_when_left_england"), transaction.atomic():
            Address.objects.create(
                child=child,
                line_1="1 Mill Lane",
                postcode="NE1 4ST",
                expected_return_by=date(2027, 9, 1),
                source=Source.DEMO,
            )


class TestParentsAndCarers:
    def test_an_overseas_carer_keeps_a_foreign_postcode(self):
        carer = ParentCarer.objects.create(
            given_name="Marie",
            family_name="Laurent",
            line_1="3 rue de la Paix",
            town="Lyon",
            postcode="69003",
            country="FR",
            source=Source.CHILD_BENEFIT,
        )
        CareRelationship.objects.create(
            child=make_child(),
            carer=carer,
            relationship="mother",
            parental_responsibility=True,
            source=Source.CHILD_BENEFIT,
        )
        assert carer.is_overseas

    def test_a_uk_carer_has_a_normalised_postcode(self):
        with refused("parentcarer_postcode_is_normalised"), transaction.atomic():
            ParentCarer.objects.create(
                given_name="Jo", family_name="Hart", postcode="69003", source=Source.LA_SYSTEM
            )

    def test_a_carer_is_linked_to_a_child_once(self):
        child = make_child()
        carer = ParentCarer.objects.create(given_name="Jo", family_name="Hart", source=Source.DEMO)
        CareRelationship.objects.create(
            child=child,
            carer=carer,
            relationship="father",
            parental_responsibility=True,
            source=Source.DEMO,
        )
        with refused("one_relationship_per_carer"), transaction.atomic():
            CareRelationship.objects.create(
                child=child,
                carer=carer,
                relationship="other",
                parental_responsibility=False,
                source=Source.DEMO,
            )


class TestInvolvements:
    def test_an_involvement_names_a_service_or_a_practitioner(self):
        with refused("involvement_names_service_or_practitioner"):
            involvement(make_child(), service=None)

    def test_a_practitioner_alone_may_be_involved(self):
        assert involvement(make_child(), service=None, practitioner=priya()).practitioner

    def test_a_sensitive_involvement_records_its_basis(self):
        with refused("involvement_sensitive_has_basis"):
            involvement(make_child(), sensitive_category=SensitiveCategory.MENTAL_HEALTH)
        recorded = involvement(
            make_child(),
            sensitive_category=SensitiveCategory.MENTAL_HEALTH,
            sensitive_basis=Involvement.SensitiveBasis.SIGNIFICANT_HARM,
        )
        assert recorded.sensitive_basis == "significant_harm"

    def test_ending_an_involvement_keeps_its_history(self):
        child = make_child()
        ended = involvement(child, started_on=date(2020, 9, 1), ended_on=date(2024, 7, 20))
        assert not ended.is_current
        assert child.involvements.count() == 1


class TestOrganisationsAndUsers:
    def test_a_local_authority_has_a_contact_team(self):
        with refused("local_authority_has_contact_team"), transaction.atomic():
            Organisation.objects.create(code="E1", name="Nowhere", kind="local_authority")

    def test_a_national_partner_needs_no_contact_team(self):
        Organisation.objects.create(code="NP9", name="A charity", kind="national_partner")

    def test_a_user_holds_only_known_roles(self):
        with refused("user_roles_are_known"), transaction.atomic():
            User.objects.create_user(
                username="mallory", organisation=northshire(), roles=["superhero"]
            )

    def test_a_user_may_hold_several_roles(self):
        user = User.objects.create_user(
            username="owen",
            organisation=northshire(),
            roles=["practitioner", "override_practitioner"],
        )
        assert user.has_role(Role.OVERRIDE_PRACTITIONER)


class TestShields:
    def test_only_one_shield_is_in_force_per_child(self):
        child = make_child()
        Shield.objects.create(
            child=child, reason="domestic_abuse", justification="Risk", review_on=date(2027, 5, 1)
        )
        with refused("one_shield_in_force_per_child"), transaction.atomic():
            Shield.objects.create(
                child=child, reason="other", justification="Risk", review_on=date(2027, 5, 1)
            )
