"""The access log: one event per request, kept append-only by PostgreSQL, sealed daily.

``audit_event`` and ``audit_event_digest`` are partitioned by month and created by raw SQL
(migration 0001), so their models here are unmanaged: Django reads and inserts, and PostgreSQL
refuses every UPDATE, DELETE and TRUNCATE. Old months leave only by dropping whole partitions
(``audit_retention``), which is itself an event.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from directory import contactpoint_id


class Action(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    SEARCH = "search", "Search"
    VIEW_RECORD = "view_record", "View record"
    OVERRIDE = "override", "Shield override"
    EXPORT = "export", "Export"
    BROKERED_CONTACT = "brokered_contact", "Brokered-contact request"
    CHANGE = "change", "Change to a record"
    ADMIN_ACTION = "admin_action", "Administrative action"
    AUDITOR_QUERY = "auditor_query", "Auditor query"
    SIGN_IN = "sign_in", "Signed in (password)"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    TWO_FACTOR_PASSED = "two_factor_passed", "Second factor passed"
    TWO_FACTOR_FAILED = "two_factor_failed", "Second factor failed"
    TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Two-factor sign-in set up"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    BACKUP_CODES_RENEWED = "backup_codes_renewed", "New backup codes"
    SIGN_OUT = "sign_out", "Signed out"
    SESSION_REPLACED = "session_replaced", "Signed out by a sign-in on the same browser"
    ERROR = "error", "Request failed"
    RETENTION = "retention", "Old events removed by retention"


class AuditEvent(models.Model):
    """Who did what, when, from where, to which child, with what outcome.

    Who is recorded as it was at the time (username, roles, organisation), so that the event
    still reads correctly after the user's roles or organisation change.
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()
    request_id = models.UUIDField(null=True)
    user_id = models.BigIntegerField(null=True)
    username = models.CharField(max_length=150, blank=True)
    roles = ArrayField(models.CharField(max_length=30), default=list)
    organisation_id = models.BigIntegerField(null=True)
    action = models.CharField(max_length=30, choices=Action.choices)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=500, blank=True)
    status = models.SmallIntegerField(null=True)
    ip_address = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=500, blank=True)
    child_id = models.BigIntegerField(null=True)
    child_contactpoint_id = models.CharField(max_length=12, blank=True)
    child_shielded = models.BooleanField(null=True)
    child_local_authority_id = models.BigIntegerField(null=True)
    search_criteria = models.JSONField(null=True)
    result_ids = ArrayField(models.CharField(max_length=12), default=list)
    result_count = models.IntegerField(null=True)
    reason = models.TextField(blank=True)
    detail = models.JSONField(null=True)

    class Meta:
        managed = False
        db_table = "audit_event"
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.get_action_display()} by {self.username or 'anonymous'} at {self.occurred_at}"
        )

    @property
    def child_contactpoint_id_display(self) -> str:
        """The child's ID as every other page shows it, in groups of four."""
        return contactpoint_id.display(self.child_contactpoint_id)


class AuditSeal(models.Model):
    """The hash of one closed day's events and change-log entries, chained to the previous
    day's seal.

    Sealing runs after the day is over, never in a request, so it does not serialise traffic.
    Seals made before the change log was sealed (migration 0002) have no ``changes_hash``.
    """

    day = models.DateField(primary_key=True)
    event_count = models.BigIntegerField()
    events_hash = models.CharField(max_length=64)
    change_count = models.BigIntegerField(null=True)
    # NULL, not "": the seal says nothing of the change log, rather than that it was empty.
    changes_hash = models.CharField(max_length=64, null=True)  # noqa: DJ001
    previous_seal_hash = models.CharField(max_length=64)
    seal_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "audit_seal"
        ordering = ["day"]

    def __str__(self) -> str:
        return f"Seal of {self.day}"
