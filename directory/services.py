"""Changes to the directory that touch several rows: each in one transaction."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from django.db import IntegrityError, transaction

from accounts.models import User
from directory.matching import search_keys
from directory.models import Child, ChildName, Involvement, NameKey, Service, Source


@transaction.atomic
def child_search_keys_rebuild(*, child_ids: Iterable[int]) -> int:
    """Recomputes the search keys of these children from their names; returns how many."""
    ids = list(child_ids)
    names: dict[int, list[tuple[str, str]]] = defaultdict(list)
    births = {}
    for pk, given, family, born in Child.objects.filter(pk__in=ids).values_list(
        "pk", "given_name", "family_name", "date_of_birth"
    ):
        names[pk].append((given, family))
        births[pk] = born
    for child_id, given, family in ChildName.objects.filter(child_id__in=ids).values_list(
        "child_id", "given_name", "family_name"
    ):
        names[child_id].append((given, family))
    NameKey.objects.filter(child_id__in=ids).delete()
    keys = [
        NameKey(child_id=pk, family_key=family, given_key=given, date_of_birth=births[pk])
        for pk in births
        for family, given in search_keys(names[pk])
    ]
    NameKey.objects.bulk_create(keys, batch_size=5000)
    return len(keys)


class LeadProfessionalTaken(Exception):
    """Someone else is the child's lead professional; they must step down first."""

    def __init__(self, holder: Involvement) -> None:
        super().__init__("another lead professional")
        self.holder = holder


def _current_lead(child: Child, *, other_than: int | None) -> Involvement | None:
    leads = Involvement.objects.filter(child=child, lead_professional=True, ended_on__isnull=True)
    if other_than is not None:
        leads = leads.exclude(pk=other_than)
    return leads.select_related("service", "practitioner").first()


@transaction.atomic
def involvement_record_mine(
    *,
    child: Child,
    practitioner: User,
    role: str,
    service: Service | None,
    started_on: date,
    caf_held: bool,
    lead_professional: bool,
) -> Involvement:
    """Adds or updates the practitioner's own current involvement with the child."""
    mine = (
        Involvement.objects.select_for_update()
        .filter(child=child, practitioner=practitioner, ended_on__isnull=True)
        .first()
    )
    if lead_professional:
        holder = _current_lead(child, other_than=mine.pk if mine else None)
        if holder is not None:
            raise LeadProfessionalTaken(holder)
    involvement = mine or Involvement(
        child=child, practitioner=practitioner, source=Source.PRACTITIONER
    )
    involvement.role, involvement.service, involvement.started_on = role, service, started_on
    involvement.caf_held, involvement.lead_professional = caf_held, lead_professional
    involvement.source_reference = practitioner.username
    try:
        with transaction.atomic():
            involvement.save()
    except IntegrityError:
        # Another practitioner became lead between the check above and this save.
        holder = _current_lead(child, other_than=involvement.pk)
        if holder is None:
            raise
        raise LeadProfessionalTaken(holder) from None
    return involvement


@transaction.atomic
def involvement_end_mine(*, child: Child, practitioner: User, ended_on: date) -> Involvement | None:
    """Ends the practitioner's current involvement, keeping it in the child's history."""
    mine = Involvement.objects.filter(
        child=child, practitioner=practitioner, ended_on__isnull=True
    ).first()
    if mine is None:
        return None
    mine.ended_on = max(ended_on, mine.started_on)
    mine.save(update_fields=["ended_on"])
    return mine
