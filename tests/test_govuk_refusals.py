"""A refusal of what a user submitted is the GOV.UK error pattern, not a banner on a fresh page:
the form again (200), an error summary linking to the field the refusal is about, and nothing
changed. A refusal about no field (a button on a list, someone else's decision) stays a banner.

Dana the data manager decides on feed records and merges records; the races below are another
request's change made in the moment between the page's checks and the change itself.
"""

import re
from html import unescape

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from directory import feed_views
from directory.models import Child, FeedImport, MatchReview, Merge, SourceRecord
from directory.services import children_merge
from tests.personas import dana, decide, feed_review, make_child, make_user, operator, sign_in

pytestmark = pytest.mark.django_db


def national_data_manager() -> User:
    return make_user("nat", Role.DATA_MANAGER, organisation=operator())


def error_summary_links(html: str) -> list[tuple[str, str]]:
    """(href, text) of each link in the page's error summary (none without one)."""
    if 'class="govuk-error-summary"' not in html:
        return []
    summary = html.split('class="govuk-error-summary"', 1)[1].split("</ul>", 1)[0]
    return [
        (href, unescape(text))
        for href, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', summary)
    ]


def assert_refused_on(response, field: str, words: str) -> None:
    assert response.status_code == 200
    links = error_summary_links(response.content.decode())
    assert [href for href, _ in links] == [f"#{field}"], links
    assert words in links[0][1], links


class TestADecisionTheReviewCannotApply:
    def test_a_new_record_no_local_authority_can_look_after_is_an_error_on_the_decision(
        self, client
    ):
        """A national file names no LA, and no candidate is held any more to take one from."""
        review = feed_review(make_child())
        FeedImport.objects.update(local_authority=None)
        MatchReview.objects.filter(pk=review.pk).update(candidates=[])
        sign_in(client, national_data_manager())
        children = Child.objects.count()
        response = decide(client, review, "new")
        assert_refused_on(response, "id_choice", "A new record needs a local authority")
        assert Child.objects.count() == children
        assert MatchReview.objects.get(pk=review.pk).status == MatchReview.Status.OPEN

    def test_a_row_changed_by_an_import_in_that_moment_says_so_on_the_decision(
        self, client, monkeypatch
    ):
        """As a page shown before the change does (tests/test_feeds.py): the page as the row
        now is, "look again" on the decision; not a banner over the page read afresh."""
        candidate = make_child()
        review = feed_review(candidate)
        applying = feed_views.review_decide

        def import_first(**decision):
            record = SourceRecord.objects.get(pk=review.source_record_id)
            record.payload = {**record.payload, "postcode": "NE9 9ZZ"}
            record.save(update_fields=["payload"])
            return applying(**decision)

        monkeypatch.setattr(feed_views, "review_decide", import_first)
        sign_in(client, dana())
        response = decide(client, review, f"match:{candidate.contactpoint_id}")
        assert_refused_on(response, "id_choice", "This record has changed since you opened it")
        assert MatchReview.objects.get(pk=review.pk).status == MatchReview.Status.OPEN
        assert SourceRecord.objects.get(pk=review.source_record_id).child_id is None


class TestAMergeRefusedInTheMomentItIsConfirmed:
    def confirm(self, client, kept: Child, absorbed: Child):
        return client.post(
            reverse("directory:merge"),
            {"kept": kept.contactpoint_id, "absorbed": absorbed.contactpoint_id,
             "confirmed": "yes"},
        )  # fmt: skip

    def test_a_record_merged_elsewhere_meanwhile_is_an_error_on_its_field(
        self, client, monkeypatch
    ):
        kept, absorbed, third = make_child(), make_child(given_name="Amy"), make_child()
        merging = feed_views.children_merge

        def someone_else_first(**pair):
            children_merge(kept=third, absorbed=absorbed, by=None)
            return merging(**pair)

        monkeypatch.setattr(feed_views, "children_merge", someone_else_first)
        sign_in(client, dana())
        response = self.confirm(client, kept, absorbed)
        assert_refused_on(
            response, "id_absorbed", f"merged into {third.contactpoint_id_display} already"
        )
        assert list(Merge.objects.values_list("kept", flat=True)) == [third.pk]

    def test_a_record_shielded_meanwhile_across_las_is_an_error_on_its_field(
        self, client, monkeypatch
    ):
        from tests.personas import shield, southshire

        kept, absorbed = make_child(), make_child(local_authority=southshire())
        merging = feed_views.children_merge

        def shielded_first(**pair):
            shield(absorbed)
            return merging(**pair)

        monkeypatch.setattr(feed_views, "children_merge", shielded_first)
        sign_in(client, national_data_manager())
        response = self.confirm(client, kept, absorbed)
        assert_refused_on(response, "id_absorbed", "A shielded record can only be merged")
        assert not Merge.objects.exists()
