"""axe on the page states test_accessibility.py does not reach: forms sent with errors, empty
and capped search results, a shielded result, the record after an override, merges, the
access-ended page. Each state is reached as a user reaches it, in the browser."""

from datetime import date, timedelta
from urllib.parse import urlparse

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import Role
from accounts.services import setup_link_create
from directory.feed_import import waiting_uploads_import
from directory.feeds import COLUMNS
from directory.models import Involvement, Source
from shielding.models import ContactRequest
from tests.personas import (
    PASSWORD,
    ada,
    current_code,
    dana,
    feed_review,
    lee,
    make_address,
    make_child,
    make_user,
    nina,
    owen,
    priya,
    rebuild_keys,
    sam,
    shield,
)
from tests.test_accessibility import violations
from tests.test_browser import sign_in_as
from tests.test_shielding import shielded_child

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

RENEW = reverse("accounts:backup_codes_renew")


def passes(page, state: str) -> None:
    assert violations(page) == [], state


def filled(page, fields: dict[str, str], button: str, state: str, url: str = "") -> None:
    """The form at ``url`` (or the page as it is) filled in, sent with ``button``, then axe."""
    if url:
        page.goto(url)
    for label, value in fields.items():
        page.get_by_label(label).first.fill(value)
    page.get_by_role("button", name=button).click()
    passes(page, state)


def shown(page, url: str, state: str) -> None:
    page.goto(url)
    passes(page, state)


def test_a_practitioners_pages_in_every_state(page, settings):
    settings.SEARCH_RESULT_CAP = 1
    one = make_child()
    other = make_child(date_of_birth=one.date_of_birth.replace(year=2016))
    hidden = make_child(given_name="Amy")
    shield(hidden)
    for child in (one, other, hidden):
        make_address(child)
    rebuild_keys(one, other, hidden)
    sign_in_as(page, owen(), "/search/")
    searches = {
        "too many matches": {"Surname": "Hart", "First name": "Amelia"},
        "no results": {"Surname": "Zzzzqx", "First name": ""},
        "a shielded result": {"Surname": "Hart", "First name": "Amy"},
        # The first Day, Month and Year boxes: the date of birth's, before the range's.
        "field errors": {
            "First name": "",
            "Day": "99",
            "Month": "99",
            "Year": "2015",
            "Postcode": "XXXX",
        },
    }
    for state, fields in searches.items():
        filled(page, fields, "Search", f"search: {state}")
    filled(page, {"ContactPoint ID": "12"}, "Search", "search: ID error", url="/search/")
    record = f"/children/{one.contactpoint_id}/"
    filled(page, {}, "Save", "involvement errors", url=f"{record}my-involvement/")
    shielded = f"/children/{hidden.contactpoint_id}/"
    filled(page, {}, "Send the request", "contact errors", url=f"{shielded}contact-request/")
    filled(page, {}, "Override and see the record", "override errors", url=f"{shielded}override/")
    page.locator("#id_reason").fill("Urgent child protection visit tonight")
    filled(page, {}, "Override and see the record", "the record after an override")


def test_a_shielding_officers_forms_with_errors(page):
    plain, hidden = make_child(given_name="Plain"), shielded_child()
    request = ContactRequest.objects.create(
        child=hidden, requester=priya(), service="Health visiting", reason="Hearing test",
        reply_to="priya@example.org",
    )  # fmt: skip
    sign_in_as(page, sam())
    filled(
        page,
        {},
        "Shield the record",
        "shield errors",
        url=f"/children/{plain.contactpoint_id}/shield/",
    )
    filled(
        page,
        {},
        "Save decision",
        "review errors",
        url=f"/children/{hidden.contactpoint_id}/shield/",
    )
    filled(
        page,
        {},
        "Record the outcome",
        "outcome errors",
        url=f"/shielding/contact-requests/{request.pk}/",
    )


def test_a_data_managers_pages_in_every_state(page, settings):
    settings.FEED_WEB_CHECK_BYTES = 10
    la_system_header = ",".join(COLUMNS[Source.LA_SYSTEM]).encode() + b"\n"
    review = feed_review(make_child())
    kept, absorbed = make_child(given_name="Keep"), make_child(given_name="Absorb")
    keep, merge = (
        "ContactPoint ID of the record to keep",
        "ContactPoint ID of the record to merge into it",
    )
    sign_in_as(page, dana())
    filled(page, {}, "Check and import", "upload errors", url="/feeds/")
    today = timezone.localdate()
    page.get_by_label("Which feed").select_option("la_system")
    page.locator("#id_extracted_on_0").fill(str(today.day))
    page.locator("#id_extracted_on_1").fill(str(today.month))
    page.locator("#id_extracted_on_2").fill(str(today.year))
    page.locator("#id_file").set_input_files(
        files=[{"name": "big.csv", "mimeType": "text/csv", "buffer": la_system_header + b"1,2\n"}]
    )
    filled(page, {}, "Check and import", "upload: too large to check")
    waiting_uploads_import()
    shown(page, "/feeds/", "upload: not imported, with its errors")
    assert "The file has errors" in page.content()
    filled(page, {}, "Save decision", "review errors", url=f"/feeds/reviews/{review.pk}/")
    filled(page, {}, "Continue", "merge: nothing entered", url="/feeds/merge/")
    filled(page, {keep: "123", merge: "123"}, "Continue", "merge: bad IDs")
    filled(
        page,
        {keep: kept.contactpoint_id, merge: absorbed.contactpoint_id},
        "Continue",
        "merge: the pair",
    )
    filled(page, {}, "Merge these records", "merged")
    shown(page, "/feeds/merges/", "merges, with one")
    filled(page, {}, "Continue", "separate: nothing entered", url="/feeds/separate/")
    filled(
        page,
        {"ContactPoint ID of the record": kept.contactpoint_id},
        "Continue",
        "separate: a record",
    )


