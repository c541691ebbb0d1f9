"""Records are archived at 18 (25 with consent) and a year after death, and purged 6 years on."""

import csv
import html
import importlib
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from directory.feed_import import feed_import, review_version
from directory.feeds import COLUMNS
from directory.models import (
    PURGED,
    CareRelationship,
    Child,
    ChildIdentifier,
    FeedImport,
    MatchReview,
    ParentCarer,
    PurgedFeedRecord,
    Source,
    SourceRecord,
)
from directory.services import children_merge, lifecycle_apply
from tests.feed_forms import extracted_today
from tests.personas import (
    dana,
    decide,
    event_at,
    feed_review,
    make_address,
    make_child,
    make_service,
    northshire,
    rebuild_keys,
    sign_in,
    southshire,
)
from tests.test_feeds import census, upn

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 29)


def test_a_child_is_archived_on_their_18th_birthday():
    adult = make_child(date_of_birth=date(2008, 11, 29))
    minor = make_child(date_of_birth=date(2008, 11, 30))
    assert lifecycle_apply(today=TODAY)["archived_at_18"] == 1
    adult.refresh_from_db()
    minor.refresh_from_db()
    assert (adult.status, adult.archived_on) == ("archived", TODAY)
    assert minor.status == "active"


def test_with_consent_a_record_stays_until_25():
    kept = make_child(date_of_birth=date(2004, 1, 1), kept_to_25_with_consent=True)
    lifecycle_apply(today=TODAY)
    kept.refresh_from_db()
    assert kept.status == "active"
    assert lifecycle_apply(today=date(2029, 1, 1))["archived_at_25"] == 1


def test_a_deceased_childs_record_is_archived_after_a_year():
    died = make_child(status=Child.Status.DECEASED, date_of_death=date(2025, 11, 28))
    recent = make_child(status=Child.Status.DECEASED, date_of_death=date(2026, 6, 1))
    assert lifecycle_apply(today=TODAY)["archived_after_death"] == 1
    died.refresh_from_db()
    recent.refresh_from_db()
    assert died.status == "archived" and recent.status == "deceased"


def test_archived_records_are_purged_after_six_years_with_what_hung_on_them():
    old = make_child(status=Child.Status.ARCHIVED, archived_on=date(2020, 11, 28))
    make_address(old)
    carer = ParentCarer.objects.create(given_name="Jo", family_name="Hart", source=Source.DEMO)
    CareRelationship.objects.create(
        child=old,
        carer=carer,
        relationship="mother",
        parental_responsibility=True,
        source=Source.DEMO,
    )
    absorbed = make_child(given_name="Dup")
    children_merge(kept=old, absorbed=absorbed, by=None)
    # Rows feeds sent about them (one still waiting for review), and about someone else.
    reviewed = feed_review(old)
    SourceRecord.objects.filter(pk=reviewed.source_record_id).update(child=absorbed)
    young = make_child(status=Child.Status.ARCHIVED, archived_on=date(2021, 6, 1))
    theirs = feed_review(young)
    SourceRecord.objects.filter(pk=theirs.source_record_id).update(child=young)
    event_at(
        datetime(2026, 11, 1, 10, tzinfo=UTC),
        action=Action.VIEW_RECORD,
        child_contactpoint_id=old.contactpoint_id,
    )
    assert lifecycle_apply(today=TODAY)["purged"] == 1
    assert not Child.objects.filter(pk__in=[old.pk, absorbed.pk]).exists()
    assert not ParentCarer.objects.filter(pk=carer.pk).exists()
    assert Child.objects.filter(pk=young.pk).exists()
    assert list(SourceRecord.objects.values_list("child", flat=True)) == [young.pk], (
        "no feed row about the purged child is kept"
    )
    assert AuditEvent.objects.filter(child_contactpoint_id=old.contactpoint_id).exists(), (
        "the access log keeps it"
    )


