"""Forms for signing in, setting up an account and administering users and organisations."""

import re
import unicodedata
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.roles import Role
from contactpoint.govuk_forms import DateInputField, GovukMessages, TelephoneNumber, WrittenText
from contactpoint.postcodes import normalise_postcode

# The longest password sign-in takes; set-up takes no longer, or it could never be used.
LONGEST_PASSWORD = 1024

# Said by the form, and by the view when a second "Add user" at once took it meanwhile.
USERNAME_TAKEN = "That username is already taken"
# Likewise when a second "Save" of a new organisation took its code.
CODE_TAKEN = "An organisation with that code already exists"


class SignInForm(GovukMessages, forms.Form):
    username = forms.CharField(max_length=150, error_messages={"required": "Enter your username"})
    password = forms.CharField(
        max_length=LONGEST_PASSWORD,
        widget=forms.PasswordInput,
        strip=False,
        error_messages={"required": "Enter your password"},
    )


class SecurityCodeForm(GovukMessages, forms.Form):
    otp_token = forms.CharField(
        label="Security code",
        max_length=20,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes",
        error_messages={"required": "Enter the security code from your authenticator app"},
    )

    def clean_otp_token(self) -> str:
        # Codes are often read out with spaces ("123 456") or typed in capitals.
        return "".join(self.cleaned_data["otp_token"].split()).replace("-", "").lower()


class EnrolmentCodeForm(SecurityCodeForm):
    """At enrolment there are no backup codes yet: only the app's code will do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["otp_token"].help_text = "The 6-digit code your authenticator app shows"


class ChoosePasswordForm(GovukMessages, SetPasswordForm):
    error_messages = {"password_mismatch": "The passwords do not match"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "Create a password"
        self.fields[
            "new_password1"
        ].help_text = "At least 12 characters. Avoid common words and anything about you."
        self.fields["new_password1"].error_messages["required"] = "Enter a password"
        self.fields["new_password1"].validators.append(
            MaxLengthValidator(
                LONGEST_PASSWORD,
                message=f"Your password must be {LONGEST_PASSWORD} characters or fewer",
            )
        )
        self.fields["new_password2"].label = "Confirm your password"
        self.fields["new_password2"].help_text = ""
        self.fields["new_password2"].error_messages["required"] = "Confirm your password"

    def validate_password_for_user(self, user: Any, password_field_name: str = "") -> None:
        """What is wrong with the password chosen goes on "Create a password", as one message:
        Django puts each of its validators' on the confirmation, in words of its own."""
        password = self.cleaned_data.get("new_password1")
        if password:
            try:
                password_validation.validate_password(password, user)
            except ValidationError as error:
                self.add_error("new_password1", password_problem(error.error_list[0]))


# Django's validators' messages ("This password is too short. It must contain at least 12
# characters."), in GOV.UK's words, by the code each gives its error.
PASSWORD_PROBLEMS = {
    "password_too_short": "Your password must be {min_length} characters or more",
    "password_too_similar": "Your password must not be like your {verbose_name}",
    "password_too_common": "Your password must not be a commonly used password",
    "password_entirely_numeric": "Your password must include letters or symbols, not only numbers",
}


def password_problem(error: ValidationError) -> str:
    """The first thing wrong with a password, as the page says it (one message a field)."""
    said = PASSWORD_PROBLEMS.get(error.code or "")
    if said is None:
        return " ".join(error.messages)
    return said.format(**(error.params or {}))


