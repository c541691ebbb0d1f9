"""The shielding workflow: shield, review, lift; override; brokered contact."""

import secrets
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from directory.models import Child
from shielding.models import ContactRequest, Shield, ShieldOverride
from shielding.policy import sharing_records, shield_follows_home_and_carers, shielded_among

ALONGSIDE_SHOWN = 20


def records_alongside(child: Child) -> tuple[list[tuple[Child, bool]], int]:
    """Other children of the same local authority who share a current home or a parent or
    carer with ``child`` (``sharing_records``: brothers and sisters, most often), each with
    whether it is shielded, and how many there are in all. Their records show that home or
    carer: shielding the child shields them too, for the officer to review. Other
    authorities' children are not listed: whether one is shielded, and that it lives here, is
    not this officer's to see."""
    others = (
        Child.objects.filter(
            pk__in=sharing_records(child), local_authority_id=child.local_authority_id
        )
        .exclude(status=Child.Status.MERGED)
        .order_by("date_of_birth", "pk")
    )
    total = others.count()
    shown = list(others[:ALONGSIDE_SHOWN])
    shielded = shielded_among(other.pk for other in shown)
    return [(other, other.pk in shielded) for other in shown], total


def default_review_date(today: date) -> date:
    """Six months on (the same day, or the month's last day if it is shorter)."""
    month_index = today.month - 1 + settings.SHIELD_REVIEW_MONTHS
    year, month = today.year + month_index // 12, month_index % 12 + 1
    for day in (today.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


class MergedRecord(Exception):
    """A record merged into another holds none of the child's facts: its shield would hide
    nothing. The record it was merged into is the one to shield."""

    def __init__(self, merged_into: Child) -> None:
        super().__init__(merged_into.contactpoint_id)
        self.merged_into = merged_into


@transaction.atomic
def shield_create(
    *, child: Child, by: User, reason: str, justification: str, review_on: date
) -> tuple[Shield, list[Child]]:
    """Shields the child, and every record that shares a current home or a parent or carer
    with it, for review. Returns the shield and those of the records that are the LA's own
    (another LA's are shielded without saying why)."""
    # A merge of this record waits for the shield, or the shield for the merge (both lock it).
    locked = Child.objects.select_for_update().get(pk=child.pk)
    if locked.merged_into is not None:
        raise MergedRecord(locked.merged_into)
    shield = Shield.objects.create(
        child=child, reason=reason, justification=justification, review_on=review_on,
        shielded_by=by,
    )  # fmt: skip
    # Her brother's record at the same home would show it to every practitioner.
    alongside = shield_follows_home_and_carers(child)
    return shield, list(
        Child.objects.filter(pk__in=alongside, local_authority_id=child.local_authority_id)
    )


@transaction.atomic
def shield_review(*, shield: Shield, by: User, review_on: date, note: str) -> Shield:
    """The shield stays: reviewed now, next review on ``review_on``."""
    shield.review_on, shield.review_note = review_on, note
    shield.reviewed_at, shield.reviewed_by = timezone.now(), by
    shield.save(update_fields=["review_on", "review_note", "reviewed_at", "reviewed_by"])
    return shield


@transaction.atomic
def shield_lift(*, shield: Shield, by: User, note: str) -> Shield:
    """Lifting restores the ordinary view; the shield stays in the record's history."""
    shield.lifted_at, shield.lifted_by, shield.lift_note = timezone.now(), by, note
    shield.save(update_fields=["lifted_at", "lifted_by", "lift_note"])
    return shield


@transaction.atomic
def override_request(
    *, child: Child, practitioner: User, reason: str
) -> tuple[ShieldOverride, str]:
    """Records an override and returns the one-use token for the visit it allows."""
    token = secrets.token_urlsafe(24)
    override = ShieldOverride.objects.create(
        child=child, practitioner=practitioner, reason=reason,
        visit_token_hash=ShieldOverride.hash_token(token),
    )  # fmt: skip
    return override, token


@transaction.atomic
def override_visit(*, child: Child, practitioner: User, token: str) -> ShieldOverride | None:
    """Spends the token on this visit: the record shows unmasked now and never again with it.

    Only the practitioner who asked, for the child asked about, shortly after asking.
    """
    recent = timezone.now() - timedelta(minutes=settings.OVERRIDE_VISIT_MINUTES)
    override = (
        ShieldOverride.objects.select_for_update()
        .filter(
            visit_token_hash=ShieldOverride.hash_token(token),
            child=child,
            practitioner=practitioner,
            viewed_at__isnull=True,
            requested_at__gte=recent,
        )
        .first()
    )
    if override is None:
        return None
    override.viewed_at = timezone.now()
    override.save(update_fields=["viewed_at"])
    return override


@transaction.atomic
def override_sign_off(*, override: ShieldOverride, by: User, note: str) -> None:
    override.reviewed_at, override.reviewed_by, override.review_note = timezone.now(), by, note
    override.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])


@transaction.atomic
def contact_request_create(
    *, child: Child, requester: User, service: str, reason: str, reply_to: str
) -> ContactRequest:
    return ContactRequest.objects.create(
        child=child, requester=requester, service=service, reason=reason, reply_to=reply_to
    )


@transaction.atomic
def contact_request_resolve(
    *, request: ContactRequest, by: User, outcome: str, note: str
) -> ContactRequest:
    request.outcome, request.outcome_note = outcome, note
    request.handled_by, request.handled_at = by, timezone.now()
    request.save(update_fields=["outcome", "outcome_note", "handled_by", "handled_at"])
    return request