def test_a_record_that_absorbed_a_chain_of_merged_records_is_purged_with_all_of_them():
    """A merged into B, then B into C: purging C takes B and A, and the day's other work is
    still done (the job is one transaction, so a failure here would stop every LA's)."""
    kept = make_child(given_name="Cee", status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1))
    middle = make_child(given_name="Bee")
    first = make_child(given_name="Aye")
    children_merge(kept=middle, absorbed=first, by=None)
    middle.refresh_from_db()
    children_merge(kept=kept, absorbed=middle, by=None)
    make_child(date_of_birth=date(2000, 1, 1))
    done = lifecycle_apply(today=TODAY)
    assert (done["purged"], done["archived_at_18"]) == (1, 1)
    assert not Child.objects.filter(pk__in=[first.pk, middle.pk, kept.pk]).exists()


def test_each_run_that_archives_or_purges_is_an_audit_event_naming_the_records():
    """Auditors answering for a purged child still find when and why the record went: its
    change log is shown only while the record exists. A second run that day changes nothing,
    and records nothing."""
    adult = make_child(date_of_birth=date(2000, 1, 1))
    old = make_child(status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1))
    absorbed = make_child(given_name="Dup")
    children_merge(kept=old, absorbed=absorbed, by=None)
    lifecycle_apply(today=TODAY)
    event = AuditEvent.objects.get(action=Action.ADMIN_ACTION)
    detail = event.detail or {}
    assert detail["action"] == "lifecycle"
    assert detail["archived"] == [adult.contactpoint_id]
    assert sorted(detail["purged"]) == sorted([old.contactpoint_id, absorbed.contactpoint_id])
    assert set(event.result_ids) == {
        adult.contactpoint_id,
        old.contactpoint_id,
        absorbed.contactpoint_id,
    }, "the child's access history finds it"
    lifecycle_apply(today=TODAY)
    assert AuditEvent.objects.filter(action=Action.ADMIN_ACTION).count() == 1


def test_the_command_reports_what_it_did(capsys):
    make_child(date_of_birth=date(2000, 1, 1))
    call_command("lifecycle")
    assert "1 archived at 18" in capsys.readouterr().out


class TestARowWaitingForReviewAboutAPurgedPersonGoesWithHer:
    """Zoe's record was archived 6 years ago; a row of an LA file that might be her waits in
    Dana's review queue when the lifecycle purges her. Nothing of her may stay in the queue,
    nor may a decision on the page Dana had open make her a new record."""

    def test_a_row_whose_best_match_she_was_is_purged_and_kept_out(self, client):
        zoe = make_child(status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1))
        review = feed_review(zoe)
        source_record = review.source_record
        seen = review_version(review, source_record)
        done = lifecycle_apply(today=TODAY)
        assert not SourceRecord.objects.exists(), "her row is not left in the queue"
        assert (done["purged"], done["rows_waiting_for_review_purged"]) == (1, 1)
        assert not MatchReview.objects.exists()
        assert PurgedFeedRecord.is_purged(source_record.source, source_record.record_id)
        sign_in(client, dana())
        assert "Amelia" not in client.get(reverse("directory:review_queue")).content.decode()
        response = client.post(
            reverse("directory:review", args=[review.pk]), {"choice": "new", "seen": seen},
            follow=True,
        )  # fmt: skip
        assert "That feed record is no longer waiting for review" in response.content.decode()
        assert not Child.objects.exists(), "the decision did not bring her back"

    def test_a_row_that_offered_her_below_a_better_match_stays_without_her(self, client):
        zoe = make_child(status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1))
        other = make_child(given_name="Amelie")
        review = feed_review(other)
        review.candidates = [*review.candidates, {"child_id": zoe.pk, "weight": 9.0}]
        review.status = MatchReview.Status.DEFERRED
        review.save()
        seen = review_version(review, review.source_record)
        done = lifecycle_apply(today=TODAY)
        review.refresh_from_db()
        assert review.candidates == [{"child_id": other.pk, "weight": 12.5}]
        assert done["rows_waiting_for_review_purged"] == 0
        assert review.status == MatchReview.Status.OPEN, "back in the queue to be looked at"
        sign_in(client, dana())
        response = client.post(
            reverse("directory:review", args=[review.pk]),
            {"choice": f"match:{other.contactpoint_id}", "seen": seen},
        )
        assert "This record has changed since you opened it" in response.content.decode()
        assert MatchReview.objects.get().status == MatchReview.Status.OPEN


