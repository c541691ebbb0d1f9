"""Keeping the access log whole: monthly partitions, daily seals, verification and retention.

Sealing a day stores every event's SHA-256 in ``audit_event_digest`` and one seal whose hash
covers the day's date, event count and the digests in id order, chained to the previous seal.
Verification recomputes all of it and names each event that was altered, inserted into or
removed from a sealed day, and each seal that was altered, removed or chained wrongly.
All of this runs in commands, never in a request, so it never holds up ordinary traffic.
"""

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction

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


def seal_hash(day: date, count: int, events_hash: str, previous: str) -> str:
    return hashlib.sha256(
        f"{day.isoformat()}|{count}|{events_hash}|{previous}".encode()
    ).hexdigest()


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


def _day_digest(cursor: object, day: date) -> tuple[int, str]:
    start, end = _day_bounds(day)
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT count(*), encode(sha256(coalesce(string_agg(digest, '' ORDER BY event_id), '')),"
        " 'hex') FROM audit_event_digest WHERE occurred_at >= %s AND occurred_at < %s",
        [start, end],
    )
    count, events_hash = cursor.fetchone()  # type: ignore[attr-defined]
    return int(count), str(events_hash)


@transaction.atomic
def seal_day(day: date, previous: str) -> AuditSeal:
    start, end = _day_bounds(day)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_event_digest (event_id, occurred_at, digest) "
            "SELECT e.id, e.occurred_at, audit_event_digest_of(e) FROM audit_event e "
            "WHERE e.occurred_at >= %s AND e.occurred_at < %s",
            [start, end],
        )
        count, events_hash = _day_digest(cursor, day)
    return AuditSeal.objects.create(
        day=day,
        event_count=count,
        events_hash=events_hash,
        previous_seal_hash=previous,
        seal_hash=seal_hash(day, count, events_hash, previous),
    )


def seal_closed_days(*, now: datetime) -> list[AuditSeal]:
    """Seals every day (UTC) that ended at least an hour ago and is not sealed yet.

    The hour lets requests that began before midnight finish writing their events.
    """
    last = AuditSeal.objects.order_by("-day").first()
    if last is not None:
        day, previous = last.day + timedelta(days=1), last.seal_hash
    else:
        first = AuditEvent.objects.order_by("occurred_at").values_list("occurred_at", flat=True)
        if not first:
            return []
        day, previous = first[0].astimezone(UTC).date(), GENESIS
    last_closed = (now - timedelta(hours=1)).astimezone(UTC).date() - timedelta(days=1)
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
    problems: list[str] = field(default_factory=list)

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
    previous, previous_day = GENESIS, None
    seals = list(AuditSeal.objects.order_by("day"))
    if seals:
        _verify_none_before(seals[0].day, result)
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
            seal.day, seal.event_count, seal.events_hash, seal.previous_seal_hash
        ):
            result.problems.append(f"the seal of {seal.day} has been altered")
        previous, previous_day = seal.seal_hash, seal.day
        in_range = (first_day is None or seal.day >= first_day) and (
            last_day is None or seal.day <= last_day
        )
        dropped = kept_from is not None and seal.day < kept_from
        if in_range and not (dropped and _month_start(seal.day) not in months):
            _verify_day(seal, result)
    return result


def _verify_sealed_lately(
    last_sealed: date | None, last_day: date | None, result: Verification
) -> None:
    """Days are sealed daily, so a day before yesterday with events and no seal means sealing
    stopped (or never started), and nothing since can be verified."""
    if last_day is not None:
        return  # a range asked for (retention), which checks its own days are sealed
    overdue, _ = _day_bounds(datetime.now(UTC).date() - timedelta(days=1))
    unsealed = AuditEvent.objects.filter(occurred_at__lt=overdue)
    if last_sealed is not None:
        unsealed = unsealed.filter(occurred_at__gte=_day_bounds(last_sealed)[1])
    first = unsealed.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    if first is not None:
        result.problems.append(
            f"events from {first.astimezone(UTC).date()} on are not sealed: run audit_seal daily"
        )


def _verify_none_before(first_sealed: date, result: Verification) -> None:
    """Sealing starts on the day of the first event, so an event dated before the first
    sealed day was inserted afterwards, and no seal will ever cover it."""
    start, _ = _day_bounds(first_sealed)
    for event_id, occurred_at in (
        AuditEvent.objects.filter(occurred_at__lt=start)
        .order_by("id")
        .values_list("id", "occurred_at")[:100]
    ):
        result.problems.append(
            f"event {event_id} of {occurred_at.astimezone(UTC).date()} was inserted before "
            f"the first sealed day, {first_sealed}"
        )


def _verify_day(seal: AuditSeal, result: Verification) -> None:
    start, end = _day_bounds(seal.day)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(e.id, d.event_id), e.id IS NULL, d.event_id IS NULL "
            "FROM (SELECT * FROM audit_event WHERE occurred_at >= %s AND occurred_at < %s) e "
            "FULL JOIN (SELECT * FROM audit_event_digest "
            "           WHERE occurred_at >= %s AND occurred_at < %s) d ON d.event_id = e.id "
            "WHERE e.id IS NULL OR d.event_id IS NULL OR audit_event_digest_of(e) <> d.digest "
            "ORDER BY 1",
            [start, end, start, end],
        )
        for event_id, removed, inserted in cursor.fetchall():
            if removed:
                result.problems.append(f"event {event_id} of {seal.day} has been removed")
            elif inserted:
                result.problems.append(f"event {event_id} was inserted into sealed day {seal.day}")
            else:
                result.problems.append(f"event {event_id} of {seal.day} has been altered")
        count, events_hash = _day_digest(cursor, seal.day)
    if count == 0 and seal.event_count > 0:
        # Events and digests gone together (a partition dropped or detached).
        result.problems.append(
            f"every event sealed for {seal.day} has been removed ({seal.event_count})"
        )
    elif (count, events_hash) != (seal.event_count, seal.events_hash):
        result.problems.append(f"the digests sealed for {seal.day} have been altered")
    result.days_checked += 1
    result.events_checked += count


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
        # django-auditlog's change log is one table, append-only by its trigger: its entries of
        # the same months go too, with the trigger off for this transaction only (which, like
        # dropping partitions, only the tables' owner may do).
        cursor.execute(
            "ALTER TABLE auditlog_logentry DISABLE TRIGGER auditlog_logentry_append_only"
        )
        cursor.execute("DELETE FROM auditlog_logentry WHERE timestamp < %s", [kept_from])
        changes_removed = cursor.rowcount
        cursor.execute("ALTER TABLE auditlog_logentry ENABLE TRIGGER auditlog_logentry_append_only")
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
