"""Changes to the directory that touch several rows: each in one transaction."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any, NamedTuple

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from audit.models import Action
from audit.recorder import AuditNote, record_event
from directory.matching import search_keys
from directory.models import (
    Address,
    CareRelationship,
    Child,
    ChildIdentifier,
    ChildName,
    Involvement,
    MatchReview,
    Merge,
    NameKey,
    ParentCarer,
    PurgedFeedRecord,
    SensitiveCategory,
    Service,
    Source,
    SourceRecord,
    years_before,
)
from shielding.policy import (
    FOR_ANOTHER_RECORD,
    follow_shields_after_commit,
    is_masked_for,
    kept_within_la,
    shield_carry,
    shield_follows_home_and_carers,
    shield_for_review,
    shielded_among,
    shields_kept_for_move,
    shields_kept_for_split,
)


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


class InvolvementRecorded(NamedTuple):
    involvement: Involvement
    lead_taken_from: Involvement | None  # the lead of someone whose access has ended


class InvolvementEnded(Exception):
    """The involvement her form showed was ended since (in another tab), and she has no other
    current one: a change to it is not a new involvement."""


class RecordClosed(Exception):
    """The record takes no involvements (``Child.takes_involvements``): merged or archived."""


class RecordShielded(Exception):
    """The record was shielded since her page was read, and is masked for her: who works with
    a shielded child is the LA team's to broker, as the involvement page says by answering 404."""


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
    shown: int | None = None,
) -> InvolvementRecorded:
    """Adds or updates the practitioner's own current involvement with the child: the one
    her form showed (``shown``) while it is still current, else the one the record shows her
    (after a merge she may have two). The lead professional passes to her from someone whose
    access has ended; from anyone else it must be handed over."""
    # The child's row, not hers (which may not exist yet), so that a second save at once
    # waits for the first and then finds what it added.
    _lock(child)
    if not child.takes_involvements:  # read under the lock: a merge meanwhile is seen
        raise RecordClosed
    # A shield waits for the lock too (``shield_create``): one put on meanwhile is seen here.
    if is_masked_for(Child.objects.get(pk=child.pk), practitioner):
        raise RecordShielded
    current = _mine(child, practitioner).select_for_update()
    mine = (current.filter(pk=shown).first() if shown else None) or current.first()
    if mine is None and shown and _ended(child, practitioner).filter(pk=shown).exists():
        raise InvolvementEnded
    taken_from = None
    holder = (
        _current_lead(child, other_than=mine.pk if mine else None) if lead_professional else None
    )
    if holder is not None:
        # Her other involvement with the child (two, after a merge) hands the lead over; so
        # does whoever has lost access and can never step down (the change log says who
        # took it from whom). Anyone else must hand it over themselves.
        if holder.practitioner_id != practitioner.pk:
            if not holder.practitioner_access_ended(timezone.now()):
                raise LeadProfessionalTaken(holder)
            taken_from = holder
        holder.lead_professional = False
        holder.save(update_fields=["lead_professional"])
    involvement = mine or Involvement(
        child=child, practitioner=practitioner, source=Source.PRACTITIONER
    )
    involvement.role, involvement.service, involvement.started_on = role, service, started_on
    involvement.caf_held, involvement.lead_professional = caf_held, lead_professional
    # What the row says now is what she recorded, today (a feed's row of hers included).
    involvement.source, involvement.source_reference = Source.PRACTITIONER, practitioner.username
    involvement.received_at = timezone.now()
    try:
        with transaction.atomic():
            involvement.save()
    except IntegrityError:
        # Another practitioner became lead between the check above and this save.
        holder = _current_lead(child, other_than=involvement.pk)
        if holder is None:
            raise
        raise LeadProfessionalTaken(holder) from None
    return InvolvementRecorded(involvement, lead_taken_from=taken_from)


@transaction.atomic
def involvement_end_mine(*, child: Child, practitioner: User, ended_on: date) -> list[Involvement]:
    """Ends the practitioner's current involvements with the child (after a merge she may
    have two), keeping them in the child's history; returns those ended. Not after the day
    the child died: no one worked with her after it (an involvement cannot start after it)."""
    _lock(child)
    if not child.takes_involvements:
        raise RecordClosed
    # Read under the lock: a feed may have recorded the death while this request waited.
    died = Child.objects.filter(pk=child.pk).values_list("date_of_death", flat=True).get()
    if died is not None:
        ended_on = min(ended_on, died)
    ended = list(_mine(child, practitioner).select_for_update())
    for mine in ended:
        mine.ended_on = max(ended_on, mine.started_on)
        mine.source, mine.source_reference = Source.PRACTITIONER, practitioner.username
        mine.received_at = timezone.now()
        # One save each, so that the change log has each.
        mine.save(update_fields=["ended_on", "source", "source_reference", "received_at"])
    return ended


