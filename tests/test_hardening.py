"""Hostile input never causes a server error or a change; headers and logs give nothing away."""

import hashlib
import logging
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.roles import Role
from audit.models import AuditEvent
from directory.models import Source
from tests.feed_forms import extracted_today
from tests.personas import (
    ada,
    dana,
    lee,
    make_address,
    make_child,
    priya,
    rebuild_keys,
    sign_in,
    unreachable_database,
)
from tests.walk import forms_on, open_as_allowed_user, targets

pytestmark = pytest.mark.django_db

# Overlong and odd Unicode, injection strings and null bytes, as well as anything at all.
NASTY = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "' OR 1=1 --", "<script>alert(1)</script>", "\x00", "a\x00b", "Ω≈ç√∫˜µ≤≥÷",
            "🧒" * 50, "x" * 5000, "%00", "../../etc/passwd", "${jndi:ldap://x}", "\u202e",
            "Robert'); DROP TABLE directory_child;--", "1 1 1", "31 2 2015", "NE1 4ST" * 3,
            "9999-12-31", "0001-01-01", "0001-01-03", "²", "٣", "-1", "0", "9" * 5000,
            "99999999999999999999", "1e309", "nan",
        ]
    ),
)  # fmt: skip
FEED_SAMPLES = {
    Source.SCHOOL_CENSUS: "school_census.csv", Source.GP_REGISTRATION: "gp_registration.csv",
    Source.CHILD_BENEFIT: "child_benefit.csv", Source.LA_SYSTEM: "la_system.csv",
}  # fmt: skip
PROPERTY = hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def once(make):
    """The persona, made on the first example only: every example shares the test's transaction."""
    from accounts.models import User as UserModel

    return UserModel.objects.filter(username=make.__name__).first() or make()


@PROPERTY
@given(
    surname=NASTY, forename=NASTY, date_of_birth=NASTY, dob_from=NASTY, dob_to=NASTY,
    postcode=NASTY, gender=NASTY, contactpoint_id=NASTY,
)  # fmt: skip
def test_search_survives_anything(client, settings, **criteria):
    settings.SEARCH_RATE_LIMIT = 0  # every example reaches the search itself
    sign_in(client, once(priya))
    before = data_fingerprint()
    response = client.post(reverse("directory:search"), criteria)
    assert response.status_code == 200
    assert data_fingerprint() == before


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
    before = data_fingerprint()
    response = client.post(
        reverse("accounts:user_create"),
        {"username": username, "first_name": first_name, "last_name": last_name, "email": email,
         "job_title": job_title, "roles": roles, "vetting_checked_on_0": day,
         "vetting_checked_on_1": "1", "vetting_checked_on_2": "2026"},
    )  # fmt: skip
    assert response.status_code == 200
    if "User added" not in response.content.decode():
        assert data_fingerprint() == before


@PROPERTY
@given(
    username=NASTY, contactpoint_id=NASTY, organisation=NASTY, action=NASTY,
    date_from=NASTY, date_to=NASTY, before=NASTY,
)  # fmt: skip
def test_audit_filters_survive_anything(client, **filters):
    sign_in(client, once(ada))
    response = client.get(reverse("audit:events"), filters)
    assert response.status_code == 200


@pytest.mark.parametrize("source", [s.value for s in Source if s.value in FEED_SAMPLES])
def test_feed_rows_with_hostile_values_are_imported_or_refused_never_a_failure(source):
    """Each documented sample file, with hostile values put into some of its cells: the
    import takes the rows it can and refuses the others, one by one, and never fails."""
    import csv
    import io

    from directory.feed_import import feed_import
    from directory.models import Service
    from tests.personas import make_service, northshire

    sample = (Path(settings.BASE_DIR) / "docs" / "samples" / FEED_SAMPLES[source]).read_text()
    header, *rows = list(csv.reader(io.StringIO(sample)))
    for urn in {row[header.index("school_urn")] for row in rows if "school_urn" in header}:
        make_service(Service.Kind.SCHOOL, name=f"School {urn}", identifier=urn)
    for code in (
        {row[header.index("gp_practice_code")] for row in rows}
        if ("gp_practice_code" in header)
        else ()
    ):
        make_service(Service.Kind.GP_PRACTICE, name=f"Practice {code}", identifier=code)
    local_authority = northshire()

    @PROPERTY
    @given(st.data())
    def import_hostile(data):
        spoiled = []
        for row in rows:
            cells = list(row)
            for column in data.draw(st.sets(st.sampled_from(range(len(header))), max_size=2)):
                cells[column] = data.draw(NASTY)
            spoiled.append(cells)
        out = io.StringIO()
        csv.writer(out).writerows([header, *spoiled])
        outcome = feed_import(
            source=source, file_name="hostile.csv", content=out.getvalue().encode(),
            local_authority=local_authority, by=None, skip_invalid=True,
        )  # fmt: skip
        validation = outcome.validation
        # The same file drawn again is sent again: only its rows left out before are checked.
        checked = outcome.left_out_before if outcome.resend_of else validation.rows_read
        assert len(validation.rows) + len(validation.rejected) == checked
        assert validation.rows_read == len(rows)

    import_hostile()