class TestAPurgedPersonDoesNotComeBackFromAnOldFile:
    """Zed's record was archived at 18 and purged 6 years on. His LA's old file, or one of its
    rows left out then, sent again afterwards must not make him a new record: the row is not
    imported, and Dana the data manager is told why."""

    ZED = {"la_record_id": "1001", "given_name": "Zed", "date_of_birth": "2002-01-01"}
    ADA = {"la_record_id": "1002", "given_name": "Ada", "date_of_birth": "2015-03-03"}

    def purge(self) -> None:
        zed = Child.objects.filter(given_name="Zed")
        zed.update(status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1))
        assert lifecycle_apply(today=TODAY)["purged"] == 1

    def upload(self, client, content: bytes, name: str) -> str:
        form = {
            **extracted_today(),
            "source": "la_system",
            "local_authority": northshire().pk,
            "skip_invalid": "on",
        }
        upload = SimpleUploadedFile(name, content, content_type="text/csv")
        return client.post(reverse("directory:feeds"), {**form, "file": upload}).content.decode()

    def test_an_old_files_row_about_him_is_not_imported_and_the_report_says_why(self, client):
        feed_import(
            source=Source.LA_SYSTEM, file_name="2017.csv", content=la_file(self.ZED),
            local_authority=northshire(), by=None,
        )  # fmt: skip
        self.purge()
        assert not SourceRecord.objects.exists()
        again = la_file(self.ZED, self.ADA)
        sign_in(client, dana())
        page = self.upload(client, again, "2017-copy.csv")
        assert "1 new child, 1 not imported as its record was purged" in page
        assert list(Child.objects.values_list("given_name", flat=True)) == ["Ada"]
        assert SourceRecord.objects.count() == 1, "nothing of Zed's row is kept"
        assert PurgedFeedRecord.objects.count() == 1
        assert "Zed" not in str(PurgedFeedRecord.objects.values_list().get())

    def test_a_row_left_out_of_an_old_file_and_sent_again_is_not_imported(self, client):
        """The row was refused (a death before the birthday the record held); once the record
        is purged the file is sent again, and the row would now pass as a new child."""
        feed_import(
            source=Source.LA_SYSTEM, file_name="first.csv", content=la_file(self.ZED),
            local_authority=northshire(), by=None,
        )  # fmt: skip
        early = {**self.ZED, "date_of_birth": "2001-12-01", "date_of_death": "2001-12-20"}
        partly = la_file(early, self.ADA)
        sign_in(client, dana())
        self.upload(client, partly, "partly.csv")
        assert FeedImport.objects.latest("pk").left_out == [2]
        self.purge()
        page = self.upload(client, partly, "partly.csv")
        assert "File sent again" in page
        assert "0 rows that were left out before have now been imported" in page
        assert "1 row was not imported, as its record was purged" in page
        assert list(Child.objects.values_list("given_name", flat=True)) == ["Ada"]
        resent = FeedImport.objects.latest("pk")
        assert (resent.rows_rejected, resent.left_out) == (0, []), "not left out to come again"
        assert "1 not, as its record was purged" in resent.outcome_text

    def test_a_replaced_secret_key_kept_as_a_fallback_still_keeps_him_out(self, settings):
        """A digest cannot be made again under a new key: with the old key kept in
        SECRET_KEY_FALLBACKS, as the deployment guide says, Zed's row is still not imported."""
        feed_import(
            source=Source.LA_SYSTEM, file_name="2017.csv", content=la_file(self.ZED),
            local_authority=northshire(), by=None,
        )  # fmt: skip
        self.purge()
        settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
        settings.SECRET_KEY = "a new key, " * 5
        outcome = feed_import(
            source=Source.LA_SYSTEM, file_name="2017-copy.csv",
            content=la_file(self.ZED, self.ADA), local_authority=northshire(), by=None,
        )  # fmt: skip
        assert dict(outcome.counts) == {"new_child": 1, PURGED: 1}
        assert list(Child.objects.values_list("given_name", flat=True)) == ["Ada"]


