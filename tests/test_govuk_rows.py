"""GOV.UK tables whose rows each hold a control: every column has a header, and each row's
button or field says which row it is for (WCAG 2.4.6, 1.3.1), as GOV.UK's summary list does
with the visually hidden text of its 'Change' links. A screen reader's list of buttons or of
form fields otherwise reads 'Undo, Undo, Undo' or 'Note, Note, Note'."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _empty_headers(html: str) -> list[str]:
    headers = re.findall(r"<th\b[^>]*>(.*?)</th>", html, re.S)
    return [h for h in headers if not re.sub(r"<[^>]+>", "", h).strip()]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def test_each_undo_button_on_the_merges_page_names_its_merge(client):
    from directory.services import children_merge
    from tests.personas import dana, make_child, sign_in

    manager = dana()
    kept, absorbed = make_child(), make_child()
    children_merge(kept=kept, absorbed=absorbed, by=manager)
    sign_in(client, manager)
    html = client.get(reverse("directory:merges")).content.decode()
    assert _empty_headers(html) == []
    buttons = [_text(b) for b in re.findall(r"<button[^>]*>(.*?)</button>", html, re.S)]
    assert (
        f"Undo the merge of {absorbed.contactpoint_id_display} into {kept.contactpoint_id_display}"
    ) in buttons


def test_each_override_sign_off_says_which_override_it_is_for(client):
    from shielding.models import ShieldOverride
    from tests.personas import owen, sam, sign_in
    from tests.test_shielding import shielded_child

    child = shielded_child()
    item = ShieldOverride.objects.create(
        child=child, practitioner=owen(), reason="Section 47", visit_token_hash="x" * 64
    )
    sign_in(client, sam())
    html = client.get(reverse("shielding:override_queue")).content.decode()
    label = re.search(rf'<label[^>]*for="note-{item.pk}"[^>]*>(.*?)</label>', html, re.S)
    assert label
    record = child.contactpoint_id_display
    assert _text(label.group(1)) == f"Note (optional) on the override of record {record}"
    buttons = [_text(b) for b in re.findall(r"<button[^>]*>(.*?)</button>", html, re.S)]
    assert f"Sign off the override of record {record}" in buttons


def test_a_refusal_shown_after_a_redirect_is_announced_as_a_success_is(client):
    """A message that the action was not done (a sign-off note too long) is shown in a
    notification banner after the redirect; with role="region" govuk-frontend neither focuses
    nor announces it, so a screen reader user heard nothing of the refusal."""
    from shielding.models import ShieldOverride
    from tests.personas import owen, sam, sign_in
    from tests.test_shielding import shielded_child

    item = ShieldOverride.objects.create(
        child=shielded_child(), practitioner=owen(), reason="Section 47", visit_token_hash="x" * 64
    )
    sign_in(client, sam())
    html = client.post(
        reverse("shielding:override_sign_off", args=[item.pk]), {"note": "x" * 2001}, follow=True
    ).content.decode()
    banner = re.search(r'<div class="govuk-notification-banner[^"]*" role="([^"]+)"', html)
    assert banner and "2,000 characters or fewer" in html
    assert banner.group(1) == "alert"
