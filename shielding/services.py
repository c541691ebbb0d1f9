"""The shielding workflow: shield, review, lift; override; brokered contact."""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.permissions import Permission, has_permission
from contactpoint.serialise import Turn, wait_turn
from directory.models import Child
from shielding.models import ContactRequest, Shield, ShieldOverride
from shielding.policy import (
    follow_shields_after_commit,
    may_lift,
    protected_through,
    reviews_offer_shielded,
    sharing_fingerprint,
    sharing_records,
    shield_follows_home_and_carers,
    shielded_among,
)

ALONGSIDE_SHOWN = 20


@dataclass(frozen=True)
class Alongside:
    """Other children of the same local authority who share a home or a parent or carer
    with a child (``sharing_records``: brothers and sisters, most often), each with whether
    it is shielded; how many there are in all; and how many homes, carers or phone numbers
    were shared too widely to follow. Other authorities' children are not listed: whether one
    is shielded, and that it lives here, is not this officer's to see."""

    shown: list[tuple[Child, bool]]
    total: int
    too_common: int
    sharing: set[int]  # every record that shares a home or carer with her, whatever its LA


def records_alongside(child: Child) -> Alongside:
    sharing = sharing_records(child)
    others = Child.objects.filter(
        pk__in=sharing.show_hers, local_authority_id=child.local_authority_id
    ).order_by("date_of_birth", "pk")
    shown = list(others[:ALONGSIDE_SHOWN])
    shielded = shielded_among(other.pk for other in shown)
    return Alongside(
        [(other, other.pk in shielded) for other in shown],
        others.count(),
        sharing.too_common,
        sharing.show_hers,
    )


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


class ShieldedSince(Exception):
    """Someone else shielded the record after the page was shown."""


@transaction.atomic
def shield_create(
    *, child: Child, by: User, reason: str, justification: str, review_on: date
) -> tuple[Shield, list[Child]]:
    """Shields the child, and every record that shares a home or a parent or carer with it,
    for review. Returns the shield and those of the records that are the LA's own (another
    LA's are shielded without saying why). A shield the service put on the child (for sharing
    a home with another, or for a feed row that could be another) becomes this one."""
    # Her row and those alongside, locked in one order: a merge of this record waits for the
    # shield, or the shield for the merge; two officers shielding a brother and his sister at
    # once take turns rather than deadlock. Not against deletion (``no_key``, as
    # ``directory.services._lock``): she is shielded at once, whatever file is importing.
    alongside = sharing_records(child).show_hers | {child.pk}
    held = Child.objects.select_for_update(no_key=True).filter(pk__in=alongside)
    list(held.order_by("pk").values("pk"))
    locked = Child.objects.get(pk=child.pk)
    if locked.merged_into is not None:
        raise MergedRecord(locked.merged_into)
    decided = {"reason": reason, "justification": justification, "review_on": review_on}
    shield = Shield.objects.filter(child=child, lifted_at__isnull=True).first()
    if shield is None:
        shield = Shield.objects.create(child=child, shielded_by=by, **decided)
    elif shield.automatic:
        for name, value in {
            **decided,
            "shielded_by": by,
            "for_sharing": False,
            "protects": None,
        }.items():
            setattr(shield, name, value)
        shield.save()
    else:
        raise ShieldedSince
    # Her brother's record at the same home would show it to every practitioner.
    made = shield_follows_home_and_carers(child)
    # A feed row waiting for review that could be her hides where it lives from now on (one
    # that could be a record her shield followed to, her brother, was seen to as it followed).
    reviews_offer_shielded(child)
    follow_shields_after_commit(timezone.now(), children=[child.pk])
    return shield, list(
        Child.objects.filter(pk__in=made, local_authority_id=child.local_authority_id)
    )


class LiftedSince(Exception):
    """Someone lifted the shield since the officer's page was shown: their lift stands."""


class ChangedSince(Exception):
    """The shield the officer's page showed, one for sharing, has been made an officer's own
    since (``shield_create``): a decision about the one is not a decision about the other."""


def _still_in_force(shield: Shield) -> Shield:
    """The shield read again under a lock: a lift made since the officer's page was shown
    stands, with its note, rather than being replaced or reviewed over; so does a shield
    for sharing that an officer made their own meanwhile (another LA's, it may be one that
    the officer deciding could never lift)."""
    held = Shield.objects.select_for_update().get(pk=shield.pk)
    if held.lifted_at is not None:
        raise LiftedSince
    if (held.for_sharing, held.protects_id) != (shield.for_sharing, shield.protects_id):
        raise ChangedSince
    return held


@transaction.atomic
def shield_review(*, shield: Shield, by: User, review_on: date, note: str) -> Shield:
    """The shield stays: reviewed now, next review on ``review_on``."""
    shield = _still_in_force(shield)
    shield.review_on, shield.review_note = review_on, note
    shield.reviewed_at, shield.reviewed_by = timezone.now(), by
    shield.save(update_fields=["review_on", "review_note", "reviewed_at", "reviewed_by"])
    return shield


class NotTheirsToLift(Exception):
    """The shield protects a child this officer does not see in full (``may_lift``)."""


