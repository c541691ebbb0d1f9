"""The people and places the tests are written around (STYLE.md: tests read like the spec).

Priya the practitioner, Owen the override practitioner, Sam the shielding officer, Dana the data
manager, Lee the LA administrator, Ada the auditor and Nina the national administrator work for
or with Northshire; Xavier is a practitioner from Southshire, another LA.
"""

import time
from datetime import date, datetime
from typing import Any

from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.middleware import LAST_SEEN_AT, SESSION_STAMP, SIGNED_IN_AT
from accounts.models import Organisation, User
from accounts.roles import Role
from directory.models import Address, CareRelationship, Child, Gender, ParentCarer, Service, Source

PASSWORD = "correct-horse-battery-staple"
# The answer a "check before a destructive action" page posts (contactpoint.confirmation).
CONFIRM = {"confirm": "yes"}


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


def owen() -> User:
    return make_user("owen", Role.PRACTITIONER, Role.OVERRIDE_PRACTITIONER)


def sam() -> User:
    return make_user("sam", Role.SHIELDING_OFFICER)


def dana() -> User:
    return make_user("dana", Role.DATA_MANAGER)


def lee() -> User:
    return make_user("lee", Role.LA_ADMINISTRATOR)


def ada() -> User:
    return make_user("ada", Role.AUDITOR)


def nina() -> User:
    return make_user("nina", Role.NATIONAL_ADMINISTRATOR, organisation=operator())


def xavier() -> User:
    return make_user("xavier", Role.PRACTITIONER, organisation=southshire())


def operator() -> Organisation:
    org, _ = Organisation.objects.get_or_create(
        code="CPNATIONAL",
        defaults={"name": "ContactPoint National Service", "kind": "service_operator"},
    )
    return org


def authenticator(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=True, defaults={"name": "Phone"}
    )
    return device


def current_code(device: TOTPDevice) -> str:
    """What the user's authenticator app shows right now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def sign_in(client: Client, user: User, *, verified: bool = True) -> None:
    """A session as if the user had given their password and, if ``verified``, their code."""
    client.force_login(user)
    session = client.session
    now = time.time()
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN_AT] = now
    session[SESSION_STAMP] = str(user.session_stamp)
    if verified:
        session[DEVICE_ID_SESSION_KEY] = authenticator(user).persistent_id
    session.save()


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


def make_address(child: Child, postcode: str = "NE1 4ST", **fields: object) -> Address:

    values: dict[str, object] = {
        "child": child,
        "line_1": "1 Mill Lane",
        "town": "Northtown",
        "postcode": postcode,
        "source": Source.CHILD_BENEFIT,
    }
    values.update(fields)
    return Address.objects.create(**values)


def make_carer(child: Child, **fields: object) -> ParentCarer:
    """Marie Quill, the child's mother, with parental responsibility, from an LA's system."""
    values: dict[str, object] = {
        "given_name": "Marie", "family_name": "Quill", "source": Source.LA_SYSTEM,
    }  # fmt: skip
    values.update(fields)
    carer = ParentCarer.objects.create(**values)
    CareRelationship.objects.create(
        child=child, carer=carer, relationship="mother", parental_responsibility=True,
        source=carer.source,
    )  # fmt: skip
    return carer


def rebuild_keys(*children: Child) -> None:
    from directory.services import child_search_keys_rebuild

    child_search_keys_rebuild(child_ids=[child.pk for child in children])


def shield(child: Child) -> None:
    from shielding.models import Shield

    Shield.objects.create(
        child=child,
        reason="domestic_abuse",
        justification="Fled violence",
        review_on=date(2027, 5, 1),
    )


def merge_asked_by_nat(client: Client, *, kept: Child, absorbed: Child) -> str:
    """Nat, a national data manager, confirms on the merge page that ``absorbed`` is to be
    merged into ``kept`` (records of two LAs, which only the national team may merge): the
    page he is shown."""
    sign_in(client, make_user("nat", Role.DATA_MANAGER, organisation=operator()))
    asked = {"kept": kept.contactpoint_id, "absorbed": absorbed.contactpoint_id, "confirmed": "yes"}
    return client.post(reverse("directory:merge"), asked).content.decode()


def feed_review(candidate: Child) -> Any:
    """An LA system row waiting for a data manager, with ``candidate`` as its possible match."""
    from directory.feeds import COLUMNS
    from directory.models import FeedImport, MatchReview, SourceRecord

    number = FeedImport.objects.count()  # each its own file and record
    record = FeedImport.objects.create(
        source=Source.LA_SYSTEM,
        file_name="la.csv",
        file_sha256=f"{number:064d}",
        local_authority=candidate.local_authority,
        rows_read=1,
        rows_rejected=0,
    )
    payload = dict.fromkeys(COLUMNS[Source.LA_SYSTEM], "")
    payload.update(
        la_record_id="LA-1",
        given_name="Amelia",
        family_name="Hart",
        date_of_birth="2015-03-14",
        gender="female",
        address_line_1="2 New Road",
        town="Northtown",
        postcode="NE5 5AB",
    )
    source_record = SourceRecord.objects.create(
        source=Source.LA_SYSTEM,
        record_id=f"LA-{number + 1}",
        payload=payload,
        first_import=record,
        last_import=record,
    )
    return MatchReview.objects.create(
        source_record=source_record, candidates=[{"child_id": candidate.pk, "weight": 12.5}]
    )


def this_months_audit_partition() -> str:
    """The partition this month's access events go to (named by UTC month)."""
    from datetime import UTC

    from django.utils import timezone

    return timezone.now().astimezone(UTC).strftime("audit_event_y%Ym%m")