def assert_security_headers(response) -> None:
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_every_kind_of_response_sends_the_security_headers(client, settings):
    """Pages, redirects, refusals, errors, the export and the health check alike."""
    settings.SEARCH_RATE_LIMIT = 1
    sign_in(client, priya())
    child = make_child()
    responses = {
        "sign-in page": client.get("/accounts/login/"),
        "home": client.get("/"),
        "record": client.get(reverse("directory:child_record", args=[child.contactpoint_id])),
        "not found": client.get("/children/000000000000/"),
        "not allowed": client.get(reverse("audit:events")),
        "search": client.post(reverse("directory:search"), {"surname": "Hart", "forename": "A"}),
        "too many searches": client.post(
            reverse("directory:search"), {"surname": "Hart", "forename": "A"}
        ),
        "redirect": client.post(
            reverse("directory:end_my_involvement", args=[child.contactpoint_id])
        ),
        "health": client.get("/health/"),
    }
    auditor = client.__class__()
    sign_in(auditor, ada())
    responses["export"] = auditor.get(reverse("audit:export"))
    assert responses["too many searches"].status_code == 429
    assert responses["not allowed"].status_code == 403
    assert responses["not found"].status_code == 404
    for kind, response in responses.items():
        assert response.status_code < 500, kind
        assert_security_headers(response)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        # Django refuses a form in another character set when it reads the body, and its own
        # error page reads it again: a bare server error, without headers or event, before.
        (b"username=a&password=b", {"content_type": "application/x-www-form-urlencoded; "
                                    "charset=utf8"}, 400),
        (b"username=a&password=b", {"content_type": "application/x-www-form-urlencoded; "
                                    "charset=ISO-8859-1"}, 400),
        # Uploads are not wanted before sign-in, nor anywhere but the feed upload page.
        (b"x" * (2_621_440 + 1), {"content_type": "application/octet-stream"}, 413),
        (b"username=a", {"content_type": "application/x-www-form-urlencoded",
                         "HTTP_TRANSFER_ENCODING": "chunked"}, 411),
        # A "character set" that is no text encoding: Django's CSRF check failed on it (500).
        (b"--XX--", {"content_type": "multipart/form-data; boundary=XX; charset=rot13"}, 400),
    ],
)  # fmt: skip
def test_a_body_the_service_will_not_read_gets_a_page_and_an_event(body, headers, status):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    browser.get("/accounts/login/")
    token = browser.cookies["csrftoken"].value
    response = browser.generic("POST", "/accounts/login/", body, HTTP_X_CSRFTOKEN=token, **headers)
    assert response.status_code == status
    assert "Nothing has been changed" in response.content.decode() or status != 400
    assert_security_headers(response)
    event = AuditEvent.objects.filter(path="/accounts/login/").latest("id")
    assert event.status == status


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=hex",
        "application/x-www-form-urlencoded; charset*=utf-8''hex",
        "application/x-www-form-urlencoded; charset*=utf-8''utf-8%00",
        "text/plain; charset=undefined",
    ],
)
def test_a_request_django_could_not_build_gets_the_refusal_page_through_gunicorns_entry(
    content_type,
):
    """charset=hex (or a charset that decodes nothing, or has a NUL in its name) with a query
    string failed while Django built the request, before any middleware: a bare 500 without
    headers or event. The WSGI entry takes it out first."""
    import io
    from wsgiref.util import setup_testing_defaults

    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from contactpoint.wsgi import application

    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/accounts/login/", "QUERY_STRING": "next=/x",
        "CONTENT_TYPE": content_type, "CONTENT_LENGTH": "3",
        "wsgi.input": io.BytesIO(b"a=b"), "SERVER_NAME": "127.0.0.1", "HTTP_HOST": "127.0.0.1",
    }  # fmt: skip
    setup_testing_defaults(environ)
    answered: list[str] = []
    # As the test client does: the request must not close the test's own connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(application(environ, lambda status, headers: answered.append(status)))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert answered == ["400 Bad Request"] and b"Nothing has been changed" in body
    assert AuditEvent.objects.filter(path="/accounts/login/", status=400).exists()


