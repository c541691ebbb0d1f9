"""Reading the access log for auditors: scope, filters, histories, anomalies and totals.

An LA auditor sees the events of their own organisation's users; a national auditor sees all.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import CharField, Count, Func, Model, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.permissions import is_national
from accounts.selectors import user_organisation_then
from audit.models import Action, AuditEvent
from audit.recorder import LISTED_BESIDE, THROUGH_ANOTHER_RECORD
from directory.contactpoint_id import normalise as contactpoint_id_normalise
from directory.matching import name_parts
from directory.models import CareRelationship, Child, ChildName, Merge, ParentCarer
from shielding.policy import criteria_shown


def events_visible_to(auditor: User) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if is_national(auditor):
        return events
    return events.filter(organisation_id=auditor.organisation_id).filter(
        _not_anothers_child(auditor)
    )


def _not_anothers_child(auditor: User) -> Q:
    """Leaves out the events that tell another LA what was done to its child through a record
    of theirs (``THROUGH_ANOTHER_RECORD``): which child a shield for sharing protects is not
    theirs to know. As ``NOT_ANOTHERS_CHILD`` in the reports."""
    return (
        Q(detail__isnull=True)
        | ~Q(detail__has_key=THROUGH_ANOTHER_RECORD)
        | Q(child_local_authority_id=auditor.organisation_id)
    )


def audit_names(usernames: Iterable[str]) -> dict[str, str]:
    """Each of these users as the auditors' screens name her (``User.audit_name``), by the
    username her events record (usernames never change), in one query for a page."""
    users = User.objects.filter(username__in={name for name in usernames if name})
    return {
        user.username: user.audit_name for user in users.only("username", "first_name", "last_name")
    }


# What marks a request's second event, naming the children its first does not: one read,
# counted once, in the charts (``_first_of_each_request``) and the reports
# (``FIRST_OF_EACH_REQUEST``). Whoever may see the second sees the first.
SECOND_OF_A_REQUEST = (LISTED_BESIDE, THROUGH_ANOTHER_RECORD)


def _first_of_each_request() -> Q:
    """Leaves out a request's second event (``SECOND_OF_A_REQUEST``)."""
    return Q(detail__isnull=True) | ~Q(detail__has_any_keys=list(SECOND_OF_A_REQUEST))


def organisations_visible_to(auditor: User) -> QuerySet[Organisation]:
    if is_national(auditor):
        return Organisation.objects.all()
    return Organisation.objects.filter(pk=auditor.organisation_id)


def _day_range(start: date | None, end: date | None) -> Q:
    zone = timezone.get_current_timezone()
    condition = Q()
    if start:
        condition &= Q(occurred_at__gte=datetime.combine(start, time.min, tzinfo=zone))
    if end:
        day_after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
        condition &= Q(occurred_at__lt=day_after)
    return condition


