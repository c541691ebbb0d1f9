"""The GOV.UK error-message pattern where axe cannot see it broken: the page title, where the
error summary's links lead, which control each message describes, one message a field, and
the summary's order and wording."""

import re
from collections import Counter
from urllib.parse import urlparse

import pytest

from tests.feed_forms import extracted_today
from tests.test_browser import sign_in_as

pytestmark = pytest.mark.django_db


def _title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match
    return match.group(1).strip()


def test_a_page_whose_form_has_errors_has_a_title_starting_error(client):
    """GOV.UK: 'If there's an error, add "Error: " to the beginning of the <title>'."""
    from tests.personas import dana, priya, sign_in

    user = priya()
    wrong = {"username": "priya", "password": "not-the-password"}
    titles = [_title(client.post("/accounts/login/", wrong).content.decode())]
    sign_in(client, user)
    titles.append(_title(client.post("/search/", {"surname": ""}).content.decode()))
    sign_in(client, dana())
    titles.append(_title(client.post("/feeds/merge/", {"kept": ""}).content.decode()))
    for title in titles:
        assert title.startswith("Error: "), title


@pytest.mark.browser
def test_following_an_error_summary_link_puts_focus_on_the_field(page):
    """GOV.UK: each link in the summary takes the user to the field: for radios the first
    radio, for a date input the day. Here the links point at a <div>, so focus stays on the
    link and the next Tab goes to the next link: a keyboard user never reaches the field."""
    from tests.personas import sam
    from tests.test_shielding import shielded_child

    hidden = shielded_child()
    officer = sam()
    sign_in_as(page, officer, f"/children/{hidden.contactpoint_id}/shield/")
    page.get_by_role("button", name="Save decision").click()  # no decision chosen
    page.wait_for_load_state()
    page.get_by_role("link", name="Select whether to keep or lift the shield").focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(200)
    focused = page.evaluate("[document.activeElement.tagName, document.activeElement.type]")
    assert focused == ["INPUT", "radio"], focused


@pytest.mark.browser
def test_following_an_error_summary_link_to_a_date_puts_focus_on_the_day(page):
    from tests.personas import lee

    admin = lee()
    sign_in_as(page, admin, f"/accounts/users/{admin.pk}/edit/")
    page.locator("#id_vetting_checked_on_0").fill("99")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="The date of enhanced vetting check must be a real date").focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(200)
    assert page.evaluate("document.activeElement.id") == "id_vetting_checked_on_0"


def _describedby(html: str, element_id: str) -> list[str]:
    tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{element_id}"[^>]*>', html)
    assert tag, element_id
    described = re.search(r'aria-describedby="([^"]*)"', tag.group(0))
    return described.group(1).split() if described else []


def test_a_select_or_file_upload_in_error_is_described_by_its_error_message(client):
    """GOV.UK select and file upload: the error message's id is in the control's
    aria-describedby, so a screen reader reads it when the control gets focus."""
    from tests.personas import dana, nina, sign_in

    sign_in(client, dana())
    html = client.post("/feeds/", {"source": ""}).content.decode()
    assert 'id="id_source-error"' in html and 'id="id_file-error"' in html
    assert "id_source-error" in _describedby(html, "id_source")
    assert "id_file-error" in _describedby(html, "id_file")
    sign_in(client, nina())
    html = client.post("/accounts/organisations/new/", {"code": ""}).content.decode()
    assert 'id="id_kind-error"' in html
    assert "id_kind-error" in _describedby(html, "id_kind")


def test_a_weak_password_is_one_error_on_the_password_field(client):
    """Django's validators give up to three messages, all put on 'Confirm your password'
    with the same id three times (axe reports duplicate-id-aria only as 'needs review')."""
    from accounts.roles import Role
    from accounts.services import setup_link_create
    from tests.personas import make_user

    newcomer = make_user("newcomer", Role.PRACTITIONER)
    path = urlparse(setup_link_create(user=newcomer, by=None)).path
    html = client.post(path, {"new_password1": "12345", "new_password2": "12345"}).content
    html = html.decode()
    ids = Counter(re.findall(r'\bid="([^"]+)"', html))
    assert [i for i, n in ids.items() if n > 1] == [], "every id is unique"
    # The problem is the password chosen: its field says so, and is described by the error.
    assert "id_new_password1-error" in _describedby(html, "id_new_password1")


