"""A link that looks like a GOV.UK button is marked up as govuk-frontend's button macro makes
it: role="button" (a screen reader or voice-control user meets a button where the page shows
one, and govuk-frontend's script then lets Space press it, as it does a button),
draggable="false" and data-module="govuk-button"."""

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _link_buttons(html: str) -> list[str]:
    return [a for a in re.findall(r"<a\b[^>]*>", html) if re.search(r'class="govuk-button', a)]


def _check(client: Client, path: str) -> list[str]:
    html = client.get(path).content.decode()
    links = _link_buttons(html)
    assert links, f"{path} has a link styled as a button"
    return [
        link
        for link in links
        if 'role="button"' not in link
        or 'draggable="false"' not in link
        or 'data-module="govuk-button"' not in link
    ]


def test_every_link_styled_as_a_button_is_a_govuk_button_link(client):
    from tests.personas import ada, lee, make_child, nina, owen, sign_in
    from tests.test_shielding import shielded_child

    child, hidden = make_child(), shielded_child()
    wrong: list[str] = []
    sign_in(client, owen())
    wrong += _check(client, reverse("directory:child_record", args=[child.contactpoint_id]))
    wrong += _check(client, reverse("directory:child_record", args=[hidden.contactpoint_id]))
    administrator = lee()
    sign_in(client, administrator)
    wrong += _check(client, reverse("accounts:user_list"))
    wrong += _check(client, reverse("accounts:user_detail", args=[administrator.pk]))
    sign_in(client, ada())
    wrong += _check(client, reverse("audit:events"))
    sign_in(client, nina())
    wrong += _check(client, reverse("accounts:organisation_list"))
    assert wrong == []
