"""GOV.UK question pages mark a field that may be left empty with '(optional)' in its label
(WCAG 3.3.2): an administrator or officer otherwise learns which fields are needed only from
the errors. The label alone changes: the field's error messages still name it plainly."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _label(html: str, element_id: str) -> str:
    label = re.search(rf'<label[^>]*for="{element_id}"[^>]*>(.*?)</label>', html, re.S)
    assert label, element_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", label.group(1))).strip()


def test_the_optional_fields_say_so(client):
    from shielding.models import ContactRequest, ShieldOverride
    from tests.personas import lee, owen, priya, sam, sign_in
    from tests.test_shielding import shielded_child

    sign_in(client, lee())
    html = client.get(reverse("accounts:user_create")).content.decode()
    for element_id in ("id_job_title", "id_phone", "id_home_postcode"):
        assert _label(html, element_id).endswith("(optional)"), element_id
    assert not _label(html, "id_first_name").endswith("(optional)")

    child = shielded_child()
    item = ContactRequest.objects.create(
        child=child, requester=priya(), service="Health visiting",
        reason="Missed immunisations", reply_to="01632 960555",
    )  # fmt: skip
    override = ShieldOverride.objects.create(
        child=child, practitioner=owen(), reason="Section 47", visit_token_hash="x" * 64
    )
    sign_in(client, sam())
    html = client.get(reverse("shielding:contact_request", args=[item.pk])).content.decode()
    assert _label(html, "id_note") == "Note (optional)"
    html = client.get(reverse("shielding:override_queue")).content.decode()
    assert _label(html, f"note-{override.pk}").startswith("Note (optional)")
