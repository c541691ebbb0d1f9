"""Every kind of page passes axe-core's WCAG 2.2 AA rules, and search works by keyboard alone."""

from pathlib import Path

import pytest
from django.conf import settings

from tests.test_browser import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

AXE = (Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js").read_text()
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def violations(page) -> list[str]:
    # Injected through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(AXE)
    found = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + ')')",
        WCAG_22_AA,
    )
    return list(found)


def check(page, path: str) -> None:
    page.goto(path)
    assert violations(page) == [], path


def test_the_sign_in_and_error_pages(page):
    check(page, "/accounts/login/")
    page.get_by_role("button", name="Continue").click()
    assert violations(page) == [], "sign-in with errors"
    check(page, "/accounts/set-up/not-a-token/")
    page.console_errors.clear()  # that page is a 404 on purpose


def test_a_practitioners_pages(page):
    from tests.personas import make_address, make_child, priya, rebuild_keys, shield

    child = make_child()
    make_address(child)
    rebuild_keys(child)
    hidden = make_child(given_name="Amy")
    shield(hidden)
    sign_in_as(page, priya())
    for path in (
        "/",
        "/search/",
        f"/children/{child.contactpoint_id}/",
        f"/children/{child.contactpoint_id}/my-involvement/",
        f"/children/{hidden.contactpoint_id}/",
        f"/children/{hidden.contactpoint_id}/contact-request/",
    ):
        check(page, path)
    page.goto("/search/")
    page.get_by_label("Surname").fill("Hart")
    page.get_by_label("First name").fill("Amelia")
    page.get_by_role("button", name="Search").click()
    assert violations(page) == [], "search results"
    page.get_by_label("Surname").fill("")
    page.get_by_role("button", name="Search").click()
    assert violations(page) == [], "search errors"


def test_administrators_auditors_officers_and_data_managers_pages(browser, live_app):
    from tests.personas import ada, dana, feed_review, lee, make_child, nina, sam

    child = make_child()
    review = feed_review(child)
    pages = {
        lee: ["/accounts/users/", "/accounts/users/new/"],
        nina: ["/accounts/organisations/", "/accounts/organisations/new/"],
        ada: [
            "/audit/",
            "/audit/anomalies/",
            "/audit/charts/",
            f"/audit/children/{child.contactpoint_id}/",
        ],
        sam: [
            "/shielding/",
            "/shielding/overrides/",
            "/shielding/contact-requests/",
            f"/children/{child.contactpoint_id}/shield/",
        ],
        dana: [
            "/feeds/",
            "/feeds/reviews/",
            f"/feeds/reviews/{review.pk}/",
            "/feeds/merge/",
            "/feeds/merges/",
        ],
    }
    for make, paths in pages.items():
        context = browser.new_context(base_url=live_app)
        page = context.new_page()
        sign_in_as(page, make())
        for path in paths:
            check(page, path)
        context.close()


def test_a_keyboard_alone_finds_a_child_and_opens_the_record(page):
    from tests.personas import make_address, make_child, priya, rebuild_keys

    child = make_child(given_name="Amelia", family_name="Hart")
    make_address(child)
    rebuild_keys(child)
    sign_in_as(page, priya(), "/search/")
    page.keyboard.press("Tab")  # the skip link first
    page.keyboard.press("Enter")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "id_surname":
            break
    page.keyboard.type("Hart")
    page.keyboard.press("Tab")
    page.keyboard.type("Amelia")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_selector("#results")
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Amelia Hart":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/children/{child.contactpoint_id}/")
    assert "1 Mill Lane" in page.inner_text("main")


def test_the_checker_finds_a_real_violation(page):
    """A check on the harness: an image without alternative text and an unlabelled input fail."""
    page.set_content(
        '<html lang="en"><title>t</title><main><img src="data:,"><input></main></html>'
    )
    found = " ".join(violations(page))
    assert "image-alt" in found and "label" in found
