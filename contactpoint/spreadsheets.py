"""CSV files people open in a spreadsheet: the auditors' exports, a feed's rejected rows."""

# What a spreadsheet would run as a formula, after any spaces or line breaks it passes over.
FORMULA_STARTS = ("=", "+", "-", "@")
LEADING_SPACE = " \t\r\n"


def as_text(value: str) -> str:
    """A cell a spreadsheet should show as written: text it would run as a formula (anyone's
    free text: a user agent, a name searched for, a feed's value), even after spaces or a line
    break ("\\n=1+1"), or that starts with a tab or carriage return, is kept as text with the
    apostrophe spreadsheets themselves use for that."""
    if value.startswith(("\t", "\r")) or value.lstrip(LEADING_SPACE).startswith(FORMULA_STARTS):
        return f"'{value}"
    return value
