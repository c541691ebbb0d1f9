"""GOV.UK tables have a caption (the table component's 'caption'): a screen reader's list of
tables, or its move to the next table, otherwise reads each one without a name, and a page
with two (feeds, charts, a child's history) gives no way to tell which is which."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _tables_without_caption(client: Client, path: str) -> list[str]:
    html = client.get(path).content.decode()
    tables = re.findall(r"<table\b.*?</table>", html, re.S)
    assert tables, f"{path} has a table"
    named = [re.search(r"<caption\b[^>]*>\s*\S.*?</caption>", t, re.S) for t in tables]
    return [f"{path} table {n + 1}" for n, caption in enumerate(named) if caption is None]


def test_every_table_has_a_caption(client):
    from tests.personas import ada, dana, make_child, sam, sign_in

    child = make_child()
    missing: list[str] = []
    sign_in(client, dana())
    for path in ("/feeds/", "/feeds/reviews/", "/feeds/merges/"):
        missing += _tables_without_caption(client, path)
    sign_in(client, sam())
    for path in ("/shielding/", "/shielding/overrides/", "/shielding/contact-requests/"):
        missing += _tables_without_caption(client, path)
    auditor = ada()
    sign_in(client, auditor)
    for path in (
        "/audit/charts/",
        f"/audit/children/{child.contactpoint_id}/",
        f"/audit/users/{auditor.pk}/",
    ):
        missing += _tables_without_caption(client, path)
    assert missing == []


def test_an_event_tables_caption_says_what_it_lists(client):
    """'Newest first' named the order, not the table: beside 'Changes to the account' on a
    user's activity page, a screen reader's list of tables did not say which held the events."""
    from tests.personas import ada, sign_in

    auditor = ada()
    sign_in(client, auditor)
    for path in ("/audit/", f"/audit/users/{auditor.pk}/"):
        html = client.get(path).content.decode()
        caption = re.search(r"<caption\b[^>]*>(.*?)</caption>", html, re.S)
        assert caption and "events" in caption.group(1).lower(), path
