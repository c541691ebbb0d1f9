"""WSGI entry point for gunicorn (see contactpoint/gunicorn.conf.py)."""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactpoint.settings")

django_application = get_wsgi_application()

from contactpoint.middleware import readable_charset  # noqa: E402 - needs the settings


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Django, given only requests it can build (``readable_charset``)."""
    return django_application(readable_charset(environ), start_response)
