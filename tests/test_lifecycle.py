"""Records are archived at 18 (25 with consent) and a year after death, and purged 6 years on."""

from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command

from audit.models import Action, AuditEvent
from directory.models import CareRelationship, Child, ParentCarer, Source, SourceRecord
from directory.services import children_merge, lifecycle_apply
from tests.personas import event_at, feed_review, make_address, make_child

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
    feed_review(old)
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
    # The row still waiting stays (it may yet be a new child); those linked to the purged go.
    assert sorted(SourceRecord.objects.values_list("child", flat=True), key=str) == [
        young.pk,
        None,
    ], "no feed row about the purged child is kept"
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
