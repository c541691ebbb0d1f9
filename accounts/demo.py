"""The demo users: one per role, named after the personas in STYLE.md, for `make run`.

Their passwords are random on every seeding (never in git) and written, with how to sign in,
to var/demo-credentials.txt, readable only by its owner. Demo data only.
"""

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Organisation, User
from accounts.roles import Role
from accounts.services import authenticator_key, backup_codes_create

DEMO_CODES_SHOWN = 5
CREDENTIALS_FILE = Path(settings.BASE_DIR) / "var" / "demo-credentials.txt"


@dataclass(frozen=True)
class Persona:
    username: str
    first_name: str
    last_name: str
    job_title: str
    roles: tuple[Role, ...]
    organisation: str  # Organisation.code


def personas(home_la: str, other_la: str, operator: str) -> tuple[Persona, ...]:
    return (
        Persona("priya", "Priya", "Sharma", "Health visitor", (Role.PRACTITIONER,), home_la),
        Persona(
            "owen",
            "Owen",
            "Davies",
            "Social worker",
            (Role.PRACTITIONER, Role.OVERRIDE_PRACTITIONER),
            home_la,
        ),
        Persona(
            "sam", "Sam", "Okafor", "ContactPoint team officer", (Role.SHIELDING_OFFICER,), home_la
        ),
        Persona("dana", "Dana", "Kowalski", "Data quality officer", (Role.DATA_MANAGER,), home_la),
        # An LA administrator may only give roles they hold, so Lee holds every LA role.
        Persona(
            "lee",
            "Lee",
            "Chen",
            "Access control officer",
            (
                Role.LA_ADMINISTRATOR,
                Role.PRACTITIONER,
                Role.OVERRIDE_PRACTITIONER,
                Role.SHIELDING_OFFICER,
                Role.DATA_MANAGER,
                Role.AUDITOR,
            ),
            home_la,
        ),
        Persona("ada", "Ada", "Mensah", "Information governance auditor", (Role.AUDITOR,), home_la),
        Persona(
            "nina", "Nina", "Patel", "Service operator", (Role.NATIONAL_ADMINISTRATOR,), operator
        ),
        Persona("xavier", "Xavier", "Dubois", "Class teacher", (Role.PRACTITIONER,), other_la),
    )


def demo_users_create(*, home_la: str, other_la: str, operator: str, today: date) -> list[str]:
    """Creates (or resets) the demo users with fresh passwords; returns the credential lines."""
    organisations = {org.code: org for org in Organisation.objects.all()}
    lines = []
    for persona in personas(home_la, other_la, operator):
        password = "-".join(secrets.token_hex(3) for _ in range(4))
        user, _ = User.objects.update_or_create(
            username=persona.username,
            defaults={
                "first_name": persona.first_name,
                "last_name": persona.last_name,
                "email": f"{persona.username}@contactpoint-demo.example.org",
                "job_title": persona.job_title,
                "roles": [role.value for role in persona.roles],
                "organisation": organisations[persona.organisation],
                "vetting_checked_on": today - timedelta(days=200),
                "training_completed_on": today - timedelta(days=100),
                "suspended_at": None,
                "is_active": True,
            },
        )
        user.set_password(password)
        user.last_login = timezone.now()  # a demo user is never dormant
        user.save(update_fields=["password", "last_login"])
        TOTPDevice.objects.filter(user=user).delete()
        app = TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)
        codes = backup_codes_create(user=user)
        roles = ", ".join(role.label for role in persona.roles)
        lines.append(f"  {persona.username:<8} {password}   {roles} ({user.organisation.name})")
        lines.append(f"           backup codes: {' '.join(codes[:DEMO_CODES_SHOWN])}")
        lines.append(f"           authenticator key: {authenticator_key(app)}")
    return lines


def credentials_write(lines: list[str]) -> str:
    text = (
        "Demo users (demo data only; passwords and backup codes change every time they are made):\n"
        "  username password                      roles (organisation)\n" + "\n".join(lines) + "\n"
        "Sign in at http://127.0.0.1:8000/accounts/login/ with the password, then a backup code\n"
        "(each works once) as the security code. Or add the authenticator key to an\n"
        "authenticator app (time-based, 6 digits, 30 s) and type its code: getting new backup\n"
        "codes asks for one.\n"
    )
    CREDENTIALS_FILE.parent.mkdir(exist_ok=True)
    CREDENTIALS_FILE.write_text(text)
    CREDENTIALS_FILE.chmod(0o600)
    return text
