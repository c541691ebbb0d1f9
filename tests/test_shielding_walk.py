"""Every URL, as every persona, around a shielded child Amy whose family is written in many
places: her mother's record; her half-brother Cal's own record of the same mother (another
feed's), which moved to her refuge a field at a time before his link to her ended; a
Southshire duplicate of Amy merged into her record; a contact request, an override, a feed
review naming her, her sister Bea sent under Amy's unique pupil number and NHS number (which
say her school and GP) waiting for review, with a data manager's decision on each row, and
her officer's own search at her postcode. Only her LA's shielding officer sees where she
is."""

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from directory.models import CareRelationship, ParentCarer, Source
from directory.services import children_merge
from shielding import services
from shielding.models import ContactRequest, ShieldOverride
from shielding.policy import shield_follows_home_and_carers
from tests.date_input import date_boxes
from tests.personas import (
    ada,
    dana,
    feed_review,
    lee,
    make_address,
    make_child,
    new_records_decided,
    nina,
    northshire,
    owen,
    priya,
    sam,
    sign_in,
    sister_sent_under_her_numbers,
    southshire,
    xavier,
)
from tests.test_shielding import HER_NHS_NUMBER, HER_NUMBERS, HER_UPN, _text, all_url_names

pytestmark = pytest.mark.django_db

REFUGE = "Refuge House, 14 Quillfeather Lane"
SECRETS = (
    "Quillfeather", "Refuge House", "Quibbleton", "ZE2 9QX", "ZE29QX", "Marguerite",
    "Vexwright", "07700 987654", "07700987654", "mq@quill.example.org", *HER_NUMBERS,
)  # fmt: skip


def linked(child, carer, relationship="mother"):
    return CareRelationship.objects.create(
        child=child, carer=carer, relationship=relationship, parental_responsibility=True,
        source=Source.CHILD_BENEFIT,
    )  # fmt: skip


def scenario():
    people = {
        f.__name__: f() for f in (priya, owen, sam, dana, lee, ada, nina, xavier)
    }  # fmt: skip
    amy = make_child(given_name="Amy", family_name="Hart")
    make_address(amy, "ZE2 9QX", line_1=REFUGE, town="Quibbleton")
    mother = ParentCarer(
        given_name="Marguerite", family_name="Vexwright", phone="07700 987654",
        email="mq@quill.example.org", line_1=REFUGE, town="Quibbleton", postcode="ZE2 9QX",
        source=Source.CHILD_BENEFIT,
    )  # fmt: skip
    mother.for_children = (amy.pk,)
    mother.save()
    linked(amy, mother)
    # Cal, her half-brother: another feed's record of the same mother moves to the refuge,
    # a field at a time, then his link to her ends (he went to his father's).
    cal = make_child(given_name="Cal", family_name="Hart", date_of_birth=date(2012, 6, 1))
    make_address(cal, "NE1 4ST", line_1="7 Dad Street", town="Northtown")
    his = ParentCarer(
        given_name="Marguerite", family_name="Vexwright", phone="01632 960444",
        line_1="3 Old Road", town="Northtown", postcode="NE1 4ST", source=Source.SCHOOL_CENSUS,
    )  # fmt: skip
    his.for_children = (cal.pk,)
    his.save()
    link = linked(cal, his)
    his.postcode = "ZE2 9QX"
    his.save()
    his.line_1, his.town = REFUGE, "Quibbleton"
    his.save()
    his.phone, his.email = "07700 987654", "mq@quill.example.org"
    his.save()
    link.ended_on = date(2026, 1, 1)
    link.save()
    # A Southshire duplicate of Amy, at the refuge, merged into her record.
    dup = make_child(given_name="Amy", family_name="Hart", local_authority=southshire())
    make_address(dup, "ZE2 9QX", line_1=REFUGE, town="Quibbleton")
    merge = children_merge(kept=amy, absorbed=dup, by=people["dana"])
    services.shield_create(
        child=amy, by=people["sam"], reason="domestic_abuse", justification="Fled violence",
        review_on=date(2027, 5, 1),
    )  # fmt: skip
    shield_follows_home_and_carers(amy)
    request = ContactRequest.objects.create(
        child=amy, requester=people["priya"], service="School nurse", reason="r", reply_to="t"
    )
    override = ShieldOverride.objects.create(
        child=amy, practitioner=people["owen"], reason="Welfare check", visit_token_hash="h" * 64
    )
    review = feed_review(amy)
    review.source_record.payload.update(
        address_line_1=REFUGE, town="Quibbleton", postcode="ZE2 9QX"
    )
    review.source_record.save()
    # Her school's census and her GP each send Bea, her sister at the refuge, under Amy's
    # numbers, which say her school and GP: both rows wait beside her.
    sisters = sister_sent_under_her_numbers(
        amy, HER_UPN, HER_NHS_NUMBER, address_line_1=REFUGE, town="Quibbleton", postcode="ZE2 9QX"
    )
    # Sam's own work is in the access log: her record viewed, a search that found her.
    officer = Client()
    sign_in(officer, people["sam"])
    officer.get(reverse("directory:child_record", args=[amy.contactpoint_id]))
    officer.post(reverse("directory:search"), {"surname": "Hart", "postcode": "ZE2 9QX"})
    return people, amy, cal, dup, merge, request, override, [review, *sisters]


