"""Daily seals make tampering with the access and change logs visible, and retention drops only
whole months."""

import hashlib
from datetime import UTC, date, datetime, time, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.integrity import (
    GENESIS,
    partitions,
    retention_apply,
    seal_closed_days,
    seal_hash,
    verify,
)
from audit.models import Action, AuditEvent, AuditSeal
from tests.personas import event_at, make_child

pytestmark = pytest.mark.django_db


def event_on(day: date, hour: int = 10, **fields) -> AuditEvent:
    values = {"action": Action.PAGE_VIEW, "username": "priya", "path": "/"}
    values.update(fields)
    return event_at(datetime(day.year, day.month, day.day, hour, tzinfo=UTC), **values)


def result_kept_from(now: datetime) -> str:
    """The first day of the month one year before ``now``'s month."""
    today = now.astimezone(UTC).date()
    return date(today.year - 1, today.month, 1).isoformat()


def as_an_attacker_with_superuser(sql: str, params=()) -> None:
    """Someone who can switch the append-only triggers off (a database superuser)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def two_hours_into_today() -> datetime:
    """When yesterday is closed and today is not, whatever the time the suite runs (an
    hour or two added to the time now would close today too late in the evening)."""
    return datetime.combine(timezone.now().astimezone(UTC).date(), time(2), tzinfo=UTC)


@pytest.fixture
def three_sealed_days():
    today = timezone.now().astimezone(UTC).date()
    days = [today - timedelta(days=n) for n in (3, 2, 1)]
    made = [event_on(day, hour) for day in days for hour in (9, 14)]
    seals = seal_closed_days(now=two_hours_into_today())
    assert [seal.day for seal in seals] == days
    return made


def two_hours_into_tomorrow() -> datetime:
    """When today is closed too, so that changes made now (their time cannot be chosen) are
    sealed."""
    return two_hours_into_today() + timedelta(days=1)


@pytest.fixture
def a_sealed_change():
    """Making a child writes its change-log entry; then its day is sealed."""
    with connection.cursor() as cursor:  # as in a request's own transaction: none pending
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    child = make_child()
    entry = LogEntry.objects.get_for_object(child).get()
    event_on(timezone.now().astimezone(UTC).date() - timedelta(days=1))
    seal_closed_days(now=two_hours_into_tomorrow())
    return entry


def a_change_of(entry: LogEntry, at: datetime) -> LogEntry:
    """Another change-log entry about ``entry``'s object, written as if at ``at`` (a change
    made then, or one forged by anyone who can insert into the change log)."""
    return LogEntry.objects.create(
        content_type=entry.content_type, object_pk=entry.object_pk, object_repr="old",
        action=LogEntry.Action.UPDATE, changes={"given_name": ["A", "B"]}, timestamp=at,
    )  # fmt: skip


def seal_before_the_change_log_was(day: date, previous: str = GENESIS) -> AuditSeal:
    """A seal as made before migration 0002, of a day without events."""
    empty = hashlib.sha256(b"").hexdigest()
    return AuditSeal.objects.create(
        day=day,
        event_count=0,
        events_hash=empty,
        previous_seal_hash=previous,
        seal_hash=seal_hash(day, 0, empty, previous),
    )


class TestSealing:
    def test_each_closed_day_is_sealed_once_and_chained(self, three_sealed_days):
        seals = list(AuditSeal.objects.order_by("day"))
        assert [seal.event_count for seal in seals] == [2, 2, 2]
        assert seals[1].previous_seal_hash == seals[0].seal_hash
        assert seal_closed_days(now=two_hours_into_today()) == []

    def test_today_is_not_sealed_while_it_is_still_going(self):
        event_on(timezone.now().astimezone(UTC).date())
        assert seal_closed_days(now=timezone.now()) == []

    def test_an_intact_log_verifies(self, three_sealed_days, capsys):
        assert verify().ok
        call_command("audit_verify")
        assert "The audit log is intact" in capsys.readouterr().out

    def test_a_days_changes_are_sealed_with_its_events(self, a_sealed_change, capsys):
        day = a_sealed_change.timestamp.astimezone(UTC).date()
        seal = AuditSeal.objects.get(day=day)
        made = LogEntry.objects.filter(timestamp__date=day).count()
        assert seal.change_count == made > 0
        result = verify()
        assert result.ok and result.changes_checked == made and result.notes == []
        call_command("audit_verify")
        assert f"{made} change-log entries" in capsys.readouterr().out

    def test_sealed_change_digests_are_append_only(self, a_sealed_change):
        refused = pytest.raises(DatabaseError, match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_change_digest")

    def test_sealing_starts_with_a_change_made_before_any_event(self):
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        make_child()
        (seal,) = seal_closed_days(now=two_hours_into_tomorrow())
        assert seal.change_count == LogEntry.objects.count() and seal.event_count == 0


def audit_verify_fails_with(capsys, *problems):
    with pytest.raises(SystemExit) as exit_code:
        call_command("audit_verify")
    assert exit_code.value.code == 1
    err = capsys.readouterr().err
    for problem in problems:
        assert problem in err
    return err


class TestTamperingIsFound:
    expect = staticmethod(audit_verify_fails_with)

    def test_an_altered_event(self, three_sealed_days, capsys):
        victim = three_sealed_days[2]
        as_an_attacker_with_superuser(
            "UPDATE audit_event SET username = 'nobody' WHERE id = %s", [victim.id]
        )
        self.expect(capsys, f"event {victim.id} of {victim.occurred_at.date()} has been altered")

    def test_a_removed_event(self, three_sealed_days, capsys):
        victim = three_sealed_days[0]
        as_an_attacker_with_superuser("DELETE FROM audit_event WHERE id = %s", [victim.id])
        self.expect(capsys, f"event {victim.id} of {victim.occurred_at.date()} has been removed")

    def test_an_inserted_event(self, three_sealed_days, capsys):
        day = three_sealed_days[3].occurred_at.date()
        forged = event_on(day, 23)
        self.expect(capsys, f"event {forged.id} was inserted into sealed day {day}")

    def test_an_altered_seal(self, three_sealed_days, capsys):
        seal = AuditSeal.objects.order_by("day")[1]
        as_an_attacker_with_superuser(
            "UPDATE audit_seal SET event_count = 1 WHERE day = %s", [seal.day]
        )
        self.expect(capsys, f"the seal of {seal.day} has been altered")

    def test_a_removed_seal(self, three_sealed_days, capsys):
        seal = AuditSeal.objects.order_by("day")[1]
        as_an_attacker_with_superuser("DELETE FROM audit_seal WHERE day = %s", [seal.day])
        self.expect(capsys, "seals are missing for", "does not chain to the seal before it")

    def test_a_forged_digest_and_event_together(self, three_sealed_days, capsys):
        victim = three_sealed_days[1]
        as_an_attacker_with_superuser(
            "UPDATE audit_event SET status = 200 WHERE id = %s", [victim.id]
        )
        as_an_attacker_with_superuser(
            "UPDATE audit_event_digest d SET digest = audit_event_digest_of(e) FROM audit_event e "
            "WHERE d.event_id = e.id AND e.id = %s",
            [victim.id],
        )
        self.expect(capsys, f"the digests sealed for {victim.occurred_at.date()} have been altered")


class TestChangeLogTamperingIsFound:
    """A database superuser can switch off the change log's append-only trigger; the seals
    still show what she did."""

    expect = staticmethod(audit_verify_fails_with)

    def test_an_altered_change(self, a_sealed_change, capsys):
        as_an_attacker_with_superuser(
            "UPDATE auditlog_logentry SET changes = '{}' WHERE id = %s", [a_sealed_change.id]
        )
        day = a_sealed_change.timestamp.astimezone(UTC).date()
        self.expect(capsys, f"change-log entry {a_sealed_change.id} of {day} has been altered")

    def test_a_removed_change(self, a_sealed_change, capsys):
        as_an_attacker_with_superuser(
            "DELETE FROM auditlog_logentry WHERE id = %s", [a_sealed_change.id]
        )
        day = a_sealed_change.timestamp.astimezone(UTC).date()
        self.expect(capsys, f"change-log entry {a_sealed_change.id} of {day} has been removed")

    def test_an_inserted_change(self, a_sealed_change, capsys):
        yesterday = timezone.now() - timedelta(days=1)
        forged = a_change_of(a_sealed_change, yesterday)
        day = yesterday.astimezone(UTC).date()
        self.expect(capsys, f"change-log entry {forged.id} was inserted into sealed day {day}")

    def test_a_forged_digest_and_change_together(self, a_sealed_change, capsys):
        as_an_attacker_with_superuser(
            "UPDATE auditlog_logentry SET object_repr = 'someone else' WHERE id = %s",
            [a_sealed_change.id],
        )
        as_an_attacker_with_superuser(
            "UPDATE audit_change_digest d SET digest = audit_change_digest_of(l) "
            "FROM auditlog_logentry l WHERE d.entry_id = l.id AND l.id = %s",
            [a_sealed_change.id],
        )
        day = a_sealed_change.timestamp.astimezone(UTC).date()
        self.expect(capsys, f"the change-log digests sealed for {day} have been altered")

    def test_a_change_and_its_digest_removed_together(self, a_sealed_change, capsys):
        as_an_attacker_with_superuser(
            "DELETE FROM auditlog_logentry WHERE id = %s", [a_sealed_change.id]
        )
        as_an_attacker_with_superuser(
            "DELETE FROM audit_change_digest WHERE entry_id = %s", [a_sealed_change.id]
        )
        day = a_sealed_change.timestamp.astimezone(UTC).date()
        sealed = AuditSeal.objects.get(day=day).change_count
        self.expect(
            capsys,
            f"change-log entries sealed for {day} have been removed with their digests "
            f"(1 of {sealed})",
        )

    def test_a_seals_change_count_altered(self, a_sealed_change, capsys):
        day = a_sealed_change.timestamp.astimezone(UTC).date()
        as_an_attacker_with_superuser(
            "UPDATE audit_seal SET change_count = 0 WHERE day = %s", [day]
        )
        self.expect(capsys, f"the seal of {day} has been altered")


class TestSealsMadeBeforeTheChangeLogWasSealed:
    def test_they_still_verify_and_say_their_change_log_was_not_sealed(self, capsys):
        """Their events are checked as before; their change log cannot be, and is not
        called intact without saying so."""
        today = timezone.now().astimezone(UTC).date()
        first = seal_before_the_change_log_was(today - timedelta(days=3))
        second = seal_before_the_change_log_was(today - timedelta(days=2), first.seal_hash)
        (new,) = seal_closed_days(now=two_hours_into_today())
        assert new.changes_hash is not None
        result = verify()
        assert result.ok
        assert result.notes == [
            f"the change log of {first.day} to {second.day} was not sealed (those days were "
            "sealed before the change log was), so it was not verified"
        ]
        call_command("audit_verify")
        assert "NOTE: the change log of" in capsys.readouterr().out

    def test_a_seal_without_the_change_log_after_one_with_it_is_a_problem(self):
        """Sealing never goes back to leaving the change log out: a later seal without it is
        one rewritten to hide a change."""
        today = timezone.now().astimezone(UTC).date()
        event_on(today - timedelta(days=3))
        (sealed,) = seal_closed_days(
            now=datetime.combine(today - timedelta(days=2), time(2), tzinfo=UTC)
        )
        seal_before_the_change_log_was(today - timedelta(days=2), sealed.seal_hash)
        result = verify()
        assert (
            f"the seal of {today - timedelta(days=2)} does not cover the change log, though the "
            f"seal of {sealed.day} does"
        ) in result.problems


class TestRetention:
    def test_months_older_than_the_period_are_dropped_after_verification(self):
        now = timezone.now()
        old_day = (now - timedelta(days=400)).astimezone(UTC).date()
        old = event_on(old_day)
        recent = event_on((now - timedelta(days=2)).astimezone(UTC).date())
        with connection.cursor() as cursor:  # as in the command's own transaction: none pending
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        child = make_child()  # its creation is in the change log, with an old entry beside it
        old_change = LogEntry.objects.get_for_object(child).get()
        LogEntry.objects.create(
            content_type=old_change.content_type, object_pk=old_change.object_pk,
            object_repr="old", action=LogEntry.Action.UPDATE, changes={"given_name": ["A", "B"]},
            timestamp=now - timedelta(days=400),
        )  # fmt: skip
        seal_closed_days(now=now)
        result = retention_apply(now=now, years=1)
        assert list(LogEntry.objects.get_for_object(child)) == [old_change]
        assert old_day.replace(day=1) in result.dropped
        assert old_day.replace(day=1) not in partitions()
        assert not AuditEvent.objects.filter(id=old.id).exists()
        assert AuditEvent.objects.filter(id=recent.id).exists()
        (record,) = AuditEvent.objects.filter(action=Action.RETENTION)
        assert record.detail == {
            "dropped_months": [old_day.isoformat()[:7]],
            "kept_from": result_kept_from(now),
            "retention_years": 1,
            "change_log_entries_removed": 1,
        }
        assert verify().ok, "the seals of dropped days still chain; their events are not expected"
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM audit_change_digest")
            assert cursor.fetchone() == (0,), "the dropped entry's digest went with it"

    def test_nothing_is_dropped_from_a_month_whose_change_log_was_tampered(self):
        now = timezone.now()
        old_day = (now - timedelta(days=400)).astimezone(UTC).date()
        event_on(old_day)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        child = make_child()
        change = LogEntry.objects.get_for_object(child).get()
        victim = a_change_of(change, now - timedelta(days=400))
        seal_closed_days(now=now)
        as_an_attacker_with_superuser(
            "UPDATE auditlog_logentry SET changes = '{}' WHERE id = %s", [victim.id]
        )
        result = retention_apply(now=now, years=1)
        assert result.dropped == [] and not result.verification.ok
        assert LogEntry.objects.filter(id=victim.id).exists()

    def test_nothing_is_dropped_from_a_tampered_month(self):
        now = timezone.now()
        old_day = (now - timedelta(days=400)).astimezone(UTC).date()
        victim = event_on(old_day)
        seal_closed_days(now=now)
        as_an_attacker_with_superuser(
            "UPDATE audit_event SET path = '/x' WHERE id = %s", [victim.id]
        )
        result = retention_apply(now=now, years=1)
        assert result.dropped == [] and not result.verification.ok
        assert AuditEvent.objects.filter(id=victim.id).exists()

    def test_nothing_is_dropped_before_it_is_sealed(self):
        now = timezone.now()
        event_on((now - timedelta(days=400)).astimezone(UTC).date())
        result = retention_apply(now=now, years=1)
        assert result.dropped == []
        assert "not all sealed" in result.verification.problems[0]


class TestVerificationCannotBeTalkedOutOfChecking:
    def expect_problem(self, text):
        result = verify()
        assert not result.ok and any(text in problem for problem in result.problems)

    def test_it_still_checks_days_a_forged_retention_event_claims_were_dropped(
        self, three_sealed_days
    ):
        """Anyone who can write an event (the application's role) could otherwise say that
        retention kept nothing before the year 2999, and every sealed day went unchecked."""
        victim = three_sealed_days[2]
        event_at(timezone.now(), action=Action.RETENTION, detail={"kept_from": "2999-01-01"})
        as_an_attacker_with_superuser(
            "UPDATE audit_event SET username = 'nobody' WHERE id = %s", [victim.id]
        )
        self.expect_problem(f"event {victim.id} of {victim.occurred_at.date()} has been altered")

    def test_a_recent_month_hidden_behind_a_forged_retention_event_is_found(self):
        """Retention keeps a year at least (its years are at least 1): a sealed month of the
        last year that has no partition was removed, whatever a retention event says."""
        today = timezone.now().astimezone(UTC).date()
        last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        victim = event_on(last_month + timedelta(days=2))
        seal_closed_days(now=two_hours_into_today())
        assert verify().ok
        event_at(timezone.now(), action=Action.RETENTION, detail={"kept_from": "2999-01-01"})
        suffix = last_month.strftime("y%Ym%m")
        for base in ("audit_event", "audit_event_digest"):
            as_an_attacker_with_superuser(f"ALTER TABLE {base} DETACH PARTITION {base}_{suffix}")
        self.expect_problem(
            f"every event sealed for {victim.occurred_at.date()} has been removed (1)"
        )

    @pytest.mark.parametrize("sealed_before", [True, False])
    def test_days_left_unsealed_are_not_called_intact(self, sealed_before):
        """Sealing that stopped (or never started: its cron job missing) leaves days that any
        change goes unnoticed in; a log that is not sealed is not verified either."""
        today = timezone.now().astimezone(UTC).date()
        if sealed_before:
            event_on(today - timedelta(days=9))
            seal_closed_days(now=datetime.combine(today - timedelta(days=7), time(2), tzinfo=UTC))
        event_on(today - timedelta(days=5))
        self.expect_problem(f"events from {today - timedelta(days=5)} on are not sealed")

    def test_changes_left_unsealed_are_not_called_intact(self):
        """Even on days without a single event."""
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        change = LogEntry.objects.get_for_object(make_child()).get()
        five_days_ago = timezone.now() - timedelta(days=5)
        a_change_of(change, five_days_ago)
        self.expect_problem(
            f"change-log entries from {five_days_ago.astimezone(UTC).date()} on are not sealed"
        )

    def test_it_finds_a_change_inserted_before_the_first_sealed_day(self, a_sealed_change):
        first = AuditSeal.objects.order_by("day").first()
        forged = a_change_of(a_sealed_change, timezone.now() - timedelta(days=30))
        self.expect_problem(f"change-log entry {forged.id} of ")
        assert first.changes_hash is not None

    def test_yesterday_unsealed_is_not_yet_a_problem(self):
        """Its seal comes after midnight and an hour, from the daily job."""
        event_on(timezone.now().astimezone(UTC).date() - timedelta(days=1), 20)
        assert verify().ok

    def test_it_finds_an_event_inserted_before_the_first_sealed_day(self, three_sealed_days):
        """No later seal will ever cover a day before the first seal's."""
        first = AuditSeal.objects.order_by("day").first()
        forged = event_on(first.day - timedelta(days=5))
        self.expect_problem(f"event {forged.id} of {first.day - timedelta(days=5)}")

    @pytest.mark.parametrize("detail", [None, {}, {"kept_from": "last Tuesday"}, ["2999-01-01"]])
    def test_a_malformed_retention_event_does_not_stop_verification(
        self, three_sealed_days, detail
    ):
        event_at(timezone.now(), action=Action.RETENTION, detail=detail)
        assert verify().ok
