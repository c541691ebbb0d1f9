"""Keeping the access and change logs whole: monthly partitions, daily seals, verification and
retention.

Sealing a day stores every event's SHA-256 in ``audit_event_digest``, every change-log entry's
(django-auditlog's ``auditlog_logentry``) in ``audit_change_digest``, and one seal whose hash
covers the day's date, its counts and both sets of digests in id order, chained to the previous
seal. Verification recomputes all of it and names each event or change-log entry that was
altered, inserted into or removed from a sealed day, and each seal that was altered, removed or
chained wrongly. Seals made before the change log was sealed still verify for their events, and
verification notes that their days' change log was not sealed.
All of this runs in commands, never in a request, so it never holds up ordinary traffic.
"""

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from audit.models import Action, AuditEvent, AuditSeal

GENESIS = "0" * 64


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def seal_hash(
    day: date,
    count: int,
    events_hash: str,
    previous: str,
    change_count: int | None = None,
    changes_hash: str | None = None,
) -> str:
    sealed = f"{day.isoformat()}|{count}|{events_hash}|{previous}"
    if changes_hash is not None:
        # Seals made before the change log was sealed keep the hash they were made with.
        sealed += f"|{change_count}|{changes_hash}"
    return hashlib.sha256(sealed.encode()).hexdigest()


@dataclass(frozen=True)
class _Digests:
    """One sealed log: its table and time column, the SQL function that digests a row, the
    digests' table with its row id and time columns, and what a row is called."""

    log: str
    log_at: str
    digest_of: str
    table: str
    row_id: str
    at: str
    noun: str


EVENT_DIGESTS = _Digests(
    "audit_event", "occurred_at", "audit_event_digest_of",
    "audit_event_digest", "event_id", "occurred_at", "event",
)  # fmt: skip
CHANGE_DIGESTS = _Digests(
    "auditlog_logentry", "timestamp", "audit_change_digest_of",
    "audit_change_digest", "entry_id", "logged_at", "change-log entry",
)  # fmt: skip


# Partitions -------------------------------------------------------------------------------


