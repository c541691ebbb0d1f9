"""Real-browser journeys in headless Chromium: the harness later journeys are added to."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_the_sign_in_page_renders_with_govuk_styles_and_scripts(page, screenshot):
    page.goto("/accounts/login/")
    assert page.title() == "Sign in – ContactPoint"
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
    assert page.title() == "Enter your security code – ContactPoint"
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    assert "You are signed in as Priya" in page.inner_text("main")
    screenshot("home")
    page.get_by_role("button", name="Sign out").click()
    assert page.title() == "Sign in – ContactPoint"


def test_a_new_user_enrols_by_scanning_a_qr_code(page, screenshot):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.personas import PASSWORD, current_code, priya

    user = priya()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("priya")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    assert page.title() == "Set up two-factor sign-in – ContactPoint"
    assert page.locator(".app-qr-code svg").is_visible()
    screenshot("enrol")
    device = TOTPDevice.objects.get(user=user)
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    assert page.locator(".app-backup-codes li").count() == 10
    screenshot("backup-codes")


def test_an_auditor_reads_the_charts_without_script_or_style_errors(page, screenshot):
    from tests.personas import PASSWORD, ada, authenticator, current_code, priya

    device = authenticator(ada())
    priya()
    page.goto("/audit/charts/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    assert page.title() == "Activity charts – ContactPoint"
    assert page.locator("svg.app-chart").count() == 2
    screenshot("audit-charts")
    page.get_by_role("link", name="Access events").click()
    assert page.locator("table.govuk-table tbody tr").count() >= 4  # her own sign-in, at least
    screenshot("audit-events")


def test_a_practitioner_finds_a_child_and_opens_the_record(page, screenshot):
    from datetime import date

    from tests.personas import (
        PASSWORD,
        authenticator,
        current_code,
        make_address,
        make_child,
        priya,
        rebuild_keys,
    )

    device = authenticator(priya())
    child = make_child(given_name="Siobhán", family_name="O'Brien", date_of_birth=date(2016, 5, 4))
    make_address(child, "NE1 4ST")
    rebuild_keys(child)
    page.goto("/search/")
    page.get_by_label("Username").fill("priya")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    assert page.title() == "Find a child – ContactPoint"
    page.get_by_label("Surname").fill("obrien")
    page.get_by_label("Date of birth").fill("4 5 2016")
    page.get_by_role("button", name="Search").click()
    assert page.url.endswith("/search/"), "criteria never go into the address"
    screenshot("search-results")
    page.get_by_role("link", name="Siobhán O'Brien").click()
    assert "NE1 4ST" in page.inner_text("main")
    screenshot("record")
