"""Finding a child: candidates from indexed keys, ranked by score, capped against trawling.

The rules that keep search from leaking or trawling live here:
- results are capped (``SEARCH_RESULT_CAP``); above the cap none are listed;
- archived records are found only by data managers, for a year after archiving;
- a search that uses a postcode never finds a shielded child, and never counts one, so that
  neither the results nor the "too many matches" message can reveal where such a child lives.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import DEFAULT_DB_ALIAS
from django.db.models import OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.permissions import Permission, has_permission
from audit.models import Action, AuditEvent
from contactpoint.serialise import Turn, wait_turn
from directory.matching import (
    Candidate,
    Criteria,
    date_variants,
    family_keys,
    given_keys,
    misspelt_family_keys,
    misspelt_given_keys,
    score,
)
from directory.models import (
    Address,
    CareRelationship,
    Child,
    ChildName,
    Involvement,
    NameKey,
    years_before,
)
from shielding.models import Shield
from shielding.policy import is_shielded


@dataclass
class SearchOutcome:
    matches: list[tuple[Child, int]] = field(default_factory=list)
    too_many: bool = False

    @property
    def contactpoint_ids(self) -> list[str]:
        return [child.contactpoint_id for child, _ in self.matches]


def findable_children(viewer: User, today: date) -> QuerySet[Child]:
    """Children this viewer may find at all: never archived ones, except for data managers,
    who see a record for one year after it was archived (not on its first anniversary). A
    record the lifecycle archives tonight (18 today, or brought in by a feed at 19) is
    archived already for everyone else: the job's hour must not decide who finds an adult."""
    children = Child.objects.all()
    if has_permission(viewer, Permission.SEE_ARCHIVED_RECORDS):
        recently = Q(status=Child.Status.ARCHIVED, archived_on__gt=years_before(today, 1))
        return children.filter(~Q(status=Child.Status.ARCHIVED) | recently)
    return children.exclude(Q(status=Child.Status.ARCHIVED) | Child.due_for_archiving(today))


NEAR_AGE = timedelta(days=2 * 366)


def _candidate_ids(
    criteria: Criteria, families: set[str], findable: QuerySet[Child], limit: int, slips: bool
) -> QuerySet[NameKey, Any]:
    """The ids of at most ``limit`` + 1 children whose search keys fall in a block of the
    criteria (one more than the limit, so that the caller can tell there were too many).
    ``families`` holds the keys of the surname, and with ``slips`` of its one-slip spellings."""
    keys = NameKey.objects.filter(family_key__in=families, child__in=findable)
    if criteria.postcode:
        # Not found, and not counted: a shielded child must not be locatable by postcode.
        keys = keys.exclude(child__in=Shield.objects.filter(lifted_at__isnull=True).values("child"))
    blocks = Q(pk__in=[])
    if criteria.forename and not (criteria.dob_from and criteria.dob_to):
        # With a date of birth, the first name only brings in children of about that age:
        # otherwise a common name would bring in every child of any age who has it. With a
        # range it brings in no one the range block does not: a child born outside the range
        # is ruled out (``score``), and counting her could make a search "too many matches".
        # One name misspelt at a time: both at once would bring in too many strangers.
        given = Q(given_key__in=given_keys(criteria.forename))
        if slips:
            given |= Q(
                family_key__in=family_keys(criteria.surname),
                given_key__in=misspelt_given_keys(criteria.forename),
            )
        born = criteria.date_of_birth
        if born:
            given &= Q(date_of_birth__range=(born - NEAR_AGE, born + NEAR_AGE))
        blocks |= given
    if criteria.date_of_birth:
        today = timezone.localdate()
        variants = date_variants(criteria.date_of_birth, today - timedelta(days=26 * 365), today)
        blocks |= Q(date_of_birth__in=variants)
    if criteria.dob_from and criteria.dob_to:
        blocks |= Q(date_of_birth__range=(criteria.dob_from, criteria.dob_to))
    if criteria.postcode and not (criteria.dob_from and criteria.dob_to):
        # With a range, as with the first name: the range block holds everyone listable.
        outward = criteria.postcode.split(" ")[0]
        at_postcode = Address.objects.filter(
            postcode__startswith=f"{outward} ", ended_on__isnull=True
        ).values("child_id")
        blocks |= Q(child_id__in=at_postcode)
    return keys.filter(blocks).values("child_id").distinct()[: limit + 1]


def _candidates(
    criteria: Criteria, findable: QuerySet[Child], limit: int, slips: bool
) -> list[tuple[int, Candidate]]:
    """Each candidate child's id with what scoring compares, in one query: the candidates
    are many and most score too low to show, so no model objects are made for them."""
    families = (misspelt_family_keys if slips else family_keys)(criteria.surname)
    if not families:
        return []
    current = Address.objects.filter(child=OuterRef("pk"), ended_on__isnull=True)
    other_names = ChildName.objects.filter(child=OuterRef("pk"))
    # With a postcode, which children are shielded decides who is counted, so the query runs
    # where shields are read: the primary (a replica a moment behind could count a child
    # shielded meanwhile into "too many matches"). Otherwise the router decides.
    rows = (
        Child.objects.using(DEFAULT_DB_ALIAS if criteria.postcode else None)
        .filter(pk__in=_candidate_ids(criteria, families, findable, limit, slips))
        .values_list(
            "pk",
            "family_name",
            "given_name",
            "date_of_birth",
            "gender",
            ArraySubquery(other_names.values("family_name")),
            ArraySubquery(other_names.values("given_name")),
            ArraySubquery(current.exclude(postcode="").values("postcode")),
        )
    )
    return [
        (
            pk,
            Candidate(
                family_names=(family, *other_families),
                given_names=(given, *other_givens),
                date_of_birth=born,
                gender=gender,
                postcodes=tuple(postcodes),
            ),
        )
        for pk, family, given, born, gender, other_families, other_givens, postcodes in rows
    ]