def _mine(child: Child, practitioner: User) -> QuerySet[Involvement]:
    """The practitioner's current involvements with the child that she may change herself, in
    the record page's order. Not one with a sensitive service: it is hidden from her, is never
    the lead, and is recorded on its own basis (consent, or suspected harm)."""
    return Involvement.objects.filter(
        child=child, practitioner=practitioner, ended_on__isnull=True, sensitive_category=""
    ).order_by("-started_on", "id")


def _ended(child: Child, practitioner: User) -> QuerySet[Involvement]:
    return Involvement.objects.filter(
        child=child, practitioner=practitioner, ended_on__isnull=False
    )


# Merge and unmerge ------------------------------------------------------------------------------


def _lock(*children: Child) -> None:
    """Holds the children's rows until the transaction ends, in one order (no deadlock), so
    that a shield put on either meanwhile waits, and is then seen; their status is re-read.
    Not against deletion (``no_key``), which only the lifecycle job's purge does: a file
    joining a new feed row to one holds it only against that until it is imported
    (``feed_import._kept_until_imported``), and must not hold this up for minutes."""
    locked = Child.objects.select_for_update(no_key=True).filter(pk__in=[c.pk for c in children])
    statuses = dict(locked.order_by("pk").values_list("pk", "status"))
    for child in children:
        child.status = statuses[child.pk]


def _move(rows: Any, *, to: Child) -> list[int]:
    """Gives each row to another child, one save each, so that the change log records every
    move (a bulk update would bypass it); returns the rows' ids."""
    moved = []
    for row in rows.order_by("pk"):
        row.child = to
        row.save(update_fields=["child"])
        moved.append(row.pk)
    return moved


@transaction.atomic
def children_merge(*, kept: Child, absorbed: Child, by: User | None) -> Merge:
    """Makes ``absorbed`` part of ``kept``: its names, addresses, carers, involvements,
    identifiers and source records move across, it is marked merged, and a shield on either
    stays on the result. Everything moved is listed, so ``children_unmerge`` can put it back.
    """
    _lock(kept, absorbed)
    follow_shields_after_commit(timezone.now(), children=[kept.pk, absorbed.pk])
    if kept.pk == absorbed.pk or Child.Status.MERGED in (kept.status, absorbed.status):
        raise ValueError("only two different, unmerged records can be merged")
    if kept.local_authority_id != absorbed.local_authority_id and (
        kept_within_la([kept.pk, absorbed.pk])
    ):
        # The result is the kept record's LA's: its shielding officers would see in full a
        # child another LA's team shielded, and hers would lose sight of her.
        raise ShieldedAcrossLas
    moved: dict[str, Any] = {}
    kept_carers = set(
        CareRelationship.objects.filter(child=kept).values_list("carer_id", flat=True)
    )
    kept_has_lead = Involvement.objects.filter(
        child=kept, lead_professional=True, ended_on__isnull=True
    ).exists()
    if kept_has_lead:
        # One lead professional: the absorbed record's lead's service still works with the
        # child, so it moves as an ordinary involvement (and is lead again if undone).
        leads = Involvement.objects.filter(
            child=absorbed, lead_professional=True, ended_on__isnull=True
        )
        moved["lead_stood_down"] = list(leads.values_list("pk", flat=True))
        for involvement in leads:
            involvement.lead_professional = False
            involvement.save(update_fields=["lead_professional"])
    model: Any
    for model in Merge.MOVABLE:
        rows = model.objects.filter(child=absorbed)
        if model is CareRelationship:
            rows = rows.exclude(carer_id__in=kept_carers)  # the same carer is linked once
        moved[model._meta.label] = _move(rows, to=kept)
    moved["kept_before"] = _facts_taken(kept, absorbed)
    legal = ChildName.objects.create(
        child=kept, kind=ChildName.Kind.KNOWN_AS, given_name=absorbed.given_name,
        family_name=absorbed.family_name, source=Source.PRACTITIONER,
        source_reference=f"merged from {absorbed.contactpoint_id}",
    )  # fmt: skip
    moved["created_name"] = [legal.pk]
    moved["previous_status"] = [list(Child.Status.values).index(absorbed.status)]
    absorbed.status, absorbed.merged_into = Child.Status.MERGED, kept
    absorbed.save(update_fields=["status", "merged_into"])
    shield_carry(
        source=absorbed,
        target=kept,
        why=f"Carried over when record {absorbed.contactpoint_id} was merged into this one.",
    )
    shields_kept_for_move(from_child=absorbed, to=kept)
    child_search_keys_rebuild(child_ids=[kept.pk, absorbed.pk])
    from directory.feed_import import shield_if_lookalike  # it uses this module's services

    # One record's name with the other's birthday may be a shielded child's, as a feed row
    # giving the name would be: the result is shielded before anyone can see where it lives.
    shield_if_lookalike(kept)
    shield_follows_home_and_carers(kept)
    return Merge.objects.create(kept=kept, absorbed=absorbed, moved=moved, merged_by=by)


