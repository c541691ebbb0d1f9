"""GOV.UK service navigation marks the section a page is in (its active item, the link
aria-current) and a page's own link aria-current="page", so a screen reader user hears where
they are; the header's menu and the sections' sub-menus marked nothing."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _current(client: Client, path: str) -> list[tuple[str, str]]:
    html = client.get(path).content.decode()
    links = re.findall(r'<a\b[^>]*aria-current="([^"]+)"[^>]*>(.*?)</a>', html, re.S)
    return [(value, re.sub(r"<[^>]+>", "", text).strip()) for value, text in links]


def test_the_header_and_sub_menus_mark_where_the_user_is(client):
    from tests.personas import dana, make_child, priya, sign_in

    child = make_child()
    sign_in(client, priya())
    assert _current(client, "/search/") == [("page", "Find a child")]
    assert _current(client, f"/children/{child.contactpoint_id}/") == [("true", "Find a child")]
    sign_in(client, dana())
    assert _current(client, "/feeds/") == [("page", "Feeds"), ("page", "Import a file")]
    assert _current(client, "/feeds/merges/") == [("true", "Feeds"), ("page", "Merges")]


def test_the_active_item_is_govuk_service_navigations(client):
    from tests.personas import ada, sign_in

    sign_in(client, ada())
    html = client.get("/audit/anomalies/").content.decode()
    active = re.findall(r'<li class="govuk-service-navigation__item[^"]*--active"', html)
    assert len(active) == 1
    assert '<strong class="govuk-service-navigation__active-fallback">Audit</strong>' in html


def test_every_heading_names_what_follows_it(client):
    """WCAG 2.4.6: the search form's 'Or' was a heading, so a screen reader's list of
    headings offered 'Or' as a part of the page."""
    from tests.personas import priya, sign_in

    sign_in(client, priya())
    html = client.get("/search/").content.decode()
    headings = re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", html, re.S)
    assert [h for h in headings if len(re.sub(r"<[^>]+>", "", h).strip()) < 4] == []