def test_a_feed_file_may_be_as_large_as_the_upload_page_says(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from directory.feed_import import waiting_uploads_import

    manager = dana()
    sign_in(client, manager)
    upload = SimpleUploadedFile("big.csv", b"x" * (3 * 2**20), content_type="text/csv")
    response = client.post(
        reverse("directory:feeds"),
        {
            **extracted_today(),
            "source": "la_system",
            "local_authority": manager.organisation_id,
            "file": upload,
        },
    )
    # 3 MB is over the limit for pages, not for files: the file is read, and found wanting at
    # once (too large to check whole while Dana waits, it is not CSV from its first cell).
    assert response.status_code == 200 and "cannot be read as CSV" in response.content.decode()
    waiting_uploads_import()
    assert "File waiting" not in client.get(reverse("directory:feeds")).content.decode()


def test_the_service_unavailable_page_sends_the_security_headers(client):
    from tests.personas import break_the_access_log

    sign_in(client, priya())
    break_the_access_log()
    response = client.get("/")
    assert response.status_code == 503
    assert_security_headers(response)


def _production_says(probe: str) -> str:
    """What ``probe`` (Python, in the Django shell) prints under the production settings."""
    result = _production("shell", "-c", "from django.test import Client; c = Client(); " + probe)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_production_sends_hsts_over_https():
    """With the production settings, a request that came through the TLS proxy gets HSTS."""
    said = _production_says(
        "r = c.get('/health/', HTTP_X_FORWARDED_PROTO='https', "
        "HTTP_HOST='contactpoint.example.gov.uk'); "
        "print(r.status_code, r['Strict-Transport-Security'])"
    )
    assert "200 max-age=31536000; includeSubDomains; preload" in said, said


def test_production_answers_a_plain_http_health_probe_and_redirects_every_page():
    """A load balancer's probe sends the host name over plain HTTP: it gets the check, and
    every other page is sent to HTTPS."""
    said = _production_says(
        "h = 'contactpoint.example.gov.uk'; "
        "print(c.get('/health/', HTTP_HOST=h).status_code, "
        "c.get('/accounts/login/', HTTP_HOST=h).status_code)"
    )
    assert said.split()[-2:] == ["200", "301"], said


def test_production_refusals_before_any_page_send_the_page_headers_too():
    """An unknown host and plain HTTP are answered by the security middleware before the
    application runs; the headers go on those answers as well."""
    said = _production_says(
        "checks = lambda r: (r.status_code, r['X-Frame-Options'], "
        "'no-store' in r['Cache-Control'], 'default-src' in r['Content-Security-Policy']); "
        "print(checks(c.get('/accounts/login/', HTTP_HOST='evil.example')), "
        "checks(c.get('/accounts/login/', HTTP_HOST='contactpoint.example.gov.uk')))"
    )
    assert "(400, 'DENY', True, True) (301, 'DENY', True, True)" in said, said


def test_the_health_check_answers_without_signing_in_or_filling_the_audit_log(client, settings):
    settings.READ_REPLICA = False
    response = client.get("/health/")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "up"}
    assert not AuditEvent.objects.filter(path="/health/").exists()


