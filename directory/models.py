"""The facts ContactPoint holds about a child, each with where and when it came from.

Contact information only: who the child is, where they live, who cares for them and which
services and practitioners work with them — never case notes. What must never be wrong is a
database constraint, not only form validation.
"""

from datetime import date, datetime
from functools import reduce
from operator import or_
from typing import Any, NamedTuple

import pycountry
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce, Lower, Now
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import User
from contactpoint.postcodes import STORED_POSTCODE_PATTERN
from directory import contactpoint_id
from directory.matching import Person


class Source(models.TextChoices):
    SCHOOL_CENSUS = "school_census", "School census"
    CHILD_BENEFIT = "child_benefit", "Child benefit"
    GP_REGISTRATION = "gp_registration", "GP registrations"
    LA_SYSTEM = "la_system", "Local authority system"
    PRACTITIONER = "practitioner", "Recorded by a practitioner"
    SERVICE_REGISTER = "service_register", "Register of schools and GP practices"
    DEMO = "demo", "Demo data"


# Where a fact came from, as the record page says it ("From GP registrations, received ...").
SOURCE_SAID: dict[str, str] = {
    Source.SCHOOL_CENSUS: "From the school census",
    Source.CHILD_BENEFIT: "From child benefit records",
    Source.GP_REGISTRATION: "From GP registrations",
    Source.LA_SYSTEM: "From a local authority system",
    Source.PRACTITIONER: "Recorded by a practitioner",
    Source.SERVICE_REGISTER: "From the register of schools and GP practices",
    Source.DEMO: "From demo data",
}


class Provenance(models.Model):
    """Where a fact came from (a feed or a user) and when ContactPoint received it."""

    source = models.CharField(max_length=20, choices=Source.choices)
    source_reference = models.CharField(
        max_length=200, blank=True, help_text="The feed file and row, or who recorded it"
    )
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        abstract = True


class FedBy(models.Model):
    """A fact a feed gave: which of the feed's records gave it, so that the record's later rows
    replace only its own facts, and the facts go with it when a merge is undone."""

    source_record = models.ForeignKey(
        "SourceRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True


def _ended_after_started(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        name=f"{prefix}_ends_after_it_starts",
        condition=Q(ended_on__isnull=True)
        | Q(started_on__isnull=True)
        | Q(ended_on__gte=F("started_on")),
    )


def _valid_uk_postcode(prefix: str, *, only_if: Q | None = None) -> models.CheckConstraint:
    condition = Q(postcode="") | Q(postcode__regex=STORED_POSTCODE_PATTERN)
    return models.CheckConstraint(
        name=f"{prefix}_postcode_is_normalised",
        condition=condition if only_if is None else ~only_if | condition,
    )


class ChildIdentifier(FedBy):
    """A national identifier a feed gives for a child: the NHS number or unique pupil number.

    The same identifier twice is the same child, so each belongs to one record.
    """

    class Kind(models.TextChoices):
        NHS_NUMBER = "nhs_number", "NHS number"
        UNIQUE_PUPIL_NUMBER = "upn", "Unique pupil number"

    child = models.ForeignKey("Child", on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    value = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identifier_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.child}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.child_id]}


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    NOT_SPECIFIED = "not_specified", "Not specified"
    NOT_KNOWN = "not_known", "Not known"


