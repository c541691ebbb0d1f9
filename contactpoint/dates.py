"""Dates and times as GOV.UK pages write them: "30 November 2026", "30 November 2026, 6:26pm".

Times are UK time (the site's zone), in the 12-hour clock with "midday" and "midnight", as the
GOV.UK style guide asks.
"""

from datetime import date, datetime

from django.utils import timezone


def day_said(day: date) -> str:
    """ "30 November 2026"."""
    return f"{day:%-d %B %Y}"


def moment_said(moment: datetime, *, seconds: bool = False) -> str:
    """ "30 November 2026, 6:26pm" in UK time; with ``seconds`` "6:26:15pm", where events
    a few seconds apart must read in their order (an access log). A naive ``moment`` is taken
    as UK time already (PostgreSQL's ``AT TIME ZONE``)."""
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return f"{day_said(local)}, {_time_said(local, seconds=seconds)}"


def _time_said(moment: datetime, *, seconds: bool) -> str:
    hour, minute, second = moment.hour, moment.minute, moment.second
    if minute == 0 and (second == 0 or not seconds) and hour in (0, 12):
        return "midnight" if hour == 0 else "midday"
    shown = f"{hour % 12 or 12}"
    if minute or seconds:
        shown += f":{minute:02d}"
    if seconds:
        shown += f":{second:02d}"
    return f"{shown}{'am' if hour < 12 else 'pm'}"