def test_the_probe_command_asks_as_the_tls_proxy_would(monkeypatch, capsys):
    """It sends the service's host and the HTTPS scheme, which production requires, and exits
    0 only on a 200. (A server of its own: starting the shared app server before the browser
    tests would break their sign-ins.)"""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from contactpoint import healthcheck

    asked = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append((self.headers["Host"], self.headers["X-Forwarded-Proto"]))
            self.send_response(200 if self.path == "/health/" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("ALLOWED_HOSTS", "contactpoint.example.gov.uk,other.example")
    try:
        assert healthcheck.main([f"{base}/health/"]) == 0
        assert capsys.readouterr().out == "healthy\n"
        assert healthcheck.main([f"{base}/down/"]) == 1
    finally:
        server.shutdown()
    assert asked == [("contactpoint.example.gov.uk", "https")] * 2
    assert healthcheck.main(["http://127.0.0.1:9/health/"]) == 1, "nothing listens there"


@pytest.mark.parametrize(
    ("down", "expected_status", "expected"),
    [
        ("default", 503, {"status": "unavailable", "database": "down", "replica": "up"}),
        # Search and record reads go to the primary meanwhile: the node can still serve.
        ("replica", 200, {"status": "ok", "database": "up", "replica": "down"}),
    ],
)
def test_the_health_check_says_503_when_the_database_is_down_and_names_a_replica_down(
    client, settings, monkeypatch, down, expected_status, expected
):
    from django.db import connections

    from contactpoint import routers

    monkeypatch.setattr(routers, "_replica_down_until", 0.0)
    settings.READ_REPLICA = True
    working = connections[down]
    connections[down] = unreachable_database(down)
    try:
        response = client.get("/health/")
    finally:
        connections[down] = working
    assert response.status_code == expected_status
    assert response.json() == expected


def test_the_health_check_does_not_wait_again_on_a_replica_found_down(
    client, settings, monkeypatch
):
    """A replica host that does not answer costs its connect_timeout to find out: once
    found down, the probe says so at once until the search pages would try it again."""
    from django.db import connections

    from contactpoint import routers

    def tried_again():
        raise AssertionError("the replica was tried again")

    monkeypatch.setattr(routers, "_replica_down_until", 0.0)
    settings.READ_REPLICA = True
    working = connections["replica"]
    connections["replica"] = unreachable_database("replica")
    try:
        assert client.get("/health/").json()["replica"] == "down"
        silent = unreachable_database("replica")
        silent.cursor = tried_again
        connections["replica"] = silent
        answer = client.get("/health/")
    finally:
        connections["replica"] = working
    assert (answer.status_code, answer.json()["replica"]) == (200, "down")


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


def test_it_keeps_a_set_up_links_token_out_of_djangos_log_lines():
    """Django names a failed request's path: a server error while a set-up link was being used
    leaves the link usable, so its token must not reach the log with it."""
    from contactpoint.secret_paths import SecretPathFilter

    consoles = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(each, SecretPathFilter) for each in handler.filters)
    ]
    assert consoles, "the console handler takes tokens out"
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "%s: %s",
        ("Internal Server Error", "/accounts/set-up/s3cret-Token_value/"), None,
    )  # fmt: skip
    assert consoles[0].filter(record)
    line = consoles[0].format(record)
    assert "Internal Server Error: /accounts/set-up/[token]/" in line and "s3cret" not in line


