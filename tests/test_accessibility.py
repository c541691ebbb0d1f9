"""Every kind of page passes axe-core's WCAG 2.2 AA rules and is titled by its heading, and search
works by keyboard alone."""

from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.html import title_problems
from tests.test_browser import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

AXE = (Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js").read_text()
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def violations(page) -> list[str]:
    # After a click that submits a form, the next page may still be loading.
    page.wait_for_load_state()
    # Injected through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(AXE)
    # Also "region", a best-practice rule: content outside every landmark (a phase banner
    # between header and main, say) is skipped by someone moving from landmark to landmark.
    found = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " rules: {region: {enabled: true}}}))"
        ".violations.map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + ')')",
        WCAG_22_AA,
    )
    # WCAG 2.4.2 asks for a title that describes the page; axe only checks there is one.
    return list(found) + title_problems(page.content(), page.url)


def check(page, path: str) -> None:
    page.goto(path)
    assert violations(page) == [], path


def test_the_sign_in_and_error_pages(page):
    check(page, "/accounts/login/")
    page.get_by_role("button", name="Continue").click()
    assert violations(page) == [], "sign-in with errors"
    check(page, "/accounts/set-up/not-a-token/")
    page.console_errors.clear()  # that page is a 404 on purpose
    for path in ("/accessibility/", "/cookies/", "/privacy/"):  # the footer's pages
        check(page, path)


def test_a_practitioners_pages(page):
    from directory.models import Involvement, Source
    from tests.personas import make_address, make_child, priya, rebuild_keys, shield

    child = make_child()
    make_address(child)
    rebuild_keys(child)
    hidden = make_child(given_name="Amy")
    shield(hidden)
    practitioner = priya()
    # Hers to end: the page that asks first.
    Involvement.objects.create(
        child=child, practitioner=practitioner, role="Health visitor",
        started_on=date(2025, 1, 1), source=Source.PRACTITIONER,
    )  # fmt: skip
    sign_in_as(page, practitioner)
    for path in (
        "/",
        "/search/",
        f"/children/{child.contactpoint_id}/",
        f"/children/{child.contactpoint_id}/my-involvement/",
        f"/children/{child.contactpoint_id}/my-involvement/end/",
        f"/children/{hidden.contactpoint_id}/",
        f"/children/{hidden.contactpoint_id}/contact-request/",
        "/accounts/password/",
        "/accounts/two-factor/backup-codes/",
    ):
        check(page, path)
    page.goto("/accounts/password/")
    page.get_by_role("button", name="Change password").click()
    assert violations(page) == [], "changing her password, with errors"
    page.goto("/search/")
    page.get_by_label("Surname").fill("Hart")
    page.get_by_label("First name").fill("Amelia")
    page.get_by_role("button", name="Search").click()
    assert violations(page) == [], "search results"
    page.get_by_label("Surname").fill("")
    page.get_by_role("button", name="Search").click()
    assert violations(page) == [], "search errors"