def _facts_taken(kept: Child, absorbed: Child) -> dict[str, Any]:
    """The kept record takes what the absorbed one knows of the child and it does not: a
    death, and consent to stay until 25. Returns the kept record's values before, for
    ``_facts_given_back``."""
    before: dict[str, Any] = {}
    died = absorbed.date_of_death
    if died and kept.date_of_death is None and died >= kept.date_of_birth:
        before["date_of_death"] = None
        kept.date_of_death = died
        if kept.status == Child.Status.ACTIVE:
            before["status"] = kept.status
            kept.status = Child.Status.DECEASED
    if absorbed.kept_to_25_with_consent and not kept.kept_to_25_with_consent:
        before["kept_to_25_with_consent"] = False
        kept.kept_to_25_with_consent = True
    if before:
        kept.save(update_fields=[*before, "updated_at"])
    return before


def _facts_given_back(kept: Child, absorbed: Child, before: dict[str, Any]) -> None:
    """Undoes ``_facts_taken``, where the kept record still holds what the merge gave it."""
    given = {
        "date_of_death": absorbed.date_of_death,
        "status": Child.Status.DECEASED,
        "kept_to_25_with_consent": True,
    }
    back = [field for field in before if getattr(kept, field) == given[field]]
    if "status" in back and "date_of_death" not in back:
        back.remove("status")  # a death recorded since: the record stays deceased
    for field in back:
        setattr(kept, field, before[field])
    if back:
        kept.save(update_fields=[*back, "updated_at"])


class ShieldedAcrossLas(Exception):
    """A shielded record, or one that records are still shielded for (``kept_within_la``), is
    merged only with a record of its own local authority."""


class MergedOnSince(Exception):
    """The record a merge kept has been merged into another since: that merge is undone first,
    or what moved would stay there."""

    def __init__(self, kept: Child) -> None:
        super().__init__(kept.contactpoint_id)
        self.kept = kept


@transaction.atomic
def children_unmerge(*, merge: Merge, by: User | None) -> None:
    """Puts back what the merge moved. A shield carried over stays, and one put on the merged
    record since goes back with its facts: lifting a shield is a shielding officer's decision,
    never a side effect. Across LAs it goes back without its words, which are its LA's."""
    kept, absorbed = merge.kept, merge.absorbed
    _lock(kept, absorbed)
    follow_shields_after_commit(timezone.now(), children=[kept.pk, absorbed.pk])
    merge.refresh_from_db(fields=["unmerged_at"])
    if merge.unmerged_at is not None:
        raise ValueError("this merge has been undone already")
    if kept.status == Child.Status.MERGED:
        kept.refresh_from_db(fields=["merged_into"])
        raise MergedOnSince(kept)
    for model in Merge.MOVABLE:
        _move(model.objects.filter(merge.absorbed_rows(model), child=kept), to=absorbed)
    ChildName.objects.filter(pk__in=merge.moved.get("created_name", [])).delete()
    _facts_given_back(kept, absorbed, merge.moved.get("kept_before", {}))
    current = Involvement.objects.filter(child=absorbed, ended_on__isnull=True)
    if not current.filter(lead_professional=True).exists():  # one named since stays lead
        for involvement in current.filter(pk__in=merge.moved.get("lead_stood_down", []))[:1]:
            involvement.lead_professional = True
            involvement.save(update_fields=["lead_professional"])
    status = list(Child.Status.values)[merge.moved["previous_status"][0]]
    absorbed.status, absorbed.merged_into = status, None
    absorbed.save(update_fields=["status", "merged_into"])
    _shield_split(
        kept, absorbed, f"Carried over when this record was unmerged from {kept.contactpoint_id}."
    )
    shields_kept_for_split(kept=kept, absorbed=absorbed)
    merge.unmerged_at, merge.unmerged_by = timezone.now(), by
    merge.save(update_fields=["unmerged_at", "unmerged_by"])
    child_search_keys_rebuild(child_ids=[kept.pk, absorbed.pk])
    shield_follows_home_and_carers(absorbed)
    from directory.feed_import import reviews_compare_afresh  # it uses this module's services

    reviews_compare_afresh(child_ids=[kept.pk])