def partitions() -> list[date]:
    """The months that have partitions, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'audit_event'::regclass"
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(date(int(name[-7:-3]), int(name[-2:]), 1) for name in names)


def partitions_ensure(*, today: date, months_ahead: int) -> list[date]:
    """Creates this month's and the next ``months_ahead`` months' partitions; returns new ones."""
    existing = set(partitions())
    wanted = [_add_months(_month_start(today), n) for n in range(months_ahead + 1)]
    created = [month for month in wanted if month not in existing]
    with connection.cursor() as cursor:
        for month in created:
            cursor.execute("SELECT audit_create_month(%s)", [month])
    return created


# Sealing ----------------------------------------------------------------------------------


def _day_digest(cursor: object, day: date, digests: _Digests) -> tuple[int, str]:
    start, end = _day_bounds(day)
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT count(*), encode(sha256(coalesce(string_agg(digest, '' "  # noqa: S608 - constants
        f"ORDER BY {digests.row_id}), '')), 'hex') FROM {digests.table} "
        f"WHERE {digests.at} >= %s AND {digests.at} < %s",
        [start, end],
    )
    count, events_hash = cursor.fetchone()  # type: ignore[attr-defined]
    return int(count), str(events_hash)


def _digest_day(cursor: object, day: date, digests: _Digests) -> tuple[int, str]:
    start, end = _day_bounds(day)
    cursor.execute(  # type: ignore[attr-defined]
        f"INSERT INTO {digests.table} ({digests.row_id}, {digests.at}, digest) "  # noqa: S608
        f"SELECT r.id, r.{digests.log_at}, {digests.digest_of}(r) FROM {digests.log} r "
        f"WHERE r.{digests.log_at} >= %s AND r.{digests.log_at} < %s",
        [start, end],
    )
    return _day_digest(cursor, day, digests)


@transaction.atomic
def seal_day(day: date, previous: str) -> AuditSeal:
    with connection.cursor() as cursor:
        count, events_hash = _digest_day(cursor, day, EVENT_DIGESTS)
        change_count, changes_hash = _digest_day(cursor, day, CHANGE_DIGESTS)
    return AuditSeal.objects.create(
        day=day,
        event_count=count,
        events_hash=events_hash,
        change_count=change_count,
        changes_hash=changes_hash,
        previous_seal_hash=previous,
        seal_hash=seal_hash(day, count, events_hash, previous, change_count, changes_hash),
    )


def events_open_from(now: datetime) -> datetime:
    """The earliest moment an event may still be written at, ``now``: the start of the first
    day (UTC) that ``seal_closed_days`` would not seal. An event dated before it may fall in
    a day sealed already (or being sealed), where verification would find it inserted."""
    return _day_bounds((now - timedelta(hours=1)).astimezone(UTC).date())[0]


def seal_closed_days(*, now: datetime) -> list[AuditSeal]:
    """Seals every day (UTC) that ended at least an hour ago and is not sealed yet.

    The hour lets requests that began before midnight finish writing their events and changes.
    """
    last = AuditSeal.objects.order_by("-day").first()
    if last is not None:
        day, previous = last.day + timedelta(days=1), last.seal_hash
    else:
        firsts = [
            first
            for first in (
                AuditEvent.objects.order_by("occurred_at").values_list("occurred_at", flat=True),
                LogEntry.objects.order_by("timestamp").values_list("timestamp", flat=True),
            )
            if first
        ]
        if not firsts:
            return []
        day, previous = min(first[0] for first in firsts).astimezone(UTC).date(), GENESIS
    last_closed = events_open_from(now).date() - timedelta(days=1)
    seals = []
    while day <= last_closed:
        seal = seal_day(day, previous)
        seals.append(seal)
        day, previous = day + timedelta(days=1), seal.seal_hash
    return seals


# Verification -----------------------------------------------------------------------------


@dataclass
class Verification:
    days_checked: int = 0
    events_checked: int = 0
    changes_checked: int = 0
    problems: list[str] = field(default_factory=list)
    # What was not checked but is not wrong either: days sealed before the change log was.
    notes: list[str] = field(default_factory=list)
    change_log_unsealed: list[date] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def retained_from() -> date | None:
    """The first day whose events retention has kept, if retention has ever run."""
    details = (
        AuditEvent.objects.filter(action=Action.RETENTION)
        .order_by("-occurred_at")
        .values_list("detail", flat=True)
    )
    for detail in details.iterator():
        # One not written by retention (anyone who can write an event can write one) is
        # passed over, and verification goes on.
        with contextlib.suppress(KeyError, TypeError, ValueError):
            if isinstance(detail, dict):
                return date.fromisoformat(detail["kept_from"])
    return None


def verify(*, first_day: date | None = None, last_day: date | None = None) -> Verification:
    result = Verification()
    kept_from = retained_from()
    if kept_from is not None:
        # Retention keeps a year at least: a month of the last year without its partition was
        # removed, whatever a (forgeable) retention event claims.
        latest = _add_months(_month_start(datetime.now(UTC).date()), -12)
        kept_from = min(kept_from, latest)
    # A retention event is only an event, which anyone able to write one could forge: a day is
    # left unchecked as dropped only where its month's partition has really gone.
    months = set(partitions())
    previous, previous_day, changes_sealed_from = GENESIS, None, None
    seals = list(AuditSeal.objects.order_by("day"))
    if seals:
        _verify_none_before(seals[0], result)
    _verify_sealed_lately(seals[-1].day if seals else None, last_day, result)
    for seal in seals:
        if previous_day is not None and seal.day != previous_day + timedelta(days=1):
            result.problems.append(
                f"seals are missing for {previous_day + timedelta(days=1)} to "
                f"{seal.day - timedelta(days=1)}"
            )
        if seal.previous_seal_hash != previous:
            result.problems.append(f"the seal of {seal.day} does not chain to the seal before it")
        if seal.seal_hash != seal_hash(
            seal.day,
            seal.event_count,
            seal.events_hash,
            seal.previous_seal_hash,
            seal.change_count,
            seal.changes_hash,
        ):
            result.problems.append(f"the seal of {seal.day} has been altered")
        if seal.changes_hash is not None and changes_sealed_from is None:
            changes_sealed_from = seal.day
        elif seal.changes_hash is None and changes_sealed_from is not None:
            # Sealing never goes back to leaving the change log out.
            result.problems.append(
                f"the seal of {seal.day} does not cover the change log, though the seal of "
                f"{changes_sealed_from} does"
            )
        previous, previous_day = seal.seal_hash, seal.day
        in_range = (first_day is None or seal.day >= first_day) and (
            last_day is None or seal.day <= last_day
        )
        dropped = kept_from is not None and seal.day < kept_from
        if in_range and not (dropped and _month_start(seal.day) not in months):
            _verify_day(seal, result)
    if result.change_log_unsealed:
        result.notes.append(
            f"the change log of {result.change_log_unsealed[0]} to "
            f"{result.change_log_unsealed[-1]} was not sealed (those days were sealed before "
            "the change log was), so it was not verified"
        )
    return result


def _verify_sealed_lately(
    last_sealed: date | None, last_day: date | None, result: Verification
) -> None:
    """Days are sealed daily, so a day before yesterday with events and no seal means sealing
    stopped (or never started), and nothing since can be verified."""
    if last_day is not None:
        return  # a range asked for (retention), which checks its own days are sealed
    overdue, _ = _day_bounds(datetime.now(UTC).date() - timedelta(days=1))
    after = _day_bounds(last_sealed)[1] if last_sealed is not None else None
    for unsealed, at, what in (
        (AuditEvent.objects.all(), "occurred_at", "events"),
        (LogEntry.objects.all(), "timestamp", "change-log entries"),
    ):
        unsealed = unsealed.filter(**{f"{at}__lt": overdue})
        if after is not None:
            unsealed = unsealed.filter(**{f"{at}__gte": after})
        first = unsealed.order_by(at).values_list(at, flat=True).first()
        if first is not None:
            result.problems.append(
                f"{what} from {first.astimezone(UTC).date()} on are not sealed: "
                "run audit_seal daily"
            )


def _verify_none_before(first_seal: AuditSeal, result: Verification) -> None:
    """Sealing starts on the day of the first event or change, so one dated before the first
    sealed day was inserted afterwards, and no seal will ever cover it."""
    first_sealed = first_seal.day
    start, _ = _day_bounds(first_sealed)
    logs: list[tuple[QuerySet[Any], str, str]] = [
        (AuditEvent.objects.all(), "occurred_at", "event")
    ]
    if first_seal.changes_hash is not None:
        # Otherwise sealing began before the change log was sealed: its older entries are real.
        logs.append((LogEntry.objects.all(), "timestamp", "change-log entry"))
    for rows, at, noun in logs:
        for row_id, row_at in (
            rows.filter(**{f"{at}__lt": start}).order_by("id").values_list("id", at)[:100]
        ):
            result.problems.append(
                f"{noun} {row_id} of {row_at.astimezone(UTC).date()} was inserted before "
                f"the first sealed day, {first_sealed}"
            )


def _verify_rows(day: date, digests: _Digests, result: Verification) -> tuple[int, str]:
    """Names each row of the day whose digest is missing, extra or different; returns the
    day's digest count and hash to compare with its seal."""
    start, end = _day_bounds(day)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(r.id, d.{digests.row_id}), r.id IS NULL, "  # noqa: S608 - constants
            f"d.{digests.row_id} IS NULL FROM (SELECT * FROM {digests.log} "
            f"WHERE {digests.log_at} >= %s AND {digests.log_at} < %s) r "
            f"FULL JOIN (SELECT * FROM {digests.table} WHERE {digests.at} >= %s "
            f"AND {digests.at} < %s) d ON d.{digests.row_id} = r.id "
            f"WHERE r.id IS NULL OR d.{digests.row_id} IS NULL "
            f"OR {digests.digest_of}(r) <> d.digest ORDER BY 1",
            [start, end, start, end],
        )
        for row_id, removed, inserted in cursor.fetchall():
            if removed:
                result.problems.append(f"{digests.noun} {row_id} of {day} has been removed")
            elif inserted:
                result.problems.append(
                    f"{digests.noun} {row_id} was inserted into sealed day {day}"
                )
            else:
                result.problems.append(f"{digests.noun} {row_id} of {day} has been altered")
        return _day_digest(cursor, day, digests)


