"""Form fields that behave like the GOV.UK Design System's components."""

import re
import unicodedata
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.forms.utils import pretty_name

from contactpoint.telephone_numbers import EXAMPLES, telephone_number_is_valid


class TelephoneInput(forms.TextInput):
    """GOV.UK's telephone number input: a phone offers its number pad."""

    input_type = "tel"


# A date given in one value by a link made before the three inputs (``DateInputWidget``).
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class DateInputWidget(forms.MultiWidget):
    """Day, month and year as three inputs (the GOV.UK date input). ``one_value``: a filter
    whose links were made before the three inputs, and give "2026-11-01" in one value (a
    bookmark, the next page, a download), reads that value too."""

    def __init__(self, *, one_value: bool = False) -> None:
        self.one_value = one_value
        super().__init__([forms.TextInput(), forms.TextInput(), forms.TextInput()])

    def decompress(self, value: date | None) -> list[Any]:
        return [value.day, value.month, value.year] if value else [None, None, None]

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        parts = super().value_from_datadict(data, files, name)
        said = data.get(name) if self.one_value else None
        if any(parts) or not isinstance(said, str) or not said.strip():
            return parts
        if match := ISO_DATE.fullmatch(said.strip()):
            year, month, day = match.groups()
            return [day, month, year]
        # Anything else in one value ("11/01/2026": 11 January, or 1 November?) is read as no
        # real date, rather than guessed.
        return [said] * 3


BOX_NAMES = ("day", "month", "year")
# Months in words, in full or cut to their first three letters (and Sept), as GOV.UK's date
# input accepts them in the month box.
MONTHS = {
    name: number
    for number, month in enumerate(
        "january february march april may june july august september october november "
        "december".split(),
        start=1,
    )
    for name in (month, month[:3])
} | {"sept": 9}


def _month_number(typed: str) -> str:
    """The month box as a number: "March", "mar" and "Mar." are 3; anything else as typed."""
    named = MONTHS.get(typed.lower().rstrip("."))
    return str(named) if named else typed


class DateInputField(forms.MultiValueField):
    """A date typed as day, month and year, with the GOV.UK pattern's error messages."""

    widget = DateInputWidget

    def __init__(
        self,
        *,
        label: str,
        required: bool = True,
        subject: str = "",
        one_value: bool = False,
        **kwargs: Any,
    ) -> None:
        # How an error message names the date: "The date of birth", or ``subject`` where the
        # label reads better alone ("Date from must be a real date").
        self.subject = subject or f"The {label[0].lower()}{label[1:]}"
        said = (kwargs.get("error_messages") or {}).get("required")
        self.missing = said or f"Enter {self.subject[0].lower()}{self.subject[1:]}"
        # The boxes (0 day, 1 month, 2 year) the last error is about, as GOV.UK asks: the error
        # summary links to the first and only they are outlined; none means the whole date.
        self.boxes_wrong: tuple[int, ...] = ()
        parts = [forms.CharField(required=False) for _ in range(3)]
        kwargs.setdefault("widget", DateInputWidget(one_value=one_value))
        super().__init__(parts, label=label, required=required, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[str]) -> date | None:
        self.boxes_wrong = ()
        parts = [(part or "").strip() for part in (data_list or ["", "", ""])]
        parts[1] = _month_number(parts[1])
        day, month, year = parts
        if not (day or month or year):
            if self.required:
                raise ValidationError(self.missing)
            return None
        missing = [index for index, part in enumerate(parts) if not part]
        if missing:
            self.boxes_wrong = tuple(missing)
            names = " and a ".join(BOX_NAMES[index] for index in missing)
            raise ValidationError(f"{self.subject} must include a {names}")
        # ASCII digits only ("²" is a digit to isdigit()), and no more of them than a date has.
        # Python refuses to read a number of thousands of digits: no box holds more than 4.
        numbers = [
            int(part) if part.isascii() and part.isdigit() and len(part) <= 4 else None
            for part in parts
        ]
        fits = (
            numbers[0] is not None and len(day) <= 2 and 1 <= numbers[0] <= 31,
            numbers[1] is not None and len(month) <= 2 and 1 <= numbers[1] <= 12,
            numbers[2] is not None and len(year) == 4 and numbers[2] >= 1,
        )
        if not all(fits):
            self.boxes_wrong = tuple(index for index, fit in enumerate(fits) if not fit)
            raise ValidationError(f"{self.subject} must be a real date")
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            # 31 in February, 29 out of a leap year: the day is the one to mend.
            self.boxes_wrong = (0,)
            raise ValidationError(f"{self.subject} must be a real date") from None

    def clean(self, value: Any) -> date | None:
        # MultiValueField's own checks would give Django's generic messages; compress() gives ours.
        return self.compress(value if isinstance(value, list) else [])