def _shield_split(source: Child, target: Child, why: str) -> None:
    """A record split off a shielded one is shielded too: it held her facts."""
    if source.local_authority_id == target.local_authority_id:
        shield_carry(source=source, target=target, why=why)
    elif shielded_among([source.pk]):
        # Another LA's shield, whose justification may say where she is: its words stay
        # with that LA, and the record is shielded without saying why.
        shield_for_review(target, FOR_ANOTHER_RECORD)


class NotSeparable(Exception):
    """Why a feed record cannot be made a record of its own; the message says so."""


# The facts a feed record gave a child (directory.models.FedBy).
_FED = (ChildName, Address, CareRelationship, Involvement, ChildIdentifier)


class Separated(NamedTuple):
    child: Child  # the new record
    facts_left: bool  # facts its feed gave before they named their feed record (0016) stay


@transaction.atomic
def source_record_separate(*, source_record: SourceRecord) -> Separated:
    """A feed record that joined a child it is not (a twin, say) becomes a record of its own,
    with every fact it gave: an automatic match undone. Returns the new record.

    Refused for the record that gave the child its name and birthday (separate the others),
    for a child's only feed record, and for one that came with a merge (undo that instead).
    """
    # Here, not at the top: the feed import uses this module's services.
    from directory.feed_import import (
        Taken,
        child_create_from_row,
        facts_apply,
        facts_restore,
        reviews_compare_afresh,
        row_from_record,
        shield_if_lookalike,
    )
    from directory.feeds import RowErrors

    joined = SourceRecord.objects.filter(pk=source_record.pk).values_list("child", flat=True)
    child_id = joined.first()
    child = Child.objects.filter(pk=child_id).first() if child_id else None
    if child is None:
        raise NotSeparable("That feed record has not joined a record")
    _lock(child)  # the child, then its feed record: the order a merge takes them in
    try:
        # A file importing holds its feed records, then waits for their children: waiting
        # here for one would leave each waiting for the other.
        source_record = SourceRecord.objects.select_for_update(nowait=True).get(pk=source_record.pk)
    except OperationalError:
        raise NotSeparable(
            "A file from that feed is being imported: try again when it has been"
        ) from None
    if source_record.child_id != child.pk:
        raise NotSeparable("That feed record has moved since the page was shown: look again")
    follow_shields_after_commit(timezone.now(), children=[child.pk])
    others = list(SourceRecord.objects.filter(child=child).exclude(pk=source_record.pk))
    if child.status == Child.Status.MERGED or not others:
        raise NotSeparable("It is the record's only feed record: there is nothing to separate")
    if Merge.objects.filter(
        kept=child, unmerged_at__isnull=True, moved__contains={
            SourceRecord._meta.label: [source_record.pk]
        },
    ).exists():  # fmt: skip
        raise NotSeparable("That feed record came with a merge: undo the merge instead")
    try:
        row = row_from_record(source_record)
    except RowErrors:
        raise NotSeparable(
            "That feed record's last row no longer passes the feed's checks"
        ) from None
    if (row.given_name, row.family_name, row.date_of_birth) == (
        child.given_name, child.family_name, child.date_of_birth,
    ):  # fmt: skip
        raise NotSeparable(
            "That feed record gave the record its name and date of birth: separate the others"
        )
    record = source_record.last_import
    la = record.local_authority or child.local_authority
    separate = child_create_from_row(row, source_record.source, record, la)
    numbers = Q()
    for kind, value in row.identifiers.items():  # given before facts named their record
        numbers |= Q(kind=kind, value=value, source_record=None)
    # What it gave, current or ended since (by its own later rows: a twin's move ends the
    # home both named, which the other's row still names).
    own = {"child": child, "source_record": source_record}
    addresses = Address.objects.filter(**own)
    involvements = Involvement.objects.filter(**own)
    taken = Taken(
        homes=frozenset(addresses.values_list("line_1", "postcode")),
        elsewhere=frozenset(addresses.values_list("kind", flat=True)),
        carers=frozenset(
            CareRelationship.objects.filter(**own).values_list(
                "carer__given_name", "carer__family_name"
            )
        ),
        services=frozenset(involvements.values_list("service_id", flat=True)),
        lead=involvements.filter(lead_professional=True, ended_on__isnull=True).exists(),
    )
    model: Any
    for model in _FED:
        given = Q(source_record=source_record)
        if model is ChildIdentifier and numbers:
            given |= numbers
        _move(model.objects.filter(given, child=child), to=separate)
    ChildName.objects.filter(  # the name it joined under is now the record's own
        child=separate, given_name=separate.given_name, family_name=separate.family_name
    ).delete()
    source_record.child = separate
    source_record.save(update_fields=["child"])
    facts_apply(row, separate, source_record, record, la)  # what was recorded before 0016
    staying = []  # the feed records that stay, with their last rows, the last received last
    for other in sorted(others, key=lambda other: other.received_at):
        try:
            staying.append((other, row_from_record(other)))
        except RowErrors:
            continue
    still = [said for _, said in staying]
    _life_taken_back(child, row, still, timezone.localdate())
    _service_flags_taken_back(child, row, still)
    _carer_phone_taken_back(child, row, still)
    for other, said in staying:  # a home, school or carer both rows named went with it
        facts_restore(
            said, child, other, other.last_import, other.last_import.local_authority or la, taken
        )
    _shield_split(
        child,
        separate,
        f"Carried over when this record was separated from {child.contactpoint_id}.",
    )
    child_search_keys_rebuild(child_ids=[child.pk, separate.pk])
    shield_if_lookalike(separate)
    shield_follows_home_and_carers(separate)
    reviews_compare_afresh(child_ids=[child.pk])
    facts_left = any(
        model.objects.filter(child=child, source=source_record.source, source_record=None).exists()
        for model in (ChildName, Address, CareRelationship, Involvement)
    )
    return Separated(separate, facts_left)