def events_filtered(auditor: User, filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    events = events_visible_to(auditor)
    if filters.get("username"):
        events = events.filter(username__iexact=filters["username"])
    if filters.get("contactpoint_id"):
        cpid = filters["contactpoint_id"]
        events = events.filter(Q(child_contactpoint_id=cpid) | Q(result_ids__contains=[cpid]))
    if filters.get("organisation"):
        events = events.filter(organisation_id=filters["organisation"].pk)
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    return events.filter(_day_range(filters.get("date_from"), filters.get("date_to")))


def contactpoint_ids_named(events: QuerySet[AuditEvent]) -> list[str]:
    """Every ContactPoint ID the events name (as their child, in their results, or as the ID
    searched for), each once, in one query: an export's many rows are not read for it."""
    events = events.order_by()
    children = events.values_list("child_contactpoint_id", flat=True)
    found = events.annotate(
        cpid=Func("result_ids", function="unnest", output_field=CharField())
    ).values_list("cpid", flat=True)
    searched = events.annotate(cpid=KT("search_criteria__contactpoint_id")).values_list(
        "cpid", flat=True
    )
    named = children.union(found, searched).order_by("child_contactpoint_id")
    # A criterion is as typed: only what is an ID names a child (and fits the event's list).
    return [cpid for cpid in named if cpid and contactpoint_id_normalise(cpid) == cpid]


def records_merged_into(child: Child) -> list[str]:
    """The ContactPoint IDs of the records merged into ``child``, and into those, and so on:
    the same child, seen under another record before the merge."""
    found: list[str] = []
    frontier = [child.pk]
    while frontier:
        merged = list(
            Child.objects.filter(merged_into_id__in=frontier).values_list("pk", "contactpoint_id")
        )
        frontier = [pk for pk, _ in merged]
        found += [cpid for _, cpid in merged]
    return found


def _records_merged_to(pk: int) -> set[int]:
    """The record and every record it was merged into, then or since, and so on: where rows
    that moved to it may have been changed, and their change-log entries name."""
    found, frontier = {pk}, {pk}
    while frontier:
        frontier = (
            set(Merge.objects.filter(absorbed_id__in=frontier).values_list("kept_id", flat=True))
            - found
        )
        found |= frontier
    return found


def child_changes(child: Child, merged: Sequence[str]) -> QuerySet[LogEntry]:
    """The change-log entries about the child: those naming her record or one ``merged`` into
    it, and those naming a record she was merged into, written while she was, about rows that
    are hers under that merge (``Merge.absorbed_rows``, and the name it gave that record). Not
    the kept record's own rows: they are another child's if the merge was wrong."""
    records = [
        child.pk,
        *Child.objects.filter(contactpoint_id__in=merged).values_list("pk", flat=True),
    ]
    about_her = Q()
    for pk in records:
        about_her |= Q(additional_data__child_ids__contains=[pk])
    for merge in Merge.objects.filter(absorbed_id__in=records):
        while_merged = Q()
        for holder in _records_merged_to(merge.kept_id):
            while_merged |= Q(additional_data__child_ids__contains=[holder])
        if merge.unmerged_at is not None:
            while_merged &= Q(timestamp__lte=merge.unmerged_at)
        for model in Merge.MOVABLE:
            # The ids that moved as listed, so that a row deleted since still counts.
            rows = {
                *merge.moved.get(model._meta.label, []),
                *model.objects.filter(merge.absorbed_rows(model)).values_list("pk", flat=True),
            }
            if model is ChildName:
                rows |= set(merge.moved.get("created_name", []))
            about_her |= while_merged & _entries_of(model, rows)
            if model is CareRelationship:
                # Her carers, whose own changes name the children they care for now.
                carers = CareRelationship.objects.filter(pk__in=rows).values_list("carer_id")
                about_her |= while_merged & _entries_of(ParentCarer, {pk for (pk,) in carers})
    return LogEntry.objects.filter(about_her)


def _entries_of(model: type[Model], rows: set[int]) -> Q:
    return Q(
        content_type=ContentType.objects.get_for_model(model),
        object_pk__in=[str(pk) for pk in rows],
    )


def child_history(
    auditor: User, contactpoint_id: str, *, theirs: bool, merged: Sequence[str] = ()
) -> QuerySet[AuditEvent]:
    """Every event in which the child (under its record or one ``merged`` into it) was viewed
    or appeared in search results. For one of the auditor's own LA's children (``theirs``) that
    is everyone's, whatever their organisation, as a subject access request needs; for another
    LA's child, an LA auditor sees only their own users' events."""
    records = [contactpoint_id, *merged]
    naming = AuditEvent.objects.filter(
        Q(child_contactpoint_id__in=records) | Q(result_ids__overlap=records)
    )
    if theirs:
        return naming
    return naming & events_visible_to(auditor)


def account_changes(auditor: User, subject: User) -> list[LogEntry]:
    """The change-log entries of a user's account that an auditor reads, oldest first: all,
    for a national auditor. An LA auditor reads those that left the account one of their
    organisation's, made by their own organisation (as the maker's was then: an
    administrator who has since left made it as theirs), the service operator or the
    system: not another LA's administrators' (she may have worked there before), nor any
    made once she had left, which say where she works now and as what (her new
    organisation's business). One made by a user since deleted, whose organisation is not
    known, is read as the system's was: while she was theirs, only their own or the service
    operator's administrators could change her account."""
    entries = list(
        LogEntry.objects.get_for_object(subject)
        .select_related("actor__organisation", "content_type")
        .order_by("timestamp", "pk")
    )
    if is_national(auditor):
        return entries
    ours = str(auditor.organisation_id)
    shown = []
    # Her organisation after each entry, read back from now: a move is logged as a change.
    organisation = str(subject.organisation_id)
    moves: dict[int, list[LogEntry]] = {}
    for entry in reversed(entries):
        actor = entry.actor
        by_whom = (
            actor is None
            or actor.organisation.kind == Organisation.Kind.SERVICE_OPERATOR
            or (
                organisation == ours
                and user_organisation_then(actor, entry.timestamp, moves) == ours
            )
        )
        if organisation == ours and by_whom:
            shown.append(entry)
        if moved := entry.changes_dict.get("organisation"):
            organisation = str(moved[0])
    return shown[::-1]


def user_activity_summary(events: QuerySet[AuditEvent]) -> list[tuple[str, int]]:
    labels = dict(Action.choices)
    rows = (
        events.filter(_first_of_each_request())
        .values("action")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return [(labels.get(row["action"], row["action"]), row["n"]) for row in rows]


# Anomalies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anomaly:
    title: str
    explanation: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    more: bool = False  # rows beyond ANOMALY_ROWS were found and are not listed


# Rows one report lists at most: a year of a national service's night shifts would otherwise
# be one page that no server could finish in time.
ANOMALY_ROWS = 1000


# The only text formatted into the report queries below (constants); every value is a parameter.
# And, as ``_not_anothers_child``, not another LA's child's events about her, for an LA auditor.
NOT_ANOTHERS_CHILD = (
    f" AND (%s OR e.detail IS NULL OR NOT e.detail ? '{THROUGH_ANOTHER_RECORD}'"
    " OR e.child_local_authority_id = %s)"
)
# As ``_first_of_each_request``, in a report's query.
FIRST_OF_EACH_REQUEST = (
    " AND (e.detail IS NULL OR NOT e.detail ?| array["
    + ", ".join(f"'{key}'" for key in SECOND_OF_A_REQUEST)
    + "])"
)
PERIOD = (
    "(%s OR e.organisation_id = %s) AND e.occurred_at >= %s AND e.occurred_at < %s"
    + NOT_ANOTHERS_CHILD
)
# What counts as use of the directory out of hours: whatever reads or changes a child's record.
OUT_OF_HOURS_ACTIONS = (
    "('search', 'view_record', 'override', 'export', 'change', 'brokered_contact')"
)
# Reports about children, not users: an LA auditor sees everyone's access to her own LA's
# children too (as in a child's access history), so an outsider's override of her LA's
# shield reaches her.
CHILDREN_PERIOD = (
    "(%s OR e.organisation_id = %s OR e.child_local_authority_id = %s)"
    " AND e.occurred_at >= %s AND e.occurred_at < %s" + NOT_ANOTHERS_CHILD
)


def _own_searches(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """User, time and what was searched for, with the criteria as the audit screens show them
    (``criteria_shown``: a postcode that found a child shielded since is masked)."""
    rows = _report_rows(sql, params)
    searches = [
        (
            json.loads(criteria) if isinstance(criteria, str) else criteria,
            found or [],
            organisation_id,
            roles or [],
        )
        for _, _, criteria, found, organisation_id, roles in rows
    ]
    shown = criteria_shown(searches)
    return [
        (
            user,
            when,
            " ".join(str(c.get(name, "")) for name in ("surname", "postcode") if c.get(name)),
        )
        for (user, when, *_), c in zip(rows, (c or {} for c in shown), strict=True)
    ]


def _own_surname_searched(params: list[Any]) -> tuple[list[int], list[str]]:
    """Each user and surname searched for in the period where the surname is the user's own
    as the search compares names (``name_parts``: case, accents, apostrophes, hyphens and each
    part of a double-barrelled name), which PostgreSQL's lower() alone cannot tell."""
    own: list[tuple[int, str]] = []
    parts: dict[str, set[str]] = {}  # each name's parts, worked out once
    # Streamed from a server-side cursor: a year's searches nationally are millions of pairs.
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT e.user_id, u.last_name, e.search_criteria->>'surname'"  # noqa: S608
            f" FROM audit_event e JOIN accounts_user u ON u.id = e.user_id"
            f" WHERE {PERIOD} AND e.action = 'search' AND u.last_name <> ''"
            f" AND e.search_criteria->>'surname' <> ''",
            params,
        )
        while pairs := cursor.fetchmany(5000):
            for user_id, last_name, searched in pairs:
                for name in (last_name, searched):
                    if name not in parts:
                        parts[name] = set(name_parts(name))
                if parts[last_name] & parts[searched]:
                    own.append((user_id, searched))
    return [user_id for user_id, _ in own], [searched for _, searched in own]


def _report_rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """A report's rows, one more than it lists, so that it can say there are more."""
    return _rows(f"{sql} LIMIT %s", [*params, ANOMALY_ROWS + 1])


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def anomalies(auditor: User, start: date, end: date) -> list[Anomaly]:
    """The patterns DESIGN.md asks auditors to look for, computed from the events."""
    zone = settings.TIME_ZONE
    first = datetime.combine(start, time.min, tzinfo=timezone.get_current_timezone())
    zone_info = timezone.get_current_timezone()
    last = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone_info)
    period = PERIOD
    # PERIOD's, in its order; NOT_ANOTHERS_CHILD's last.
    params = [is_national(auditor), auditor.organisation_id, first, last]
    params += params[:2]
    about_children = [is_national(auditor), auditor.organisation_id, *params[1:]]
    many = settings.AUDIT_MANY_VIEWS
    reports = [
        Anomaly(
            f"Many records viewed in a short time ({many} or more in 10 minutes)",
            "Possible trawling: far more records than one piece of work needs.",
            ("User", "10 minutes from", "Records viewed"),
            # The ten minutes run from each view, not from the clock's tens (where a burst from
            # 10.08 to 10.11 would be split in two); overlapping ones are one row, the busiest.
            # Records, not views: one record reloaded is not trawling. Views are counted first,
            # and records only where there are views enough (the index on user and time).
            _report_rows(
                f"WITH views AS (SELECT e.user_id, e.username, e.occurred_at, count(*) OVER ("  # noqa: S608
                f"  PARTITION BY e.user_id ORDER BY e.occurred_at RANGE BETWEEN CURRENT ROW"
                f"  AND interval '10 minutes' - interval '1 microsecond' FOLLOWING) AS n"
                f"  FROM audit_event e WHERE {period} AND e.action = 'view_record'),"
                f" windows AS (SELECT w.user_id, w.username, w.occurred_at, ("
                f"  SELECT count(DISTINCT v.child_contactpoint_id) FROM audit_event v"
                f"  WHERE v.user_id = w.user_id AND v.action = 'view_record'"
                f"  AND v.occurred_at >= w.occurred_at"
                f"  AND v.occurred_at < w.occurred_at + interval '10 minutes') AS n"
                f"  FROM views w WHERE w.n >= %s),"
                f" busy AS (SELECT *, lag(occurred_at) OVER (PARTITION BY user_id"
                f"  ORDER BY occurred_at) AS previous FROM windows WHERE n >= %s),"
                f" bursts AS (SELECT *, count(*) FILTER (WHERE previous IS NULL"
                f"  OR occurred_at >= previous + interval '10 minutes') OVER (PARTITION BY user_id"
                f"  ORDER BY occurred_at) AS burst FROM busy)"
                f" SELECT username, min(occurred_at) AT TIME ZONE %s, max(n) FROM bursts"
                f" GROUP BY user_id, username, burst ORDER BY 3 DESC, 2",
                [*params, many, many, zone],
            ),
        ),
        Anomaly(
            "Searches for the user's own surname or home postcode",
            "Practitioners must not look up themselves, their family or their neighbours."
            " A search of the first part of their home postcode, like NE1, counts too.",
            ("User", "When", "Searched for"),
            _own_searches(
                f"SELECT e.username, e.occurred_at AT TIME ZONE %s,"  # noqa: S608
                f" e.search_criteria, e.result_ids, e.organisation_id, e.roles"
                f" FROM audit_event e JOIN accounts_user u ON u.id = e.user_id"
                f" WHERE {period} AND e.action = 'search' AND ("
                f"  (e.user_id, e.search_criteria->>'surname') IN"
                f"   (SELECT * FROM unnest(%s::bigint[], %s::text[]))"
                f"  OR (u.home_postcode <> '' AND replace(upper(e.search_criteria->>'postcode'),"
                f"   ' ', '') IN (replace(u.home_postcode, ' ', ''),"
                f"   split_part(u.home_postcode, ' ', 1)))) ORDER BY 2",
                [zone, *params, *_own_surname_searched(params)],
            ),
        ),
        Anomaly(
            "Use out of hours (before 7am, after 8pm or at weekends)",
            "Not wrong in itself, but worth a look alongside other signs.",
            ("User", "When", "Action"),
            _report_rows(
                f"SELECT e.username, e.occurred_at AT TIME ZONE %s, e.action FROM audit_event e"  # noqa: S608
                f" WHERE {period} AND e.action IN {OUT_OF_HOURS_ACTIONS}"
                # One download or override, though its children are named by two events.
                f"{FIRST_OF_EACH_REQUEST}"
                f" AND (extract(hour FROM e.occurred_at AT TIME ZONE %s) NOT BETWEEN 7 AND 19"
                f"  OR extract(isodow FROM e.occurred_at AT TIME ZONE %s) >= 6) ORDER BY 2",
                [zone, *params, zone, zone],
            ),
        ),
        Anomaly(
            "Shield overrides",
            "Every override of a shield, with the reason given.",
            ("User", "When", "ContactPoint ID", "Reason"),
            _report_rows(
                f"SELECT e.username, e.occurred_at AT TIME ZONE %s, e.child_contactpoint_id,"  # noqa: S608
                f" e.reason FROM audit_event e WHERE {CHILDREN_PERIOD} AND e.action = 'override'"
                f" ORDER BY 2",
                [zone, *about_children],
            ),
        ),
        Anomaly(
            "Searches with no record viewed afterwards (within 30 minutes)",
            "Searching to see whether a child is known, without a reason to open the record.",
            ("User", "When", "Results"),
            _report_rows(
                f"SELECT e.username, e.occurred_at AT TIME ZONE %s, e.result_count"  # noqa: S608
                f" FROM audit_event e WHERE {period} AND e.action = 'search'"
                f" AND coalesce(e.result_count, 0) > 0 AND NOT EXISTS ("
                f"  SELECT 1 FROM audit_event v WHERE v.user_id = e.user_id"
                f"  AND v.action = 'view_record' AND v.occurred_at >= e.occurred_at"
                f"  AND v.occurred_at < e.occurred_at + interval '30 minutes') ORDER BY 2",
                [zone, *params],
            ),
        ),
        Anomaly(
            "Views of another local authority's shielded children",
            "A shielded child's record opened by someone outside the child's local authority.",
            ("User", "When", "ContactPoint ID"),
            _report_rows(
                f"SELECT e.username, e.occurred_at AT TIME ZONE %s, e.child_contactpoint_id"  # noqa: S608
                f" FROM audit_event e WHERE {CHILDREN_PERIOD}"
                f" AND e.action IN ('view_record', 'override')"
                f" AND e.child_shielded AND e.child_local_authority_id IS DISTINCT FROM"
                f" e.organisation_id ORDER BY 2",
                [zone, *about_children],
            ),
        ),
    ]
    return [
        replace(report, rows=report.rows[:ANOMALY_ROWS], more=len(report.rows) > ANOMALY_ROWS)
        for report in reports
    ]


# Totals for charts ------------------------------------------------------------------------


def activity_per_day(auditor: User, start: date, end: date) -> list[tuple[date, int]]:
    counts = dict(
        events_visible_to(auditor)
        .filter(_day_range(start, end), _first_of_each_request())
        .annotate(day=TruncDate("occurred_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [(day, counts.get(day, 0)) for day in days]


def activity_per_organisation(auditor: User, start: date, end: date) -> list[tuple[str, int]]:
    names = dict(organisations_visible_to(auditor).values_list("pk", "name"))
    rows = (
        events_visible_to(auditor)
        .filter(_day_range(start, end), _first_of_each_request(), organisation_id__isnull=False)
        .values_list("organisation_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("organisation_id", "n")
    )
    return [(names.get(org_id or 0, f"Organisation {org_id}"), n) for org_id, n in rows]