@pytest.mark.parametrize("persona", ["lee", "nina", "ada"])
def test_administrators_and_auditors_pages_in_every_state(page, persona):
    child = make_child()
    user = {"lee": lee, "nina": nina, "ada": ada}[persona]()
    sign_in_as(page, user)
    if persona == "lee":
        filled(page, {}, "Add user", "add user errors", url="/accounts/users/new/")
        bad = {"Day": "99", "Email": "not-an-email"}
        filled(
            page, bad, "Save changes", "edit user errors", url=f"/accounts/users/{user.pk}/edit/"
        )
        shown(page, "/accounts/users/?q=zzzzzz", "no user found")
        gone = priya()
        Involvement.objects.create(
            child=child, practitioner=gone, role="Health visitor", lead_professional=True,
            started_on=date(2025, 1, 1), source=Source.PRACTITIONER,
        )  # fmt: skip
        shown(page, f"/accounts/users/{gone.pk}/suspend/", "suspend: she has children")
        assert "currently involved with 1 child" in page.content()
        gone.suspended_at = timezone.now()
        gone.save(update_fields=["suspended_at"])
        shown(page, f"/accounts/users/{gone.pk}/", "suspended: her children to hand over")
        assert "still recorded as involved with 1 child" in page.content()
        shown(page, "/accounts/users/", "users: one whose involvements need handing over")
        assert "Involvements need handing over" in page.content()
    elif persona == "nina":
        filled(page, {}, "Save", "add organisation errors", url="/accounts/organisations/new/")
    else:
        wrong = "date_from_0=99&date_from_1=99&date_from_2=2020"
        shown(page, f"/audit/?{wrong}&date_to_0=xx&contactpoint_id=12", "filter errors")
        shown(page, f"/audit/anomalies/?{wrong}", "anomalies errors")
        shown(page, f"/audit/charts/?{wrong}", "charts errors")
        shown(page, f"/audit/children/{child.contactpoint_id}/", "a child's history")


def test_setting_up_an_account_and_signing_in_in_every_state(page):
    newcomer = make_user("newcomer", Role.PRACTITIONER)
    passwords = ("Create a password", "Confirm your password")
    filled(
        page,
        {},
        "Continue",
        "set-up errors",
        url=urlparse(setup_link_create(user=newcomer, by=None)).path,
    )
    filled(page, dict.fromkeys(passwords, "12345"), "Continue", "a weak password")
    page.get_by_label(passwords[0]).fill("a long and unusual passphrase 9")
    page.get_by_label(passwords[1]).fill("a long and unusual passphrase 9")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/two-factor/set-up/")
    filled(page, {}, "Continue", "no code")
    filled(page, {"Security code": "000000"}, "Continue", "a wrong code")
    gone = make_user("gone", Role.PRACTITIONER)
    gone.suspended_at = timezone.now() - timedelta(days=1)
    gone.save()
    page.context.clear_cookies()
    signing_in = {"Username": "gone", "Password": PASSWORD}
    filled(page, signing_in, "Continue", "access ended", url="/accounts/login/")
    filled(
        page,
        {**signing_in, "Password": "wrong"},
        "Continue",
        "a wrong password",
        url="/accounts/login/",
    )
    page.console_errors.clear()  # the access-ended page is a 403, as it should be


def test_getting_new_backup_codes_and_the_page_that_says_they_were_shown_once(page):
    """Her new codes, then the same code sent again (a refresh, a double click): the
    "shown once" banner, not the codes a second time."""
    user = priya()
    sign_in_as(page, user)
    device = TOTPDevice.objects.get(user=user)
    # Signing in used the code her app still shows; django-otp takes each code once.
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    code = {"Security code": current_code(device)}
    filled(page, code, "Get new backup codes", "her new backup codes", url=RENEW)
    assert page.get_by_role("heading", name="You have new backup codes").is_visible()
    filled(page, code, "Get new backup codes", "the codes were shown once", url=RENEW)
    assert page.get_by_text("Your new backup codes were shown once").is_visible()
