"""Filling in a GOV.UK date input (``DateInputField``) as a person does: three boxes."""

from datetime import date


def date_boxes(name: str, typed: str | date) -> dict[str, str]:
    """The day, month and year boxes of the date input ``name``: "14 3 2015" is day 14,
    month 3, year 2015; "1  2015" leaves the month empty."""
    if isinstance(typed, date):
        typed = f"{typed.day} {typed.month} {typed.year}"
    day, month, year = typed.split(" ")
    return {f"{name}_0": day, f"{name}_1": month, f"{name}_2": year}
