"""The auditors' screens. Each query an auditor makes is itself an access event."""

import csv
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.middleware import TIMED_OUT_MINUTES, duration_in_words
from accounts.models import User
from accounts.permissions import Permission, is_national, permission_required, signed_in_user
from audit import selectors
from audit.charts import bar_chart_svg
from audit.forms import EventFilterForm, PeriodForm
from audit.models import Action, AuditEvent
from audit.recorder import LISTED_BESIDE, audit_also, audit_note
from contactpoint.dates import moment_said
from contactpoint.spreadsheets import as_text
from directory.contactpoint_id import display as contactpoint_id_display
from directory.contactpoint_id import normalise as contactpoint_id_normalise
from directory.models import Child
from shielding.policy import (
    ChangesContext,
    audit_facts,
    change_shown,
    changes_shown,
    criteria_shown,
)

PAGE_SIZE = 50
CHILD_HISTORY_MOST = 5000  # events on one child's access history page
CSV_COLUMNS = (
    "id", "occurred_at", "username", "roles", "organisation_id", "action", "method", "path",
    "status", "ip_address", "user_agent", "child_contactpoint_id", "child_shielded",
    "search_criteria", "result_count", "result_ids", "reason", "detail", "request_id",
)  # fmt: skip


def _note_query(request: HttpRequest, query: str, criteria: dict[str, Any]) -> dict[str, Any]:
    """What the auditor asked for, with the page of results (``before``) where there is one;
    returned as noted."""
    before = request.GET.get("before", "")
    paged = {"before": before[:20]} if before else {}
    noted = {"query": query, **criteria, **paged}
    audit_note(request, action=Action.AUDITOR_QUERY, search_criteria=noted)
    return noted


def _note_read(
    request: HttpRequest, ids: list[str], *, action: Action, asked: dict[str, Any]
) -> None:
    """Names in the auditor's event the children whose ContactPoint IDs she read (``ids``),
    so that each one's access history lists her reading. Where she ``asked`` for one child's
    events, the event that says so names that child alone, and the others are named by an
    event of their own that does not say whom she asked for: their LAs' auditors read it in
    their histories, and the child asked for beside theirs may be the one that a shield for
    sharing protects (``THROUGH_ANOTHER_RECORD``), which is not theirs to know."""
    child = asked.get("contactpoint_id")
    audit_note(request, result_ids=[cpid for cpid in ids if not child or cpid == child])
    beside = [cpid for cpid in ids if child and cpid != child]
    if beside:
        audit_also(
            request,
            action=action,
            search_criteria={
                name: value for name, value in asked.items() if name != "contactpoint_id"
            },
            result_ids=beside,
            detail={LISTED_BESIDE: True},
        )


def _shown(events: list[AuditEvent]) -> list[AuditEvent]:
    """The events with their search criteria as an auditor may see them (``criteria_shown``),
    in ``criteria_shown`` on each, and their users named (``user_named``); nothing is
    saved."""
    names = selectors.audit_names(event.username for event in events)
    shown = criteria_shown(
        [
            (event.search_criteria, event.result_ids, event.organisation_id, event.roles)
            for event in events
        ]
    )
    for event, criteria in zip(events, shown, strict=True):
        event.criteria_shown = criteria  # type: ignore[attr-defined]
        event.user_named = names.get(event.username, event.username)  # type: ignore[attr-defined]
        event.outcome_shown = _outcome(event)  # type: ignore[attr-defined]
    return events


# How an event named the child filtered for, where it is not its child (``_name_where_found``).
FOUND_SAID = {
    Action.SEARCH: "Found by this search",
    Action.AUDITOR_QUERY: "Read in this query",
    Action.EXPORT: "Read in this download",
}


def _name_where_found(events: list[AuditEvent], contactpoint_id: str) -> None:
    """Names the child filtered for in the Child column of the events that found or read
    her without naming her as their child (a search's results, an auditor's query): a blank
    there would hide why the event is listed. Her ID is the auditor's own filter, and says
    nothing of where she is."""
    shown = contactpoint_id_display(contactpoint_id)
    for event in events:
        if not event.child_contactpoint_id and contactpoint_id in (event.result_ids or []):
            event.found_child = contactpoint_id  # type: ignore[attr-defined]
            event.found_child_display = shown  # type: ignore[attr-defined]
            said = FOUND_SAID.get(Action(event.action), "Listed on this page")
            event.found_said = said  # type: ignore[attr-defined]