def _django_defaults(field: forms.Field, key: str) -> set[str]:
    """Django's own wording for an error ``key``, from every field class ``field`` is."""
    return {
        str(message)
        for kind in type(field).__mro__
        if (message := getattr(kind, "default_error_messages", {}).get(key)) is not None
    }


class GovukMessages:
    """Mixed into every form: Django's own messages for a value left out, too long, a null
    character or a choice not offered become the GOV.UK pattern's, naming the field and never
    echoing what was typed."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            label = str(field.label or pretty_name(name))
            field.validators = [_worded(validator, label) for validator in field.validators]
            for key in ("invalid_choice", "invalid_pk_value"):
                if str(field.error_messages.get(key)) in _django_defaults(field, key):
                    field.error_messages[key] = f"Select one of the options for {label.lower()}"
            if str(field.error_messages.get("required")) in _django_defaults(field, "required"):
                verb = "Select" if isinstance(field, forms.ChoiceField) else "Enter"
                field.error_messages["required"] = f"{verb} {_in_a_sentence(label)}"


def _in_a_sentence(label: str) -> str:
    """A label as it reads after "Enter": "date of birth", but "the ContactPoint ID" (a name
    keeps its capitals, and needs an article)."""
    first = label.split(" ", 1)[0]
    return f"the {label}" if first[1:] != first[1:].lower() else label[0].lower() + label[1:]


def _worded(validator: Any, label: str) -> Any:
    if isinstance(validator, MaxLengthValidator):
        limit = validator.limit_value
        return MaxLengthValidator(limit, message=f"{label} must be {limit} characters or fewer")
    if isinstance(validator, ProhibitNullCharactersValidator):
        return ProhibitNullCharactersValidator(message=f"{label} must not contain a null character")
    return validator


class WrittenText(forms.CharField):
    """Something a person must write (a reason, a justification, a name). Invisible
    characters (zero-width spaces, direction overrides: Unicode's format characters) are
    taken out, and text without a letter or a digit counts as not written at all: empty, so a
    required field asks for it and an optional one keeps nothing."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        visible = "".join(c for c in text if unicodedata.category(c) != "Cf").strip()
        return visible if any(character.isalnum() for character in visible) else ""


class TelephoneNumber(WrittenText):
    """A telephone number someone will ring, as GOV.UK's telephone input asks for one: a UK
    number of 10 or 11 digits, or an international one of up to 15 after its "+"."""

    widget = TelephoneInput

    def __init__(self, *, number_named: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.invalid = f"Enter {number_named}, like {EXAMPLES}"
        self.recorded = ""

    def keep_recorded(self, recorded: str) -> None:
        """The number already held, kept as it is when sent back unchanged, though it was
        stored before this check: whoever changes only a job title or an email must not be
        refused over a number he did not touch. He is told it is no number to ring."""
        self.recorded = self.to_python(recorded)
        if self.recorded and not telephone_number_is_valid(self.recorded):
            told = f"{self.help_text}. " if self.help_text else ""
            self.help_text = (
                f"{told}The number recorded is not a phone number anyone can ring: correct it "
                f"if you can, like {EXAMPLES}"
            )

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and value != self.recorded and not telephone_number_is_valid(value):
            raise ValidationError(self.invalid)
