"""`python manage.py import_waiting_feeds`: import the large files data managers uploaded."""

from typing import Any

from contactpoint.commands import Command as BaseCommand
from directory.feed_import import waiting_uploads_import


class Command(BaseCommand):
    """Imports every file waiting since a data manager uploaded it (one with more than
    ``FEED_WEB_IMPORT_ROWS`` rows), oldest first, as that data manager. Run it every minute;
    two runs at once share the work."""

    help = "Import the feed files waiting since their upload."

    def handle(self, *args: Any, **options: Any) -> None:
        for upload in waiting_uploads_import():
            self.stdout.write(f"{upload.file_name}: {upload.get_status_display().lower()}.")