def children_search(*, criteria: Criteria, viewer: User) -> SearchOutcome:
    """Ranks the candidates that score at least ``SEARCH_MIN_SCORE``, best first."""
    cap, scan = settings.SEARCH_RESULT_CAP, settings.SEARCH_MAX_CANDIDATES
    # A record merged into another is that child again: only the record kept is listed.
    findable = findable_children(viewer, timezone.localdate()).exclude(status=Child.Status.MERGED)
    # The names as typed first; only where they find no one, their one-slip spellings too:
    # those keys are many (about 60 for a surname), and asked for on every search they
    # doubled its time and brought common surnames into "too many matches". With a postcode
    # no shielded child is a candidate, so whether the second search runs says nothing of her.
    for slips in (False, True):
        candidates = _candidates(criteria, findable, scan, slips)
        if len(candidates) > scan:
            return SearchOutcome(too_many=True)
        points = {pk: score(criteria, candidate) for pk, candidate in candidates}
        matched = [pk for pk, value in points.items() if value >= settings.SEARCH_MIN_SCORE]
        if len(matched) > cap:
            return SearchOutcome(too_many=True)
        if matched:
            break
    else:
        return SearchOutcome()
    # From the findable children again: one archived since the first query is not shown.
    children = findable.filter(pk__in=matched).prefetch_related(
        "shields",
        Prefetch(
            "addresses",
            queryset=Address.objects.filter(ended_on__isnull=True),
            to_attr="current_addresses",
        ),
    )
    scored: list[tuple[Child, int]] = [(child, points[child.pk]) for child in children]
    if criteria.postcode:
        # Candidates may come from a replica a moment behind; shields are read on the primary,
        # and a child shielded in that moment must not be found by postcode either.
        scored = [(child, value) for child, value in scored if not is_shielded(child)]
    scored.sort(key=lambda pair: (-pair[1], pair[0].family_name, pair[0].given_name))
    return SearchOutcome(matches=scored)


def child_by_contactpoint_id(*, contactpoint_id: str, viewer: User) -> SearchOutcome:
    """The child with this ContactPoint ID; for a record merged into another, the record kept
    (an old ID on a letter still finds the child), if the viewer may find that one."""
    findable = findable_children(viewer, timezone.localdate()).prefetch_related(
        "shields",
        Prefetch(
            "addresses",
            queryset=Address.objects.filter(ended_on__isnull=True),
            to_attr="current_addresses",
        ),
    )
    child = findable.filter(contactpoint_id=contactpoint_id).first()
    if child is not None and child.merged_into_id is not None:
        child = findable.filter(pk=child.record_kept().pk).first()
    return SearchOutcome(matches=[(child, 100)] if child else [])


def child_for_record(*, contactpoint_id: str, viewer: User) -> Child | None:
    """The child with everything the record page shows, in a fixed number of queries. A
    record merged into another is the child's only while the viewer may find the record kept:
    what stayed on it (a carer both records had) is an archived child's otherwise."""
    findable = findable_children(viewer, timezone.localdate())
    child = (
        findable.filter(contactpoint_id=contactpoint_id)
        .select_related("local_authority")
        .prefetch_related(
            "other_names",
            "shields",
            Prefetch("addresses", queryset=Address.objects.order_by("-started_on", "-id")),
            Prefetch(
                "carer_relationships",
                queryset=CareRelationship.objects.select_related("carer").order_by("id"),
            ),
            Prefetch(
                "involvements",
                queryset=Involvement.objects.select_related(
                    "service", "practitioner", "practitioner__organisation"
                ).order_by("-started_on", "id"),
            ),
        )
        .first()
    )
    if child is None or child.merged_into_id is None:
        return child
    return child if findable.filter(pk=child.record_kept().pk).exists() else None


def search_rate_exceeded(viewer: User, now: datetime) -> bool:
    """Whether the viewer has already searched ``SEARCH_RATE_LIMIT`` times in the window
    (0: no limit, which settings allow only outside production and in the load test)."""
    limit = settings.SEARCH_RATE_LIMIT
    if limit == 0:
        return False
    # The viewer's other searches wait until this one's event is written (serialise.py).
    wait_turn(Turn.SEARCH, str(viewer.pk))
    recent = AuditEvent.objects.filter(
        user_id=viewer.pk,
        action=Action.SEARCH,
        occurred_at__gte=now - settings.SEARCH_RATE_WINDOW,
    )
    # Whether there is a LIMIT-th such search: reads at most LIMIT events, not all of them.
    return recent.order_by()[limit - 1 : limit].exists()