def _ids_shown(events: list[AuditEvent], *also: str) -> list[str]:
    """The ContactPoint IDs a page of ``_shown`` events shows (each event's child, and an ID
    searched for), with ``also``, for the auditor's own event: each child's access history
    then lists who read her ID here. Not the IDs in a path or a detail: the record an override
    went through names the child it protects only to her own LA (``THROUGH_ANOTHER_RECORD``),
    and this event would put that link in the record's history."""
    shown = [
        cpid
        for event in events
        for cpid in (
            event.child_contactpoint_id,
            str((getattr(event, "criteria_shown", None) or {}).get("contactpoint_id", "")),
        )
    ]
    return [
        cpid for cpid in dict.fromkeys([*shown, *also]) if contactpoint_id_normalise(cpid) == cpid
    ]


def _outcome(event: AuditEvent) -> str:
    """What the event's path and status do not say: that it was refused (a refused
    suspension redirects as a done one does), that it was the question asked first, or why
    a session ended that its user did not end herself."""
    detail = event.detail if isinstance(event.detail, dict) else {}
    if detail.get(LISTED_BESIDE):
        return "Listed with the child asked for"
    page = detail.get("page")
    if isinstance(page, str) and page.startswith("confirm_"):
        return f"Asked to confirm: {page.removeprefix('confirm_')}"
    if detail.get("refused"):
        changing = event.action in (Action.ADMIN_ACTION, Action.CHANGE)
        return "Refused: nothing was changed" if changing else "Refused"
    if event.action == Action.SIGN_OUT:
        # The daily clean-up's (``sessions_expired_clear``) has no request, and so no path.
        return _sign_out_reason(detail, cleared=not event.path)
    return ""


def _sign_out_reason(detail: dict[str, Any], *, cleared: bool = False) -> str:
    """Why a session ended that she did not end herself (``accounts.middleware``), or "". A
    time-out is said with the time allowed then, as its event keeps it; one kept without it
    (before it was) is said without, not with today's setting, which may not be that.
    ``cleared``: recorded by the daily clean-up, which dates a session that kept no sign-in
    time when it expired (the request that comes back with one dates it then)."""
    minutes = detail.get(TIMED_OUT_MINUTES)
    allowed = duration_in_words(timedelta(minutes=minutes)) if isinstance(minutes, int) else ""
    how_long = f"for {allowed}" if allowed else "for longer than allowed"
    timed_out = {"idle": f"idle {how_long}", "session_length": f"signed in {how_long}"}
    ended = detail.get("access_ended")
    lifted = ", since reactivated" if detail.get("reactivated") else ""
    reasons = [
        timed_out.get(str(detail.get("timed_out")), ""),
        "password changed" if detail.get("password_changed") else "",
        "two-factor sign-in reset" if detail.get("two_factor_reset") else "",
        f"access ended ({User.ACCESS_PROBLEMS.get(str(ended), ended)}{lifted})" if ended else "",
        "account changed" if detail.get("account_changed") else "",
        "account deleted" if detail.get("account_deleted") else "",
        ("no sign-in time recorded" + (", dated when its session expired" if cleared else ""))
        if detail.get("sign_in_unrecorded")
        else "",
        _found_later(detail.get("ended_at")),
    ]
    said = ", ".join(reason for reason in reasons if reason)
    return f"Signed out: {said}" if said else ""


def _found_later(ended_at: Any) -> str:
    """When a session ended that the daily clean-up found in a day that may be sealed, and
    so recorded when it found it (``accounts.services.sessions_expired_clear``), or ""."""
    try:
        shown = moment_said(datetime.fromisoformat(str(ended_at)), seconds=True)
    except ValueError:  # none recorded (or not a time with its zone)
        return ""
    return f"ended {shown}, recorded when its session was cleared"


def _page(events: Any, request: HttpRequest) -> tuple[list[AuditEvent], int | None]:
    """Newest first, PAGE_SIZE at a time, continuing below the id in ``?before=``."""
    before = request.GET.get("before", "")
    # ASCII digits that fit an id: "²" is a digit to str.isdigit(), and not to int().
    if before.isascii() and before.isdigit() and len(before) <= 18:
        events = events.filter(id__lt=int(before))
    rows = list(events.order_by("-id")[: PAGE_SIZE + 1])
    more = rows[PAGE_SIZE].id + 1 if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], more


