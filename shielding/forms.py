"""Forms for shielding officers, override practitioners and requests for contact."""

from datetime import date
from typing import Any

from django import forms

from directory.forms import parse_future_date
from shielding.models import ContactRequest, Shield


class ShieldForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why the record must be shielded",
        choices=[("", "Choose a reason"), *Shield.Reason.choices],
        error_messages={"required": "Choose why the record must be shielded"},
    )
    justification = forms.CharField(
        widget=forms.Textarea, max_length=2000,
        help_text="What makes showing where the child is a risk of significant harm",
        error_messages={"required": "Enter the justification for shielding the record"},
    )  # fmt: skip
    review_on = forms.CharField(
        label="Review date", max_length=20,
        help_text="Shields are reviewed every 6 months. For example, 27 5 2027",
        error_messages={"required": "Enter the review date"},
    )  # fmt: skip

    def clean_review_on(self) -> date:
        return parse_future_date(self.cleaned_data["review_on"], "review date")


class ShieldReviewForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("extend", "Keep the shield until the next review"), ("lift", "Lift the shield")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose whether to keep or lift the shield"},
    )
    review_on = forms.CharField(label="Next review date", max_length=20, required=False)
    note = forms.CharField(
        label="Reasons for your decision", widget=forms.Textarea, max_length=2000,
        error_messages={"required": "Enter the reasons for your decision"},
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "extend":
            try:
                data["review_on"] = parse_future_date(
                    data.get("review_on") or "", "next review date"
                )
            except forms.ValidationError as error:
                self.add_error("review_on", error)
        return data


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Why you need to see this record", widget=forms.Textarea, max_length=2000,
        help_text="For example, the child protection enquiry or emergency this is for. "
        "The local authority's ContactPoint team will review it.",
        error_messages={"required": "Enter why you need to see this shielded record"},
    )  # fmt: skip


class ContactRequestForm(forms.Form):
    service = forms.CharField(
        label="Your service", max_length=200,
        error_messages={"required": "Enter the service you work for"},
    )  # fmt: skip
    reason = forms.CharField(
        label="Why you need to contact the child or their family", widget=forms.Textarea,
        max_length=2000, error_messages={"required": "Enter why you need to contact the child"},
    )  # fmt: skip
    reply_to = forms.CharField(
        label="How the team can reach you", max_length=200,
        help_text="A work telephone number or email address",
        error_messages={"required": "Enter how the team can reach you"},
    )  # fmt: skip


class ContactOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=ContactRequest.Outcome.choices, widget=forms.RadioSelect,
        error_messages={"required": "Choose what was done"},
    )  # fmt: skip
    note = forms.CharField(label="Note", widget=forms.Textarea, max_length=2000, required=False)


class SignOffForm(forms.Form):
    note = forms.CharField(label="Review note", max_length=2000, required=False)
