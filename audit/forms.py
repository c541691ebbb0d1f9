"""The auditors' filters: by user, child, organisation, action and date range."""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import Organisation
from audit.models import Action
from contactpoint.govuk_forms import GovukMessages
from directory.forms import ContactPointIdField


class NativeDateInput(forms.DateInput):
    """The browser's own date picker, which sends year-month-day."""

    input_type = "date"


# No access event is older than the service; a date outside these bounds is a typing error.
EARLIEST = date(2000, 1, 1)


class PeriodForm(GovukMessages, forms.Form):
    """A date range for reports; the last 7 days unless given. A report covers a year at most
    (one bar a day in the charts); the event list may cover any period."""

    longest: timedelta | None = timedelta(days=366)

    date_from = forms.DateField(
        label="From",
        required=False,
        widget=NativeDateInput,
        error_messages={"invalid": "Enter the start date as year-month-day, like 2026-11-01"},
    )
    date_to = forms.DateField(
        label="To",
        required=False,
        widget=NativeDateInput,
        error_messages={"invalid": "Enter the end date as year-month-day, like 2026-11-30"},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.localdate()
        for name, which in (("date_from", "start"), ("date_to", "end")):
            day = data.get(name)
            if day and not EARLIEST <= day <= today:
                self.add_error(name, f"The {which} date must be between 1 January 2000 and today")
        if self.errors:
            return data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date must be the same as or after the start date")
        elif self.longest and (start or end):
            first, last = start or (end or today) - timedelta(days=6), end or today
            if last - first >= self.longest:
                self.add_error("date_from", "Enter a period of a year or less")
        return data

    def period(self) -> tuple[date, date]:
        """The chosen range, or the last 7 days while the form is empty or wrong."""
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        end = data.get("date_to") or today
        return data.get("date_from") or end - timedelta(days=6), end


class EventFilterForm(PeriodForm):
    """Filters for the access events: the period, and who, which child, where and what."""

    longest = None
    # As the page shows them, so that the error summary lists them in that order.
    field_order = ("username", "contactpoint_id", "organisation", "action", "date_from", "date_to")

    username = forms.CharField(required=False, max_length=150)
    contactpoint_id = ContactPointIdField(
        label="ContactPoint ID", required=False, help_text="The 12-digit ID of a child"
    )
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.none(), required=False, empty_label="All organisations"
    )
    action = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organisation = self.fields["organisation"]
        assert isinstance(organisation, forms.ModelChoiceField)
        organisation.queryset = organisations
        action = self.fields["action"]
        assert isinstance(action, forms.ChoiceField)
        action.choices = [("", "All actions"), *Action.choices]

    def criteria(self) -> dict[str, str]:
        """The filters as typed, for the auditor-query event and for links to the next page."""
        data = self.cleaned_data
        values = {
            "username": data.get("username") or "",
            "contactpoint_id": data.get("contactpoint_id") or "",
            "organisation": str(data["organisation"].pk) if data.get("organisation") else "",
            "action": data.get("action") or "",
            "date_from": data["date_from"].isoformat() if data.get("date_from") else "",
            "date_to": data["date_to"].isoformat() if data.get("date_to") else "",
        }
        return {key: value for key, value in values.items() if value}