def years_before(day: date, years: int) -> date:
    """The same date ``years`` earlier (28 February for 29 February in a common year): how
    the record lifecycle counts its years."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


class Child(Provenance):
    """A child in England. Archived at 18 (up to 25 with consent), purged 6 years later."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"
        DECEASED = "deceased", "Deceased"
        MERGED = "merged", "Merged into another record"

    # Records nobody records, changes or ends an involvement on (``takes_involvements``).
    CLOSED_TO_INVOLVEMENTS = (Status.MERGED, Status.ARCHIVED)

    # Issued by PostgreSQL so that no code path can create a child with a made-up or reused ID.
    contactpoint_id = models.CharField(
        "ContactPoint ID",
        max_length=12,
        unique=True,
        editable=False,
        db_default=models.Func(function="contactpoint_id_next", output_field=models.CharField()),
    )
    given_name = models.CharField(max_length=100)
    middle_names = models.CharField(max_length=200, blank=True)
    family_name = models.CharField(max_length=100)
    gender = models.CharField(max_length=20, choices=Gender.choices)
    date_of_birth = models.DateField()
    date_of_death = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    archived_on = models.DateField(null=True, blank=True)
    # Archived at 25 instead of 18 when the young person consented (DESIGN.md lifecycle).
    kept_to_25_with_consent = models.BooleanField(default=False, db_default=False)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    local_authority = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The local authority whose ContactPoint team looks after this record",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "children"
        constraints = [
            models.CheckConstraint(
                name="child_contactpoint_id_check_digit",
                condition=Q(
                    models.Func(
                        F("contactpoint_id"),
                        function="contactpoint_id_is_valid",
                        output_field=models.BooleanField(),
                    )
                ),
            ),
            models.CheckConstraint(
                name="child_dies_after_birth",
                condition=Q(date_of_death__isnull=True) | Q(date_of_death__gte=F("date_of_birth")),
            ),
            models.CheckConstraint(
                name="child_deceased_has_date_of_death",
                condition=~Q(status="deceased") | Q(date_of_death__isnull=False),
            ),
            models.CheckConstraint(
                name="child_archived_has_date",
                condition=~Q(status="archived") | Q(archived_on__isnull=False),
            ),
            models.CheckConstraint(
                name="child_merged_names_the_record_it_went_into",
                condition=(Q(status="merged") & Q(merged_into__isnull=False))
                | (~Q(status="merged") & Q(merged_into__isnull=True)),
            ),
            models.CheckConstraint(
                name="child_gender_is_known_value",
                condition=Q(gender__in=Gender.values),
            ),
        ]

    def __str__(self) -> str:
        return f"Child {self.contactpoint_id}"

    def get_additional_data(self) -> dict[str, object]:
        """Which children a change-log entry is about (django-auditlog calls this)."""
        return {"child_ids": [self.pk]}

    @property
    def contactpoint_id_display(self) -> str:
        return contactpoint_id.display(self.contactpoint_id)

    def person(self) -> Person:
        """What record linkage compares: every name, birth date, gender, current postcodes.

        Reads prefetched names and addresses where the caller prefetched them.
        """
        names: list[Child | ChildName] = [self, *self.other_names.all()]
        return Person(
            family_names=tuple(name.family_name for name in names),
            given_names=tuple(name.given_name for name in names),
            date_of_birth=self.date_of_birth,
            gender=self.gender,
            postcodes=tuple(
                a.postcode for a in self.addresses.all() if a.ended_on is None and a.postcode
            ),
        )

    @property
    def takes_involvements(self) -> bool:
        """Whether practitioners may record, change or end involvements on this record: not on
        one merged into another, where nobody looking at the child would see them (and a second
        lead professional could sit unseen), nor on an archived one."""
        return self.status not in self.CLOSED_TO_INVOLVEMENTS

    @classmethod
    def archiving_rules(cls, today: date) -> dict[str, Q]:
        """The live records the lifecycle archives on ``today``, by why (DESIGN.md "record
        lifecycle"): at 18, at 25 with consent, a year after death."""
        active = Q(status=cls.Status.ACTIVE)
        return {
            "archived_at_18": active
            & Q(date_of_birth__lte=years_before(today, 18), kept_to_25_with_consent=False),
            "archived_at_25": active
            & Q(date_of_birth__lte=years_before(today, 25), kept_to_25_with_consent=True),
            "archived_after_death": Q(
                status=cls.Status.DECEASED, date_of_death__lte=years_before(today, 1)
            ),
        }

    @classmethod
    def due_for_archiving(cls, today: date) -> Q:
        """Any of ``archiving_rules``: until the day's run has archived them, practitioners
        already find none of these records (``findable_children``)."""
        return reduce(or_, cls.archiving_rules(today).values())

    def record_kept(self) -> "Child":
        """This record, or the one it was merged into (followed through later merges)."""
        child = self
        while child.merged_into_id is not None:
            child = Child.objects.get(pk=child.merged_into_id)
        return child

    def age_on(self, day: date) -> int:
        """Age in whole years on ``day``; a child who has died stays the age she died at."""
        if self.date_of_death is not None and self.date_of_death < day:
            day = self.date_of_death
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def age_in_words(self, day: date) -> str:
        """Her age on ``day`` as pages give it: whole years, or under a year in months ("(age
        0)" tells a health visitor nothing about a baby)."""
        years = self.age_on(day)
        if years >= 1:
            return str(years)
        if self.date_of_death is not None and self.date_of_death < day:
            day = self.date_of_death
        born = self.date_of_birth
        months = (day.year - born.year) * 12 + day.month - born.month - (day.day < born.day)
        if months < 1:
            return "under 1 month"
        return f"{months} month{'s' if months > 1 else ''}"


