"""Form fields that behave like the GOV.UK Design System's components."""

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError


class DateInputWidget(forms.MultiWidget):
    """Day, month and year as three inputs (the GOV.UK date input)."""

    def __init__(self) -> None:
        super().__init__([forms.TextInput(), forms.TextInput(), forms.TextInput()])

    def decompress(self, value: date | None) -> list[Any]:
        return [value.day, value.month, value.year] if value else [None, None, None]


class DateInputField(forms.MultiValueField):
    """A date typed as day, month and year, with the GOV.UK pattern's error messages."""

    widget = DateInputWidget

    def __init__(self, *, label: str, required: bool = True, **kwargs: Any) -> None:
        self.name_in_errors = label[0].lower() + label[1:]
        parts = [forms.CharField(required=False) for _ in range(3)]
        super().__init__(parts, label=label, required=required, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[str]) -> date | None:
        day, month, year = ((part or "").strip() for part in (data_list or ["", "", ""]))
        if not (day or month or year):
            if self.required:
                raise ValidationError(f"Enter the {self.name_in_errors}")
            return None
        missing = [
            name
            for name, part in zip(("day", "month", "year"), (day, month, year), strict=True)
            if not part
        ]
        if missing:
            raise ValidationError(
                f"The {self.name_in_errors} must include a {' and a '.join(missing)}"
            )
        # ASCII digits only ("²" is a digit to isdigit()), and no more of them than a date has.
        numbers = all(part.isascii() and part.isdigit() for part in (day, month, year))
        if not numbers or len(day) > 2 or len(month) > 2 or len(year) != 4:
            raise ValidationError(f"The {self.name_in_errors} must be a real date")
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            raise ValidationError(f"The {self.name_in_errors} must be a real date") from None

    def clean(self, value: Any) -> date | None:
        # MultiValueField's own checks would give Django's generic messages; compress() gives ours.
        return self.compress(value if isinstance(value, list) else [])