def _verify_day(seal: AuditSeal, result: Verification) -> None:
    count, events_hash = _verify_rows(seal.day, EVENT_DIGESTS, result)
    if count == 0 and seal.event_count > 0:
        # Events and digests gone together (a partition dropped or detached).
        result.problems.append(
            f"every event sealed for {seal.day} has been removed ({seal.event_count})"
        )
    elif (count, events_hash) != (seal.event_count, seal.events_hash):
        result.problems.append(f"the digests sealed for {seal.day} have been altered")
    result.days_checked += 1
    result.events_checked += count
    if seal.changes_hash is None:
        result.change_log_unsealed.append(seal.day)
    else:
        _verify_day_changes(seal, result)


def _verify_day_changes(seal: AuditSeal, result: Verification) -> None:
    count, changes_hash = _verify_rows(seal.day, CHANGE_DIGESTS, result)
    if seal.change_count is not None and count < seal.change_count:
        # Entries and their digests removed together, which leaves nothing to name them by.
        result.problems.append(
            f"change-log entries sealed for {seal.day} have been removed with their digests "
            f"({seal.change_count - count} of {seal.change_count})"
        )
    elif (count, changes_hash) != (seal.change_count, seal.changes_hash):
        result.problems.append(f"the change-log digests sealed for {seal.day} have been altered")
    result.changes_checked += count