def _one_answer(answers: set[Any], default: Any) -> Any:
    """What the feed rows that stay say, if they say one thing: ``default`` if none says
    anything, None if they disagree (which is newer is not known, so nothing is changed)."""
    if not answers:
        return default
    return next(iter(answers)) if len(answers) == 1 else None


def _life_taken_back(child: Child, row: Any, still: list[Any], today: date) -> None:
    """A death or a consent the separated row gave (the record still holding it) leaves the
    record it had joined, for what the rows that stay (``still``, the last received last)
    say. A record archived for that death alone (under 18 when archived), and not of an age
    to be archived, is live again."""
    changed = []
    died = row.date_of_death
    if died and child.date_of_death == died and all(o.date_of_death != died for o in still):
        # Theirs, or the last received of theirs where they give two.
        deaths = [
            o.date_of_death
            for o in still
            if o.date_of_death and o.date_of_death >= child.date_of_birth  # hers, not before
        ]
        child.date_of_death = deaths[-1] if deaths else None
        changed.append("date_of_death")
        if child.date_of_death is None and child.status == Child.Status.DECEASED:
            child.status = Child.Status.ACTIVE
            changed.append("status")
    if row.consent_to_25 is not None and child.kept_to_25_with_consent == row.consent_to_25:
        said = {o.consent_to_25 for o in still if o.consent_to_25 is not None}
        consent = _one_answer(said, default=False)
        if consent is not None and consent != child.kept_to_25_with_consent:
            child.kept_to_25_with_consent = consent
            changed.append("kept_to_25_with_consent")
    age = 25 if child.kept_to_25_with_consent else 18
    archived_on = child.archived_on
    reason_gone = (  # why it was archived, taken back with the separated row
        # A death, if she was under 18 when archived (older, her age may have been why).
        (
            "date_of_death" in changed
            and archived_on
            and child.date_of_birth > years_before(archived_on, 18)
        )
        # Or, at 18, a consent to 25 withdrawn by the separated row, hers again.
        or ("kept_to_25_with_consent" in changed and child.kept_to_25_with_consent)
    )
    if (
        reason_gone
        and child.status == Child.Status.ARCHIVED
        and child.date_of_death is None
        and child.date_of_birth > years_before(today, age)
    ):
        child.status, child.archived_on = Child.Status.ACTIVE, None
        changed += ["status", "archived_on"]
    if changed:
        child.save(update_fields=[*changed, "updated_at"])
    if "archived_on" in changed:
        from directory.feed_import import reviews_back_in_sight  # it uses this module's services

        reviews_back_in_sight(child)


