"""Each page answers only the requests it is for: GET and HEAD to show it, and POST as well
where it takes a form. Anything else (PUT, PATCH, DELETE, OPTIONS, TRACE, or a form sent to a
page that has none) gets a plain "405" page: it shows no data, claims no page view in the
access log and changes nothing."""

from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from audit.models import Action, AuditEvent
from directory import contactpoint_id
from directory.models import Child
from tests.personas import make_child, priya, sign_in
from tests.test_hardening import assert_security_headers
from tests.walk import forms_on, open_as_allowed_user, targets

pytestmark = pytest.mark.django_db

NO_PAGE_SENDS = ["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
FORM = "surname=Hart&forename=Amelia"


def database_contents() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but the access log's, to compare before and after."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in apps.get_models()
        if model is not AuditEvent
    }


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def assert_refused_without_trace(client: Client, method: str, url: str) -> None:
    """``method`` on ``url`` gets the 405 page: no child in it, no page view, nothing changed."""
    before, since = database_contents(), last_event_id()
    response = client.generic(method, url, FORM, "application/x-www-form-urlencoded")
    assert response.status_code == 405, (method, url)
    assert "POST" in response["Allow"] or "GET" in response["Allow"]
    assert_security_headers(response)
    page = response.content.decode()
    assert "Nothing has been changed" in page, (method, url)
    for child in Child.objects.all():
        for shown in (child.given_name, child.family_name, child.contactpoint_id):
            assert shown not in page, (method, url)
        assert contactpoint_id.display(child.contactpoint_id) not in page, (method, url)
    events = AuditEvent.objects.filter(id__gt=since)
    assert [(event.action, event.status) for event in events] in ([], [(Action.ERROR, 405)])
    assert database_contents() == before, (method, url)


@pytest.mark.parametrize(("name", "names"), targets())
def test_every_page_refuses_a_request_no_page_of_the_service_sends(client, name, names):
    """Walked as someone the page is for, so that a refusal is the method's, not the role's.
    A page with no form of its own is not sent one either: a POST there gets the same 405,
    rather than the page (a careful service does not show data to a request no page sends)."""
    url, row = open_as_allowed_user(client, name, names)
    shown = client.get(url)
    html = "" if shown.streaming else shown.content.decode()  # the audit export is a CSV
    takes_a_form = any(method == "POST" for method, _ in forms_on(html, url))
    refused = list(NO_PAGE_SENDS)
    if row.method == "GET" and shown.status_code == 200 and not takes_a_form:
        refused.append("POST")
    for method in refused:
        assert_refused_without_trace(client, method, url)
    # HEAD answers where GET does (a load balancer's or a link checker's request).
    assert client.head(url).status_code == shown.status_code


def test_the_record_page_shows_nothing_to_a_put_or_a_post(client):
    child = make_child(family_name="Quartermaine")
    sign_in(client, priya())
    url = reverse("directory:child_record", args=[child.contactpoint_id])
    for method in ["PUT", "DELETE", "OPTIONS", "POST"]:
        assert_refused_without_trace(client, method, url)
    assert "Quartermaine" in client.get(url).content.decode()


def test_the_health_check_answers_get_and_head_only(client):
    assert client.get("/health/").status_code == 200
    assert client.head("/health/").status_code == 200
    for method in [*NO_PAGE_SENDS, "POST"]:
        assert_refused_without_trace(client, method, "/health/")


def test_signing_out_takes_a_form_only(client):
    sign_in(client, priya())
    for method in [*NO_PAGE_SENDS, "GET", "HEAD"]:
        response = client.generic(method, reverse("accounts:logout"))
        assert response.status_code == 405, method
    assert client.get(reverse("home")).status_code == 200  # still signed in
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("home")).status_code == 302
