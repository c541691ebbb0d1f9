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
    # A link to the page that asks first, marked up as a button.
    buttons = [_text(b) for b in re.findall(r'<a [^>]*role="button"[^>]*>(.*?)</a>', html, re.S)]
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
    """A message that the action was not done (a merge across local authorities that only the
    national team may undo) is shown in a notification banner after the redirect; with
    role="region" govuk-frontend neither focuses nor announces it, so a screen reader user
    heard nothing of the refusal."""
    from directory.models import Merge
    from directory.services import children_merge
    from tests.personas import dana, make_child, sign_in, southshire

    theirs = make_child(local_authority=southshire())
    children_merge(kept=make_child(), absorbed=theirs, by=None)
    sign_in(client, dana())
    undo = reverse("directory:unmerge", args=[Merge.objects.get().pk])
    html = client.post(undo, follow=True).content.decode()
    banner = re.search(r'<div class="govuk-notification-banner[^"]*" role="([^"]+)"', html)
    assert banner and "Only the national data-quality team" in html
    assert banner.group(1) == "alert"


def test_a_sign_off_note_too_long_gets_the_govuk_error_pattern(client):
    """A note that cannot be saved is a form error: the page with an error summary linking to
    the note, its message beside it and 'Error: ' in the title, the note kept; not a banner
    on a fresh page with the note gone."""
    from shielding.models import ShieldOverride
    from tests.personas import owen, sam, sign_in
    from tests.test_shielding import shielded_child

    item = ShieldOverride.objects.create(
        child=shielded_child(), practitioner=owen(), reason="Section 47", visit_token_hash="x" * 64
    )
    sign_in(client, sam())
    note = "Checked with the officer. " * 80
    response = client.post(reverse("shielding:override_sign_off", args=[item.pk]), {"note": note})
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r"<title>\s*Error: ", html)
    assert f'<a href="#note-{item.pk}">' in html
    assert f'id="note-{item.pk}-error"' in html
    field = re.search(rf'<input[^>]*id="note-{item.pk}"[^>]*>', html)
    assert field and f'aria-describedby="note-{item.pk}-error"' in field.group(0)
    assert note.strip() in html
    item.refresh_from_db()
    assert item.reviewed_at is None