# Retention --------------------------------------------------------------------------------


@dataclass
class RetentionResult:
    dropped: list[date]
    verification: Verification


def retention_apply(*, now: datetime, years: int | None = None) -> RetentionResult:
    """Drops whole months older than the retention period, after verifying their seals, and
    the change log's entries older than the months kept.

    Nothing is dropped if any problem is found, or if a month to drop has unsealed days.
    The drop is itself recorded as an event.
    """
    years = settings.AUDIT_RETENTION_YEARS if years is None else years
    today = now.astimezone(UTC).date()
    kept_from = _add_months(_month_start(today), -12 * years)
    expired = [month for month in partitions() if _add_months(month, 1) <= kept_from]
    if not expired:
        return RetentionResult([], Verification())
    last_expired_day = _add_months(expired[-1], 1) - timedelta(days=1)
    verification = verify(first_day=expired[0], last_day=last_expired_day)
    newest_seal = AuditSeal.objects.order_by("-day").first()
    if newest_seal is None or newest_seal.day < last_expired_day:
        verification.problems.append(f"events up to {last_expired_day} are not all sealed yet")
    if not verification.ok:
        return RetentionResult([], verification)
    with transaction.atomic(), connection.cursor() as cursor:
        for month in expired:
            suffix = month.strftime("y%Ym%m")
            for base in ("audit_event", "audit_event_digest"):
                cursor.execute(f"ALTER TABLE {base} DETACH PARTITION {base}_{suffix}")
                cursor.execute(f"DROP TABLE {base}_{suffix}")
        # django-auditlog's change log and its digests are one table each, append-only by
        # their triggers: their entries of the same months go too, with the triggers off for
        # this transaction only (which, like dropping partitions, only the tables' owner may do).
        cursor.execute(
            "ALTER TABLE auditlog_logentry DISABLE TRIGGER auditlog_logentry_append_only"
        )
        cursor.execute("DELETE FROM auditlog_logentry WHERE timestamp < %s", [kept_from])
        changes_removed = cursor.rowcount
        cursor.execute("ALTER TABLE auditlog_logentry ENABLE TRIGGER auditlog_logentry_append_only")
        cursor.execute(
            "ALTER TABLE audit_change_digest DISABLE TRIGGER audit_change_digest_append_only"
        )
        cursor.execute("DELETE FROM audit_change_digest WHERE logged_at < %s", [kept_from])
        cursor.execute(
            "ALTER TABLE audit_change_digest ENABLE TRIGGER audit_change_digest_append_only"
        )
        from audit.recorder import AuditNote, record_event

        record_event(
            None,
            AuditNote(
                action=Action.RETENTION,
                detail={
                    "dropped_months": [month.isoformat()[:7] for month in expired],
                    "kept_from": kept_from.isoformat(),
                    "retention_years": years,
                    "change_log_entries_removed": changes_removed,
                },
            ),
            status=None,
        )
    return RetentionResult(expired, verification)
