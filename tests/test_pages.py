"""Every page is a GOV.UK page under a strict Content Security Policy; signing in and out works."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import Action, AuditEvent
from directory.models import years_before
from tests.personas import lee, priya, sign_in, xavier

pytestmark = pytest.mark.django_db


class _InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style elements and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            self._in_script = "src" not in names
        if tag == "style":
            self.problems.append("<style> element")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems += [f"{name} handler on <{tag}>" for name in names if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline <script>")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.problems


def test_the_home_page_sends_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


class TestSignInPage:
    def test_it_is_a_govuk_page_for_contactpoint(self, client):
        html = client.get(reverse("accounts:login")).content.decode()
        assert 'class="govuk-header"' in html
        assert re.search(r"govuk-service-navigation__service-name.*?ContactPoint", html, re.S)
        assert 'class="govuk-skip-link"' in html and 'href="#main-content"' in html
        assert 'id="main-content"' in html
        # In the header, as GOV.UK Frontend 6 places it: outside, it is in no landmark.
        header = re.search(r"<header .*?</header>", html, re.S)
        assert header and "govuk-phase-banner" in header.group(0)
        assert 'class="govuk-footer"' in html
        assert '<html lang="en"' in html
        assert "<title>Sign in to ContactPoint</title>" in html

    def test_it_has_a_strict_content_security_policy_and_no_inline_code(self, client):
        response = client.get(reverse("accounts:login"))
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        assert inline_code(response.content.decode()) == []

    def test_it_sends_the_other_security_headers(self, client):
        response = client.get(reverse("accounts:login"))
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"

    def test_its_stylesheet_and_script_are_served_from_built_govuk_frontend(self, client):
        html = client.get(reverse("accounts:login")).content.decode()
        for asset in re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|mjs))"', html):
            response = client.get(asset)
            assert response.status_code == 200, asset
            body = b"".join(response.streaming_content)
            assert len(body) > 100, asset
        css = re.search(r'href="(/static/css/application\.[0-9a-f]+\.css)"', html)
        assert css, "the stylesheet has a hashed, cacheable name"

    def test_a_wrong_password_shows_a_govuk_error_summary(self, client):
        priya()
        response = client.post(
            reverse("accounts:login"), {"username": "priya", "password": "not-the-password"}
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "govuk-error-summary" in html and "There is a problem" in html
        assert "<title>Error: Sign in to ContactPoint</title>" in html
        assert "not-the-password" not in html


class TestSigningInAndOut:
    def test_a_signed_in_practitioner_sees_who_they_are(self, client):
        sign_in(client, priya())
        html = client.get("/").content.decode()
        assert "You are signed in as Priya" in html
        assert "Northshire" in html
        assert "Practitioner" in html

    def test_a_practitioner_sees_what_others_see_of_her_and_when_her_access_ends(self, client):
        """Her work phone and email are shown on the records of the children she works with,
        and her access ends when a check runs out: both are hers to see, and to have put
        right by her administrator before a colleague rings the wrong number or she is
        turned away mid-case."""
        user = priya()
        user.job_title, user.phone, user.email = "Health visitor", "01632 960123", "p@n.example"
        user.save()
        sign_in(client, user)
        html = client.get("/").content.decode()
        for shown in ("Health visitor", "01632 960123", "p@n.example", "5 January 2029"):
            assert shown in html, shown
        assert "1 February 2029" in html, "training recorded 1 February 2026 runs out in 3 years"
        assert "Your access to ContactPoint ends on" not in html

    def test_she_is_told_when_records_show_no_phone_or_email_of_hers(self, client):
        user = priya()
        user.phone, user.email = "", ""
        user.save()
        sign_in(client, user)
        html = client.get("/").content.decode()
        assert "Telephone: none recorded" in html and "Email: none recorded" in html

    def test_she_is_warned_a_month_before_a_check_runs_out(self, client):
        user = priya()
        today = timezone.localdate()
        checked = years_before(today, 3) + timedelta(days=20)
        user.vetting_checked_on = checked
        user.save()
        sign_in(client, user)
        html = client.get("/").content.decode()
        runs_out = user.vetting_expires_on()
        assert (
            f"Your access to ContactPoint ends on {runs_out.day} {runs_out:%B %Y}, when your "
            "enhanced vetting check runs out" in html
        )

    def test_someone_who_records_no_involvement_is_not_told_of_child_records(self, client):
        sign_in(client, lee())
        html = client.get("/").content.decode()
        assert "children&#x27;s records" not in html and "5 January 2029" in html
        # He may not record his own checks (accounts.views: another administrator vouches).
        assert "contact another administrator" in html and "your administrator" not in html

    def test_sign_out_is_a_post(self, client):
        sign_in(client, priya())
        assert client.get(reverse("accounts:logout")).status_code == 405
        response = client.post(reverse("accounts:logout"))
        assert response.status_code == 302
        assert client.get("/").status_code == 302

    def test_passwords_are_stored_with_argon2(self, settings):
        settings.PASSWORD_HASHERS = [
            "django.contrib.auth.hashers.Argon2PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        ]
        assert priya().password.startswith("argon2$")


def test_an_unknown_page_is_a_govuk_404_that_repeats_nothing_from_the_request(client):
    sign_in(client, priya())
    response = client.get("/children/Amelia-Hart/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html and 'class="govuk-header"' in html
    assert "Amelia" not in html


def test_debug_is_off():
    assert settings.DEBUG is False


FOOTER_PAGES = {
    "accessibility": "Accessibility statement for ContactPoint",
    "cookies": "Cookies",
    "privacy": "Privacy",
}


class TestFooterPages:
    """The accessibility statement (which the accessibility regulations require), the cookies
    page and the privacy page: linked from every page's footer and readable without signing
    in, as someone who cannot sign in may need them most."""

    @pytest.mark.parametrize("name", FOOTER_PAGES)
    def test_anyone_can_read_it_before_signing_in(self, client, name):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert f'<h1 class="govuk-heading-l">{FOOTER_PAGES[name]}</h1>' in response.content.decode()

    @pytest.mark.parametrize("name", FOOTER_PAGES)
    def test_reading_it_is_an_audit_event_like_every_page(self, client, name):
        client.get(reverse(name))
        assert AuditEvent.objects.filter(path=reverse(name), status=200).exists()

    def test_the_sign_in_page_and_a_signed_in_page_link_to_each_in_the_footer(self, client):
        signed_out = client.get(reverse("accounts:login")).content.decode()
        sign_in(client, priya())
        signed_in = client.get("/").content.decode()
        for html in (signed_out, signed_in):
            footer = html[html.index('<footer class="govuk-footer">') :]
            for name in FOOTER_PAGES:
                assert f'class="govuk-footer__link" href="{reverse(name)}"' in footer

    def test_the_accessibility_statement_says_when_it_was_prepared_and_how(self, client):
        """The regulations' model statement ends with its preparation: the date it was
        prepared, last reviewed, and how the service was tested."""
        html = client.get(reverse("accessibility")).content.decode()
        preparation = html[html.index("Preparation of this accessibility statement") :]
        assert re.search(r"prepared on \d{1,2} \w+ \d{4}\. It was last reviewed on", preparation)

    def test_her_own_session_shows_her_menu_there(self, client):
        sign_in(client, priya())
        html = client.get(reverse("privacy")).content.decode()
        assert "Sign out" in html and "Find a child" in html

    @pytest.mark.parametrize("name", FOOTER_PAGES)
    def test_a_session_that_has_timed_out_ends_there_and_shows_nobody_signed_in(self, client, name):
        """On a shared computer, whoever opens a footer page after Priya's session timed out
        sees no menu of hers, and the page's event is her sign-out, not a page she read."""
        user = priya()
        sign_in(client, user)
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        html = client.get(reverse(name)).content.decode()
        assert "Sign out" not in html and "Find a child" not in html
        assert "You have been signed out because you did nothing for 20 minutes" in html
        seen = AuditEvent.objects.get(path=reverse(name))
        assert (seen.action, seen.user_id) == (Action.SIGN_OUT, user.pk)
        assert (seen.detail or {}).get("timed_out")
        assert client.get(reverse("home")).status_code == 302  # signed out, not only hidden

    def test_the_sign_in_page_ends_a_session_that_has_timed_out_too(self, client):
        """Whoever comes to the computer after Priya's session timed out and opens the sign-in
        page sees no menu of hers; signing in then replaces no session, hers having ended."""
        user = priya()
        sign_in(client, user)
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        html = client.get(reverse("accounts:login")).content.decode()
        assert "Sign out" not in html and "Find a child" not in html
        # Hers only: tests on connections of their own commit their events (an anonymous view
        # of this page among them), and the log, which refuses deletion, keeps them.
        seen = AuditEvent.objects.get(path=reverse("accounts:login"), user_id=user.pk)
        assert seen.action == Action.SIGN_OUT and (seen.detail or {}).get("timed_out")
        sign_in(client, xavier())
        assert not AuditEvent.objects.filter(
            action=Action.SESSION_REPLACED, user_id=user.pk
        ).exists()

    def test_an_account_whose_access_ended_is_signed_out_there(self, client):
        user = priya()
        sign_in(client, user)
        User.objects.filter(pk=user.pk).update(suspended_at=timezone.now())
        html = client.get(reverse("cookies")).content.decode()
        assert "Sign out" not in html and "Find a child" not in html
        seen = AuditEvent.objects.get(path=reverse("cookies"))
        assert (seen.action, seen.user_id) == (Action.SIGN_OUT, user.pk)

    def test_the_cookies_page_names_every_cookie_the_service_sets(self, client):
        """Signing in, using a form, and being told something on the next page (here, that an
        idle session was signed out) sets every cookie the service uses."""
        client.get(reverse("accounts:login"))
        sign_in(client, priya())
        session = client.session
        session["last_seen_at"] -= 21 * 60
        session.save()
        client.get("/")  # signed out, with a message for the sign-in page
        set_by_the_service = set(client.cookies)
        assert {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, "messages"} <= (
            set_by_the_service
        )
        html = client.get(reverse("cookies")).content.decode()
        named = set(re.findall(r'<td class="govuk-table__cell">([\w-]+)</td>', html))
        assert set_by_the_service <= named

    def test_the_cookies_page_gives_the_session_time_outs_in_force(self, client, settings):
        settings.SESSION_IDLE_TIMEOUT = timedelta(minutes=15)
        html = client.get(reverse("cookies")).content.decode()
        assert "after 15 minutes without using the service" in html

    def test_the_privacy_page_gives_the_audit_retention_in_force(self, client, settings):
        settings.AUDIT_RETENTION_YEARS = 8
        html = client.get(reverse("privacy")).content.decode()
        assert "They are kept for 8 years and cannot be changed." in html
