"""The auditors' filters: by user, child, organisation, action and date range."""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import Organisation
from audit.models import Action
from contactpoint.govuk_forms import DateInputField, GovukMessages
from directory.forms import ContactPointIdField

# No access event is older than the service; a date outside these bounds is a typing error.
EARLIEST = date(2000, 1, 1)


class PeriodForm(GovukMessages, forms.Form):
    """A date range for reports; the last 7 days unless given. A report covers a year at most
    (one bar a day in the charts); the event list may cover any period."""

    longest: timedelta | None = timedelta(days=366)

    # GOV.UK's day, month and year, as every other date in the service; a link that gives the
    # date in one value (``date_from=2026-11-01``, as links made before did) is read too.
    date_from = DateInputField(
        label="Date from", subject="Date from", required=False, one_value=True
    )
    date_to = DateInputField(label="Date to", subject="Date to", required=False, one_value=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.localdate()
        for name in ("date_from", "date_to"):
            day = data.get(name)
            if day and not EARLIEST <= day <= today:
                label = self.fields[name].label
                self.add_error(name, f"{label} must be between 1 January 2000 and today")
        if self.errors:
            return data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "Date to must be the same as or after date from")
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