class TestARowWaitingUnderAPurgedChildsIdGoesWithHer:
    """Olivia's UPN: Southshire's census sent her, then Northshire's newer census sent under it
    Mia, her surname but another first name and birthday, who may be her sister. The row waits
    for Dana, pointed at Olivia, with Southshire's row on Olivia kept beside it; Olivia's record,
    archived long ago, is then purged. Nothing that described her may stay: her row from
    Southshire, her UPN free for an old file of hers to bring her back, her id on the row. Where
    a record of Mia's own was the row's best match, the purge took Olivia off its shortlist and
    left the row waiting under her UPN, with her Southshire row beside it."""

    UPN = upn("352214300101")
    MIA = {"given_name": "Mia", "date_of_birth": "2017-03-20"}

    def census_file(self, la, content: bytes, *, days: int):
        return feed_import(
            source=Source.SCHOOL_CENSUS, file_name=f"{la.code}-{days}.csv", content=content,
            local_authority=la, by=None, extracted_on=timezone.localdate() - timedelta(days=days),
        )  # fmt: skip

    @pytest.mark.parametrize(
        "mia_known", [False, True], ids=["she_was_its_best_match", "below_a_record_of_mias_own"]
    )
    def test_nothing_of_her_stays_and_her_old_file_does_not_bring_her_back(self, client, mia_known):
        make_service(identifier="100000")
        self.census_file(southshire(), census({}), days=100)
        olivia = Child.objects.get(given_name="Olivia")
        mia = None
        if mia_known:
            mia = make_child(
                given_name="Mia", family_name="Brennan", date_of_birth=date(2017, 3, 20)
            )
            make_address(mia, line_1="14 Ashgrove Road")  # Olivia's home: hers too
            rebuild_keys(mia)
        waits = self.census_file(northshire(), census(self.MIA), days=60)
        assert dict(waits.counts) == {"waiting_for_review": 1}
        review = MatchReview.objects.get()
        assert "Olivia" in str(review.source_record.la_last_rows), "Southshire's row kept"
        best = mia if mia is not None else olivia
        assert review.candidates[0]["child_id"] == best.pk
        assert olivia.pk in [c["child_id"] for c in review.candidates]
        seen = review_version(review, review.source_record)
        Child.objects.filter(pk=olivia.pk).update(
            status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1)
        )
        done = lifecycle_apply(today=TODAY)
        assert (done["purged"], done["rows_waiting_for_review_purged"]) == (1, 1)
        assert not SourceRecord.objects.exists(), "no row under her UPN, nor hers beside it"
        assert not MatchReview.objects.exists()
        assert PurgedFeedRecord.is_purged(Source.SCHOOL_CENSUS, self.UPN)
        # Southshire's old file, sent again, does not bring her back.
        again = self.census_file(southshire(), census({}) + b"\n", days=100)
        assert dict(again.counts) == {PURGED: 1}
        assert not Child.objects.filter(given_name="Olivia").exists()
        # Dana's decision on the page she had open is told the row has gone.
        sign_in(client, dana())
        choice = f"match:{mia.contactpoint_id}" if mia is not None else "new"
        response = client.post(
            reverse("directory:review", args=[review.pk]), {"choice": choice, "seen": seen},
            follow=True,
        )  # fmt: skip
        assert "That feed record is no longer waiting for review" in response.content.decode()
        assert not SourceRecord.objects.exists()
        assert list(Child.objects.values_list("given_name", flat=True)) == (["Mia"] if mia else [])

    ZED = TestAPurgedPersonDoesNotComeBackFromAnOldFile.ZED
    # Zed's sister, with a record of her own at the home the row gives: its best match.
    SISTER = {"given_name": "Mia", "date_of_birth": "2015-03-03", "gender": "female",
              "address_line_1": "3 West Road"}  # fmt: skip

    def la_import(self, name: str, content: bytes):
        return feed_import(
            source=Source.LA_SYSTEM, file_name=name, content=content,
            local_authority=northshire(), by=None,
        )  # fmt: skip

    def zeds_sister_waits(self, zed_file: bytes, sister: dict[str, str]) -> tuple[Child, Child]:
        """Zed from his LA's file, then Mia's row waiting for review, with Zed on its
        shortlist below Mia's own record; Zed's record then archived long ago."""
        self.la_import("2017.csv", zed_file)
        zed = Child.objects.get(given_name="Zed")
        mia = make_child(given_name="Mia", family_name="Quill", date_of_birth=date(2015, 3, 3))
        make_address(mia, "NE1 1AA", line_1="3 West Road")
        rebuild_keys(mia)
        outcome = self.la_import("2018.csv", la_file({**self.SISTER, **sister}))
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        review = MatchReview.objects.get()
        assert review.candidates[0]["child_id"] == mia.pk
        assert review.source_record.pointed_to == zed
        Child.objects.filter(pk=zed.pk).update(
            status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1)
        )
        return zed, mia

    def test_a_row_under_his_la_record_id_goes_with_him_too(self):
        """Zed's LA record "1001": his LA's next file sends Mia under it. Purged with Zed, his
        LA's old file sent again is not imported."""
        zed_file = la_file(self.ZED)
        self.zeds_sister_waits(zed_file, {"la_record_id": "1001"})
        assert lifecycle_apply(today=TODAY)["rows_waiting_for_review_purged"] == 1
        assert not SourceRecord.objects.exists()
        outcome = self.la_import("2017-copy.csv", zed_file + b"\n")
        assert dict(outcome.counts) == {PURGED: 1}
        assert list(Child.objects.values_list("given_name", flat=True)) == ["Mia"]

    def test_a_row_of_its_own_carrying_his_nhs_number_waits_on_without_him(self, client):
        """Mia's own LA record "2002" carries Zed's NHS number, mistyped or not: it points to
        him by that number alone. The purge takes Zed off its shortlist and leaves it waiting
        for Dana, who matches it to Mia; the id is Mia's, and her LA's next row under it is
        hers. Zed's number is no one's: Mia is not given it, Dana is told so, and her LA's next
        row that still carries it is refused (``TestAPurgedChildsNumberPassesToNoOneElse``)."""
        number = {"nhs_number": "9434765005"}
        sister = {"la_record_id": "2002", **number}
        _, mia = self.zeds_sister_waits(la_file({**self.ZED, **number}), sister)
        review = MatchReview.objects.get()
        assert lifecycle_apply(today=TODAY)["rows_waiting_for_review_purged"] == 0
        review.refresh_from_db()
        assert [c["child_id"] for c in review.candidates] == [mia.pk], "Zed is off it"
        assert review.status == MatchReview.Status.OPEN
        assert SourceRecord.objects.get(pk=review.source_record_id).pointed_to_id is None
        assert not PurgedFeedRecord.objects.filter(
            digest=PurgedFeedRecord.digest_of(Source.LA_SYSTEM, f"{northshire().code}/2002")
        ).exists()
        sign_in(client, dana())
        page = html.unescape(
            client.get(reverse("directory:review", args=[review.pk])).content.decode()
        )
        assert (
            "The row's NHS number was held by a record that has since been purged, and cannot "
            "be given to another: the record you choose, or a new one, will not have it"
        ) in page
        response = decide(client, review, f"match:{mia.contactpoint_id}")
        told = html.unescape(client.get(response.url).content.decode())
        assert (
            "The record was not given the row's NHS number: it was held by a record that has "
            "since been purged, and cannot be given to another. Ask whoever sent the row to "
            "check it"
        ) in told
        assert SourceRecord.objects.get(record_id__endswith="/2002").child == mia
        assert not ChildIdentifier.objects.exists(), "Zed's number is not Mia's"
        moved = la_file({**self.SISTER, **sister, "address_line_1": "5 West Road"})
        assert "was held by a record" in str(self.la_import("2019.csv", moved).validation.errors)
        corrected = la_file({**self.SISTER, **sister, "address_line_1": "5 West Road",
                             "nhs_number": ""})  # fmt: skip
        assert dict(self.la_import("2019.csv", corrected).counts) == {"updated": 1}

    @pytest.mark.parametrize("set_aside", [False, True], ids=["waiting", "set_aside_with_him"])
    def test_a_row_under_another_childs_la_record_id_stays_with_that_child(self, client, set_aside):
        """Mia's own LA record "2002": her LA's next file sends under it a row that looks like
        Zed (his name, birthday and home), Zed its best match. The id is Mia's: the purge takes
        Zed off its shortlist and leaves it waiting for Dana (set aside with him by her before,
        it opens again), and Mia's LA's later rows under "2002" are not refused as purged."""
        self.la_import("2017.csv", la_file(self.ZED))
        zed = Child.objects.get(given_name="Zed")
        mias = {**self.SISTER, "la_record_id": "2002"}
        self.la_import("2016.csv", la_file(mias))
        mia = Child.objects.get(given_name="Mia")
        outcome = self.la_import("2018.csv", la_file({**self.ZED, "la_record_id": "2002"}))
        assert dict(outcome.counts) == {"waiting_for_review": 1}
        review = MatchReview.objects.get()
        assert review.candidates[0]["child_id"] == zed.pk, "most likely Zed"
        assert (review.source_record.pointed_to, review.source_record.pointed_to_by_id) == (
            mia,
            True,
        )
        Child.objects.filter(pk=zed.pk).update(
            status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1)
        )
        sign_in(client, dana())
        if set_aside:
            decide(client, review, "set_aside")
            assert MatchReview.objects.get().status == MatchReview.Status.SET_ASIDE
        assert lifecycle_apply(today=TODAY)["rows_waiting_for_review_purged"] == 0
        review.refresh_from_db()
        assert [c["child_id"] for c in review.candidates] == [mia.pk], "Zed is off it"
        assert review.status == MatchReview.Status.OPEN
        assert not PurgedFeedRecord.is_purged(Source.LA_SYSTEM, f"{northshire().code}/2002")
        decide(client, review, f"match:{mia.contactpoint_id}")
        moved = la_file({**mias, "address_line_1": "5 West Road"})
        assert dict(self.la_import("2019.csv", moved).counts) == {"updated": 1}
        assert list(Child.objects.values_list("given_name", flat=True)) == ["Mia"]