def test_administrators_auditors_officers_and_data_managers_pages(browser, live_app):
    from accounts.roles import Role
    from directory.services import children_merge
    from shielding.models import Shield
    from tests.personas import ada, dana, feed_review, lee, make_child, make_user, nina, sam

    child = make_child()
    review = feed_review(child)
    # Shielded only for sharing a home: its page has the review form and the shield form.
    brother = make_child(given_name="Cal")
    Shield.objects.create(
        child=brother, reason="other", justification="Shares a home", review_on="2027-01-01",
        for_sharing=True,
    )  # fmt: skip
    # A merge for Dana to be asked about undoing.
    merged = children_merge(kept=make_child(given_name="Kay"), absorbed=make_child(), by=None)
    # An administrator of Lee's: he is asked before suspending her or resetting her sign-in.
    lara = make_user("lara", Role.LA_ADMINISTRATOR)
    pages = {
        lee: [
            "/accounts/users/",
            "/accounts/users/new/",
            f"/accounts/users/{lara.pk}/suspend/",
            f"/accounts/users/{lara.pk}/reset-two-factor/",
        ],
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
            f"/children/{brother.contactpoint_id}/shield/",
        ],
        dana: [
            "/feeds/",
            "/feeds/reviews/",
            f"/feeds/reviews/{review.pk}/",
            "/feeds/merge/",
            "/feeds/merges/",
            f"/feeds/merges/{merged.pk}/unmerge/",
            "/feeds/separate/",
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
    assert page.evaluate("document.activeElement.id") == "id_surname"
    page.keyboard.type("Hart")
    page.keyboard.press("Tab")
    page.keyboard.type("Amelia")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_selector("#results")
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Amelia Hart":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Amelia Hart"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/children/{child.contactpoint_id}/")
    assert "1 Mill Lane" in page.inner_text("main")


def test_the_checker_finds_a_real_violation(page):
    """A check on the harness: an image without alternative text, an unlabelled input and
    text outside every landmark (axe's best-practice rule ``region``) fail."""
    page.set_content(
        '<html lang="en"><title>t</title><p>Alpha</p><main><img src="data:,"><input></main></html>'
    )
    found = " ".join(violations(page))
    assert "image-alt" in found and "label" in found and "region" in found


def test_the_set_up_and_second_factor_pages(page):
    """A newcomer's journey: set-up link, password, authenticator, backup codes; then an
    existing user's security-code page."""
    from urllib.parse import urlparse

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.roles import Role
    from accounts.services import setup_link_create
    from tests.personas import PASSWORD, current_code, make_user, priya

    newcomer = make_user("newcomer", Role.PRACTITIONER)
    check(page, urlparse(setup_link_create(user=newcomer, by=None)).path)
    page.get_by_label("Create a password").fill("a long and unusual passphrase 9")
    page.get_by_label("Confirm your password").fill("a long and unusual passphrase 9")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/two-factor/set-up/")
    assert violations(page) == [], "setting up the authenticator"
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)
    page.get_by_label("Security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("text=backup codes")
    assert violations(page) == [], "the backup codes"

    context = page.context.browser.new_context(base_url=page.url.split("/accounts")[0])
    other = context.new_page()
    user = priya()
    other.goto("/accounts/login/")
    other.get_by_label("Username").fill(user.username)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Continue").click()
    other.wait_for_url("**/two-factor/**")
    assert violations(other) == [], "the security code page"
    other.get_by_role("button", name="Continue").click()
    assert violations(other) == [], "the security code page with an error"
    context.close()


def test_more_of_each_roles_pages(browser, live_app):
    """Detail, edit and history pages, the forms that show a second step, and the queues with
    something in them."""
    from shielding.models import ContactRequest, ShieldOverride
    from tests.personas import ada, dana, lee, make_child, nina, owen, priya, sam, shield
    from tests.test_shielding import shielded_child, shielded_for_sharing_elsewhere

    practitioner = priya()
    child = make_child(given_name="Olive")
    hidden = shielded_child()
    ShieldOverride.objects.create(
        child=hidden, practitioner=practitioner, reason="Urgent welfare visit",
        visit_token_hash="x" * 64,
    )  # fmt: skip
    request = ContactRequest.objects.create(
        child=hidden, requester=practitioner, service="Health visiting", reason="Hearing test",
        reply_to="priya@example.org",
    )  # fmt: skip
    pages = {
        lee: [f"/accounts/users/{practitioner.pk}/"],
        # Lee could not give Priya her role, so only Nina is shown the page to change her.
        nina: [
            f"/accounts/organisations/{practitioner.organisation_id}/",
            f"/accounts/users/{practitioner.pk}/edit/",
        ],
        ada: [f"/audit/users/{practitioner.pk}/", "/audit/?action=view_record"],
        sam: [
            "/shielding/overrides/",
            f"/shielding/contact-requests/{request.pk}/",
            f"/children/{hidden.contactpoint_id}/shield/",
            f"/children/{hidden.contactpoint_id}/",
            f"/children/{shielded_for_sharing_elsewhere().contactpoint_id}/shield/protecting/",
        ],
        owen: [f"/children/{hidden.contactpoint_id}/override/"],
        dana: ["/feeds/reviews/"],
    }
    shield(make_child(given_name="Unused"))  # the dashboard lists a shield
    pages[sam].insert(0, "/shielding/")
    people = [(make(), paths) for make, paths in pages.items()]
    people.append((practitioner, [f"/children/{child.contactpoint_id}/?past=1"]))
    for person, paths in people:
        context = browser.new_context(base_url=live_app)
        page = context.new_page()
        sign_in_as(page, person)
        for path in paths:
            check(page, path)
        context.close()


def test_the_second_steps_of_the_data_managers_forms(page, tmp_path):
    from tests.personas import dana, make_child

    kept, absorbed = make_child(given_name="Keep"), make_child(given_name="Absorb")
    sign_in_as(page, dana(), "/feeds/merge/")
    page.get_by_label("ContactPoint ID of the record to keep").fill(kept.contactpoint_id)
    page.get_by_label("ContactPoint ID of the record to merge into it").fill(
        absorbed.contactpoint_id
    )
    page.get_by_role("button", name="Continue").click()
    assert violations(page) == [], "the merge confirmation"
    upload = tmp_path / "census.csv"
    upload.write_text("upn,given_name\nX,Y\n")
    page.goto("/feeds/")
    page.get_by_label("Which feed").select_option(index=1)
    page.get_by_label("The file (CSV, UTF-8, one header row)").set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector(".govuk-error-summary, .govuk-notification-banner, table")
    assert violations(page) == [], "a feed's error report"


def test_the_refusal_and_error_pages(page, settings):
    from tests.personas import break_the_access_log, make_child, priya

    settings.SEARCH_RATE_LIMIT = 1
    child = make_child()
    sign_in_as(page, priya())
    page.console_errors.clear()
    check(page, "/audit/")  # 403: not an auditor
    check(page, "/children/000000000000/")  # 404
    page.goto("/search/")
    for _ in range(2):
        page.get_by_label("Surname").fill("Hart")
        page.get_by_label("First name").fill("Amelia")
        page.get_by_role("button", name="Search").click()
    expect(page.locator("main")).to_contain_text("searching is paused")
    assert violations(page) == [], "429: searching paused"
    break_the_access_log()
    check(page, f"/children/{child.contactpoint_id}/")  # 503: the access log cannot be written
    assert "could not record this request" in page.inner_text("body")
    page.console_errors.clear()  # those pages answer 403, 404, 429 and 503 on purpose


def test_the_form_expired_bad_request_and_server_error_pages(page):
    from django.template.loader import render_to_string

    page.goto("/accounts/login/")
    page.context.clear_cookies()  # as if the session's CSRF cookie were gone
    page.get_by_label("Username").fill("someone")
    page.get_by_label("Password").fill("anything")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("main")).to_contain_text("Your form could not be sent")
    assert violations(page) == [], "403: the form could not be sent"
    for template in ("400.html", "500.html"):
        # Django renders these without a request (handler400, handler500); here they are put
        # in a page of the service, so that its styles apply as they would.
        page.goto("/accounts/login/")
        page.set_content(render_to_string(template))
        font = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
        assert "GDS Transport" in font, "the service's stylesheet applies"
        assert violations(page) == [], template
    page.console_errors.clear()  # the 403 is on purpose


def test_a_new_set_up_link_page(page):
    from accounts.roles import Role
    from tests.personas import make_user

    newcomer = make_user("newcomer", Role.PRACTITIONER)
    newcomer.set_unusable_password()
    newcomer.save()
    admin = make_user("lin", Role.LA_ADMINISTRATOR, Role.PRACTITIONER)  # may give her role
    sign_in_as(page, admin, f"/accounts/users/{newcomer.pk}/")
    page.get_by_role("button", name="Make a new set-up link").click()
    page.wait_for_url(f"**/accounts/users/{newcomer.pk}/setup-link/")
    assert "/accounts/set-up/" in page.inner_text("main")
    assert violations(page) == [], "the new set-up link"