class ChildName(Provenance, FedBy):
    """A former name (before adoption or a change of name) or another name the child is known by."""

    class Kind(models.TextChoices):
        FORMER = "former", "Former name"
        KNOWN_AS = "known_as", "Also known as"

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="other_names")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.child}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.child_id]}


class NameKey(models.Model):
    """A search key for one of a child's names: phonetic surname and forename keys, and the
    date of birth, so that PostgreSQL's indexes find candidates without any extension.

    Derived from the child's names (legal, former, known-as) by directory/matching.py and
    rebuilt whenever they change (``child_search_keys_rebuild``).
    """

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="name_keys")
    family_key = models.CharField(max_length=40)
    given_key = models.CharField(max_length=40)
    date_of_birth = models.DateField()

    class Meta:
        indexes = [
            models.Index(fields=["family_key", "given_key"], name="namekey_family_given"),
            models.Index(fields=["family_key", "date_of_birth"], name="namekey_family_dob"),
            # Feeds also look for a changed or mistyped surname: same first name and birthday.
            models.Index(fields=["given_key", "date_of_birth"], name="namekey_given_dob"),
        ]

    def __str__(self) -> str:
        return f"Search key of {self.child}"


class PostalAddress(models.Model):
    line_1 = models.CharField(max_length=200, blank=True)
    line_2 = models.CharField(max_length=200, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=16, blank=True)

    class Meta:
        abstract = True


class Address(Provenance, FedBy, PostalAddress):
    """One of a child's addresses. A child may have several current ones (parents apart)."""

    class Kind(models.TextChoices):
        RESIDENTIAL = "residential", "Residential address"
        NO_KNOWN_ADDRESS = "no_known_address", "No known address"
        LEFT_ENGLAND = "left_england", "Left England, expected back within 3 years"

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.RESIDENTIAL)
    expected_return_by = models.DateField(null=True, blank=True)
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True, help_text="Empty while current")

    class Meta:
        verbose_name_plural = "addresses"
        # varchar_pattern_ops lets "postcode LIKE 'NE1 %'" (an outward code) use the index.
        indexes = [
            models.Index(
                fields=["postcode"], name="address_postcode", opclasses=["varchar_pattern_ops"]
            )
        ]
        constraints = [
            _ended_after_started("address"),
            _valid_uk_postcode("address"),
            models.CheckConstraint(
                name="address_residential_has_line_and_postcode",
                condition=~Q(kind="residential") | (~Q(line_1="") & ~Q(postcode="")),
            ),
            models.CheckConstraint(
                name="address_non_residential_has_no_location",
                condition=Q(kind="residential") | (Q(line_1="") & Q(postcode="")),
            ),
            models.CheckConstraint(
                name="address_return_date_only_when_left_england",
                condition=Q(kind="left_england") | Q(expected_return_by__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.child}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.child_id]}

    @property
    def is_current(self) -> bool:
        return self.ended_on is None


class PhoneKeys(models.Func):
    """The last 9 digits of each phone number in a field ("07700 987654 / 01632 960123 ext
    2" holds two), as shielding/policy.py ``phone_keys`` reads them; the SQL function is
    made by migration 0015."""

    function = "contactpoint_phone_keys"
    output_field = ArrayField(models.TextField())


class ParentCarer(Provenance, PostalAddress):
    """A parent or carer: one person, linked to each of their children by a CareRelationship.

    Their address may be overseas (parents abroad, child at school in England); only a UK
    address has its postcode validated.
    """

    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    country = models.CharField(max_length=2, default="GB", help_text="ISO 3166 country code")

    class Meta:
        indexes = [
            # Finding the parents and carers at a shielded child's home.
            models.Index(fields=["postcode"], name="parentcarer_postcode"),
            # Finding a shielded child's parent or carer by a phone number or email however
            # written (shielding/policy.py, sharing_records). Each insert goes into the index
            # itself, not a pending list that every look reads through until a vacuum: after a
            # bulk load, 8 ms a look where 0.2 ms does.
            GinIndex(PhoneKeys("phone"), name="parentcarer_phone_keys", fastupdate=False),
            models.Index(Lower("email"), name="parentcarer_email"),
        ]
        constraints = [
            _valid_uk_postcode("parentcarer", only_if=Q(country="GB")),
            models.CheckConstraint(
                name="parentcarer_country_is_iso_code", condition=Q(country__regex=r"^[A-Z]{2}$")
            ),
        ]

    def __str__(self) -> str:
        return f"Parent or carer #{self.pk}"

    # The children a new carer is being added for, before the relationship that links them.
    for_children: tuple[int, ...] = ()

    def get_additional_data(self) -> dict[str, object]:
        # Children she cares for now: her changes after a link ended are not that child's.
        linked = list(
            self.relationships.filter(ended_on__isnull=True).values_list("child_id", flat=True)
        )
        return {"child_ids": sorted({*linked, *self.for_children})}

    @property
    def is_overseas(self) -> bool:
        return self.country != "GB"

    @property
    def country_name(self) -> str:
        """Her country as a practitioner says it ("Poland", "South Korea"); a code ISO does not
        name (a feed's "XK") is shown as given rather than lost."""
        country = pycountry.countries.get(alpha_2=self.country)
        if country is None:
            return self.country
        return str(getattr(country, "common_name", country.name))