class TestAPurgedChildsNumberPassesToNoOneElse:
    """Zed's NHS number came in his LA's file; his record is purged 6 years after archiving.
    A number is one child's for life: when Dana sends a file whose row carries it, under
    Mia's own LA record or as a new row, the row is refused with a message that says why
    (nothing of Zed), and no child takes the number."""

    NUMBER = "9434765005"
    ZED = {**TestAPurgedPersonDoesNotComeBackFromAnOldFile.ZED, "nhs_number": NUMBER}
    MIA = {"la_record_id": "2002", "given_name": "Mia", "date_of_birth": "2015-03-03",
           "gender": "female"}  # fmt: skip
    ADA = {"la_record_id": "3003", "given_name": "Ada", "date_of_birth": "2016-04-04",
           "gender": "female", "address_line_1": "9 South Road"}  # fmt: skip

    def import_and_purge(self) -> None:
        for name, row in [("2017.csv", self.ZED), ("2018.csv", self.MIA)]:
            feed_import(
                source=Source.LA_SYSTEM, file_name=name, content=la_file(row),
                local_authority=northshire(), by=None,
            )  # fmt: skip
        Child.objects.filter(given_name="Zed").update(
            status=Child.Status.ARCHIVED, archived_on=date(2019, 1, 1)
        )
        assert lifecycle_apply(today=TODAY)["purged"] == 1
        assert PurgedFeedRecord.is_purged("nhs_number", self.NUMBER)
        assert not PurgedFeedRecord.is_purged("nhs_number", "4010232137"), "his alone"

    @pytest.mark.parametrize(
        "row", [{**MIA, "nhs_number": NUMBER}, {**ADA, "nhs_number": f"{NUMBER[:3]} {NUMBER[3:6]} "
        f"{NUMBER[6:]}"}], ids=["under_mias_own_record", "a_new_row"],
    )  # fmt: skip
    def test_the_row_is_refused_and_no_one_holds_his_number(self, client, row):
        self.import_and_purge()
        sign_in(client, dana())
        page = TestAPurgedPersonDoesNotComeBackFromAnOldFile().upload(
            client, la_file(row), "2019.csv"
        )
        said = html.unescape(page)
        assert (
            "nhs_number: '9434765005' was held by a record that has since been purged, and "
            "cannot be given to another. An NHS number or UPN is one child's alone: check it"
        ) in said
        assert "Zed" not in said and "2002-01-01" not in said
        assert not ChildIdentifier.objects.filter(value=self.NUMBER).exists()
        assert list(Child.objects.values_list("given_name", flat=True)) == ["Mia"]
        assert SourceRecord.objects.get().payload["nhs_number"] == "", "Mia's row as it was"
        # Sent again without the number, the row comes in.
        again = la_file({**row, "nhs_number": ""})
        page = TestAPurgedPersonDoesNotComeBackFromAnOldFile().upload(client, again, "2019b.csv")
        assert "was held by a record" not in html.unescape(page)
        assert SourceRecord.objects.count() == (1 if row["given_name"] == "Mia" else 2)


