"""What the feed upload page and ``import_feed`` need besides the file: when it was extracted."""

from django.core.management import call_command
from django.utils import timezone

from tests.date_input import date_boxes


def extracted_today() -> dict[str, str]:
    """The upload form's date input, for a file extracted today."""
    return date_boxes("extracted_on", timezone.localdate())


def extracted_today_argument() -> list[str]:
    """``import_feed``'s ``--extracted-on`` for a file extracted today."""
    return ["--extracted-on", timezone.localdate().isoformat()]


def import_feed_today(*arguments: str) -> None:
    """``manage.py import_feed`` with these arguments, for a file extracted today."""
    call_command("import_feed", *extracted_today_argument(), *arguments)
