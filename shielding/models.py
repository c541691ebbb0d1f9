"""Shields: a record whose location must be hidden because revealing it could cause harm."""

from django.conf import settings
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
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    shielded_at = models.DateTimeField(db_default=Now())
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

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
