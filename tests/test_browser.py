"""Real-browser journeys in headless Chromium: the harness later journeys are added to."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