def urls(people, user, amy, cal, dup, merge, request, override, reviews):
    users = [user.pk, *(people[n].pk for n in ("sam", "owen", "priya", "dana", "xavier"))]
    pks = {
        "directory:review": [review.pk for review in reviews],
        "directory:unmerge": [merge.pk],
        "shielding:override_sign_off": [override.pk],
        "shielding:contact_request": [request.pk],
        "accounts:organisation_edit": [northshire().pk, southshire().pk],
    }
    found = []
    for name, pattern in all_url_names():
        converters = set(pattern.pattern.converters)
        choices: list[dict[str, object]] = [{}]
        if "contactpoint_id" in converters:
            choices = [{"contactpoint_id": c.contactpoint_id} for c in (amy, dup, cal)]
        if "pk" in converters:
            ids = pks.get(name, users)
            choices = [{**c, "pk": pk} for c in choices for pk in ids]
        if "action" in converters:
            choices = [{**c, "action": "unlock"} for c in choices]
        if "token" in converters:
            choices = [{**c, "token": "nothing"} for c in choices]
        found += [reverse(name, kwargs=kwargs) for kwargs in choices]
    for child in (amy, dup, cal):
        record = reverse("directory:child_record", args=[child.contactpoint_id])
        found += [record + "?past=1", record + "?visit=forged"]
        found += [reverse("audit:events") + f"?contactpoint_id={child.contactpoint_id}"]
        found += [reverse("audit:export") + f"?contactpoint_id={child.contactpoint_id}"]
    return [*found, reverse("audit:export")]


@pytest.mark.parametrize(
    "persona", ["priya", "owen", "sam", "dana", "lee", "ada", "nina", "xavier"]
)
def test_the_walk(persona):
    people, amy, cal, dup, merge, request, override, reviews = scenario()
    client = Client()
    user = people[persona]
    sign_in(client, user)
    pages = []
    for url in urls(people, user, amy, cal, dup, merge, request, override, reviews):
        response = client.get(url)
        pages.append((url, response.status_code, _text(response)))
    for criteria in (
        {"surname": "Hart", "forename": "Amy"},
        {"surname": "Hart", "postcode": "ZE2 9QX"},
        {"surname": "Hart", **date_boxes("date_of_birth", "14 3 2015")},
    ):
        response = client.post(reverse("directory:search"), criteria)
        # The form shows back what the user typed; what the service adds is the results.
        results = _text(response).split('id="results"', 1)[-1]
        pages.append((f"search {criteria}", response.status_code, results))
    for kept, absorbed in ((amy, cal), (cal, amy), (cal, dup)):
        response = client.post(
            reverse("directory:merge"),
            {"kept": kept.contactpoint_id, "absorbed": absorbed.contactpoint_id},
        )
        pages.append((f"merge {kept.given_name}", response.status_code, _text(response)))
    for child in (amy, cal, dup):
        response = client.post(reverse("directory:separate"), {"record": child.contactpoint_id})
        pages.append((f"separate {child.given_name}", response.status_code, _text(response)))
    answers = new_records_decided(client, reviews[1:])
    for answer in answers:
        said = f"{answer.request['REQUEST_METHOD']} {answer.request['PATH_INFO']}"
        pages.append((said, answer.status_code, _text(answer)))
    leaks = sorted(
        {
            (url, status, secret)
            for url, status, body in pages
            for secret in SECRETS
            if secret in body
        }
    )
    assert sum(status == 200 for _, status, _ in pages) >= 3
    if persona == "dana":
        made = [answer.status_code for answer in answers]
        assert made == [302, 200, 302, 200], "Dana's decisions were made, their outcome walked"
    if persona == "sam":
        assert leaks, "Sam, Northshire's shielding officer, sees Amy in full"
    else:
        assert not leaks, "\n".join(f"{s} {u}: {x}" for u, s, x in leaks)