class SharingChanged(Exception):
    """The homes or carers of a record shielded for sharing, or what of the child's it shares,
    have changed since the officer's page was shown (``sharing_fingerprint``)."""


@transaction.atomic
def shield_lift(*, shield: Shield, by: User, note: str, seen: str | None = None) -> Shield:
    """Lifting restores the ordinary view; the shield stays in the record's history. A
    shield for sharing keeps what the officer saw (``seen``, from their page), and the lift
    stands only while the record's homes and carers, and what of the child's it shares, are
    so (``sharing_fingerprint``), and only an officer who sees the child it protects in full
    may lift it (``may_lift``)."""
    shield = _still_in_force(shield)
    if not may_lift(shield, by):
        raise NotTheirsToLift
    if shield.for_sharing and shield.protects_id is not None:
        now_seen = sharing_fingerprint(shield.child_id, shield.protects_id)
        if seen is not None and seen != now_seen:
            raise SharingChanged
        shield.lifted_seeing = now_seen
        # A feed committing meanwhile may have changed what this lift saw: look again after.
        follow_shields_after_commit(timezone.now(), children=[shield.protects_id])
    shield.lifted_at, shield.lifted_by, shield.lift_note = _database_now(), by, note
    shield.save(update_fields=["lifted_at", "lifted_by", "lift_note", "lifted_seeing"])
    # Lifted, the record may still show the home or carers of a child shielded for herself
    # (her brother, no longer at risk, still at her refuge): her shield follows to it again
    # now, for review, not at the night's shields_follow. A lift of a shield for sharing her
    # home stands (``_lifted_by_a_person``).
    shield_follows_home_and_carers(shield.child)
    return shield


def _database_now() -> datetime:
    """The database's clock, which stamped ``shielded_at``: an app server's clock a little
    behind it would put a lift before its shield, which the database refuses. Read first, so
    that the change log records the time (it reads the fields before they are saved)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        (now,) = cursor.fetchone()
    return now


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


@dataclass(frozen=True)
class OverrideVisit:
    override: ShieldOverride
    # The child whose home or carer the record shows, if it is shielded for sharing them with
    # her: the visit is an override of hers too.
    protected: Child | None


@transaction.atomic
def override_visit(*, child: Child, practitioner: User, token: str) -> OverrideVisit | None:
    """Spends the token on this visit: the record shows unmasked now and never again with it.

    Only the practitioner who asked, for the child asked about, shortly after asking, while
    she still holds the override right.
    """
    if not has_permission(practitioner, Permission.OVERRIDE_SHIELD):
        return None
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
    protected = protected_through(child)
    if protected is not None:
        # The visit shows her home or carer: her LA's team signs it off as an override of hers.
        ShieldOverride.objects.create(
            child=protected, practitioner=practitioner, reason=override.reason,
            visit_token_hash=ShieldOverride.hash_token(secrets.token_urlsafe(24)),
            viewed_at=override.viewed_at, seen_through=override.child.contactpoint_id,
        )  # fmt: skip
    return OverrideVisit(override=override, protected=protected)


class OverrideSignedOff(Exception):
    """Another officer of the team (or another tab) signed the override off meanwhile."""


@transaction.atomic
def override_sign_off(*, override: ShieldOverride, by: User, note: str) -> None:
    """Records the team's sign-off. Read again under a lock: a sign-off made since the
    officer's queue was shown stands, with its note, rather than being replaced."""
    held = ShieldOverride.objects.select_for_update().get(pk=override.pk)
    if held.reviewed_at is not None:
        raise OverrideSignedOff
    held.reviewed_at, held.reviewed_by, held.review_note = timezone.now(), by, note
    held.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])


@transaction.atomic
def contact_request_create(
    *, child: Child, requester: User, service: str, reason: str, reply_to: str
) -> ContactRequest:
    """The request, or the same one still open if she sent it already (a second click): the
    LA team would otherwise broker it twice."""
    wait_turn(Turn.CONTACT_REQUEST, f"{requester.pk}:{child.pk}")
    asked = {"service": service, "reason": reason, "reply_to": reply_to}
    open_already = ContactRequest.objects.filter(
        child=child, requester=requester, outcome="", **asked
    ).first()
    return open_already or ContactRequest.objects.create(child=child, requester=requester, **asked)


class ContactRequestAnswered(Exception):
    """Someone (a colleague, or another tab) recorded the request's outcome meanwhile."""


@transaction.atomic
def contact_request_resolve(
    *, request: ContactRequest, by: User, outcome: str, note: str
) -> ContactRequest:
    """Records what the team did. Read again under a lock: an outcome recorded since the
    officer's page was shown stands, rather than being replaced by a second one."""
    held = ContactRequest.objects.select_for_update().get(pk=request.pk)
    if held.handled_at is not None:
        raise ContactRequestAnswered
    held.outcome, held.outcome_note = outcome, note
    held.handled_by, held.handled_at = by, timezone.now()
    held.save(update_fields=["outcome", "outcome_note", "handled_by", "handled_at"])
    return held