def test_it_keeps_the_values_of_a_row_the_database_refused_out_of_the_log():
    """PostgreSQL says which row it refused, values and all; Django's "Internal Server Error"
    line prints that with its traceback. The error is logged, the child's name is not."""
    from django.db import IntegrityError, transaction

    name = "Quarter" + "maine"  # as a form would give it: not in the traceback's source lines
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE refused (name text, age int CHECK (age >= 0))")
            cursor.execute("INSERT INTO refused VALUES (%s, -1)", [name])
    except IntegrityError:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "%s: %s",
            ("Internal Server Error", "/children/"), sys.exc_info(),
        )  # fmt: skip
    console = next(
        handler
        for handler in logging.getLogger().handlers
        if getattr(handler.formatter, "_fmt", None)
        == "%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    line = console.format(record)
    assert 'violates check constraint "refused_age_check"' in line
    assert name not in line


def test_no_child_name_reaches_the_database_servers_log():
    """PostgreSQL logs an error with the refused row's values (DETAIL) and the statement that
    failed, its values written in (STATEMENT): a child's name, refused or in a search cancelled
    by a lock timeout, was kept in var/pgdata/log. The error is logged, the name is not. On a
    server of its own (DATABASE_URL) the log is its operator's: its settings are checked."""
    from django.db import IntegrityError, transaction

    from contactpoint.database import server_log_check

    assert server_log_check() == []

    name = "Quarter" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE refused (name text, age int CHECK (age >= 0))")
        cursor.execute("INSERT INTO refused VALUES (%s, -1)", [name])
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('data_directory')")
        server_log = Path(cursor.fetchone()[0]) / "log"
    if settings.DATABASE_URL is not None and not server_log.exists():
        return
    logged = server_log.read_text(errors="replace")
    assert 'violates check constraint "refused_age_check"' in logged
    assert name not in logged


@pytest.mark.django_db
def test_a_turns_key_is_sent_to_the_database_only_as_a_hash():
    """A turn's key (a username, an address, a practitioner's and a child's ids) went to
    PostgreSQL as text, in the query that ``pg_stat_activity`` shows while it waits. Only its
    hash goes now; two keys still take two locks, the same key one."""
    from datetime import timedelta

    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from contactpoint import serialise
    from contactpoint.serialise import Turn

    key = "dana.quarterly@example.gov.uk"
    with CaptureQueriesContext(connection) as sent, transaction.atomic():
        serialise.wait_turn(Turn.SIGN_IN_USERNAME, key)
        serialise.attempt_join(Turn.SIGN_IN_ADDRESS_ATTEMPT, key)
        with serialise.brief_turn(Turn.SIGN_IN_ADDRESS, key, timeout=timedelta(seconds=1)):
            pass
        with serialise.brief_turn(Turn.SIGN_IN_ADDRESS, key):
            pass
        assert serialise.attempts_under_way(Turn.SIGN_IN_ADDRESS_ATTEMPT, key) == 0
    assert len(sent) >= 6
    assert not [query["sql"] for query in sent if "dana" in query["sql"]]
    assert serialise.lock_key(Turn.SEARCH, "1") == serialise.lock_key(Turn.SEARCH, "1")
    assert serialise.lock_key(Turn.SEARCH, "1") != serialise.lock_key(Turn.SEARCH, "2")
    assert serialise.lock_key(Turn.SEARCH, "1") != serialise.lock_key(Turn.SIGN_IN_USERNAME, "1")


def _production(*arguments: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    """``manage.py`` with the production settings (on the test database), and any overrides
    (None leaves a variable out)."""
    db = connection.settings_dict
    # The browser tests' allowance for Playwright's event loop is not a deployment setting.
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    given: dict[str, str | None] = {
        **inherited,
        "CONTACTPOINT_ENV": "production",
        "SECRET_KEY": "".join(string.ascii_letters[i % 52] for i in range(80)) + "!9#",
        "DATABASE_URL": f"postgresql://{db['USER']}:@/{db['NAME']}?host={db['HOST']}",
        "ALLOWED_HOSTS": "contactpoint.example.gov.uk",
        "SITE_URL": "https://contactpoint.example.gov.uk",
        **overrides,
    }
    env = {name: value for name, value in given.items() if value is not None}
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _check_deploy(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    return _production("check", "--deploy", "--fail-level", "WARNING", **overrides)


def test_the_deployment_checks_pass_with_production_settings():
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY must be at least 50 random characters"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY must be at least 50 random characters"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must name the service's host names"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must name the service's host names"),
        ({"ALLOWED_HOSTS": ","}, "ALLOWED_HOSTS must name the service's host names"),
        ({"SITE_URL": None}, "SITE_URL must be the service's https:// address"),
        ({"SITE_URL": "http://contactpoint.example.gov.uk"}, "SITE_URL must be the service's"),
        ({"SITE_URL": "https://"}, "SITE_URL must be the service's"),
        ({"TRUSTED_PROXIES": "the-load-balancer"}, "TRUSTED_PROXIES: 'the-load-balancer'"),
    ],
)
def test_production_refuses_to_start_half_configured(overrides, message):
    """A development default in production would go unnoticed: a guessable key, set-up links
    to 127.0.0.1, or every host name accepted."""
    result = _check_deploy(**overrides)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_a_database_server_whose_log_keeps_row_values():
    """A server left with PostgreSQL's logging defaults would log a refused row's values and
    the failed statement, a child's name with them (the embedded server sets its own)."""
    db = connection.settings_dict
    verbose = (
        f"postgresql://{db['USER']}:@/{db['NAME']}?host={db['HOST']}"
        "&options=-c%20log_min_error_statement%3Derror%20-c%20log_error_verbosity%3Ddefault"
    )
    result = _check_deploy(DATABASE_URL=verbose)
    assert result.returncode != 0
    assert "log_error_verbosity = 'terse', log_min_error_statement = 'panic'" in result.stderr


def test_production_refuses_to_turn_the_search_rate_limit_off():
    result = _check_deploy(SEARCH_RATE_LIMIT="0")
    assert result.returncode != 0
    assert "SEARCH_RATE_LIMIT must be at least 1 in production" in result.stderr


# Every form and query parameter ---------------------------------------------------------------
#
# Each URL in the authorisation matrix is opened by someone allowed to use it; every form on the
# page that submits to the same URL, and the query parameters the page reads, are then filled
# with hostile values. Never a server error; and unless the service accepted the submission
# (it answers a valid form with a redirect), nothing in the directory, shielding or accounts
# has changed.

QUERY_PARAMETERS = {
    "directory:child_record": ("visit", "past"),
    # A period's dates, as one value each (a link's ?date_from=2026-11-01) rather than the
    # form's day, month and year.
    "audit:events": ("before", "date_from", "date_to"),
    "audit:user_activity": ("before",),
    "audit:child_history": ("before",),
    "audit:anomalies": ("before", "date_from", "date_to"),
    "audit:charts": ("before", "date_from", "date_to"),
    "accounts:login": ("next",),
}
# Security state that a failed attempt rightly changes (lockout counts, code throttling).
UNSTABLE_FIELDS = {"last_login", "throttling_failure_timestamp", "throttling_failure_count"}


def data_fingerprint() -> str:
    """Every row of every directory, shielding and accounts table, as one digest."""
    from django.apps import apps

    from accounts.models import SignInFailure

    digest = hashlib.sha256()
    for label in ("directory", "shielding", "accounts"):
        for model in apps.get_app_config(label).get_models():
            if model is SignInFailure or not model._meta.managed:
                continue
            fields = [f.attname for f in model._meta.concrete_fields]
            stable = [name for name in fields if name not in UNSTABLE_FIELDS]
            for row in model._default_manager.order_by("pk").values_list(*stable):
                digest.update(repr(row).encode())
    return digest.hexdigest()


# Fields a POST to the URL is read for that the form first shown does not have (a later
# step's, the other form's on the page), sent with that form's fields; and the fields of forms
# that only a POST reaches (their pages are elsewhere).
POST_FIELDS = {
    "shielding:override_sign_off": ("note",),
    "directory:merge": ("confirmed",),
    "directory:separate": ("feed_record", "separating"),
    "directory:feeds": ("file-clear",),
    # The review form's, posted to a record that is not shielded (or no longer is).
    "shielding:shield": ("form", "decision", "note", "seen"),
}


def _a_feed_record_joined() -> dict[str, str]:
    """A record of Dana's LA with a feed record joined to it, as the separate page takes them."""
    from tests.personas import feed_review

    child = make_child(given_name="Fern")
    source_record = feed_review(child).source_record
    source_record.child = child
    source_record.save()
    return {"record": child.contactpoint_id, "feed_record": str(source_record.pk)}


# Values that take a form on to its next step (records that may be merged, a record and its
# feed record), drawn now and then in place of a hostile one, so that the fields only that
# step reads (POST_FIELDS) are read with hostile values too.
NEXT_STEP = {
    "directory:merge": lambda: {
        "kept": make_child().contactpoint_id,
        "absorbed": make_child(given_name="Amy").contactpoint_id,
    },
    "directory:separate": _a_feed_record_joined,
}


@pytest.mark.parametrize(("name", "names"), targets())
def test_every_form_and_parameter_survives_anything(client, settings, name, names):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.SEARCH_RATE_LIMIT = 0  # every example reaches the search itself
    url, row = open_as_allowed_user(client, name, names)
    page = client.get(url)
    assert page.status_code < 500
    # Every page of the matrix, and every answer to hostile values below, sends the headers
    # (the middleware's, that a view's own Cache-Control or CSP must not undo).
    assert_security_headers(page)
    shown = page.status_code == 200 and not page.streaming
    forms = forms_on(page.content.decode(), url) if shown else []
    forms.append(("GET", dict.fromkeys(QUERY_PARAMETERS.get(name, ()), "text")))
    later = dict.fromkeys(POST_FIELDS.get(name, ()), "text")
    if later:
        forms.extend([("POST", fields | later) for method, fields in forms if method == "POST"])
    if row.method == "POST":
        forms.append(("POST", later))
    next_step = NEXT_STEP[name]() if name in NEXT_STEP else {}

    @PROPERTY
    @given(st.data())
    def submit(data):
        method, fields = data.draw(st.sampled_from(forms))
        values = {}
        for field, kind in fields.items():
            if kind == "file":
                content = data.draw(st.binary(max_size=300) | NASTY.map(str.encode))
                # A browser sends a file's own name, never a path (Django's test client
                # refuses to build an upload named "/" or "..").
                name = data.draw(NASTY).replace("\\", "/").rsplit("/", 1)[-1]
                name = name if name not in {"", ".", ".."} else "x.csv"
                values[field] = SimpleUploadedFile(name, content)
            else:
                # Now and then the field repeated, as a hand-made request may send it.
                hostile = NASTY | st.lists(NASTY, min_size=2, max_size=3)
                valid = [next_step[field]] if field in next_step else []
                values[field] = data.draw(st.sampled_from(valid) | hostile if valid else hostile)
        before = data_fingerprint()
        response = client.get(url, values) if method == "GET" else client.post(url, values)
        assert response.status_code < 500, (method, values)
        assert_security_headers(response)
        if response.status_code not in (301, 302, 303):
            assert data_fingerprint() == before, (method, values)

    submit()


# Forms a POST with no fields at all must answer with the error summary, not the empty form.
EMPTY_POSTS = [
    ("accounts:user_create", "lee"), ("accounts:user_edit", "nina"),  # Lee may not change Priya
    ("accounts:organisation_create", "nina"), ("accounts:organisation_edit", "nina"),
    ("directory:my_involvement", "priya"), ("directory:feeds", "dana"),
    ("directory:merge", "dana"), ("shielding:override", "owen"),
    ("shielding:request_contact", "priya"), ("shielding:contact_request", "sam"),
    ("accounts:password_change", "priya"), ("accounts:backup_codes_renew", "priya"),
]  # fmt: skip
# Her own account's pages, which every role may use: refused only without both factors.
OWN_ACCOUNT = ("accounts:password_change", "accounts:backup_codes_renew")


@pytest.mark.parametrize(("name", "persona"), EMPTY_POSTS)
def test_a_post_with_no_fields_gets_the_error_summary_and_changes_nothing(client, name, persona):
    from tests.personas import nina, owen, sam
    from tests.test_authorisation_matrix import MATRIX, _url

    makers = {"lee": lee, "nina": nina, "priya": priya, "dana": dana, "owen": owen, "sam": sam}
    target = priya()
    sign_in(client, target if persona == "priya" else makers[persona]())
    url = _url(name, MATRIX[name], target)
    before = data_fingerprint()
    response = client.post(url, {})
    assert response.status_code == 200
    assert "govuk-error-summary" in response.content.decode()
    assert data_fingerprint() == before


def test_organisation_zero_is_not_the_add_an_organisation_page(client):
    """/organisations/0/ names no organisation: a 404, not a second way to add one."""
    from tests.personas import nina

    sign_in(client, nina())
    url = reverse("accounts:organisation_edit", args=[0])
    assert client.get(url).status_code == 404
    before = data_fingerprint()
    response = client.post(
        url, {"code": "E06000099", "name": "Zeroshire", "kind": "local_authority",
              "team_phone": "0191 000 0000", "team_email": "team@zero.example"},
    )  # fmt: skip
    assert response.status_code == 404
    assert data_fingerprint() == before


@PROPERTY
@given(
    username=NASTY, contactpoint_id=NASTY, organisation=NASTY, action=NASTY,
    date_from=NASTY, date_to=NASTY, date_from_0=NASTY, date_from_1=NASTY, date_from_2=NASTY,
    date_to_0=NASTY, date_to_1=NASTY, date_to_2=NASTY, before=NASTY,
)  # fmt: skip
def test_the_audit_export_survives_anything(client, **filters):
    """The download takes the event filters as the list does: a file, or the list page with the
    error summary (a streamed answer is not parsed for its forms by the test above)."""
    sign_in(client, once(ada))
    response = client.get(reverse("audit:export"), filters)
    if response.status_code == 200:
        assert response.streaming
        b"".join(response.streaming_content)  # the rows are written without failing
    else:
        assert response.status_code == 400
        assert "govuk-error-summary" in response.content.decode()


@pytest.mark.parametrize("name", ["accounts:login", "accounts:two_factor", "accounts:enrol",
                                  "accounts:setup"])  # fmt: skip
def test_a_sign_in_step_posted_with_no_fields_gets_the_error_summary(client, name):
    from accounts.services import setup_link_create
    from tests.personas import authenticator, make_user

    user = make_user("una", Role.PRACTITIONER)
    if name == "accounts:two_factor":
        authenticator(user)
    if name in ("accounts:two_factor", "accounts:enrol"):
        sign_in(client, user, verified=False)
    url = (
        reverse(name)
        if name != "accounts:setup"
        else urlparse(
            setup_link_create(user=make_user("newcomer", Role.PRACTITIONER), by=None)
        ).path
    )
    before = data_fingerprint()
    response = client.post(url, {})
    assert response.status_code == 200
    assert "govuk-error-summary" in response.content.decode()
    assert data_fingerprint() == before


HOSTILE_FORM = {
    field: ["' OR 1=1 --", "<script>alert(1)</script>\u202e\u200b", "a\x00b", "9" * 30]
    for field in (
        "username", "first_name", "last_name", "email", "roles", "organisation", "code", "name",
        "kind", "team_phone", "team_email", "note", "reason", "outcome", "choice", "record",
        "feed_record", "separating", "kept", "absorbed", "role", "service", "started_on",
        "involvement", "lead_professional", "reply_to", "confirm", "decision", "review_on",
        "seen", "started_on_0", "started_on_1", "started_on_2", "review_on_0", "review_on_1",
        "review_on_2",
    )
}  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [name for name, _ in EMPTY_POSTS if name not in OWN_ACCOUNT]
    + ["directory:review", "directory:separate", "directory:unmerge", "shielding:shield",
       "shielding:shield_protecting", "shielding:override_sign_off"],
)  # fmt: skip
def test_a_hostile_post_by_someone_not_allowed_is_refused_and_changes_nothing(client, name):
    """Each persona the matrix refuses a page, posting hostile values to it: the same refusal
    (never a 500, never a form's errors that would say what it checks), and nothing changed."""
    from tests.personas import nina, owen, sam, xavier
    from tests.test_authorisation_matrix import MATRIX, _url

    makers = {"priya": priya, "owen": owen, "sam": sam, "dana": dana, "lee": lee, "ada": ada,
              "nina": nina, "xavier": xavier}  # fmt: skip
    target = priya()
    url = _url(name, MATRIX[name], target)
    refused = [p for p, result in MATRIX[name].expect.items() if p in makers and result == 403]
    assert refused
    for persona in refused:
        sign_in(client, target if persona == "priya" else makers[persona]())
        before = data_fingerprint()
        assert client.post(url, HOSTILE_FORM).status_code == 403, persona
        assert data_fingerprint() == before, persona


