"""``contactpoint.dates`` for the auditors' templates: ``{{ event.occurred_at|moment_said }}``,
``{{ day|day_said }}``."""

from datetime import date, datetime

from django import template

from contactpoint import dates

register = template.Library()


@register.filter
def moment_said(moment: datetime | None, precision: str = "") -> str:
    """ "30 November 2026, 6:26pm"; ``moment_said:"seconds"`` for "6:26:15pm"."""
    if moment is None:
        return ""
    return dates.moment_said(moment, seconds=precision == "seconds")


@register.filter
def day_said(day: date | None) -> str:
    """ "30 November 2026"."""
    if day is None:
        return ""
    return dates.day_said(day)
