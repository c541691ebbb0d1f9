"""The access events lists continue on another page through GOV.UK's pagination component: a
navigation landmark named 'Pagination' with a 'Next page' link (rel="next"), found by a screen
reader's list of landmarks, where a paragraph's link at the foot of a long table was not."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_older_events_are_reached_by_govuk_pagination(client, monkeypatch):
    from audit import views
    from tests.personas import ada, sign_in

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    auditor = ada()
    sign_in(client, auditor)
    for _ in range(2):
        client.get("/audit/")  # events of her own to page through
    for path in ("/audit/", f"/audit/users/{auditor.pk}/"):
        html = client.get(path).content.decode()
        nav = re.search(
            r'<nav class="govuk-pagination[^"]*" aria-label="Pagination">(.*?)</nav>', html, re.S
        )
        assert nav, path
        link = re.search(r'<a [^>]*href="\?([^"]*before=\d+[^"]*)"[^>]*rel="next"', nav.group(1))
        assert link, path
        assert "Older events" in nav.group(1)
