"""WSGI entry point for gunicorn (see contactpoint/gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactpoint.settings")

application = get_wsgi_application()
