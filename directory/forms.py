"""The search form and a practitioner's own involvement, with GOV.UK error messages."""

import re
from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from contactpoint.govuk_forms import DateInputField, GovukMessages, WrittenText
from contactpoint.postcodes import normalise_postcode
from directory import contactpoint_id
from directory.matching import Criteria, normalise
from directory.models import Gender, Service

_OUTWARD = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def _two_years_after(day: date) -> date:
    """The same date two years on; from 29 February, 1 March (as a birthday falls)."""
    try:
        return day.replace(year=day.year + 2)
    except ValueError:
        return date(day.year + 2, 3, 1)


WRONG_DIGIT = "Check the ContactPoint ID: a digit is wrong or two are swapped"


def contactpoint_id_typed(typed: str) -> str:
    """A ContactPoint ID as typed, normalised; a clear error for one that is not, on every
    form that asks for one."""
    normalised = contactpoint_id.normalise(typed)
    if normalised is None and contactpoint_id.has_length(typed):
        # The check digit caught a mistyped or swapped digit: saying "12 digits" would not.
        raise forms.ValidationError(
            "Check the ContactPoint ID: a digit is wrong or two are swapped"
        )
    if normalised is None:
        raise forms.ValidationError("Enter a ContactPoint ID of 12 digits, like 1234 5678 9018")
    return normalised


class ContactPointIdField(forms.CharField):
    """A ContactPoint ID however it was copied down (in fours, a digit at a time, dashed), in
    its stored form, or "" for an optional one left empty."""

    def __init__(self, **kwargs: Any) -> None:
        # Room for a space, or " - ", between every digit: the check is the digits' own.
        super().__init__(max_length=4 * contactpoint_id.LENGTH, **kwargs)

    def clean(self, value: Any) -> str:
        typed = super().clean(value)
        return contactpoint_id_typed(typed) if typed else ""


def in_the_past(day: date | None, subject: str) -> date | None:
    """A date that has happened (a birth, a start of work): today or before, and after 1900."""
    if day and day > timezone.localdate():
        raise forms.ValidationError(f"{subject} must be today or in the past")
    if day and day.year < 1900:
        raise forms.ValidationError(f"{subject} must be after 1900")
    return day


class DateOfBirthInput(DateInputField):
    """A date of birth, or an end of a range of them, as the search reads it. A month past 12
    with a day of 12 or less can only be the two swapped (typed month first), the slip search
    forgives: it is read day first, and ``read_day_first`` says so on the page, so that a wrong
    reading can be seen and mended. One value is read too, if it is an ISO date (a request
    made for the single box the search had, from a page open or a script written before)."""

    def __init__(self, *, said_as: str, **kwargs: Any) -> None:
        super().__init__(required=False, one_value=True, **kwargs)
        self.said_as = said_as
        self.read_day_first = ""

    def compress(self, data_list: list[str]) -> date | None:
        self.read_day_first = ""
        day, month, year = ((part or "").strip() for part in (data_list or ["", "", ""]))
        numbers = all(part.isascii() and part.isdigit() and len(part) <= 2 for part in (day, month))
        if numbers and int(month) > 12 >= int(day):
            try:
                read = super().compress([month, day, year])
            except forms.ValidationError:
                read = None  # not a real date either way: its error is for what was typed
            if read:
                self.read_day_first = (
                    f"We read {self.said_as}, {day} {month} {year}, as {read.day} "
                    f"{read:%B %Y}: there is no month {read.day}"
                )
                return read
        return super().compress(data_list)