@permission_required(Permission.READ_AUDIT)
def event_list(request: HttpRequest) -> HttpResponse:
    auditor = signed_in_user(request)
    form = EventFilterForm(
        request.GET or None, organisations=selectors.organisations_visible_to(auditor)
    )
    events: list[AuditEvent] = []
    more: int | None = None
    criteria: dict[str, str] = {}
    if form.is_valid():
        criteria = form.criteria()
        events, more = _page(selectors.events_filtered(auditor, form.cleaned_data), request)
    elif not form.is_bound:
        events, more = _page(selectors.events_visible_to(auditor), request)
    asked = _note_query(request, "events", criteria)
    shown = _shown(events)
    if "contactpoint_id" in criteria:
        _name_where_found(shown, criteria["contactpoint_id"])
    # Each event listed names the child filtered for, in its results if not as its child.
    filtered = [criteria["contactpoint_id"]] if shown and "contactpoint_id" in criteria else []
    _note_read(request, _ids_shown(shown, *filtered), action=Action.AUDITOR_QUERY, asked=asked)
    context = {
        "form": form,
        "events": shown,
        "next_query": urlencode({**criteria, "before": more}) if more else "",
        "export_query": urlencode(criteria),
        "national": is_national(auditor),
    }
    return render(request, "audit/events.html", context)


@permission_required(Permission.READ_AUDIT)
def child_history(request: HttpRequest, contactpoint_id: str) -> HttpResponse:
    """For a subject access request: who saw the child's record or found it, when and why."""
    auditor = signed_in_user(request)
    if contactpoint_id_normalise(contactpoint_id) != contactpoint_id:
        raise Http404
    _note_query(request, "child_history", {"contactpoint_id": contactpoint_id})
    # A purged child's events outlive the record (and say whose it was); its changes do not.
    child = Child.objects.filter(contactpoint_id=contactpoint_id).first()
    theirs = is_national(auditor) or (
        child.local_authority_id == auditor.organisation_id
        if child is not None
        else AuditEvent.objects.filter(
            child_contactpoint_id=contactpoint_id,
            child_local_authority_id=auditor.organisation_id,
        ).exists()
    )
    # Which records were merged into another LA's child is not in her own users' events: an
    # LA auditor reads those under the record they name.
    merged = selectors.records_merged_into(child) if child is not None and theirs else []
    history = selectors.child_history(auditor, contactpoint_id, theirs=theirs, merged=merged)
    events = list(history.order_by("occurred_at")[:CHILD_HISTORY_MOST])
    # A subject access request's answer must not look whole when it is not.
    total = history.count() if len(events) == CHILD_HISTORY_MOST else len(events)
    changes = []
    # Another LA's child's changes, and whether it is shielded, are not an LA auditor's to see.
    if child is not None and theirs:
        # The page shows the child's changes, and those of the records merged into hers: each
        # one's access history must list this view (a merge undone leaves them apart again).
        audit_note(request, **audit_facts(child), result_ids=merged)
        entries = list(
            selectors.child_changes(child, merged)
            .select_related("actor", "content_type")
            .order_by("timestamp")
        )
        changes = changes_shown(entries, auditor)
    else:
        # Her ID, and not her facts (whether she is shielded is her own LA's to know): her LA's
        # auditors read in her history that this auditor asked for it. Not the other IDs the
        # page shows, which its path, naming her, would link to her in their histories.
        audit_note(request, result_ids=[contactpoint_id])
    return render(
        request,
        "audit/child_history.html",
        {
            "contactpoint_id": contactpoint_id,
            "contactpoint_id_display": contactpoint_id_display(contactpoint_id),
            "events": _shown(events),
            "total": total,
            "merged": merged,
            "merged_display": [contactpoint_id_display(merged_id) for merged_id in merged],
            "national": is_national(auditor),
            "changes": changes,
            "theirs": theirs,
        },
    )


@permission_required(Permission.READ_AUDIT)
def user_activity(request: HttpRequest, pk: int) -> HttpResponse:
    auditor = signed_in_user(request)
    visible = selectors.events_visible_to(auditor)
    # Another LA's user does not exist for an LA auditor (404), unless she worked in the
    # auditor's LA before: her events there are the auditor's to read, under her name only.
    users = User.objects.all()
    if not is_national(auditor):
        users = users.filter(
            Q(organisation=auditor.organisation_id)
            | Q(pk__in=visible.filter(user_id=pk).values("user_id")[:1])
        )
    subject = get_object_or_404(users, pk=pk)
    events_of_user = visible.filter(user_id=subject.pk)
    _note_query(request, "user_activity", {"user_id": subject.pk})
    events, more = _page(events_of_user, request)
    shown = _shown(events)
    audit_note(request, result_ids=_ids_shown(shown))
    # Who gave which roles, suspended, reactivated, reset two-factor sign-in, and when.
    account_changes = [
        change_shown(entry, auditor, ChangesContext(), set())
        for entry in selectors.account_changes(auditor, subject)
    ]
    return render(
        request,
        "audit/user_activity.html",
        {
            "subject": subject,
            # Where a leaver works now, and as what, is her new organisation's business.
            "elsewhere_now": not is_national(auditor)
            and subject.organisation_id != auditor.organisation_id,
            "summary": selectors.user_activity_summary(events_of_user),
            "events": shown,
            "next_query": urlencode({"before": more}) if more else "",
            "changes": account_changes,
        },
    )