def _carer_phone_taken_back(child: Child, row: Any, still: list[Any]) -> None:
    """A phone the separated row gave a carer the rows that stay also name is what they say
    of it, if they say one thing."""
    if not row.carer or not row.carer["phone"]:
        return
    name = (row.carer["given_name"], row.carer["family_name"])
    said = {
        o.carer["phone"]
        for o in still
        if o.carer and o.carer["phone"] and (o.carer["given_name"], o.carer["family_name"]) == name
    }
    phone = _one_answer(said, default=None)
    if phone is None:
        return
    for link in CareRelationship.objects.filter(
        child=child, ended_on__isnull=True, carer__given_name=name[0], carer__family_name=name[1],
        carer__phone=row.carer["phone"],
    ).select_related("carer"):  # fmt: skip
        link.carer.phone = phone
        link.carer.for_children = (child.pk,)  # the change log's entry for it is the child's
        link.carer.save(update_fields=["phone"])


def _service_flags_taken_back(child: Child, row: Any, still: list[Any]) -> None:
    """A CAF or lead the separated row set on a service another feed record of the record
    names (one involvement for both) is what the rows that stay say of it; and so is why a
    sensitive one is held, which the separated row's reason (another child's) replaced."""
    named = row.service
    if not named or "caf_held" not in named:
        return
    key = (named["kind"], named["identifier"])
    same = [
        o.service
        for o in still
        if o.service and (o.service["kind"], o.service["identifier"]) == key
        and "caf_held" in o.service
    ]  # fmt: skip
    flags = _one_answer(
        {(bool(s["caf_held"]), bool(s["lead_professional"])) for s in same}, default=None
    )
    why = _sensitive_why_taken_back(named, same)
    if flags is None and not why:
        return
    current = Involvement.objects.filter(child=child, ended_on__isnull=True)
    for involvement in current.filter(
        service__kind=key[0], service__identifier=key[1], source_record__isnull=False
    ):
        changed = [name for name, value in why.items() if getattr(involvement, name) != value]
        for name in changed:
            setattr(involvement, name, why[name])
        if flags is not None:
            caf, lead = flags
            lead = (
                lead
                and not current.filter(lead_professional=True).exclude(pk=involvement.pk).exists()
            )
            if (involvement.caf_held, involvement.lead_professional) != (caf, lead):
                involvement.caf_held, involvement.lead_professional = caf, lead
                changed += ["caf_held", "lead_professional"]
        if changed:
            involvement.save(update_fields=changed)


def _sensitive_why_taken_back(named: dict[str, Any], same: list[dict[str, Any]]) -> dict[str, str]:
    """Why a sensitive service is held, as the rows that stay say it, where they say one thing:
    its basis, and its reason if the separated row gave one (a row stored before the reason's
    column says nothing of it, so where none that stays gives one, none is held)."""
    if named["kind"] not in SensitiveCategory.values:
        return {}
    why = {}
    basis = _one_answer({s["sensitive_basis"] for s in same}, default=None)
    if basis:
        why["sensitive_basis"] = basis
    if "sensitive_reason" in named and same:
        reasons = {s["sensitive_reason"] for s in same if "sensitive_reason" in s}
        # Rows that stay all of the older format gave none: the reason is the separated row's.
        reason = _one_answer(reasons, default="")
        if reason is not None:
            why["sensitive_basis_note"] = reason
    return why


# The record lifecycle -----------------------------------------------------------------------------


