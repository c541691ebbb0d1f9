"""GOV.UK page titles: a page's <title> starts with its <h1>, so that a screen reader user, a
tab list or browser history names the page as the page names itself; and it starts with
"Error: " when, and only when, the page shows an error summary (tests/html.py says how)."""

import pytest

from tests.html import title_problems
from tests.walk import forms_on, open_as_allowed_user, targets

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("name", "names"), targets())
def test_every_pages_title_starts_with_its_heading(client, settings, name, names):
    """Each page of the walk, and each of its forms sent back empty and sent back with values
    too long for any field: "Error: " and the heading whenever the form is shown again."""
    settings.SEARCH_RATE_LIMIT = 0
    url, _ = open_as_allowed_user(client, name, names)
    page = client.get(url)
    if page.status_code != 200 or page.streaming:
        return  # an action answered with a redirect, or the export's file
    html = page.content.decode()
    problems = title_problems(html, url)
    for method, fields in forms_on(html, url):
        typed = [field for field, kind in fields.items() if kind != "file"]
        for values in ({}, dict.fromkeys(typed, "x" * 301)):
            send = client.get if method == "GET" else client.post
            response = send(url, values)
            if response.status_code == 200 and not response.streaming:
                problems += title_problems(response.content.decode(), f"{url} ({method} {values})")
    assert problems == []