class CareRelationship(Provenance, FedBy):
    """How a parent or carer is related to a child; whether they hold parental responsibility."""

    class Relationship(models.TextChoices):
        MOTHER = "mother", "Mother"
        FATHER = "father", "Father"
        STEP_PARENT = "step_parent", "Step-parent"
        GRANDPARENT = "grandparent", "Grandparent"
        FOSTER_CARER = "foster_carer", "Foster carer"
        GUARDIAN = "guardian", "Special guardian"
        OTHER_RELATIVE = "other_relative", "Other relative"
        OTHER = "other", "Other"

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="carer_relationships")
    carer = models.ForeignKey(ParentCarer, on_delete=models.CASCADE, related_name="relationships")
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    parental_responsibility = models.BooleanField()
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            _ended_after_started("carerelationship"),
            models.UniqueConstraint(fields=["child", "carer"], name="one_relationship_per_carer"),
        ]

    def __str__(self) -> str:
        return f"{self.get_relationship_display()} of {self.child}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.child_id]}


class SensitiveCategory(models.TextChoices):
    """Services whose involvements only shielding officers may see (DESIGN.md, "Sensitive")."""

    SEXUAL_HEALTH = "sexual_health", "Sexual health"
    MENTAL_HEALTH = "mental_health", "Mental health"
    SUBSTANCE_MISUSE = "substance_misuse", "Substance misuse"


