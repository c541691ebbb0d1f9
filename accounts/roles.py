"""The roles of DESIGN.md "Users and roles". A user may hold several."""

from django.db import models


class Role(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    OVERRIDE_PRACTITIONER = "override_practitioner", "Override practitioner"
    SHIELDING_OFFICER = "shielding_officer", "Shielding officer"
    DATA_MANAGER = "data_manager", "Data manager"
    LA_ADMINISTRATOR = "la_administrator", "LA administrator"
    AUDITOR = "auditor", "Auditor"
    NATIONAL_ADMINISTRATOR = "national_administrator", "National administrator"
