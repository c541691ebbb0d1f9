"""Organisations, the people who sign in to ContactPoint, and what keeps them out."""

import hashlib
import uuid
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

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
    # An administrator's reactivation restarts the 90 days without making up a sign-in.
    reactivated_at = models.DateTimeField(null=True, blank=True)
    home_postcode = models.CharField(
        max_length=8, blank=True, help_text="Lets auditors spot searches of the user's own street"
    )
    # Each session remembers the stamp it was signed in under; a new stamp ends every session.
    session_stamp = models.UUIDField(default=uuid.uuid4, editable=False)
    two_factor_reset_at = models.DateTimeField(null=True, blank=True)
    unlocked_at = models.DateTimeField(null=True, blank=True)

    REQUIRED_FIELDS = ["email", "organisation"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(
                name="user_roles_are_known",
                condition=Q(roles__contained_by=Role.values),
            ),
        ]

    def is_verified(self) -> bool:
        """Whether this session passed the second factor.

        django-otp's middleware replaces this on each request's user; False where it has not run.
        """
        return False

    @property
    def display_name(self) -> str:
        """How every page names her: her full name, or her username where none is recorded
        (the create_user command makes users without one)."""
        return self.get_full_name() or self.username

    @property
    def audit_name(self) -> str:
        """How the auditors' screens name her: as every page does, with her username, which
        tells apart two people of one name ("Ann Smith (asmith)")."""
        name = self.display_name
        return name if name == self.username else f"{name} ({self.username})"

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def role_labels(self) -> list[str]:
        return [role.label for role in Role if role in self.roles]

    def vetting_expires_on(self) -> date | None:
        if self.vetting_checked_on is None:
            return None
        return _years_after(self.vetting_checked_on, settings.VETTING_VALID_YEARS)

    def training_expires_on(self) -> date | None:
        if self.training_completed_on is None:
            return None
        return _years_after(self.training_completed_on, settings.TRAINING_VALID_YEARS)

    def access_runs_out(self) -> tuple[date, str] | None:
        """The day her first check to run out stops letting her in, and which ("vetting" or
        "training"): what her home page warns her of. None while either is not recorded."""
        vetting, training = self.vetting_expires_on(), self.training_expires_on()
        if vetting is None or training is None:
            return None
        return min((vetting, "vetting"), (training, "training"))

    # Each ``access_problem`` in an auditor's words ("Signed out: access ended (vetting ...)").
    ACCESS_PROBLEMS = {
        "deactivated": "account deactivated",
        "suspended": "suspended",
        "vetting": "vetting check expired or not recorded",
        "training": "training expired or not recorded",
        "dormant": "90 days without signing in",
    }

    def access_problem(self, now: datetime) -> str | None:
        """Why this user may not use ContactPoint now (DESIGN.md "Users and roles"), or None."""
        # Checks and training are dated in England: they end at midnight there, not in UTC.
        today = timezone.localdate(now)
        vetting_expires, training_expires = self.vetting_expires_on(), self.training_expires_on()
        if not self.is_active:
            return "deactivated"
        if self.suspended_at is not None:
            return "suspended"
        if vetting_expires is None or vetting_expires <= today:
            return "vetting"
        if training_expires is None or training_expires <= today:
            return "training"
        if self.is_dormant(now):
            return "dormant"
        return None

    def is_dormant(self, now: datetime) -> bool:
        """90 days without a sign-in or a reactivation, whatever else ends her access: lapsed
        vetting or training must not hide it, or reactivating her would be refused."""
        # last_login is a full sign-in, both factors (accounts/apps.py).
        last_seen = self.last_login or self.date_joined
        if self.reactivated_at is not None:
            last_seen = max(last_seen, self.reactivated_at)
        return now - last_seen > timedelta(days=settings.DORMANT_AFTER_DAYS)


def _years_after(day: date, years: int) -> date:
    """The same date ``years`` later (28 February for 29 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class SignInFailure(models.Model):
    """One failed password or one-time code, counted towards locking a username or an address."""

    class Stage(models.TextChoices):
        PASSWORD = "password", "Password"
        SECOND_FACTOR = "second_factor", "Security code"

    username = models.CharField(max_length=150, db_index=True)
    ip_address = models.GenericIPAddressField(db_index=True)
    stage = models.CharField(max_length=20, choices=Stage.choices)
    failed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When a sign-in or an administrator's unlock cleared it for its username. It still counts
    # for its address: a user signing in at her desk must not give a guesser his guesses back.
    cleared_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Failed {self.stage} for {self.username}"


class SetupLink(models.Model):
    """A one-time link for a new user to choose a password and enrol two-factor sign-in.

    Only a hash of the token is stored, so a copy of the database cannot be used to take over an
    account that is waiting to be set up.
    """

    class Ending(models.TextChoices):
        """Why a link was ended before its 72 hours ran out: its holder is told which."""

        REPLACED = "replaced", "A newer link was made"
        SUSPENDED = "suspended", "The account was suspended"
        SIGNED_IN = "signed_in", "The user signed in"
        TWO_FACTOR_RESET = "two_factor_reset", "Two-factor sign-in was reset"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="setup_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Set by the database: a node still running the code from before it inserts links too.
    ended_because = models.CharField(
        max_length=20, choices=Ending.choices, blank=True, db_default=""
    )

    def __str__(self) -> str:
        return f"Set-up link for {self.user}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def is_usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at
