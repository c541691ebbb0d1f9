"""The people and places the tests are written around (STYLE.md: tests read like the spec).

Priya the practitioner, Owen the override practitioner, Sam the shielding officer, Dana the data
manager, Lee the LA administrator, Ada the auditor and Nina the national administrator work for
or with Northshire; Xavier is a practitioner from Southshire, another LA.
"""

from datetime import date

from accounts.models import Organisation, User
from accounts.roles import Role
from directory.models import Child, Gender, Service, Source

PASSWORD = "correct-horse-battery-staple"


def northshire() -> Organisation:
    org, _ = Organisation.objects.get_or_create(
        code="E06000099",
        defaults={
            "name": "Northshire",
            "kind": Organisation.Kind.LOCAL_AUTHORITY,
            "team_name": "Northshire ContactPoint team",
            "team_phone": "01632 960000",
            "team_email": "contactpoint@northshire.example.org",
        },
    )
    return org


def southshire() -> Organisation:
    org, _ = Organisation.objects.get_or_create(
        code="E06000098",
        defaults={
            "name": "Southshire",
            "kind": Organisation.Kind.LOCAL_AUTHORITY,
            "team_name": "Southshire ContactPoint team",
            "team_phone": "01632 960111",
            "team_email": "contactpoint@southshire.example.org",
        },
    )
    return org


def make_user(username: str, *roles: Role, organisation: Organisation | None = None) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        organisation=organisation or northshire(),
        roles=[role.value for role in roles],
        first_name=username.capitalize(),
        vetting_checked_on=date(2026, 1, 5),
        training_completed_on=date(2026, 2, 1),
    )
    return user


def priya() -> User:
    return make_user("priya", Role.PRACTITIONER)


def xavier() -> User:
    return make_user("xavier", Role.PRACTITIONER, organisation=southshire())


def make_child(**fields: object) -> Child:
    values: dict[str, object] = {
        "given_name": "Amelia",
        "family_name": "Hart",
        "gender": Gender.FEMALE,
        "date_of_birth": date(2015, 3, 14),
        "local_authority": northshire(),
        "source": Source.LA_SYSTEM,
    }
    values.update(fields)
    return Child.objects.create(**values)


def make_service(kind: Service.Kind = Service.Kind.SCHOOL, **fields: object) -> Service:
    values: dict[str, object] = {
        "name": "Northshire Primary School",
        "kind": kind,
        "postcode": "NE1 4ST",
        "local_authority": northshire(),
        "source": Source.LA_SYSTEM,
    }
    values.update(fields)
    return Service.objects.create(**values)
