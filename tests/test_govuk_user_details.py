"""The administrators' forms hold someone else's details: GOV.UK's telephone number pattern
(type="tel", a phone's number pad) for the phone numbers, and no autofill of the
administrator's own name, phone or postcode into the user's."""

import pytest

from tests.html import input_tag

pytestmark = pytest.mark.django_db


def test_a_users_details_are_not_filled_in_with_the_administrators_own(client):
    from tests.personas import lee, sign_in

    sign_in(client, lee())
    html = client.get("/accounts/users/new/").content.decode()
    for element_id in ("id_first_name", "id_last_name", "id_phone", "id_home_postcode"):
        assert 'autocomplete="off"' in input_tag(html, element_id), element_id
    assert 'type="tel"' in input_tag(html, "id_phone")


def test_an_organisations_team_phone_is_a_telephoneinput_tag(client):
    from tests.personas import nina, sign_in

    sign_in(client, nina())
    html = client.get("/accounts/organisations/new/").content.decode()
    assert 'type="tel"' in input_tag(html, "id_team_phone")


def test_an_organisations_team_contact_is_not_filled_in_with_the_administrators_own(client):
    """Practitioners read the team's phone and email on a shielded record to reach it: a
    browser's autofill must not offer the national administrator's own (a tel input is the
    field browsers fill with the user's phone number most readily)."""
    from tests.personas import nina, sign_in

    sign_in(client, nina())
    html = client.get("/accounts/organisations/new/").content.decode()
    for element_id in ("id_team_phone", "id_team_email"):
        assert 'autocomplete="off"' in input_tag(html, element_id), element_id