@permission_required(Permission.READ_AUDIT)
def anomaly_report(request: HttpRequest) -> HttpResponse:
    auditor = signed_in_user(request)
    form = PeriodForm(request.GET or None)
    start, end = form.period()
    _note_query(request, "anomalies", {"date_from": start.isoformat(), "date_to": end.isoformat()})
    reports = _reports_said(selectors.anomalies(auditor, start, end))
    audit_note(request, result_ids=_children_listed(reports))
    too_long = any(report.more for report in reports)  # the download would be refused
    context = {"form": form, "start": start, "end": end, "reports": reports, "too_long": too_long}
    if (not form.is_bound or form.is_valid()) and not too_long:
        # The period shown, in the one-value form that the reports read back.
        context["export_query"] = urlencode(
            {"date_from": start.isoformat(), "date_to": end.isoformat()}
        )
    return render(request, "audit/anomalies.html", context)


def _children_listed(reports: list[selectors.Anomaly]) -> list[str]:
    """The ContactPoint IDs the reports list (overrides, views of shielded records), once
    each: the auditor's event names each, so that the child's access history shows who read
    it there."""
    listed = [
        row[report.columns.index(CHILD_COLUMN)]
        for report in reports
        if CHILD_COLUMN in report.columns
        for row in report.rows
    ]
    return [cpid for cpid in dict.fromkeys(listed) if cpid]


@permission_required(Permission.READ_AUDIT)
def anomaly_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The anomaly reports of the period as one CSV file (DESIGN.md: auditors run reports and
    export them): a row for each row of each report, under the report's title, in the columns
    of all the reports; the same rows, named the same way, as the page shows."""
    auditor = signed_in_user(request)
    # Bound even when empty (the last 7 days), so that a report too long can be its error.
    form = PeriodForm(request.GET)
    start, end = form.period()
    criteria = {"date_from": start.isoformat(), "date_to": end.isoformat()}
    refused = {"form": form, "start": start, "end": end, "reports": []}
    if not form.is_valid():
        _note_query(request, "anomalies_csv", {"refused": "invalid"})
        return render(request, "audit/anomalies.html", refused, status=400)
    reports = _reports_said(selectors.anomalies(auditor, start, end))
    if any(report.more for report in reports):
        # A file cut short would look whole: the page says so, a spreadsheet would not.
        form.add_error(
            None,
            f"A report finds more than {selectors.ANOMALY_ROWS:,} rows. Choose a shorter "
            "period and download again",
        )
        _note_query(request, "anomalies_csv", {**criteria, "refused": "too_many"})
        return render(request, "audit/anomalies.html", refused, status=400)
    audit_note(
        request,
        action=Action.EXPORT,
        search_criteria={"query": "anomalies_csv", **criteria},
        result_ids=_children_listed(reports),
    )
    columns = list(dict.fromkeys(column for report in reports for column in report.columns))

    def rows() -> Iterator[str]:
        writer = csv.writer(_Line())
        # The byte-order mark, as ``export_csv``'s: spreadsheets read the file as UTF-8.
        yield "\ufeff" + writer.writerow(["Report", *columns])
        for report in reports:
            for row in report.rows:
                cells = dict(zip(report.columns, row, strict=True))
                said = [report.title, *(_cell(cells.get(column, "")) for column in columns)]
                yield writer.writerow([_inert(value) for value in said])

    # Streamed as the event export is: every file the auditors' screens give is.
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="contactpoint-anomalies.csv"'
    return response


def _cell(value: Any) -> Any:
    """A moment in UK time, to the second, as a spreadsheet reads it; a naive one is UK time
    already, as the reports' queries give it (``moment_said``)."""
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.strftime("%Y-%m-%d %H:%M:%S")
    return value


# How an anomaly report heads the column of the children it lists (``selectors.anomalies``).
CHILD_COLUMN = "ContactPoint ID"
# And of its users, by the username their events record, and of actions, by their codes.
USER_COLUMN, ACTION_COLUMN = "User", "Action"