class Service(Provenance, PostalAddress):
    """An education setting, GP practice or other service that works with children."""

    class Kind(models.TextChoices):
        EARLY_YEARS = "early_years", "Early years setting"
        SCHOOL = "school", "School"
        FURTHER_EDUCATION = "further_education", "Further education college"
        GP_PRACTICE = "gp_practice", "GP practice"
        HEALTH_VISITING = "health_visiting", "Health visiting"
        SCHOOL_NURSING = "school_nursing", "School nursing"
        SOCIAL_CARE = "social_care", "Children's social care"
        EARLY_HELP = "early_help", "Early help"
        YOUTH_JUSTICE = "youth_justice", "Youth justice"
        POLICE = "police", "Police"
        VOLUNTARY = "voluntary", "Voluntary sector"
        SEXUAL_HEALTH = SensitiveCategory.SEXUAL_HEALTH.value, SensitiveCategory.SEXUAL_HEALTH.label
        MENTAL_HEALTH = SensitiveCategory.MENTAL_HEALTH.value, SensitiveCategory.MENTAL_HEALTH.label
        SUBSTANCE_MISUSE = (
            SensitiveCategory.SUBSTANCE_MISUSE.value,
            SensitiveCategory.SUBSTANCE_MISUSE.label,
        )

    EDUCATION_KINDS = frozenset({Kind.EARLY_YEARS, Kind.SCHOOL, Kind.FURTHER_EDUCATION})

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    identifier = models.CharField(
        max_length=20, blank=True, help_text="URN for a school, ODS code for a GP practice"
    )
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    local_authority = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="services",
    )

    class Meta:
        constraints = [
            _valid_uk_postcode("service"),
            models.UniqueConstraint(
                fields=["kind", "identifier"],
                condition=~Q(identifier=""),
                name="service_identifier_unique_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_education_setting(self) -> bool:
        return self.kind in self.EDUCATION_KINDS

    @property
    def sensitive_category(self) -> SensitiveCategory | None:
        return SensitiveCategory(self.kind) if self.kind in SensitiveCategory.values else None


class Caseload(NamedTuple):
    """``Involvement.caseload_of``: children, and of them those she is lead professional for,
    those she works with only through a sensitive service (``sensitive``: only shielding
    officers see it, so they broker its handover), and those she works with otherwise
    (``seen``: her team hands them over). A child among the second is never among the third:
    her team sees her with that child, and a count saying so would tell them which child a
    sensitive service works with."""

    children: int
    leading: int
    sensitive: int
    seen: int


class Involvement(Provenance, FedBy):
    """A service or practitioner working with a child: since when, CAF held, lead professional.

    Ending an involvement sets ``ended_on`` and keeps the row, so the history stays visible.
    An involvement with a sensitive service records why it may be held at all.
    """

    class SensitiveBasis(models.TextChoices):
        CONSENT = "consent", "The child (or a parent) consented"
        SIGNIFICANT_HARM = "significant_harm", "Significant harm is suspected"

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="involvements")
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, null=True, blank=True, related_name="involvements"
    )
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="involvements",
    )
    role = models.CharField(max_length=200, blank=True, help_text="e.g. Class teacher")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    caf_held = models.BooleanField("holds a CAF assessment", default=False)
    lead_professional = models.BooleanField(default=False)
    sensitive_category = models.CharField(
        max_length=20, choices=SensitiveCategory.choices, blank=True
    )
    sensitive_basis = models.CharField(max_length=20, choices=SensitiveBasis.choices, blank=True)
    sensitive_basis_note = models.TextField(blank=True)

    class Meta:
        constraints = [
            _ended_after_started("involvement"),
            models.CheckConstraint(
                name="involvement_names_service_or_practitioner",
                condition=Q(service__isnull=False) | Q(practitioner__isnull=False),
            ),
            # A child has at most one lead professional at a time.
            models.UniqueConstraint(
                fields=["child"],
                condition=Q(lead_professional=True, ended_on__isnull=True),
                name="one_lead_professional_per_child",
            ),
            models.CheckConstraint(
                name="involvement_sensitive_has_basis",
                condition=(Q(sensitive_category="") & Q(sensitive_basis=""))
                | (~Q(sensitive_category="") & ~Q(sensitive_basis="")),
            ),
            # The lead professional is the contact other practitioners coordinate through; a
            # sensitive service is hidden from them, so it is never the lead.
            models.CheckConstraint(
                name="involvement_sensitive_never_lead",
                condition=Q(sensitive_category="") | Q(lead_professional=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Involvement with {self.child}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.child_id]}

    @property
    def is_current(self) -> bool:
        return self.ended_on is None

    @classmethod
    def to_hand_over(cls) -> QuerySet["Involvement"]:
        """The involvements someone must take over once their practitioner's access ends:
        current ones, not on a record that takes no involvements (archived, merged), where
        nobody could take over."""
        return cls.objects.filter(practitioner__isnull=False, ended_on__isnull=True).exclude(
            child__status__in=Child.CLOSED_TO_INVOLVEMENTS
        )

    @classmethod
    def caseload_of(cls, practitioner: User) -> Caseload:
        """How many children ``practitioner`` is currently involved with, lead professional
        for, and involved with only through a sensitive service: what an administrator ending
        her access is told, so that her team, and for a sensitive service the child's LA's
        shielding officers, hand them over. Counts only, every record alike, shielded or not:
        a child's name or ID, or which service, would be child data he may not be entitled
        to, and a count told apart would say she is shielded (``to_hand_over``)."""
        counts = (
            cls.to_hand_over()
            .filter(practitioner=practitioner)
            .aggregate(
                children=models.Count("child", distinct=True),
                leading=models.Count("child", distinct=True, filter=Q(lead_professional=True)),
                seen=models.Count("child", distinct=True, filter=Q(sensitive_category="")),
            )
        )
        # Only through a sensitive service: one she is seen with too is her team's to know of.
        return Caseload(**counts, sensitive=counts["children"] - counts["seen"])

    def practitioner_access_ended(self, now: datetime) -> bool:
        """Whether it names a practitioner who may no longer use ContactPoint (left and
        suspended, vetting or training run out, or 90 days without signing in): she can no
        longer end it or stand down as lead, and her details may no longer reach her."""
        who = self.practitioner
        return who is not None and who.access_problem(now) is not None


# Data feeds ---------------------------------------------------------------------------------


# A row left out of a file, sent again after a later file has sent its record: not applied
# over what is newer (``FeedImport.describe_resend``, directory/feed_import.py).
GIVEN_SINCE = "sent_since_in_a_later_file"
# A row about someone whose record the lifecycle purged: not imported, so that an old file
# sent again cannot bring them back as a new child (``PurgedFeedRecord``).
PURGED = "not_imported_as_its_record_was_purged"
# A row of a file extracted before the file that last sent its record (an older file imported
# late): not applied, so that it cannot move a child's home or school back.
EXTRACTED_BEFORE = "not_applied_as_a_file_extracted_later_sent_its_record"
NOT_APPLIED = (GIVEN_SINCE, PURGED, EXTRACTED_BEFORE)
# Row outcomes as said of more than one row: "3 new children", not "3 new child".
ROW_OUTCOME_PLURALS = {
    "new_child": "new_children",
    PURGED: "not_imported_as_their_records_were_purged",
    EXTRACTED_BEFORE: "not_applied_as_files_extracted_later_sent_their_records",
}


class FeedImport(models.Model):
    """One file from a feed, imported whole or not at all, or with the rows left out that a
    data manager chose to leave out. The same file sent again changes nothing, except to bring
    in rows left out of it that now pass: each such re-send is an import of its own
    (``resend_of``), so the history says who sent it again and when. The same bytes extracted
    later (nothing changed at the source) are a newer extract, imported as a file of their own
    so that ordering by extract date stays right."""

    source = models.CharField(max_length=20, choices=Source.choices)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    imported_at = models.DateTimeField(auto_now_add=True)
    local_authority = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Whose file it is: its records are reviewed by that LA's data managers",
    )
    rows_read = models.IntegerField()
    rows_rejected = models.IntegerField()
    outcome = models.JSONField(default=dict, help_text="How many rows did what")
    left_out = models.JSONField(
        null=True,
        blank=True,
        help_text="The numbers of the rows left out; null where not noted (imported before "
        "ContactPoint noted them)",
    )
    resend_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resends",
        help_text="The file's first import, when this is the same file sent again to import "
        "rows left out of it",
    )
    extracted_on = models.DateField(
        null=True,
        blank=True,
        help_text="When the source system extracted the file; null for a file imported "
        "before ContactPoint asked, taken as extracted when it was received",
    )

    class Meta:
        constraints = [
            # A file is imported once for each day it was extracted (a system can extract the
            # same bytes again later); sent again, only the rows left out of it come in. A file
            # without an extract date is one of its own (null would not clash with null).
            models.UniqueConstraint(
                "source",
                "file_sha256",
                Coalesce("extracted_on", models.Value(date.min)),
                condition=models.Q(resend_of__isnull=True),
                name="feed_file_once_per_extract",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} file {self.file_name}"

    @property
    def extracted(self) -> date:
        """The day the file was extracted: files arrive out of order, so this, not when it was
        received, says which of two files is newer."""
        return self.extracted_on or timezone.localdate(self.imported_at)

    def extracted_said(self, day: str) -> str:
        """When the file was extracted, in words that are true of a file imported before
        ContactPoint asked (the day it was received stands in): ``day`` formats the date."""
        if self.extracted_on is None:
            return f"on {self.extracted:{day}}, before ContactPoint asked when files were extracted"
        return f"as extracted on {self.extracted_on:{day}}"

    @staticmethod
    def describe(counts: dict[str, int]) -> str:
        """What happened to a file's rows, in words: "3 new children, 1 unchanged"."""
        return ", ".join(
            f"{n} {ROW_OUTCOME_PLURALS.get(what, what) if n != 1 else what}".replace("_", " ")
            for what, n in sorted(counts.items())
        )

    @property
    def outcome_text(self) -> str:
        if self.resend_of_id is None:
            return self.describe(self.outcome)
        return self.describe_resend(self.outcome, still_left_out=self.rows_rejected)

    @classmethod
    def describe_resend(cls, counts: dict[str, int], *, still_left_out: int) -> str:
        """What sending a file again did: "2 rows left out before now imported (1 new child,
        1 unchanged); 1 still left out"."""
        given_since, purged = counts.get(GIVEN_SINCE, 0), counts.get(PURGED, 0)
        applied = {what: n for what, n in counts.items() if what not in NOT_APPLIED}
        done = sum(applied.values())
        said = [f"Sent again: {done} row{'s' * (done != 1)} left out before now imported"]
        if applied:
            said[0] += f" ({cls.describe(applied)})"
        if given_since:
            records = "that record" if given_since == 1 else "those records"
            said.append(f"{given_since} not, as a later file has sent {records} since")
        if extracted_before := counts.get(EXTRACTED_BEFORE, 0):
            records = "that record" if extracted_before == 1 else "those records"
            said.append(f"{extracted_before} not, as a file extracted later has sent {records}")
        if purged:
            records = "its record was" if purged == 1 else "their records were"
            said.append(f"{purged} not, as {records} purged")
        said.append(f"{still_left_out} still left out")
        return "; ".join(said)


class FeedUpload(models.Model):
    """A file a data manager uploaded that has too many rows to import while they wait, or is
    too large even to check: it waits for ``manage.py import_waiting_feeds`` (run every minute),
    which imports it exactly as the upload page would have. Its content is let go once it has
    been dealt with."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting to be imported"
        IMPORTED = "imported", "Imported"
        NOT_IMPORTED = "not_imported", "Not imported"

    source = models.CharField(max_length=20, choices=Source.choices)
    file_name = models.CharField(max_length=255)
    content = models.BinaryField()
    rows = models.IntegerField(
        null=True, blank=True, help_text="Rows found; none until a file too large to check is"
    )
    skip_invalid = models.BooleanField()
    local_authority = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    extracted_on = models.DateField(null=True, blank=True, help_text="As FeedImport's")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(db_default=Now())
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING)
    feed_import = models.ForeignKey(
        FeedImport, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(blank=True, help_text="What became of its rows, or why not")

    def __str__(self) -> str:
        return f"{self.get_source_display()} file {self.file_name} ({self.get_status_display()})"


class SourceRecord(models.Model):
    """A person as one feed describes them, kept whatever happens to the child it is linked to,
    so that a merge can be undone and every fact's origin traced."""

    source = models.CharField(max_length=20, choices=Source.choices)
    # An LA system's ids are kept under the LA's code (up to 20 characters and a slash).
    record_id = models.CharField(max_length=121, help_text="The feed's own id for the person")
    child = models.ForeignKey(
        Child, on_delete=models.SET_NULL, null=True, blank=True, related_name="source_records"
    )
    payload = models.JSONField(help_text="The last row received, as validated")
    # A row that may be another child than the one its id, NHS number or UPN points to (a
    # sister under her brother's id) waits for a data manager, who must be offered him.
    pointed_to = models.ForeignKey(
        Child,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The child the row's id, NHS number or UPN points to, while a data manager "
        "decides whether the row is theirs",
    )
    # The feed record is that child's (its id is theirs: the record they were linked to, or
    # their UPN or NHS number), not a record of its own whose row carries their NHS number: a
    # purge of theirs takes it, whoever the row is (services.py, ``lifecycle_apply``).
    pointed_to_by_id = models.BooleanField(
        default=False,
        help_text="Whether the feed's id for the person, not only an NHS number the row "
        "carries, is the pointed-to child's",
    )
    first_import = models.ForeignKey(FeedImport, on_delete=models.PROTECT, related_name="+")
    last_import = models.ForeignKey(FeedImport, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(auto_now=True)
    # A UPN, NHS number or claim is sent by every LA's file: a shielded child's row is held
    # back against another LA's newer one, and compared with her LA's own (feed_import.py).
    la_last_rows = models.JSONField(
        default=dict,
        blank=True,
        help_text="The last row each other LA's file sent, with its import, by the LA's id "
        '("" for a file of none): kept once another LA\'s row has replaced it',
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "record_id"], name="source_record_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} record {self.record_id}"

    def linked_to(self, child: Child) -> None:
        """The row is ``child``'s, a data manager decided or a feed found: it points to no one."""
        self.child, self.pointed_to, self.pointed_to_by_id = child, None, False
        self.save(update_fields=["child", "pointed_to", "pointed_to_by_id"])

    def la_last_row(self, la_id: int | None) -> dict[str, Any] | None:
        """The last row an LA's files sent (``payload``, and its ``import``'s id), where another
        LA's row has replaced it since; None where none is kept (it was replaced before
        ContactPoint kept them, or the LA's files never sent the record)."""
        return self.la_last_rows.get(self._la_key(la_id))

    def row_held_back(self, payload: dict[str, str], feed_import: FeedImport) -> None:
        """A row not applied over another LA's newer one is kept as its LA's last row: the
        record keeps the newer row."""
        self.la_last_rows[self._la_key(feed_import.local_authority_id)] = {
            "payload": payload,
            "import": feed_import.pk,
        }
        self.save(update_fields=["la_last_rows"])

    def row_received(self, payload: dict[str, str], feed_import: FeedImport) -> None:
        """The record now holds the row ``feed_import`` sent; another LA's row it replaces is
        kept as that LA's last row, for that LA's later rows to be compared with. Not a row
        still waiting for a data manager (no child's, a sister's under her brother's number
        as much as his): kept, that LA's next row repeating it was taken as its word on the
        child unchanged, and applied to her unreviewed (feed_import.py, ``_apply_row``)."""
        replaced = self.last_import
        if replaced.local_authority_id != feed_import.local_authority_id:
            if self.child_id is not None:
                self.la_last_rows[self._la_key(replaced.local_authority_id)] = {
                    "payload": self.payload,
                    "import": replaced.pk,
                }
            self.la_last_rows.pop(self._la_key(feed_import.local_authority_id), None)
        self.payload, self.last_import = payload, feed_import
        self.save(update_fields=["payload", "last_import", "received_at", "la_last_rows"])

    @staticmethod
    def _la_key(la_id: int | None) -> str:
        return "" if la_id is None else str(la_id)  # JSON's keys are text


class PurgedFeedRecord(models.Model):
    """A feed record whose child the lifecycle purged, kept as a keyed digest of the feed's
    id for the person and nothing else: a row of an old file about them is then not imported
    (as a new child it would bring back a record purged by law). The digest keeps no name,
    birth date or address, and without the key a guessed id cannot be tested against it. So
    is each NHS number and UPN the purged record held (under its kind, ``ChildIdentifier``,
    in place of the feed): a number is one child's for life, and given to no other
    (``number_was_purged``)."""

    digest = models.CharField(max_length=64, unique=True)
    purged_on = models.DateField()

    def __str__(self) -> str:
        return f"Feed record purged on {self.purged_on}"

    @staticmethod
    def digest_of(source: str, record_id: str, *, secret: str | None = None) -> str:
        # Keyed: a UPN or an LA's record number is guessable, so a plain hash would not hide it.
        key = f"{source}\n{record_id}"
        return salted_hmac(
            "directory.purged_feed_record", key, secret=secret, algorithm="sha256"
        ).hexdigest()

    @classmethod
    def is_purged(cls, source: str, record_id: str) -> bool:
        """Whether a feed record was purged, under the key or one it replaced: a digest cannot
        be made again under a new key, so a rotated key must stay in SECRET_KEY_FALLBACKS."""
        keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        digests = [cls.digest_of(source, record_id, secret=key) for key in keys]
        return cls.objects.filter(digest__in=digests).exists()

    @classmethod
    def number_was_purged(cls, kind: str, value: str) -> bool:
        """Whether an NHS number or UPN was held by a record the lifecycle purged, and is held
        by no record now: a row carrying it is an old one about the purged person, or its
        number is mistyped or reused, and given to a child, it would make her the purged
        person to every feed that numbers him so."""
        # Few numbers were purged: asked first, one query answers for nearly every row.
        if not cls.is_purged(kind, value):
            return False
        return not ChildIdentifier.objects.filter(kind=kind, value=value).exists()


class MatchReview(models.Model):
    """An incoming record that might be an existing child: a data manager decides."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a decision"
        MATCHED = "matched", "Matched to an existing child"
        CREATED = "created", "Made a new child"
        DEFERRED = "deferred", "Deferred"
        # Most likely a record archived out of every data manager's sight: no one can decide
        # on it, so it leaves the queue and goes with that record when it is purged.
        SET_ASIDE = "set_aside", "Set aside with a record archived out of sight"

    # Not yet decided: compared afresh when the row or its candidates change, and purged with
    # the record it is most likely about.
    WAITING = (Status.OPEN, Status.DEFERRED, Status.SET_ASIDE)

    source_record = models.OneToOneField(
        SourceRecord, on_delete=models.CASCADE, related_name="review"
    )
    candidates = models.JSONField(help_text="[{child_id, weight}], best first")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Review of {self.source_record}"


class Merge(models.Model):
    """Two records found to be one child. What moved is listed so that unmerging puts it back."""

    # What belongs to a child and moves with a merge (keyed by the model's label in ``moved``).
    MOVABLE = (ChildName, Address, CareRelationship, Involvement, ChildIdentifier, SourceRecord)

    kept = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="+")
    absorbed = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="+")
    moved = models.JSONField(help_text="{model label: [ids]} moved from absorbed to kept")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    merged_at = models.DateTimeField(auto_now_add=True)
    unmerged_at = models.DateTimeField(null=True, blank=True)
    unmerged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"Merge of {self.absorbed} into {self.kept}"

    def get_additional_data(self) -> dict[str, object]:
        return {"child_ids": [self.kept_id, self.absorbed_id]}

    def absorbed_rows(self, model: type[models.Model]) -> Q:
        """The rows of ``model`` that are the absorbed record's under this merge, wherever
        they are now: those that moved, and those its feed records have given since. Undoing
        the merge gives them back; her change history counts their entries as hers."""
        rows = Q(pk__in=self.moved.get(model._meta.label, []))
        if model is not SourceRecord:
            rows |= Q(source_record_id__in=self.moved.get(SourceRecord._meta.label, []))
        return rows
