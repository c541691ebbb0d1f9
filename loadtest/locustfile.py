"""The load test's users (make loadtest): practitioners, auditors and LA administrators signing
in with two factors and working as they would; and a "ceiling" user on a minimal view."""

import json
import random
import re
from datetime import date
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

from django_otp.oath import totp
from locust import HttpUser, between, constant, task

FIXTURES = json.loads((Path(__file__).parent.parent / "var/loadtest/fixtures.json").read_text())
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# Production settings mark cookies Secure; the load test speaks plain HTTP to gunicorn on
# loopback and says it came through the TLS proxy (X-Forwarded-Proto), so cookies must flow.
HEADERS = {"X-Forwarded-Proto": "https"}


# requests builds a fresh cookie jar with the default policy for every request, so the policy
# itself is changed, in this load-test process only: Secure cookies go back over loopback HTTP.
DefaultCookiePolicy.return_ok_secure = lambda self, cookie, request: True  # type: ignore[method-assign]


_users = iter(FIXTURES["users"] * 100)
# A shielded record's involvements are its LA team's to broker: a practitioner gets "not found".
UNSHIELDED = [child for child in FIXTURES["children"] if not child["shielded"]]


def form_token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has a form"
    return found.group(1)


class _SignedIn(HttpUser):
    abstract = True
    wait_time = between(0.5, 2)
    kind = ""

    def on_start(self) -> None:
        while True:
            person = next(_users)
            if person["kind"] == self.kind:
                break
        self.person = person
        page = self.client.get("/accounts/login/", headers=HEADERS, name="sign in")
        token = form_token(page.text)
        self.client.post(
            "/accounts/login/",
            {
                "csrfmiddlewaretoken": token,
                "username": person["username"],
                "password": FIXTURES["password"],
            },
            headers=self.headers("/accounts/login/"), name="sign in",
        )  # fmt: skip
        page = self.client.get("/accounts/two-factor/", headers=HEADERS, name="sign in")
        token = form_token(page.text)
        code = f"{totp(bytes.fromhex(person['key']), t0=0, step=30, digits=6, drift=0):06d}"
        with self.client.post(
            "/accounts/two-factor/", {"csrfmiddlewaretoken": token, "otp_token": code},
            headers=self.headers("/accounts/two-factor/"), name="sign in", catch_response=True,
        ) as signed_in:  # fmt: skip
            # Signed in lands on the home page; anything else (the form again, refused as
            # locked or busy) would measure every later page against the sign-in page.
            if "/accounts/" in signed_in.url:
                signed_in.failure(f"not signed in: ended on {signed_in.url}")

    def csrf(self) -> str:
        return str(self.client.cookies.get("csrftoken", ""))

    def headers(self, path: str) -> dict[str, str]:
        """As a browser behind the TLS proxy sends a form: Django checks the Referer on HTTPS."""
        host = (self.host or "").split("://", 1)[-1]
        return {**HEADERS, "Referer": f"https://{host}{path}"}


def search_for_a_child(user: _SignedIn) -> None:
    child = random.choice(FIXTURES["children"])
    # The date of birth in the three boxes of the GOV.UK date input, as a browser sends it.
    year, month, day = child["date_of_birth"].split("-")
    user.client.post(
        "/search/",
        {
            "csrfmiddlewaretoken": user.csrf(),
            "surname": child["family_name"],
            "forename": child["given_name"],
            "date_of_birth_0": day,
            "date_of_birth_1": month,
            "date_of_birth_2": year,
        },
        headers=user.headers("/search/"),
        name="search",
    )


class Practitioner(_SignedIn):
    kind = "practitioner"
    weight = 8

    @task(5)
    def search(self) -> None:
        search_for_a_child(self)

    @task(4)
    def view_record(self) -> None:
        child = random.choice(FIXTURES["children"])
        self.client.get(f"/children/{child['contactpoint_id']}/", headers=HEADERS, name="record")

    @task(1)
    def add_involvement(self) -> None:
        """Saves an involvement that started today (after any child's birth): the reply is
        the record page it redirects to, or it is counted as a failure."""
        child = random.choice(UNSHIELDED)
        record = f"/children/{child['contactpoint_id']}/"
        url = f"{record}my-involvement/"
        today = date.today()
        with self.client.post(
            url,
            {
                "csrfmiddlewaretoken": self.csrf(),
                "role": "Load test worker",
                # The GOV.UK date input's day, month and year boxes.
                "started_on_0": today.day,
                "started_on_1": today.month,
                "started_on_2": today.year,
            },
            headers=self.headers(url), name="involvement", catch_response=True,
        ) as reply:  # fmt: skip
            if reply.ok and not reply.url.endswith(record):
                reply.failure("the involvement was not saved")


class Auditor(_SignedIn):
    kind = "auditor"
    weight = 1

    @task
    def events(self) -> None:
        self.client.get("/audit/?action=view_record", headers=HEADERS, name="audit events")


class Administrator(_SignedIn):
    kind = "administrator"
    weight = 1

    @task
    def users(self) -> None:
        self.client.get("/accounts/users/?q=load", headers=HEADERS, name="user list")


class Searcher(_SignedIn):
    """Searches without pause: the most searches the service can answer."""

    kind = "practitioner"
    wait_time = constant(0)

    @task
    def search(self) -> None:
        search_for_a_child(self)


class SignedInPage(_SignedIn):
    """The search form, without pause: the least a signed-in page costs (session, user,
    second-factor device, audit event, page), and so the most searches could ever reach."""

    kind = "practitioner"
    wait_time = constant(0)

    @task
    def search_form(self) -> None:
        self.client.get("/search/", headers=HEADERS, name="search form")


class Ceiling(HttpUser):
    """A minimal Django view through the same gunicorn, without pause: the most any page
    could do on this machine."""

    wait_time = constant(0)
    weight = 1  # each run names the classes it uses

    @task
    def minimal(self) -> None:
        self.client.get("/loadtest/ceiling/", name="minimal view")