def _summary_links(html: str) -> list[str]:
    summary = html.split('class="govuk-error-summary"')[1].split("</ul>")[0]
    return re.findall(r"<a [^>]*>([^<]*)</a>", summary)


def test_the_error_summary_reads_each_message_as_written(client):
    """Not "['Enter your username']": a screen reader would read the brackets out."""
    html = client.post("/accounts/login/", {"username": "", "password": ""}).content.decode()
    assert _summary_links(html) == ["Enter your username", "Enter your password"]


def test_the_merge_forms_error_summary_names_each_field(client):
    """Two links both reading 'This field is required.' cannot be told apart by a screen
    reader user listing the links."""
    from tests.personas import dana, sign_in

    sign_in(client, dana())
    html = client.post("/feeds/merge/", {"kept": "", "absorbed": ""}).content.decode()
    assert _summary_links(html) == [
        "Enter the ContactPoint ID of the record to keep",
        "Enter the ContactPoint ID of the record to merge into it",
    ]


def test_a_weak_password_that_does_not_match_says_both(client):
    from accounts.roles import Role
    from accounts.services import setup_link_create
    from tests.personas import make_user

    path = urlparse(setup_link_create(user=make_user("newbie", Role.PRACTITIONER), by=None)).path
    html = client.post(path, {"new_password1": "12345", "new_password2": "54321"}).content
    links = _summary_links(html.decode())
    assert links == ["Your password must be 12 characters or more", "The passwords do not match"]


def test_a_review_that_changed_meanwhile_says_so_first(client):
    """Sent without a choice from a page shown before the row changed: "look again" is
    what matters, and a field shows one message."""
    from django.urls import reverse

    from tests.personas import dana, feed_review, make_child, sign_in

    review = feed_review(make_child())
    sign_in(client, dana())
    url = reverse("directory:review", args=[review.pk])
    html = client.post(url, {"seen": "stale"}).content.decode()
    assert _summary_links(html)[0].startswith("This record has changed since you opened it")


def test_a_users_search_too_long_says_what_is_wrong(client):
    """The title says "Error: ", so the page must show the error too."""
    from django.urls import reverse

    from tests.personas import nina, sign_in

    sign_in(client, nina())
    html = client.get(reverse("accounts:user_list"), {"q": "x" * 101}).content.decode()
    assert _title(html).startswith("Error: ") and len(_summary_links(html)) == 1
    assert "id_q-error" in _describedby(html, "id_q")


def test_the_audit_filters_errors_are_summarised_in_page_order(client):
    """GOV.UK: list errors in the summary in the order the fields appear on the page."""
    from tests.personas import ada, sign_in

    sign_in(client, ada())
    query = {"date_from_0": "x", "date_to_1": "13", "contactpoint_id": "12"}
    html = client.get("/audit/", query).content.decode()
    summary = html.split('class="govuk-error-summary"')[1].split("</ul>")[0]
    in_summary = re.findall(r'href="#(id_\w+)"', summary)
    form = html.split('class="app-filter-form"')[1]
    on_page = [i for i in re.findall(r'<input[^>]*\bid="(id_\w+)"', form) if i in in_summary]
    assert len(in_summary) == 3 and in_summary == on_page


