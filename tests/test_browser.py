"""Real-browser journeys in headless Chromium: the harness later journeys are added to."""

import pytest
from playwright.sync_api import expect

from tests.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


SIGN_IN_STEPS = ("/accounts/login/", "/accounts/two-factor/")


def sign_in_as(page, user, start="/"):
    """Signs in through the real pages: password, then the authenticator's current code."""
    from tests.personas import PASSWORD, authenticator, current_code

    device = authenticator(user)
    page.goto(start)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    # Keys pressed before the next page has loaded would land on the sign-in page.
    page.wait_for_url(lambda url: not any(step in url for step in SIGN_IN_STEPS))


def test_the_sign_in_page_renders_with_govuk_styles_and_scripts(page, screenshot):
    page.goto("/accounts/login/")
    expect(page).to_have_title("Sign in to ContactPoint")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in to ContactPoint"
    # The stylesheet loaded: GOV.UK's typeface is applied.
    font = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert "GDS Transport" in font
    # The module script ran under the strict CSP and enhanced the page.
    page.wait_for_function("document.body.classList.contains('govuk-frontend-supported')")
    path = screenshot("sign-in")
    assert path.stat().st_size > 10_000


def test_the_skip_link_is_the_first_thing_a_keyboard_reaches(page):
    page.goto("/accounts/login/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main-content"


def test_a_practitioner_signs_in_with_password_and_security_code(page, screenshot):
    from tests.personas import PASSWORD, authenticator, current_code, priya

    device = authenticator(priya())
    page.goto("/")
    page.get_by_label("Username").fill("priya")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title("Enter your security code – ContactPoint")
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("main")).to_contain_text("You are signed in as Priya")
    screenshot("home")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_title("Sign in to ContactPoint")


def test_a_new_user_enrols_by_scanning_a_qr_code(page, screenshot):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.personas import PASSWORD, current_code, priya

    user = priya()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("priya")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title("Set up two-factor sign-in – ContactPoint")
    expect(page.locator(".app-qr-code svg")).to_be_visible()
    screenshot("enrol")
    device = TOTPDevice.objects.get(user=user)
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".app-backup-codes li")).to_have_count(10)
    screenshot("backup-codes")


def test_an_auditor_reads_the_charts_without_script_or_style_errors(page, screenshot):
    from tests.personas import ada, priya

    priya()
    sign_in_as(page, ada(), "/audit/charts/")
    expect(page).to_have_title("Activity charts – ContactPoint")
    expect(page.locator("svg.app-chart")).to_have_count(2)
    screenshot("audit-charts")
    page.get_by_role("link", name="Access events").click()
    expect(page).to_have_title("Access events – ContactPoint")
    assert page.locator("table.govuk-table tbody tr").count() >= 4  # her own sign-in, at least
    screenshot("audit-events")
    # The GOV.UK date input, as everywhere else, not the browser's own (American) date picker.
    since = page.get_by_role("group", name="Date from")
    for part, value in (("Day", "31"), ("Month", "2"), ("Year", "2026")):
        since.get_by_label(part).fill(value)
    page.get_by_role("button", name="Filter events").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Date from must be a real date")
    since.get_by_label("Day").fill("1")
    page.get_by_role("button", name="Filter events").click()
    expect(page.locator(".govuk-error-summary")).to_have_count(0)
    expect(since.get_by_label("Month")).to_have_value("2")


def test_a_practitioner_finds_a_child_and_opens_the_record(page, screenshot):
    from datetime import date

    from tests.personas import make_address, make_child, priya, rebuild_keys

    child = make_child(given_name="Siobhán", family_name="O'Brien", date_of_birth=date(2016, 5, 4))
    make_address(child, "NE1 4ST")
    rebuild_keys(child)
    sign_in_as(page, priya(), "/search/")
    expect(page).to_have_title("Find a child – ContactPoint")
    page.get_by_label("Surname").fill("obrien")
    born = page.get_by_role("group", name="Date of birth")
    born.get_by_label("Day").fill("4")
    born.get_by_label("Month").fill("5")
    born.get_by_label("Year").fill("2016")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results")).to_be_visible()
    assert page.url.endswith("/search/"), "criteria never go into the address"
    screenshot("search-results")
    page.get_by_role("link", name="Siobhán O'Brien").click()
    expect(page.locator("main")).to_contain_text("NE1 4ST")
    screenshot("record")


def test_a_shielded_child_is_masked_then_contact_is_brokered_and_an_override_is_one_visit(
    browser, app_server, screenshot, page
):
    from shielding.models import ContactRequest
    from tests.personas import make_address, make_child, owen, priya, rebuild_keys, shield

    child = make_child(given_name="Amelia", family_name="Hart")
    make_address(child, "ZE2 9QX", line_1="Zqxv Secret Lane")
    rebuild_keys(child)
    shield(child)
    sign_in_as(page, priya(), "/search/")
    page.get_by_label("Surname").fill("Hart")
    page.get_by_label("First name").fill("Amelia")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results")).to_contain_text("Shielded")
    page.get_by_role("link", name="Amelia Hart").click()
    expect(page.locator("main")).to_contain_text("This record is shielded")
    assert "Zqxv" not in page.content()
    screenshot("shielded-record")
    page.get_by_role("button", name="Ask the team to put you in touch").click()
    page.get_by_label("Your job or service").fill("Health visiting")
    page.get_by_label("Why you need to contact the child or their family").fill("Missed checks")
    page.get_by_label("How the team can reach you").fill("01632 960555")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("main")).to_contain_text("Your request has been sent")
    assert ContactRequest.objects.filter(child=child, reason="Missed checks").exists()

    context = browser.new_context(base_url=app_server)
    second = context.new_page()
    sign_in_as(second, owen(), f"/children/{child.contactpoint_id}/")
    second.get_by_role("button", name="Override the shield").click()
    second.get_by_label("Why you need to see this record").fill("Section 47 enquiry")
    second.get_by_role("button", name="Override and see the record").click()
    expect(second.locator("main")).to_contain_text("Zqxv Secret Lane")
    second.screenshot(path=str(SCREENSHOTS / "override.png"), full_page=True)
    second.reload()
    assert "Zqxv Secret Lane" not in second.inner_text("main")
    assert "The override has been used" in second.inner_text("main")
    context.close()