def event_at(occurred_at: datetime, **fields: Any) -> Any:
    """An access event at any moment. Partitions exist from last month on; an older month's
    is made first, as the suite must pass whichever day it runs."""
    from django.db import connection

    from audit.models import AuditEvent

    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_create_month(%s::timestamptz::date)", [occurred_at])
    return AuditEvent.objects.create(occurred_at=occurred_at, **fields)


def break_the_access_log() -> None:
    """Detaches this month's partition, in the test's transaction: no event can be written,
    so every request is refused as the access log requires (fail closed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE audit_event DETACH PARTITION {this_months_audit_partition()}")


def decide(client: Client, review: Any, choice: str) -> Any:
    """A data manager's decision on ``review`` as its page now shows it."""
    from directory.feed_import import review_version
    from directory.models import MatchReview

    current = MatchReview.objects.select_related("source_record").get(pk=review.pk)
    return client.post(
        reverse("directory:review", args=[review.pk]),
        {"choice": choice, "seen": review_version(current, current.source_record)},
    )


def sister_sent_under_her_numbers(child: Child, upn: str, nhs_number: str, **bea: str) -> list[Any]:
    """``child``'s school census and GP know her by ``upn`` and ``nhs_number``; each sends
    Bea, her sister, under that number (a slip), with ``bea`` over Bea's row: each row waits
    beside ``child`` for a data manager, and the number stays hers. The two reviews."""
    import csv
    import io

    from directory.feed_import import feed_import
    from directory.feeds import COLUMNS
    from directory.models import ChildIdentifier, MatchReview

    ChildIdentifier.objects.create(child=child, kind="upn", value=upn)
    ChildIdentifier.objects.create(child=child, kind="nhs_number", value=nhs_number)
    make_service(Service.Kind.SCHOOL, identifier="131313")
    make_service(Service.Kind.GP_PRACTICE, name="Northtown Surgery", identifier="Z99001")
    row = {
        "given_name": "Bea", "family_name": child.family_name, "date_of_birth": "2017-09-02",
        "gender": "female", "address_line_1": "2 New Road", "town": "Northtown",
        "postcode": "NE5 5AB", **bea,
    }  # fmt: skip
    for source, own in (
        (Source.SCHOOL_CENSUS, {"upn": upn, "school_urn": "131313", "entry_date": "2021-09-02"}),
        (Source.GP_REGISTRATION, {"nhs_number": nhs_number, "gp_practice_code": "Z99001"}),
    ):
        out = io.StringIO()
        writer = csv.DictWriter(out, COLUMNS[source])
        writer.writeheader()
        writer.writerow(dict.fromkeys(COLUMNS[source], "") | row | own)
        sent = feed_import(
            source=source, file_name="bea.csv", content=out.getvalue().encode(),
            local_authority=child.local_authority, by=None,
        )  # fmt: skip
        assert dict(sent.counts) == {"waiting_for_review": 1}, sent.validation.errors
    return list(MatchReview.objects.filter(source_record__payload__given_name="Bea").order_by("pk"))


def new_records_decided(client: Client, reviews: list[Any]) -> list[Any]:
    """'A different child: make a new record', tried on each of ``reviews`` as its page now
    shows it: each answer and, for a decision made, the page it leads to, which tells its
    outcome (what became of the row's numbers among it)."""
    answers = []
    for review in reviews:
        answer = decide(client, review, "new")
        answers.append(answer)
        if answer.status_code == 302:
            answers.append(client.get(answer.url))
    return answers


def unreachable_database(alias: str) -> Any:
    """A connection to a database that does not exist: it fails as a database that is down.
    Put in place with ``connections[alias] = unreachable_database(alias)``."""
    from django.db import connections
    from django.db.utils import load_backend

    config = {**connections[alias].settings_dict, "NAME": "contactpoint_no_such_database"}
    return load_backend(config["ENGINE"]).DatabaseWrapper(config, f"{alias}_unreachable")


def deleted_by_the_database_owner(user: User) -> None:
    """Deletes ``user`` as only the change log's owner could, in the test's transaction:
    django-auditlog clears the actor of her entries (SET_NULL), an UPDATE that the change log's
    append-only trigger refuses to the application, so the trigger is off meanwhile."""
    from django.db import connection

    trigger = "auditlog_logentry DISABLE TRIGGER auditlog_logentry_append_only"
    with connection.cursor() as cursor:
        # No table is altered with checks of its foreign keys still to come.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {trigger}")
        User.objects.get(pk=user.pk).delete()
        cursor.execute(f"ALTER TABLE {trigger.replace('DISABLE', 'ENABLE')}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