def _reports_said(reports: list[selectors.Anomaly]) -> list[selectors.Anomaly]:
    """The reports with each user named as every auditor's table names her, and each action
    by its label ("Brokered-contact request", not brokered_contact)."""
    listed = [
        value
        for report in reports
        for row in report.rows
        for column, value in zip(report.columns, row, strict=True)
        if column == USER_COLUMN
    ]
    said = {USER_COLUMN: selectors.audit_names(listed), ACTION_COLUMN: dict(Action.choices)}
    return [
        replace(
            report,
            rows=[
                tuple(
                    said.get(column, {}).get(value, value)
                    for column, value in zip(report.columns, row, strict=True)
                )
                for row in report.rows
            ],
        )
        for report in reports
    ]


@permission_required(Permission.READ_AUDIT)
def activity_charts(request: HttpRequest) -> HttpResponse:
    auditor = signed_in_user(request)
    form = PeriodForm(request.GET or None)
    start, end = form.period()
    _note_query(request, "charts", {"date_from": start.isoformat(), "date_to": end.isoformat()})
    per_day = selectors.activity_per_day(auditor, start, end)
    per_organisation = selectors.activity_per_organisation(auditor, start, end)
    return render(
        request,
        "audit/charts.html",
        {
            "form": form,
            "start": start,
            "end": end,
            "per_day": per_day,
            "per_organisation": per_organisation,
            # Short on the chart's axis ("30 Nov"): up to 15 labels share its 720 points, and
            # "30 November 2026" would run into the next. The table below says each day in full.
            "day_chart": bar_chart_svg(
                "Events per day", [(f"{day:%-d %b}", n) for day, n in per_day]
            ),
            "organisation_chart": bar_chart_svg("Events per organisation", per_organisation),
        },
    )


class _Line:
    """csv.writer writes into this, and the row comes straight back to be streamed."""

    def write(self, value: str) -> str:
        return value


def _inert(value: Any) -> Any:
    """A cell as a spreadsheet should take it: criteria and details as JSON; and text a
    spreadsheet would run as a formula (a user agent is anyone's to choose) kept as text, with
    the apostrophe spreadsheets themselves use for that."""
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return as_text(value) if isinstance(value, str) else value


@permission_required(Permission.READ_AUDIT)
def export_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    auditor = signed_in_user(request)
    form = EventFilterForm(request.GET, organisations=selectors.organisations_visible_to(auditor))
    if not form.is_valid():
        # What was asked cannot be read back from a form that made no sense, but that it was.
        _note_query(request, "events_csv", {"refused": "invalid"})
        return render(request, "audit/events.html", {"form": form, "events": []}, status=400)
    criteria = form.criteria()
    events = selectors.events_filtered(auditor, form.cleaned_data).order_by("id")
    most = settings.AUDIT_EXPORT_MAX_ROWS
    if events[: most + 1].count() > most:
        # Streamed past gunicorn's timeout, the file would stop mid-row with nothing to say so.
        form.add_error(
            None,
            f"There are more than {most:,} events to download. Choose a shorter period, "
            "or a user, organisation or action, and download again",
        )
        _note_query(request, "events_csv", {**criteria, "refused": "too_many"})
        return render(request, "audit/events.html", {"form": form, "events": []}, status=400)
    # Written before any row leaves (fail closed), naming every child the file names, so that
    # her access history lists the download.
    asked = {"query": "events_csv", **criteria}
    audit_note(request, action=Action.EXPORT, search_criteria=asked)
    _note_read(request, selectors.contactpoint_ids_named(events), action=Action.EXPORT, asked=asked)

    criteria_at, found_at = CSV_COLUMNS.index("search_criteria"), CSV_COLUMNS.index("result_ids")
    organisation_at, roles_at = CSV_COLUMNS.index("organisation_id"), CSV_COLUMNS.index("roles")

    def rows() -> Iterator[str]:
        writer = csv.writer(_Line())
        # The byte-order mark tells a spreadsheet the file is UTF-8 (Excel assumes
        # Windows-1252 without it, and mangles every accented name searched for).
        yield "\ufeff" + writer.writerow(CSV_COLUMNS)
        stream = events.values_list(*CSV_COLUMNS).iterator(chunk_size=2000)
        while chunk := list(islice(stream, 2000)):
            shown = criteria_shown(
                [
                    (row[criteria_at], row[found_at] or [], row[organisation_at], row[roles_at])
                    for row in chunk
                ]
            )
            for row, criteria in zip(chunk, shown, strict=True):
                cells = [*row[:criteria_at], criteria, *row[criteria_at + 1 :]]
                yield writer.writerow([_inert(value) for value in cells])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="contactpoint-audit-events.csv"'
    return response
