"""Browsers remember what is typed into a form's text boxes, and offer it again to whoever uses
the browser next: on a shared computer, a child's name, date of birth, postcode or
ContactPoint ID typed into one of this service's forms. Every box says what the browser may
remember: a credential box how to fill it in ("username", "one-time-code"), any other box
nothing ("off")."""

import re

import pytest
from django.urls import reverse

from tests.walk import ATTRIBUTE, open_as_allowed_user, targets

pytestmark = pytest.mark.django_db

INPUT = re.compile(r"<input\b([^>]*)>")
# Boxes a browser does not offer typed values back for.
NOT_REMEMBERED = {"hidden", "password", "checkbox", "radio", "file", "submit"}


def _boxes_remembered(html: str) -> list[str]:
    boxes = []
    for field in INPUT.findall(html):
        attributes = dict(ATTRIBUTE.findall(field))
        if attributes.get("type", "text") in NOT_REMEMBERED or "autocomplete" in attributes:
            continue
        boxes.append(attributes.get("name", "?"))
    return boxes


@pytest.mark.parametrize(("name", "names"), targets())
def test_no_text_box_is_left_for_the_browser_to_remember(client, settings, name, names):
    settings.SEARCH_RATE_LIMIT = 0
    url, _ = open_as_allowed_user(client, name, names)
    page = client.get(url)
    if page.status_code != 200 or page.streaming:
        return
    assert _boxes_remembered(page.content.decode()) == [], url


def test_the_override_queues_note_box_is_not_remembered(client):
    """The queue's note boxes appear only beside an override waiting for sign-off, which the
    walk's queue has none of."""
    from shielding.models import ShieldOverride
    from tests.personas import owen, sam, sign_in
    from tests.test_shielding import shielded_child

    ShieldOverride.objects.create(
        child=shielded_child(), practitioner=owen(), reason="Section 47", visit_token_hash="x" * 64
    )
    sign_in(client, sam())
    page = client.get(reverse("shielding:override_queue")).content.decode()
    assert 'name="note"' in page
    assert _boxes_remembered(page) == []