class ChangePasswordForm(ChoosePasswordForm):
    """A signed-in user's new password, under the same rules as the set-up link's, given with
    her current one (which the view checks, counting a wrong one towards the lockout)."""

    current_password = forms.CharField(
        label="Current password",
        max_length=LONGEST_PASSWORD,
        widget=forms.PasswordInput,
        strip=False,
        error_messages={"required": "Enter your current password"},
    )
    field_order = ["current_password", "new_password1", "new_password2"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "New password"
        self.fields["new_password1"].error_messages["required"] = "Enter a new password"
        self.fields["new_password2"].label = "Confirm your new password"
        self.fields["new_password2"].error_messages["required"] = "Confirm your new password"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        current, new = data.get("current_password"), data.get("new_password1")
        if current and new and current == new:
            self.add_error(
                "new_password1", "Your new password must be different from your current one"
            )
        return data


class UserForm(GovukMessages, forms.Form):
    """Creating or editing a user. ``roles`` offers only what the administrator may grant."""

    username = forms.RegexField(
        regex=r"\A[a-z0-9][a-z0-9._-]{1,149}\Z",  # "$" would let a newline end it
        help_text="Lower-case letters, numbers, dots, hyphens and underscores",
        error_messages={
            "required": "Enter a username",
            "invalid": "Username must be lower-case letters, numbers, dots, hyphens or underscores",
        },
    )
    first_name = WrittenText(max_length=150, error_messages={"required": "Enter a first name"})
    last_name = WrittenText(max_length=150, error_messages={"required": "Enter a last name"})
    email = forms.EmailField(
        label="Email address",
        max_length=254,  # the column's: a valid address may be up to 320
        error_messages={
            "required": "Enter an email address",
            "invalid": "Enter an email address in the correct format, like name@example.org",
            "max_length": "Email address must be 254 characters or fewer",
        },
    )
    job_title = WrittenText(max_length=200, required=False)
    phone = TelephoneNumber(
        label="Work phone number",
        number_named="a work phone number",
        max_length=40,
        required=False,
        help_text="Shown on the records of the children they work with",
    )
    home_postcode = forms.CharField(
        label="Home postcode",
        max_length=10,
        required=False,
        help_text="Only auditors see it: they are told if the user searches their own street",
    )
    remove_home_postcode = forms.BooleanField(
        label="Remove the recorded home postcode", required=False
    )
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.all(),
        empty_label=None,
        error_messages={"required": "Select an organisation"},
    )
    roles = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        required=False,
        error_messages={"invalid_choice": "Select only roles you are allowed to give"},
    )
    vetting_checked_on = DateInputField(
        label="Date of enhanced vetting check",
        required=False,
        help_text="Access ends 3 years after this date. For example, 27 3 2025",
    )
    training_completed_on = DateInputField(
        label="Date ContactPoint training was completed",
        required=False,
        help_text="For example, 14 4 2025",
    )

    def __init__(
        self,
        *args: Any,
        grantable: list[Role],
        organisations: Any,
        editing: User | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        roles, organisation = self.fields["roles"], self.fields["organisation"]
        assert isinstance(roles, forms.MultipleChoiceField)
        assert isinstance(organisation, forms.ModelChoiceField)
        roles.choices = [(role.value, role.label) for role in grantable]
        organisation.queryset = organisations
        if editing is not None:
            del self.fields["username"]
            phone = self.fields["phone"]
            assert isinstance(phone, TelephoneNumber)
            phone.keep_recorded(editing.phone)
        # The stored postcode is never put back on the page: the field starts empty and an
        # empty one keeps it, so the form can be saved without anyone reading it.
        self.initial.pop("home_postcode", None)
        if editing is not None and editing.home_postcode:
            self.fields["home_postcode"].label = "New home postcode"
            self.fields["home_postcode"].help_text = (
                "A home postcode is recorded. Leave this empty to keep it. "
                "Only auditors see it: they are told if the user searches their own street"
            )
        else:
            del self.fields["remove_home_postcode"]
        if editing is not None or organisations.count() == 1:
            # Only a national administrator chooses; an LA administrator's users join their LA.
            del self.fields["organisation"]

    def clean_home_postcode(self) -> str:
        typed = self.cleaned_data["home_postcode"]
        if not typed:
            return ""
        postcode = normalise_postcode(typed)
        if postcode is None:
            raise forms.ValidationError("Enter a real postcode, like NE1 4ST")
        return postcode

    def clean(self) -> dict[str, Any]:
        """``home_postcode`` becomes the postcode to hold: the one typed, none if removal is
        ticked, or else the one recorded."""
        data = super().clean() or {}
        typed, remove = data.get("home_postcode"), data.pop("remove_home_postcode", False)
        if typed and remove:
            self.add_error(
                "home_postcode", "Enter a new home postcode or remove the recorded one, not both"
            )
        elif "home_postcode" in data and not typed:
            data["home_postcode"] = (
                "" if remove or self.editing is None else (self.editing.home_postcode)
            )
        return data

    def clean_roles(self) -> list[str]:
        """Each role once, in the order roles are listed (a repeated one is not two)."""
        chosen = set(self.cleaned_data["roles"])
        return [role.value for role in Role if role.value in chosen]

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(USERNAME_TAKEN)
        return username

    def _not_in_future(self, field: str) -> Any:
        value = self.cleaned_data.get(field)
        if value and value > timezone.localdate():
            label = str(self.fields[field].label)
            raise forms.ValidationError(
                f"The {label[0].lower()}{label[1:]} must be today or in the past"
            )
        return value

    def _not_run_out(self, field: str, years: int) -> Any:
        """A newly recorded check must still give access: an older date is a typing mistake or
        a check to redo. A user's own date, unchanged, is kept, so their other details can be."""
        value = self._not_in_future(field)
        if not value or (self.editing is not None and value == getattr(self.editing, field)):
            return value
        checked = User(**{field: value})  # the model says when a check runs out
        runs_out = (
            checked.vetting_expires_on()
            if field == "vetting_checked_on"
            else checked.training_expires_on()
        )
        if runs_out is not None and runs_out <= timezone.localdate():
            label = str(self.fields[field].label)
            raise forms.ValidationError(
                f"The {label[0].lower()}{label[1:]} must be in the last {years} years: "
                "an older one gives no access"
            )
        return value

    def clean_vetting_checked_on(self) -> Any:
        return self._not_run_out("vetting_checked_on", settings.VETTING_VALID_YEARS)

    def clean_training_completed_on(self) -> Any:
        return self._not_run_out("training_completed_on", settings.TRAINING_VALID_YEARS)


class UserSearchForm(GovukMessages, forms.Form):
    q = forms.CharField(label="Search by name, username or email", required=False, max_length=100)


class OrganisationForm(GovukMessages, forms.ModelForm):
    # What practitioners read on a shielded record to reach the LA team: never invisible.
    name = WrittenText(max_length=200, error_messages={"required": "Enter a name"})
    kind = forms.ChoiceField(
        label="Kind",
        # Django's "---------" is no words at all: say what to do, as the service's other selects.
        choices=[("", "Choose a kind of organisation"), *Organisation.Kind.choices],
        error_messages={
            "required": "Select a kind of organisation",
            "invalid_choice": "Select a kind of organisation",
        },
    )
    team_name = WrittenText(label="ContactPoint team name", max_length=200, required=False)
    team_phone = TelephoneNumber(
        label="ContactPoint team phone number",
        number_named="the ContactPoint team phone number",
        max_length=40,
        required=False,
    )

    class Meta:
        model = Organisation
        fields = ["code", "name", "kind", "team_name", "team_phone", "team_email"]
        labels = {
            "code": "Code",
            "team_name": "ContactPoint team name",
            "team_phone": "ContactPoint team phone number",
            "team_email": "ContactPoint team email address",
        }
        error_messages = {
            "code": {
                "required": "Enter a code",
                "unique": CODE_TAKEN,
            },
            "name": {"required": "Enter a name"},
            "team_email": {
                "invalid": "Enter the ContactPoint team's email address in the correct "
                "format, like contactpoint@durham.example.org",
            },
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            team_phone = self.fields["team_phone"]
            assert isinstance(team_phone, TelephoneNumber)
            team_phone.keep_recorded(self.instance.team_phone)

    def clean_code(self) -> str:
        """In capitals, as ONS codes are written: a lower-case code would be a second
        organisation for the same LA."""
        code = "".join(c for c in self.cleaned_data["code"] if unicodedata.category(c) != "Cf")
        code = code.strip().upper()
        if self.instance.pk and code == self.instance.code.upper():
            # A code from before this rule is kept as it is: an LA system's feed records are
            # filed under it ("e06000047/123"), and the next file would find none of them.
            return self.instance.code
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]*", code):
            raise forms.ValidationError("Code must be letters and numbers, like E06000047")
        taken = Organisation.objects.filter(code__iexact=code).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(CODE_TAKEN)
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The instance is still as saved: the form's values go on it after clean().
        was_la = self.instance.pk is not None and self.instance.is_local_authority
        leaving = data.get("kind") not in (None, Organisation.Kind.LOCAL_AUTHORITY)
        if was_la and leaving and self.instance.children.exists():
            # Its team is whom practitioners contact about its shielded children.
            self.add_error(
                "kind",
                f"{self.instance.name} looks after children's records, so it must stay a "
                "local authority",
            )
        if data.get("kind") == Organisation.Kind.LOCAL_AUTHORITY:
            if not data.get("team_phone"):
                self.add_error(
                    "team_phone",
                    "Enter the phone number of the local authority's ContactPoint team",
                )
            if not data.get("team_email"):
                self.add_error(
                    "team_email",
                    "Enter the email address of the local authority's ContactPoint team",
                )
        return data