@transaction.atomic
def lifecycle_apply(*, today: date) -> dict[str, int]:
    """DESIGN.md "record lifecycle": archive at 18 (25 with consent); a deceased child's
    record stays live for a year, then is archived; archived records are purged after 6
    years. Each change goes through the model, so the change log records it; a run that
    changed anything is also an access event naming the records, which outlives them."""
    done = {
        "archived_at_18": 0,
        "archived_at_25": 0,
        "archived_after_death": 0,
        "purged": 0,
        "rows_waiting_for_review_purged": 0,
        "purges_put_off": 0,
    }
    archived: list[str] = []
    purged: list[str] = []
    # Each record held from when it is read, in the order a merge takes them (``_lock``): a
    # merge or another run meanwhile waits, or is waited for and its change seen, instead of
    # the job writing over it (a record merged and archived at once, refused, fails the job).
    # Not against deletion (``no_key``): a file joining a new feed row to one holds it against
    # that alone until it is imported (``feed_import._kept_until_imported``), and the job,
    # holding every record due at once, would wait minutes for the file, and the file for a
    # record the job held before (PostgreSQL ending one of them).
    children = Child.objects.select_for_update(no_key=True).order_by("pk")
    expired = Q(status=Child.Status.ARCHIVED, archived_on__lte=years_before(today, 6))
    # Before the records, the rows waiting for review that offer one to purge, each row then
    # its review, in the order a data manager's decision takes them (the row, the review, the
    # record she chose): held after the record, a decision on one waited for the job as the
    # job waited for it, and PostgreSQL ended one (her request, or the night's job).
    _waiting_rows_hold(Child.objects.filter(expired))
    # All of them held at once, in id order: held as each one's turn came, one held while
    # waiting for a lower one could wait for a merge that holds the lower and waits for it.
    list(children.filter(Child.due_for_archiving(today) | expired).values_list("pk", flat=True))
    for why, rule in Child.archiving_rules(today).items():
        for child in children.filter(rule):
            _archive(child, today)
            archived.append(child.contactpoint_id)
            done[why] += 1
    for child in children.filter(expired):
        # Records merged into this one (and those merged into them), the merges themselves,
        # and the feed rows that described any of them (names, birth dates and addresses as the
        # feeds sent them, those waiting for review as hers too) go with it.
        ids = _merged_tree(child)
        if not _held_for_deletion(ids) or _feed_rows_being_imported(ids):
            # A file being imported holds one, or a new feed row's record, and at its commit
            # checks the record its rows join: the job, deleting it, would wait for the file as
            # the file waited for it, and PostgreSQL would end one. Purged at the next run.
            done["purges_put_off"] += 1
            continue
        Merge.objects.filter(Q(kept_id__in=ids) | Q(absorbed_id__in=ids)).delete()
        waiting_about_her = _reviews_offering_purged(ids)
        done["rows_waiting_for_review_purged"] += len(waiting_about_her)
        described = SourceRecord.objects.filter(Q(child_id__in=ids) | Q(pk__in=waiting_about_her))
        # Their ids kept only as keyed digests, so that an old file sent again cannot bring
        # them back (directory/feed_import.py, ``_apply_row``); so are the NHS numbers and UPNs
        # the records held, so that a row carrying one gives it to no other child
        # (``purged_number_refused``).
        numbers = ChildIdentifier.objects.filter(child_id__in=ids).values_list("kind", "value")
        PurgedFeedRecord.objects.bulk_create(
            [
                PurgedFeedRecord(digest=PurgedFeedRecord.digest_of(source, key), purged_on=today)
                for source, key in [*described.values_list("source", "record_id"), *numbers]
            ],
            ignore_conflicts=True,
        )
        described.delete()
        carers = list(
            CareRelationship.objects.filter(child_id__in=ids).values_list("carer_id", flat=True)
        )
        held = Child.objects.in_bulk(ids)
        purged += [held[pk].contactpoint_id for pk in ids]
        for pk in reversed(ids):  # each record before the one it was merged into
            held[pk].delete()
        ParentCarer.objects.filter(pk__in=carers, relationships__isnull=True).delete()
        done["purged"] += 1
    if archived or purged:
        # In the job's transaction: if the event cannot be written, nothing is changed.
        record_event(
            None,
            AuditNote(
                action=Action.ADMIN_ACTION,
                detail={"action": "lifecycle", **done, "archived": archived, "purged": purged},
                result_ids=archived + purged,
                result_count=len(archived) + len(purged),
            ),
            status=None,
        )
    return done


def _held_for_deletion(ids: list[int]) -> bool:
    """Whether the job now holds these records against deletion too, none being held by
    another transaction (a file that joined a new feed row to one, ``_kept_until_imported``):
    held, a file that comes to one after waits for the job, and finds it gone."""
    held = Child.objects.select_for_update(skip_locked=True).filter(pk__in=ids).order_by("pk")
    return len(held.values_list("pk", flat=True)) == len(ids)