def la_file(*rows: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS[Source.LA_SYSTEM])
    writer.writeheader()
    for cells in rows:
        values = dict.fromkeys(COLUMNS[Source.LA_SYSTEM], "")
        values.update(
            family_name="Quill", gender="male", address_line_1="1 North Road", town="Northtown",
            postcode="NE1 1AA",
        )  # fmt: skip
        writer.writerow(values | cells)
    return out.getvalue().encode()


class TestMigration0030MarksRowsAlreadyWaitingAsTheImportWould:
    """Rows waiting for review before ``pointed_to_by_id`` was kept are marked by migration
    0030 as the import marks them now: Mia's row under Zed's own LA record "1001" (held for
    Dana as his record's row) is under his id though it carries his NHS number; Mia's row
    under an LA record of her own, "2002", carrying his NHS number, points to him by that
    number alone."""

    NUMBER = {"nhs_number": "9434765005"}
    waits = TestARowWaitingUnderAPurgedChildsIdGoesWithHer

    @pytest.mark.parametrize(
        ("la_record_id", "by_id"), [("1001", True), ("2002", False)], ids=["his_id", "her_own"]
    )
    def test_as_the_import_marked_them(self, la_record_id, by_id):
        from django.apps import apps

        waits = self.waits()
        zed_file = la_file({**waits.ZED, **self.NUMBER})
        waits.zeds_sister_waits(zed_file, {"la_record_id": la_record_id, **self.NUMBER})
        row = SourceRecord.objects.get(pointed_to__isnull=False)
        assert row.pointed_to_by_id is by_id, "as the import marks it"
        SourceRecord.objects.filter(pk=row.pk).update(pointed_to_by_id=False)  # before 0030
        migration = importlib.import_module(
            "directory.migrations.0030_source_record_pointed_to_by_id"
        )
        migration.by_id(apps, None)
        row.refresh_from_db()
        assert row.pointed_to_by_id is by_id