class SearchForm(GovukMessages, forms.Form):
    """Surname and one more detail, or a ContactPoint ID alone (DESIGN.md "Search")."""

    surname = forms.CharField(required=False, max_length=100)
    forename = forms.CharField(label="First name", required=False, max_length=100)
    date_of_birth = DateOfBirthInput(
        label="Date of birth",
        subject="Date of birth",
        said_as="the date of birth",
        help_text="For example, 27 3 2015",
    )
    dob_from = DateOfBirthInput(
        label="Born from",
        subject="The start of the date of birth range",
        said_as="the start of the range",
        help_text="For example, 1 9 2014",
    )
    dob_to = DateOfBirthInput(
        label="Born to",
        subject="The end of the date of birth range",
        said_as="the end of the range",
        help_text="For example, 31 8 2016",
    )
    postcode = forms.CharField(
        required=False, max_length=10, help_text="The full postcode, or its first part, like NE1"
    )
    gender = forms.ChoiceField(
        required=False,
        choices=[("", "Any")] + [(g.value, g.label) for g in (Gender.FEMALE, Gender.MALE)],
    )
    contactpoint_id = ContactPointIdField(
        label="ContactPoint ID", required=False, help_text="If you have it, you need nothing else"
    )

    def clean_surname(self) -> str:
        surname: str = self.cleaned_data["surname"].strip()
        if surname and not normalise(surname):
            raise forms.ValidationError("Surname must include letters")
        return surname

    def clean_forename(self) -> str:
        forename: str = self.cleaned_data["forename"].strip()
        if forename and not normalise(forename):
            raise forms.ValidationError("First name must include letters")
        return forename

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Dates typed month first and read day first, said on the page: "12 25 2015 as ...".
        self.dates_read_day_first: list[str] = []

    def _born(self, name: str) -> date | None:
        field = self.fields[name]
        assert isinstance(field, DateOfBirthInput)
        born = in_the_past(self.cleaned_data[name], field.subject)
        if field.read_day_first:
            self.dates_read_day_first.append(field.read_day_first)
        return born

    def clean_date_of_birth(self) -> date | None:
        return self._born("date_of_birth")

    def clean_dob_from(self) -> date | None:
        return self._born("dob_from")

    def clean_dob_to(self) -> date | None:
        return self._born("dob_to")

    def clean_postcode(self) -> str:
        typed: str = self.cleaned_data["postcode"]
        if not typed.strip():
            return ""
        full = normalise_postcode(typed)
        if full:
            return full
        outward = re.sub(r"\s+", "", typed).upper()
        if _OUTWARD.match(outward):
            return outward
        raise forms.ValidationError(
            "Enter a real postcode, like NE1 4ST, or its first part, like NE1"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or data.get("contactpoint_id"):
            return data
        if not data.get("surname"):
            self.add_error("surname", "Enter the child's surname, or their ContactPoint ID")
            return data
        start, end = data.get("dob_from"), data.get("dob_to")
        if data.get("date_of_birth") and (start or end):
            self.add_error("dob_from", "Enter a date of birth or a range, not both")
        elif bool(start) != bool(end):
            field = "dob_to" if start else "dob_from"
            self.add_error(field, "Enter both ends of the date of birth range")
        elif start and end and start > end:
            self.add_error("dob_to", "The end of the range must be after the start")
        elif start and end and end > _two_years_after(start):
            self.add_error("dob_to", "The date of birth range must be 2 years or less")
        elif not (
            data.get("forename") or data.get("date_of_birth") or start or data.get("postcode")
        ):
            self.add_error(
                "forename",
                "Enter the child's first name, date of birth or postcode as well as their surname",
            )
        return data

    def criteria(self) -> Criteria:
        data = self.cleaned_data
        return Criteria(
            surname=data.get("surname", ""),
            forename=data.get("forename", ""),
            date_of_birth=data.get("date_of_birth"),
            dob_from=data.get("dob_from"),
            dob_to=data.get("dob_to"),
            postcode=data.get("postcode", ""),
            gender=data.get("gender", ""),
        )

    def more_detail(self) -> str:
        """What a search of too many matches could add, from what it was not given: asking
        for the postcode she has just typed tells her nothing."""
        data = self.cleaned_data
        postcode: str = data.get("postcode", "")
        wanted = [
            "a first name" if not data.get("forename") else "",
            "a date of birth" if not (data.get("date_of_birth") or data.get("dob_from")) else "",
            "an exact date of birth" if data.get("dob_from") else "",
            "a postcode" if not postcode else "",
            # An outward code alone (NE1) is kept without a space; a full postcode has one.
            "the full postcode" if postcode and " " not in postcode else "",
        ]
        wanted = [detail for detail in wanted if detail]
        if len(wanted) < 2:
            return "".join(wanted)
        return f"{', '.join(wanted[:-1])} or {wanted[-1]}"

    def audit_criteria(self) -> dict[str, str]:
        """What was searched for, as the audit log keeps it."""
        return {
            name: value.isoformat() if isinstance(value, date) else str(value)
            for name, value in self.cleaned_data.items()
            if value
        }


class InvolvementForm(GovukMessages, forms.Form):
    """A practitioner's own involvement with a child."""

    role = WrittenText(
        label="Your role with the child",
        max_length=200,
        help_text="For example, health visitor or family support worker",
        error_messages={"required": "Enter your role with the child"},
    )
    service = forms.ModelChoiceField(
        label="Your service",
        queryset=Service.objects.none(),
        required=False,
        empty_label="No service (I work with the child myself)",
    )
    started_on = DateInputField(
        label="When you started working with the child",
        subject="The start date",
        help_text="For example, 3 9 2025",
        error_messages={"required": "Enter when you started working with the child"},
    )
    caf_held = forms.BooleanField(
        label="I hold a Common Assessment Framework (CAF) assessment", required=False
    )
    lead_professional = forms.BooleanField(label="I am the lead professional", required=False)
    # Which of her involvements the form showed: after a merge she may have two.
    involvement = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, services: Any, born: date, died: date | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        service = self.fields["service"]
        assert isinstance(service, forms.ModelChoiceField)
        service.queryset = services
        self.born, self.died = born, died

    def clean_started_on(self) -> date | None:
        started = in_the_past(self.cleaned_data["started_on"], "The start date")
        if started and started < self.born:
            born = f"{self.born.day} {self.born:%B %Y}"
            raise forms.ValidationError(
                f"The start date must be on or after the child's date of birth, {born}"
            )
        if started and self.died and started > self.died:
            died = f"{self.died.day} {self.died:%B %Y}"
            raise forms.ValidationError(
                f"The start date must be on or before the date the child died, {died}"
            )
        return started
