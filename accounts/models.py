"""Organisations and the people who sign in to ContactPoint."""

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from accounts.roles import Role


class OrganisationKind(models.TextChoices):
    LOCAL_AUTHORITY = "local_authority", "Local authority"
    NATIONAL_PARTNER = "national_partner", "National partner"
    SERVICE_OPERATOR = "service_operator", "Service operator"


class Organisation(models.Model):
    """A local authority or a national partner; every user belongs to exactly one.

    A local authority's ContactPoint team brokers contact with its shielded children, so its
    contact details are required: they are what a practitioner sees on a shielded record.
    """

    Kind = OrganisationKind

    code = models.CharField(max_length=20, unique=True, help_text="ONS code for a local authority")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    team_name = models.CharField(max_length=200, blank=True)
    team_phone = models.CharField(max_length=40, blank=True)
    team_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="local_authority_has_contact_team",
                condition=~Q(kind="local_authority") | (~Q(team_phone="") & ~Q(team_email="")),
            ),
            models.CheckConstraint(
                name="organisation_kind_is_known",
                condition=Q(kind__in=OrganisationKind.values),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_local_authority(self) -> bool:
        return self.kind == self.Kind.LOCAL_AUTHORITY


class User(AbstractUser):
    """A practitioner or member of staff. Roles, not Django's groups, say what they may do."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="users")
    roles = ArrayField(
        models.CharField(max_length=30, choices=Role.choices), default=list, blank=True
    )
    job_title = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    vetting_checked_on = models.DateField(
        null=True, blank=True, help_text="Date of the enhanced check; valid for 3 years"
    )
    training_completed_on = models.DateField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)

    REQUIRED_FIELDS = ["email", "organisation"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(
                name="user_roles_are_known",
                condition=Q(roles__contained_by=Role.values),
            ),
        ]

    def has_role(self, role: Role) -> bool:
        return role in self.roles