def _feed_rows_being_imported(ids: list[int]) -> bool:
    """Whether another transaction (a file being imported) holds a feed row joined to one of
    these records; those it does not hold are held from now, so that no file takes them."""
    rows = SourceRecord.objects.filter(child_id__in=ids)
    joined = set(rows.values_list("pk", flat=True))
    return not joined <= set(rows.select_for_update(skip_locked=True).values_list("pk", flat=True))


def _reviews_offering_purged(ids: list[int]) -> list[int]:
    """The feed records waiting for a data manager's decision whose best match is one of
    these records, being purged: the row is most likely the purged person, so it goes with
    her linked rows (a decision to make it a new record would bring her back). So does a row
    waiting under her own id, whatever its best match (a sister's row under her UPN, NHS
    number or LA record id, ``SourceRecord.pointed_to_by_id``): the id is hers, and kept, a
    file of hers sent again would update the row instead of being refused as purged, and the
    other LAs' rows kept beside it (``la_last_rows``) are hers. A waiting row offering her
    below a better match is another child's: she is taken off its shortlist, and its review
    opens again, so a decision made on the page that offered her is refused. So does a row
    waiting under another child's own id (his UPN, NHS number or LA record id), whatever its
    best match: the id is his, and purged with her, his LA's later rows under it would be
    refused as hers."""
    under_her_id = set(_rows_under_the_id_of(ids).values_list("pk", flat=True))
    reviews = list(_waiting_offering(ids).select_for_update())
    under_anothers_id = set(
        SourceRecord.objects.filter(
            pk__in=[review.source_record_id for review in reviews],
            pointed_to_by_id=True,
            pointed_to__isnull=False,
        )
        .exclude(pointed_to_id__in=ids)
        .values_list("pk", flat=True)
    )
    about_her = []
    for review in reviews:
        best_match_hers = review.candidates[0]["child_id"] in ids
        if review.source_record_id in under_her_id or (
            best_match_hers and review.source_record_id not in under_anothers_id
        ):
            about_her.append(review.source_record_id)
            continue
        review.candidates = [c for c in review.candidates if c["child_id"] not in ids]
        review.status = MatchReview.Status.OPEN
        review.save(update_fields=["candidates", "status"])
    return sorted({*about_her, *under_her_id})


def _rows_under_the_id_of(ids: list[int]) -> QuerySet[SourceRecord]:
    """The rows waiting for review under the feed id of one of these records (its UPN, NHS
    number, or a feed record it was linked to), though they may be another child's."""
    return SourceRecord.objects.filter(pointed_to_id__in=ids, pointed_to_by_id=True)


def _waiting_offering(ids: list[int]) -> QuerySet[MatchReview]:
    """The reviews still waiting for a decision that offer any of these records."""
    offering = Q()
    for pk in ids:
        offering |= Q(candidates__contains=[{"child_id": pk}])
    return MatchReview.objects.filter(offering, status__in=MatchReview.WAITING).order_by("pk")


def _waiting_rows_hold(expiring: QuerySet[Child]) -> None:
    """Holds the rows waiting for review that offer a record about to be purged (or one
    merged into it), or wait under its id, then their reviews."""
    ids = [pk for child in expiring for pk in _merged_tree(child)]
    if not ids:
        return
    rows = SourceRecord.objects.select_for_update().filter(
        Q(pk__in=_waiting_offering(ids).values("source_record"))
        | Q(pk__in=_rows_under_the_id_of(ids))
    )
    list(rows.order_by("pk").values_list("pk", flat=True))
    reviews = MatchReview.objects.filter(
        Q(pk__in=_waiting_offering(ids)) | Q(source_record_id__in=_rows_under_the_id_of(ids))
    )
    list(reviews.select_for_update().order_by("pk").values_list("pk", flat=True))


def _merged_tree(child: Child) -> list[int]:
    """``child``'s id, then the ids of the records merged into it, then of those merged into
    them, and so on: every record a purge of ``child`` takes with it."""
    ids, frontier = [child.pk], [child.pk]
    while frontier:
        frontier = list(
            Child.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True)
        )
        ids += frontier
    return ids


def _archive(child: Child, today: date) -> None:
    child.status, child.archived_on = Child.Status.ARCHIVED, today
    child.save(update_fields=["status", "archived_on", "updated_at"])
