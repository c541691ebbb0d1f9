"""Hostile input never causes a server error or a change; headers and logs give nothing away."""

import logging
import os
import string
import subprocess
import sys
from datetime import date
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from audit.models import AuditEvent
from directory.feeds import feed_validate
from directory.models import Child, Source
from tests.personas import ada, lee, make_address, make_child, priya, rebuild_keys, sign_in

pytestmark = pytest.mark.django_db

# Overlong and odd Unicode, injection strings and null bytes, as well as anything at all.
NASTY = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "' OR 1=1 --", "<script>alert(1)</script>", "\x00", "a\x00b", "Ω≈ç√∫˜µ≤≥÷",
            "🧒" * 50, "x" * 5000, "%00", "../../etc/passwd", "${jndi:ldap://x}", "\u202e",
            "Robert'); DROP TABLE directory_child;--", "1 1 1", "31 2 2015", "NE1 4ST" * 3,
        ]
    ),
)  # fmt: skip
PROPERTY = hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def once(make):
    """The persona, made on the first example only: every example shares the test's transaction."""
    from accounts.models import User as UserModel

    return UserModel.objects.filter(username=make.__name__).first() or make()


def state() -> tuple[int, ...]:
    return (Child.objects.count(), User.objects.count())


@PROPERTY
@given(
    surname=NASTY, forename=NASTY, date_of_birth=NASTY, dob_from=NASTY, dob_to=NASTY,
    postcode=NASTY, gender=NASTY, contactpoint_id=NASTY,
)  # fmt: skip
def test_search_survives_anything(client, **criteria):
    sign_in(client, once(priya))
    before = state()
    response = client.post(reverse("directory:search"), criteria)
    assert response.status_code in (200, 429)
    assert state() == before


@PROPERTY
@given(typed=NASTY)
def test_record_ids_survive_anything(client, typed):
    sign_in(client, once(priya))
    response = client.get("/children/" + quote(typed.replace("/", ""), safe="") + "/")
    assert response.status_code in (404, 301)


@PROPERTY
@given(
    username=NASTY, first_name=NASTY, last_name=NASTY, email=NASTY, job_title=NASTY,
    day=NASTY, roles=st.lists(NASTY, max_size=3),
)  # fmt: skip
def test_user_administration_survives_anything(
    client, username, first_name, last_name, email, job_title, day, roles
):
    sign_in(client, once(lee))
    before = state()
    response = client.post(
        reverse("accounts:user_create"),
        {"username": username, "first_name": first_name, "last_name": last_name, "email": email,
         "job_title": job_title, "roles": roles, "vetting_checked_on_0": day,
         "vetting_checked_on_1": "1", "vetting_checked_on_2": "2026"},
    )  # fmt: skip
    assert response.status_code == 200
    if "User added" not in response.content.decode():
        assert state() == before


@PROPERTY
@given(
    username=NASTY, contactpoint_id=NASTY, organisation=NASTY, action=NASTY,
    date_from=NASTY, date_to=NASTY, before=NASTY,
)  # fmt: skip
def test_audit_filters_survive_anything(client, **filters):
    sign_in(client, once(ada))
    response = client.get(reverse("audit:events"), filters)
    assert response.status_code == 200


@PROPERTY
@given(cells=st.lists(st.lists(NASTY, min_size=11, max_size=11), max_size=4))
def test_feed_rows_survive_anything(cells):
    from directory.feeds import COLUMNS

    header = ",".join(COLUMNS[Source.SCHOOL_CENSUS])
    body = "\n".join(",".join('"' + c.replace('"', '""') + '"' for c in row) for row in cells)
    result = feed_validate(
        Source.SCHOOL_CENSUS, header + "\n" + body, today=date.today(),
        known={"school": set(), "gp_practice": set()},
    )  # fmt: skip
    assert len(result.rows) + len(result.rejected) == result.rows_read


def test_every_page_sends_the_security_headers(client):
    sign_in(client, priya())
    child = make_child()
    for url in (
        "/accounts/login/",
        "/",
        reverse("directory:child_record", args=[child.contactpoint_id]),
    ):
        response = client.get(url)
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response["Cache-Control"]


def test_the_health_check_answers_without_signing_in_or_filling_the_audit_log(client):
    response = client.get("/health/")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "up"}
    assert not AuditEvent.objects.filter(path="/health/").exists()


def test_no_child_name_reaches_a_log_line(client, caplog):
    child = make_child(given_name="Zebedee", family_name="Quartermaine")
    make_address(child)
    rebuild_keys(child)
    sign_in(client, priya())
    with caplog.at_level(logging.DEBUG):
        client.post(reverse("directory:search"), {"surname": "Quartermaine", "forename": "Zebedee"})
        client.get(reverse("directory:child_record", args=[child.contactpoint_id]))
        client.get("/children/not-a-child/")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Zebedee" not in logged and "Quartermaine" not in logged


def _check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    """``manage.py check --deploy`` with the production settings, and any overrides."""
    db = connection.settings_dict
    # The browser tests' allowance for Playwright's event loop is not a deployment setting.
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        **inherited,
        "CONTACTPOINT_ENV": "production",
        "SECRET_KEY": "".join(string.ascii_letters[i % 52] for i in range(80)) + "!9#",
        "DATABASE_URL": f"postgresql://{db['USER']}:@/{db['NAME']}?host={db['HOST']}",
        "ALLOWED_HOSTS": "contactpoint.example.gov.uk",
        **overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_deployment_checks_pass_with_production_settings():
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_turn_the_search_rate_limit_off():
    result = _check_deploy(SEARCH_RATE_LIMIT="0")
    assert result.returncode != 0
    assert "SEARCH_RATE_LIMIT must be at least 1 in production" in result.stderr