@pytest.mark.parametrize("name", OWN_ACCOUNT)
def test_her_own_accounts_forms_posted_without_both_factors_change_nothing(client, name):
    """Someone with her password alone, or no session, posting her current password and a
    code from her app: sent to sign in (or to the second factor), and nothing changed."""
    from tests.personas import PASSWORD, authenticator, current_code

    user = priya()
    device = authenticator(user)
    form = HOSTILE_FORM | {
        "current_password": PASSWORD,
        "new_password1": "a-long-and-unusual-passphrase",
        "new_password2": "a-long-and-unusual-passphrase",
        "otp_token": current_code(device),
    }
    for verified in (None, False):
        browser = Client()
        if verified is not None:
            sign_in(browser, user, verified=verified)
        before = data_fingerprint()
        response = browser.post(reverse(name), form)
        assert response.status_code == 302
        step = "accounts:login" if verified is None else "accounts:two_factor"
        assert response["Location"].startswith(reverse(step))
        assert data_fingerprint() == before


def test_another_las_objects_are_not_found_by_the_right_role_and_nothing_changes(client):
    """Southshire's data manager and shielding officer, posting to Northshire's review, merge,
    records, override and contact request: 404s, or the form's error for a record they may
    not change. A decision on a review not hers goes back to her queue, saying it is not
    waiting, as for one purged meanwhile: the two read the same."""
    from directory.services import children_merge
    from shielding.models import ContactRequest, ShieldOverride
    from tests.personas import feed_review, make_user, shield, southshire

    target = priya()
    review = feed_review(make_child())
    merged = children_merge(kept=make_child(), absorbed=make_child(given_name="Amy"), by=None)
    child, other = make_child(), make_child(given_name="Bea")
    shield(child)
    override = ShieldOverride.objects.create(
        child=child, reason="R", practitioner=target, visit_token_hash="x" * 64
    )
    asked = ContactRequest.objects.create(
        child=child, reason="R", requester=target, service="S", reply_to="R"
    )
    manager, officer = client, client.__class__()
    sign_in(manager, make_user("sdm", Role.DATA_MANAGER, organisation=southshire()))
    sign_in(officer, make_user("sso", Role.SHIELDING_OFFICER, organisation=southshire()))
    before = data_fingerprint()
    for who, name, args, data, status in [
        (manager, "directory:review", [review.pk], {"choice": "new"}, 302),
        (manager, "directory:unmerge", [merged.pk], {}, 404),
        (manager, "directory:separate", [], {"record": child.contactpoint_id}, 200),
        (manager, "directory:merge", [],
         {"kept": child.contactpoint_id, "absorbed": other.contactpoint_id}, 200),
        (officer, "shielding:override_sign_off", [override.pk], {"note": "Fine"}, 404),
        (officer, "shielding:contact_request", [asked.pk], {"outcome": "contacted"}, 404),
    ]:  # fmt: skip
        response = who.post(reverse(name, args=args), data)
        assert response.status_code == status, name
        if status == 200:
            assert "govuk-error-summary" in response.content.decode(), name
    assert data_fingerprint() == before