def test_a_choice_not_made_is_asked_for_with_select_as_gov_uk_words_it(client):
    """GOV.UK's error messages: 'Select …' for radios, a select or a file upload, 'Enter …' for
    what is typed. Some forms said 'Choose …', so the same mistake read differently by form."""
    from tests.personas import dana, make_child, sam, sign_in
    from tests.test_shielding import shielded_child

    plain, hidden = make_child(), shielded_child()
    sign_in(client, sam())
    summaries = [
        _summary_links(
            client.post(f"/children/{plain.contactpoint_id}/shield/", {"x": "1"}).content.decode()
        ),
        _summary_links(
            client.post(
                f"/children/{hidden.contactpoint_id}/shield/", {"form": "review"}
            ).content.decode()
        ),
    ]
    sign_in(client, dana())
    summaries.append(_summary_links(client.post("/feeds/", {"x": "1"}).content.decode()))
    messages = [message for summary in summaries for message in summary]
    assert "Select why the record must be shielded" in messages
    assert "Select whether to keep or lift the shield" in messages
    assert "Select which feed the file comes from" in messages
    assert "Select a file to upload" in messages
    assert [m for m in messages if m.startswith("Choose")] == []


def _hint_of(html: str, element_id: str) -> str:
    hints = [i for i in _describedby(html, element_id) if i.endswith("-hint")]
    assert hints, f"{element_id} is described by a hint"
    hint = re.search(rf'id="{hints[0]}"[^>]*>(.*?)</div>', html, re.S)
    assert hint
    return hint.group(1)


def _date_hint_of(html: str, element_id: str) -> str:
    """A GOV.UK date input's hint, which describes the fieldset of its three boxes."""
    assert re.search(rf'<fieldset[^>]*aria-describedby="{element_id}-hint', html), element_id
    hint = re.search(rf'id="{element_id}-hint"[^>]*>(.*?)</div>', html, re.S)
    assert hint
    return hint.group(1)


def test_every_typed_date_has_a_hint_giving_its_format(client):
    """GOV.UK: a date typed in a text input has a hint such as 'For example, 27 3 2015' (WCAG
    3.3.2): the search's range and the shield review's next date had a label alone."""
    from tests.personas import priya, sam, sign_in
    from tests.test_shielding import shielded_child

    hidden = shielded_child()
    sign_in(client, priya())
    search = client.get("/search/").content.decode()
    for element_id in ("id_date_of_birth", "id_dob_from", "id_dob_to"):
        assert "For example, " in _date_hint_of(search, element_id), element_id
    sign_in(client, sam())
    review = client.get(f"/children/{hidden.contactpoint_id}/shield/").content.decode()
    assert "For example, " in _date_hint_of(review, "id_review_on")


def test_an_error_about_the_whole_form_links_to_its_first_radio_not_their_group():
    """The shield review's 'homes or carers have changed' error is the form's, linked to its
    first field: radios, whose group <div> takes no focus, so the link left focus where it was
    (as the summary's field errors did before cf8732e)."""
    from django.template.loader import render_to_string

    from shielding.forms import ShieldReviewForm

    form = ShieldReviewForm({"decision": "lift", "note": "Moved away"})
    assert form.is_valid()
    form.add_error(None, "The homes or carers of this record have changed")
    html = render_to_string("includes/error_summary.html", {"form": form})
    assert 'href="#id_decision_0"' in html


def test_a_refused_feed_file_is_an_error_on_the_file_field(client):
    """The summary of a refused file had no link, and the file field said nothing: GOV.UK's
    error summary links each problem to its field, where the same message is shown."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.personas import dana, make_service, northshire, sign_in
    from tests.test_feeds import census

    make_service(name="Northshire Primary", identifier="100000")
    sign_in(client, dana())
    upload = SimpleUploadedFile("census.csv", census({"postcode": "bad"}), content_type="text/csv")
    html = client.post(
        "/feeds/",
        {
            **extracted_today(),
            "source": "school_census",
            "local_authority": northshire().pk,
            "file": upload,
        },
    ).content.decode()
    assert "The file was not imported" in html
    # GOV.UK: the summary at the top of the main container, where focus and a reader start.
    assert html.index('class="govuk-error-summary"') < html.index("<h1")
    link = re.search(r'<a href="#id_file">([^<]+)</a>', html)
    assert link, "the summary links to the file field"
    assert "id_file-error" in _describedby(html, "id_file")
    message = re.search(r'id="id_file-error"[^>]*>.*?</span>\s*([^<]+)</p>', html, re.S)
    assert message and message.group(1).strip() == link.group(1).strip()
