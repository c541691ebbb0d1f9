"""Which account models django-auditlog records, field by field (see accounts/apps.py)."""

from auditlog.registry import auditlog

from accounts.models import Organisation, SetupLink, User


def register() -> None:
    # Secrets and the per-request bookkeeping fields are never written to the change log.
    auditlog.register(User, exclude_fields=["password", "session_stamp", "last_login"])
    auditlog.register(Organisation)
    auditlog.register(SetupLink, exclude_fields=["token_hash"])
