"""Shields, overrides and brokered-contact requests: the records of keeping a child hidden."""

import hashlib

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now


class Shield(models.Model):
    """A shielding officer's decision to mask a child's whereabouts, reviewed every 6 months.

    A lifted shield is kept (``lifted_at`` set), so the history of decisions survives; at most
    one shield per child is in force at a time.
    """

    class Reason(models.TextChoices):
        DOMESTIC_ABUSE = "domestic_abuse", "Domestic abuse"
        CHILD_PROTECTION = "child_protection", "Child protection concern"
        WITNESS_PROTECTION = "witness_protection", "Witness or victim protection"
        ADOPTION = "adoption", "Adoption or placement to be kept confidential"
        OTHER = "other", "Other risk of significant harm"

    child = models.ForeignKey("directory.Child", on_delete=models.CASCADE, related_name="shields")
    reason = models.CharField(max_length=30, choices=Reason.choices)
    justification = models.TextField()
    review_on = models.DateField()
    shielded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    shielded_at = models.DateTimeField(db_default=Now())
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # A database default too, so that bulk loads (COPY) may leave them out.
    review_note = models.TextField(blank=True, db_default="")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    lift_note = models.TextField(blank=True, db_default="")
    # A shield made only because the record shares a home, or a parent or carer, with a
    # shielded child (``shield_follows_home_and_carers``), and that child (while her record
    # is kept). Such a shield protects her; it is not itself followed to the records that
    # share this record's homes and carers.
    for_sharing = models.BooleanField(default=False, db_default=False)
    protects = models.ForeignKey(
        "directory.Child", on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    # For a shield for sharing that an officer lifted: the record's homes and carers, and what
    # of the child's it shares, as the officer saw them (``sharing_fingerprint``). The lift
    # stands while they are so.
    lifted_seeing = models.CharField(max_length=64, blank=True, db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["child"],
                condition=Q(lifted_at__isnull=True),
                name="one_shield_in_force_per_child",
            ),
            models.CheckConstraint(
                name="shield_lifted_after_shielded",
                condition=Q(lifted_at__isnull=True) | Q(lifted_at__gte=F("shielded_at")),
            ),
            models.CheckConstraint(
                name="shield_has_justification",
                condition=~Q(justification=""),
            ),
        ]

    def __str__(self) -> str:
        return f"Shield on {self.child}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.child_id]}

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None

    @property
    def automatic(self) -> bool:
        """Put on by the service (for sharing a home with a shielded child, or for a feed row
        that could be one), not by an officer: an officer may make it their own, for the
        child's own sake. Its page offers that whatever the shield is for, so that another
        LA's officer does not learn from it that a shielded child shares the home."""
        return self.shielded_by_id is None


class ShieldsToFollow(models.Model):
    """A look again at the shields near the homes and carers a transaction changed, owed once
    it has committed (``follow_shields_after_commit``). Written inside that transaction, so
    that it commits with the change or not at all, and deleted by the look that succeeds. One
    left behind (the look failed past its retries, or the process ended between commit and
    look) is taken up by ``shields_follow --pending``, every minute. Record ids only."""

    since = models.DateTimeField()
    children = ArrayField(models.BigIntegerField(), default=list, blank=True)
    made_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"Shields to follow since {self.since:%Y-%m-%d %H:%M:%S}"


class ShieldOverride(models.Model):
    """An override practitioner's one-visit look at a shielded record, and the LA's review.

    The link that opens the unmasked record works once, soon after the reason is given; only
    its hash is stored. Every override waits in the LA team's queue until signed off.
    """

    child = models.ForeignKey("directory.Child", on_delete=models.CASCADE, related_name="+")
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    requested_at = models.DateTimeField(auto_now_add=True)
    visit_token_hash = models.CharField(max_length=64, unique=True)
    viewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    review_note = models.TextField(blank=True)
    # An override of a record shielded for sharing a home or carer with this child showed them:
    # it is hers too, through that record (its ContactPoint ID), for her LA's team to sign off.
    # Its token was never given out: it opens nothing. The queue does not show that record's ID:
    # its page's event could not name that record without telling the record's own LA's
    # auditors that a shielded child of another LA shares its home; her LA's auditors read it
    # in the override's event (``through_another_record``).
    seen_through = models.CharField(max_length=12, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="override_has_reason", condition=~Q(reason="")),
        ]

    def __str__(self) -> str:
        return f"Override of the shield on child #{self.child_id}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.child_id]}

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class ContactRequest(models.Model):
    """A practitioner's request that the LA team put them in touch with a shielded child.

    The team sees the full record and records what it did; the requester is never shown any
    of the child's contact details by the system.
    """

    class Outcome(models.TextChoices):
        CONTACT_PASSED_ON = "passed_on", "Request passed on to the family or lead professional"
        CONTACT_ARRANGED = "arranged", "Contact arranged by the team"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn or no longer needed"

    child = models.ForeignKey("directory.Child", on_delete=models.CASCADE, related_name="+")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    service = models.CharField(max_length=200)
    reason = models.TextField()
    reply_to = models.CharField(max_length=200, help_text="How the team can reach the requester")
    requested_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_note = models.TextField(blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="contact_request_has_reason", condition=~Q(reason="")),
            models.CheckConstraint(
                name="contact_request_outcome_when_handled",
                condition=Q(handled_at__isnull=True, outcome="")
                | (Q(handled_at__isnull=False) & ~Q(outcome="")),
            ),
        ]

    def __str__(self) -> str:
        return f"Contact request for child #{self.child_id}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.child_id]}
