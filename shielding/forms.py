"""Forms for shielding officers, override practitioners and requests for contact."""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from contactpoint.govuk_forms import DateInputField, GovukMessages, WrittenText
from contactpoint.telephone_numbers import telephone_number_is_valid
from shielding.models import ContactRequest, Shield


def review_date(day: date, name: str) -> date:
    """A shield's next review: after today, and within a year (every 6 months by default), so
    that no shield goes unreviewed."""
    if day <= timezone.localdate():
        raise forms.ValidationError(f"The {name} must be in the future")
    if day > timezone.localdate() + timedelta(days=366):
        raise forms.ValidationError(f"The {name} must be within a year from today")
    return day


class ShieldForm(GovukMessages, forms.Form):
    reason = forms.ChoiceField(
        label="Why the record must be shielded",
        choices=[("", "Choose a reason"), *Shield.Reason.choices],
        error_messages={"required": "Select why the record must be shielded"},
    )
    justification = WrittenText(
        widget=forms.Textarea, max_length=2000,
        help_text="What makes showing where the child is a risk of significant harm",
        error_messages={"required": "Enter the justification for shielding the record"},
    )  # fmt: skip
    review_on = DateInputField(
        label="Review date",
        help_text="Shields are reviewed every 6 months. For example, 27 5 2027",
    )

    def clean_review_on(self) -> date:
        return review_date(self.cleaned_data["review_on"], "review date")


class ShieldLiftForm(GovukMessages, forms.Form):
    """A lift alone: of another LA's record's shield for sharing, whose own team reviews it."""

    note = WrittenText(
        label="Reasons for your decision", widget=forms.Textarea, max_length=2000,
        error_messages={"required": "Enter the reasons for your decision"},
    )  # fmt: skip


class ShieldReviewForm(ShieldLiftForm):
    field_order = ["decision", "review_on", "note"]

    decision = forms.ChoiceField(
        choices=[("extend", "Keep the shield until the next review"), ("lift", "Lift the shield")],
        widget=forms.RadioSelect,
        error_messages={"required": "Select whether to keep or lift the shield"},
    )
    review_on = DateInputField(
        label="Next review date",
        required=False,
        help_text="Needed to keep the shield. For example, 27 5 2027",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") != "extend":
            # Lifting keeps no review date: what its boxes hold is neither read nor refused.
            self.errors.pop("review_on", None)
        elif "review_on" not in self.errors:
            try:
                if data.get("review_on") is None:
                    raise forms.ValidationError("Enter the next review date")
                data["review_on"] = review_date(data["review_on"], "next review date")
            except forms.ValidationError as error:
                self.add_error("review_on", error)
        return data


# The fewest letters and numbers a reason to override a shield may have, spaces and marks not
# counted: "Section 47" and "s47 visit" are reasons, "x........." is not.
OVERRIDE_REASON_SHORTEST = 8


class OverrideForm(GovukMessages, forms.Form):
    reason = WrittenText(
        label="Why you need to see this record", widget=forms.Textarea, max_length=2000,
        help_text="For example, the child protection enquiry or emergency this is for. "
        "The local authority's ContactPoint team will review it.",
        error_messages={"required": "Enter why you need to see this shielded record"},
    )  # fmt: skip

    def clean_reason(self) -> str:
        """The LA's team and the auditors review each override by its reason: "x" or "ok"
        would tell them nothing, and lets the override through without a thought."""
        reason: str = self.cleaned_data["reason"]
        if sum(character.isalnum() for character in reason) < OVERRIDE_REASON_SHORTEST:
            raise ValidationError(
                f"Why you need to see this record must have {OVERRIDE_REASON_SHORTEST} letters "
                "or numbers or more, like the enquiry or emergency it is for"
            )
        return reason


class ContactRequestForm(GovukMessages, forms.Form):
    # Filled in with her job title ("Social worker"), which "Your service" did not describe.
    service = WrittenText(
        label="Your job or service", max_length=200,
        help_text="For example, health visitor or school nursing service",
        error_messages={"required": "Enter your job or the service you work for"},
    )  # fmt: skip
    reason = WrittenText(
        label="Why you need to contact the child or their family", widget=forms.Textarea,
        max_length=2000, error_messages={"required": "Enter why you need to contact the child"},
    )  # fmt: skip
    reply_to = WrittenText(
        label="How the team can reach you", max_length=200,
        help_text="A work telephone number or email address",
        error_messages={"required": "Enter how the team can reach you"},
    )  # fmt: skip

    def clean_reply_to(self) -> str:
        """The team replies by it: "ask at reception" would leave them no way to."""
        reply_to: str = self.cleaned_data["reply_to"]
        try:
            validate_email(reply_to)
        except ValidationError:
            if not telephone_number_is_valid(reply_to):
                raise ValidationError(
                    "Enter a work telephone number or email address, like 01632 960 001 or "
                    "name@example.org"
                ) from None
        return reply_to


class ContactOutcomeForm(GovukMessages, forms.Form):
    outcome = forms.ChoiceField(
        choices=ContactRequest.Outcome.choices, widget=forms.RadioSelect,
        error_messages={"required": "Select what was done"},
    )  # fmt: skip
    note = WrittenText(label="Note", widget=forms.Textarea, max_length=2000, required=False)


class SignOffForm(GovukMessages, forms.Form):
    note = WrittenText(label="Review note", max_length=2000, required=False)
