"""The shielding policy: what anyone may see of a shielded child, decided in this one place.

A shielded child's whereabouts must never leak (DESIGN.md "Shielding"). The policy is an
allow-list: for a shielded child, only the fields named here are shown to someone without the
right to see the record in full; every other field — and any field added later — is masked.
"""

import ast
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache, partial
from itertools import pairwise
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import (
    BooleanField,
    DateField,
    DateTimeField,
    Exists,
    F,
    ForeignObjectRel,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.text import capfirst

from accounts.models import Organisation, User
from accounts.permissions import Permission, has_permission, is_national
from accounts.roles import Role
from accounts.selectors import user_organisation_then
from contactpoint.dates import day_said, moment_said
from contactpoint.postcodes import one_slip_away
from contactpoint.telephone_numbers import telephone_numbers_are_valid
from directory.matching import (
    DEFAULT_LEVELS,
    Person,
    agreement,
    date_variants,
    family_keys,
    given_keys,
    match_weight,
)
from directory.models import (
    SOURCE_SAID,
    Address,
    CareRelationship,
    Child,
    Gender,
    Involvement,
    Merge,
    NameKey,
    ParentCarer,
    PhoneKeys,
    Service,
)
from shielding.models import Shield, ShieldsToFollow

logger = logging.getLogger(__name__)

MASK = "[shielded]"
# What a change history says in place of a field's values that the viewer may not see.
WITHHELD = "details withheld (shielded record)"
# Who made a change the viewer is not told of (another LA's officer's shield): a person did,
# where "system" would have an auditor believe an automatic process had.
ACTOR_WITHHELD = "an officer of another organisation"
# Who made a change no one signed in made: a scheduled job's or a command's.
NO_ACTOR = "system"
# Who made a change whose user has since been deleted: a person did, not the system.
# django-auditlog keeps her email beside the actor it sets (blank where she had none), and
# neither her id nor her username, which go with her account.
ACTOR_DELETED = "a user since deleted"

# Who the child is may be shown; nothing that says where they are or who is around them.
VISIBLE_WHEN_SHIELDED: dict[str, frozenset[str]] = {
    "directory.child": frozenset(
        {
            "contactpoint_id",
            "given_name",
            "middle_names",
            "family_name",
            "gender",
            "date_of_birth",
            "date_of_death",
            "status",
        }
    ),
    "directory.childname": frozenset({"kind", "given_name", "family_name"}),
    "shielding.shield": frozenset({"reason", "review_on", "shielded_at", "lifted_at"}),
}


def shielded_among(child_ids: Iterable[int]) -> set[int]:
    """Which of these children have a shield in force, their own or, for a record merged into
    another, that of the record it was merged into (see ``is_shielded``)."""
    ids = {child_id for child_id in child_ids if child_id is not None}
    if not ids:
        return set()
    in_force = Shield.objects.filter(child_id__in=ids, lifted_at__isnull=True)
    shielded = set(in_force.values_list("child_id", flat=True))
    merged = dict(
        Child.objects.filter(pk__in=ids - shielded, merged_into__isnull=False).values_list(
            "pk", "merged_into_id"
        )
    )
    if merged:
        targets = shielded_among(merged.values())
        shielded |= {pk for pk, target in merged.items() if target in targets}
    return shielded


def kept_within_la(child_ids: Iterable[int]) -> bool:
    """Whether a merge of these records must stay within their own local authority: one is
    shielded (``shielded_among``), or records are still shielded to keep its details safe
    (her own shield lifted, her officer has yet to lift theirs). Merged into another LA's
    record, that LA's team would decide whether those records, her LA's own among them, show
    her home, and her team could no longer lift them."""
    ids = [child_id for child_id in child_ids if child_id is not None]
    return (
        bool(shielded_among(ids))
        or Shield.objects.filter(
            lifted_at__isnull=True, for_sharing=True, protects_id__in=ids
        ).exists()
    )


def sees_in_full(viewer: User, local_authority_id: int | None) -> bool:
    """Shielding officers of the child's local authority see its shielded records in full.
    For a record merged into another, that is the kept record's authority
    (``shielding_authority``): its team keeps the shield the record is masked by."""
    return viewer.has_role(Role.SHIELDING_OFFICER) and viewer.organisation_id == local_authority_id


def shielding_authority(child: Child) -> int | None:
    """The local authority whose team keeps the shield this record would be masked by, and
    brokers contact with the child: for a record merged into another, the kept record's."""
    return child.record_kept().local_authority_id


def shielding_authorities(child_ids: Iterable[int]) -> dict[int, int | None]:
    """``shielding_authority`` of each of these children, in a query per level of merges."""
    found: dict[int, int | None] = {}
    ids = set(child_ids)
    rows = Child.objects.filter(pk__in=ids).values_list("pk", "local_authority_id", "merged_into")
    merged: dict[int, int] = {}
    for pk, authority, into in rows:
        found[pk] = authority
        if into is not None:
            merged[pk] = into
    if merged:
        kept = shielding_authorities(merged.values())
        found.update({pk: kept.get(into) for pk, into in merged.items()})
    return found


# A child linked to a parent or carer: until when (None: still).
Linked = dict[int, date | None]


@dataclass(frozen=True)
class ChangesContext:
    """What ``change_shown`` must know of the children change-log entries are about."""

    shielded: set[int] = field(default_factory=set)
    authorities: dict[int, int | None] = field(default_factory=dict)  # shielding_authority
    # Each parent's or carer's children, by the carer's id as logged.
    carers_children: dict[str, Linked] = field(default_factory=dict)
    # The shielded children whose home, or whose parent's or carer's address, phone number
    # or email, a parent's or carer's entries show (``_shielded_alongside``).
    carers_alongside: dict[str, set[int]] = field(default_factory=dict)
    # Whose each row of a child's (an address, an involvement) is now, by model and id as
    # logged: a merge undone gives rows back to the other record, whose they then are.
    owners: dict[tuple[str, str], int] = field(default_factory=dict)
    # For each shield for sharing among the entries, by its id as logged, the authority of the
    # child it protects: only her officers are told what the shield is for (``sharing_told``).
    protected_by: dict[str, int | None] = field(default_factory=dict)
    # The users the entries' fields name (a shield's lifted_by), by id as logged: each, or
    # None for one since deleted. An id not here (not looked up) is shown as logged.
    users: dict[str, User | None] = field(default_factory=dict)
    # The organisations (a child's LA) the entries' fields name, by id as logged: their
    # names. Only fields shown unmasked name one, where the child's addresses show too.
    organisations: dict[str, str] = field(default_factory=dict)
    # For each shield's entry (by its pk) and field it changed, when the value it replaced
    # was written (``_written_at``): the officer an old value names is judged as she was then.
    written_at: dict[tuple[int, str], datetime] = field(default_factory=dict)
    # Each actor's change log, read once for a page, to tell where she worked when she acted
    # (``user_organisation_then``).
    moves: dict[int, list[LogEntry]] = field(default_factory=dict)

    def about(self, entry: Any) -> set[int]:
        """The children an entry is about: those it named when written; for a parent or
        carer, every child linked to her then or since (her move to the refuge, logged while
        she was only his mother, is his shielded sister's mother's move too), but not a child
        who had left her before it, of whose whereabouts it says nothing; and any shielded
        child whose home or family's contact details her entries show, however the records
        are linked (another feed's record of the same mother, a number changed since)."""
        named = set((entry.additional_data or {}).get("child_ids", []))
        # A row changed while two records were merged names the record kept; the merge
        # undone, it is the other child's, and says where she is.
        owner = self.owners.get((_model(entry), str(entry.object_pk)))
        if owner is not None:
            named.add(owner)
        if _model(entry) == CARER:
            day = timezone.localdate(entry.timestamp)
            linked = self.carers_children.get(str(entry.object_pk), {})
            named |= {child for child, until in linked.items() if until is None or day <= until}
            named |= self.carers_alongside.get(str(entry.object_pk), set())
        return named


def changes_context(entries: Sequence[Any]) -> ChangesContext:
    """The ``ChangesContext`` of these change-log entries: every child they are about counts,
    not only the one whose history is shown. In a few queries, however many carers."""
    carer_entries = [entry for entry in entries if _model(entry) == CARER]
    carers = {int(entry.object_pk) for entry in carer_entries}
    carers_children: dict[str, Linked] = {}
    links = CareRelationship.objects.filter(carer_id__in=carers)
    for carer, child, until in links.values_list("carer_id", "child_id", "ended_on"):
        linked = carers_children.setdefault(str(carer), {})
        held = linked.get(child, until)
        linked[child] = None if held is None or until is None else max(held, until)
    context = ChangesContext(
        carers_children=carers_children,
        carers_alongside=_shielded_alongside(carers),
        owners=_owners(entries),
        protected_by=_protected_by(entries),
        users=_users_named(entries),
        written_at=_written_at(entries),
        organisations={
            str(pk): name
            for pk, name in Organisation.objects.filter(
                pk__in=_ids_of(Organisation, entries)
            ).values_list("pk", "name")
        },
    )
    ids = {child_id for entry in entries for child_id in context.about(entry)}
    return replace(context, shielded=shielded_among(ids), authorities=shielding_authorities(ids))


def _owners(entries: Sequence[Any]) -> dict[tuple[str, str], int]:
    """The child each entry's row belongs to now, for rows of models that belong to one
    (``ChangesContext.owners``); in a query per model."""
    rows: dict[Any, set[int]] = {}
    for entry in entries:
        model = entry.content_type.model_class()
        try:
            child = model._meta.get_field("child") if model is not None else None
        except FieldDoesNotExist:
            continue
        belongs = child is not None and child.many_to_one and child.related_model is Child
        if belongs and str(entry.object_pk).isdigit():
            rows.setdefault(model, set()).add(int(entry.object_pk))
    return {
        (model._meta.label_lower, str(pk)): owner
        for model, pks in rows.items()
        for pk, owner in model.objects.filter(pk__in=pks).values_list("pk", "child_id")
    }


def _protected_by(entries: Sequence[Any]) -> dict[str, int | None]:
    """``ChangesContext.protected_by``: the shields for sharing among these entries, and the
    authority of the child each protects, in two queries."""
    logged = {
        int(entry.object_pk)
        for entry in entries
        if _model(entry) == SHIELD and str(entry.object_pk).isdigit()
    }
    protects = dict(
        Shield.objects.filter(pk__in=logged, for_sharing=True, protects__isnull=False).values_list(
            "pk", "protects_id"
        )
    )
    authorities = shielding_authorities(protects.values())
    return {str(pk): authorities.get(child) for pk, child in protects.items()}


def _users_named(entries: Iterable[Any]) -> dict[str, User | None]:
    """``ChangesContext.users``: each user the entries' fields name, by id as logged, or None
    for one since deleted, in one query."""
    ids = _ids_of(User, entries)
    named = User.objects.filter(pk__in=[int(pk) for pk in ids]).only(
        "username", "first_name", "last_name", "organisation_id"
    )
    found = {str(user.pk): user for user in named}
    return {pk: found.get(pk) for pk in ids}


def _written_at(entries: Sequence[Any]) -> dict[tuple[int, str], datetime]:
    """``ChangesContext.written_at``: for each shield's entry and field it changed, the time
    of the entry before it, among these, that changed that field of that shield."""
    last: dict[tuple[str, str], datetime] = {}
    found: dict[tuple[int, str], datetime] = {}
    shields = (entry for entry in entries if _model(entry) == SHIELD)
    for entry in sorted(shields, key=lambda entry: (entry.timestamp, entry.pk)):
        for name in entry.changes_dict:
            if (key := (str(entry.object_pk), name)) in last:
                found[(entry.pk, name)] = last[key]
            last[key] = entry.timestamp
    return found


def _ids_of(model: Any, entries: Iterable[Any]) -> set[str]:
    """The ids of ``model``'s rows that the entries' fields name, as logged."""
    return {
        value
        for entry in entries
        for name, values in entry.changes_dict.items()
        if _names_a(model, _logged_field(entry, name))
        for value in map(_logged, values)
        if value.isdigit()
    }


# What a shield's change log says of whether it is for sharing a home with a shielded child:
# told only to her officers, as the shield page tells it (``sharing_told``).
SHARING_FIELDS = frozenset({"for_sharing", "lifted_seeing"})

_CONTACT = ("line_1", "line_2", "postcode", "phone", "email")

# What a shield's change log says in an officer's own words, or of who she is.
OFFICERS_OWN = frozenset({"review_note", "reviewed_by", "lift_note", "lifted_by", "shielded_by"})
# Each note of an officer's on a shield, and the field naming who wrote it: saved together.
NOTE_BY = {"review_note": "reviewed_by", "lift_note": "lifted_by"}
# What a change history says in place of a note whose officer the viewer is not told of.
NOTE_WITHHELD = "withheld (the note of an officer not named)"


def _shielded_alongside(carers: set[int]) -> dict[str, set[int]]:
    """For each parent or carer, the shielded children whose home (``_shows_home``: at the
    same postcode, or at one a slip away naming its street or house), or whose current
    parent's or carer's address, phone number or email (one that no more records share than
    the shield follows), her record shows now or showed before any change the log holds."""
    rows = ParentCarer.objects.filter(pk__in=carers).values_list("pk", *_CONTACT)
    now = {str(pk): dict(zip(_CONTACT, values, strict=True)) for pk, *values in rows}
    shown: dict[str, list[dict[str, str]]] = {pk: [values] for pk, values in now.items()}
    # And as her record stood before and after each change the log holds of it, rebuilt back
    # from now (or from her deletion): a change of one line is read with the postcode it had
    # then, which a later change, made when she was no longer this child's, has replaced.
    state = {pk: dict(values) for pk, values in now.items()}
    app_label, model = CARER.split(".")
    logged = LogEntry.objects.filter(
        content_type__app_label=app_label,
        content_type__model=model,
        object_pk__in=[str(pk) for pk in carers],
    )
    for entry in logged.order_by("-timestamp", "-pk"):
        before, after = _sides(entry, state)
        shown.setdefault(str(entry.object_pk), []).extend((before, after))
        state[str(entry.object_pk)] = before
    every = [values for each in shown.values() for values in each]
    addresses: list[Place] = [
        (0, values["postcode"], values["line_1"], values["line_2"])
        for values in every
        if values["postcode"]
    ]
    keys = {key for values in every for key in phone_keys(values["phone"])}
    emails = {values["email"].lower() for values in every if values["email"]}
    # A mistyped postcode must not make her refuge another home, here as on the records.
    places = _places(Q(), None, ended=False, near=addresses) if addresses else []
    contacts: list[tuple[int, str, str]] = []
    if keys or emails:
        reached = Q(carer_phone_keys__overlap=sorted(keys)) | Q(carer_email__in=emails)
        current = _with_contacts(CareRelationship.objects.filter(ended_on__isnull=True))
        contacts = list(
            current.filter(reached).values_list("child_id", "carer__phone", "carer__email")
        )
    # A number or email that more unmasked records show than a shield follows (a children's
    # home's) says nothing of where a shielded child is; one that only masked records hold
    # (a refuge's own line, each mother there giving it) says where she is.
    sharing: dict[str, set[int]] = {}
    for child, phone, email in contacts:
        for key in (phone_keys(phone) & keys) | ({email.lower()} & emails):
            sharing.setdefault(key, set()).add(child)
    shielded = shielded_among({child for child, *_ in places} | {c for c, _, _ in contacts})
    common = {
        key for key, children in sharing.items() if len(children - shielded) > SHARED_BY_AT_MOST
    }
    # Each home read once for this history, and kept no longer than it (a refuge's address
    # among them).
    read = cache(_home)
    return {
        carer: {
            child
            for values in {tuple(values.items()): values for values in each}.values()
            for child in _shown_by(values, places, read, contacts, common)
            if child in shielded
        }
        for carer, each in shown.items()
    }


def _sides(entry: Any, held: dict[str, dict[str, str]]) -> tuple[dict[str, str], ...]:
    """What a parent's or carer's entry shows before and after its change: the fields it
    changed, and the rest as ``held`` for her."""
    changes, now = entry.changes_dict, held.get(str(entry.object_pk), {})
    return tuple(
        {
            name: _logged(changes[name][side]) if name in changes else now.get(name, "")
            for name in _CONTACT
        }
        for side in (0, 1)
    )


def _logged(value: Any) -> str:
    """A value as the change log holds it: "None" for none."""
    return "" if value is None or str(value) == "None" else str(value)


def _shown_by(
    values: dict[str, str],
    places: list["Place"],
    read: Callable[[str, str], "_Home"],
    contacts: list[tuple[int, str, str]],
    common: set[str],
) -> set[int]:
    """The children whose home, or parent's or carer's address or contacts, ``values`` (an
    address, a phone number and an email) show (``_shows_home``); ``read`` reads a home."""
    keys, email = (
        phone_keys(values["phone"]) - common,
        "" if values["email"].lower() in common else values["email"].lower(),
    )
    shows = _shows_home((values["postcode"], values["line_1"], values["line_2"]), read)
    at_home = {place[0] for place in places if values["postcode"] and shows(place)}
    reached = {
        child
        for child, phone, their_email in contacts
        if keys & phone_keys(phone) or (email and their_email.lower() == email)
    }
    return at_home | reached


def _model(entry: Any) -> str:
    return f"{entry.content_type.app_label}.{entry.content_type.model}"


# What a search's criteria say of where a child lives.
LOCATING_CRITERIA = frozenset({"postcode"})


# A search as the access log keeps it: its criteria, the ContactPoint IDs it found, and the
# searcher's organisation and roles then.
SearchLogged = tuple[dict[str, Any] | None, Sequence[str], int | None, Sequence[str]]


def criteria_shown(searches: Sequence[SearchLogged]) -> list[dict[str, Any] | None]:
    """Each search's criteria as the audit screens and export show them: what a search said
    of where a child lives is masked where it found a child who is shielded now, as the
    child's change history masks its addresses, or where her own LA's shielding officer gave
    the postcode of her home, or its district (a search by postcode never finds her, so her
    officer's search there would otherwise show it). Only her officers' searches are
    compared with her home: for anyone else's, the mask would say whether the postcode typed
    is a shielded child's home, to a searcher who also reads the log (or an auditor who knows
    it)."""
    found = {
        cpid
        for criteria, ids, _, _ in searches
        if criteria and LOCATING_CRITERIA & set(criteria)
        for cpid in ids
    }
    children = dict(
        Child.objects.filter(contactpoint_id__in=found).values_list("pk", "contactpoint_id")
    )
    shielded = {children[pk] for pk in shielded_among(children)}
    typed = {
        str(c["postcode"])
        for c, _, _, roles in searches
        if c and c.get("postcode") and Role.SHIELDING_OFFICER in (roles or ())
    }
    homes = _shielded_homes(typed) if typed else {}
    return [
        {name: MASK if name in LOCATING_CRITERIA else value for name, value in criteria.items()}
        if criteria
        and (
            shielded.intersection(ids)
            or (
                Role.SHIELDING_OFFICER in (roles or ())
                and organisation_id in homes.get(str(criteria.get("postcode")), set())
            )
        )
        else criteria
        for criteria, ids, organisation_id, roles in searches
    ]


def _shielded_homes(typed: set[str]) -> dict[str, set[int | None]]:
    """Of these full postcodes and districts (outward codes), those where a shielded child
    lives now, or a current parent or carer of hers does, or a slip from where she does, each
    with the authorities whose officers see those children in full (``shielding_authority``)."""
    full = {postcode for postcode in typed if " " in postcode}
    # A postcode a slip from her home's (ZE2 9QY for ZE2 9QX), typed by someone who knows
    # where she is, says where she is as her own does.
    near = {slip for postcode in full for slip in one_slip_away(postcode)}
    places = [(child, postcode) for child, postcode, _, _ in _places(Q(), full | near, ended=False)]
    districts = typed - full
    if districts:
        in_force = Shield.objects.filter(lifted_at__isnull=True).values("child_id")
        homes, carers = Q(), Q()
        for district in districts:
            homes |= Q(postcode__startswith=f"{district} ")
            carers |= Q(carer__postcode__startswith=f"{district} ")
        places += Address.objects.filter(
            homes, child_id__in=in_force, ended_on__isnull=True
        ).values_list("child_id", "postcode")
        places += CareRelationship.objects.filter(
            carers, child_id__in=in_force, ended_on__isnull=True, carer__country="GB"
        ).values_list("child_id", "carer__postcode")
    shielded = shielded_among({child for child, _ in places})
    authorities = shielding_authorities(shielded)
    found: dict[str, set[int | None]] = {}
    for child, postcode in places:
        if child in shielded:
            for where in (postcode, postcode.split(" ")[0], *one_slip_away(postcode)):
                found.setdefault(where, set()).add(authorities.get(child))
    return found


def sees_sensitive(viewer: User, local_authority_id: int | None) -> bool:
    """Sensitive services are seen by those who broker contact for the child: its own local
    authority's team, not every LA's."""
    return (
        has_permission(viewer, Permission.SEE_SENSITIVE_SERVICES)
        and viewer.organisation_id == local_authority_id
    )


@dataclass(frozen=True)
class ChangeShown:
    """One change-log entry as a viewer may see it."""

    timestamp: Any
    actor: str
    action: str
    model: str
    object_repr: str  # blank where it is withheld
    changes: dict[str, tuple[str, str]]
    # The fields whose values are withheld, said with their plain names ("Review note: details
    # withheld (shielded record)"): the viewer reads what was changed, not what it says.
    withheld: tuple[str, ...]
    masked: bool


INVOLVEMENT = "directory.involvement"
MERGE = "directory.merge"
CARER = "directory.parentcarer"
SHIELD = "shielding.shield"


def sensitive_involvements(entries: Iterable[Any]) -> set[str]:
    """The ids (as the change log keeps them) of the involvements among ``entries`` that are,
    or ever were, with a sensitive service."""
    logged: dict[str, bool] = {}
    for entry in entries:
        if f"{entry.content_type.app_label}.{entry.content_type.model}" != INVOLVEMENT:
            continue
        categories = entry.changes_dict.get("sensitive_category", ())
        said = any(value not in (None, "", "None") for value in categories)
        logged[str(entry.object_pk)] = logged.get(str(entry.object_pk), False) or said
    now = Involvement.objects.filter(pk__in=[int(pk) for pk in logged if pk.isdigit()]).exclude(
        sensitive_category=""
    )
    return {pk for pk, said in logged.items() if said} | {
        str(pk) for pk in now.values_list("pk", flat=True)
    }


def changes_shown(entries: Sequence[Any], viewer: User) -> list[ChangeShown]:
    """A child's change-log entries as this viewer may see them. Those about an involvement
    with a sensitive service are left out for anyone who may not see it: even masked, an
    entry listing its fields (``sensitive_category``, ``sensitive_basis``) would say that the
    child has one, and on what basis."""
    context = changes_context(entries)
    sensitive = sensitive_involvements(entries)
    return [
        change_shown(entry, viewer, context, sensitive)
        for entry in entries
        if not _service_hidden(entry, viewer, context, sensitive)
    ]


def _service_hidden(entry: Any, viewer: User, context: ChangesContext, sensitive: set[str]) -> bool:
    """Whether the entry is about a sensitive-service involvement this viewer may not see:
    she must see them for every child it is about, the one whose it is now among them (a
    service moved by a merge undone since is the other child's again)."""
    child_ids = context.about(entry)
    return (
        _model(entry) == INVOLVEMENT
        and str(entry.object_pk) in sensitive
        and not (
            child_ids and all(sees_sensitive(viewer, context.authorities.get(c)) for c in child_ids)
        )
    )


def user_named(
    entry: Any,
    viewer: User,
    context: ChangesContext,
    user: User | None,
    email: str | None,
    at: datetime | None,
) -> tuple[str, bool]:
    """How a change history names a user: the one who made ``entry`` (its actor, with the
    ``email`` django-auditlog keeps beside it) or one its fields name (a shield's lifted_by,
    an involvement's practitioner; ``email`` blank); and whether she is withheld from this
    viewer, and so her notes on the entry if she made it.

    ``NO_ACTOR`` only for an entry no one signed in made (django-auditlog sets an actor's
    email with the actor, so an entry without an actor but with an email, even a blank one,
    was hers until her account was deleted); ``ACTOR_DELETED`` for a user since deleted,
    with her email where the entry kept it. A shield made on another LA's record for sharing
    a home with a shielded child names, through its actor or its fields, the officer who
    shielded her, and her officer's notes in a review or lift of it speak of her: only their
    own organisation sees who she is, as it was when the entry was written (one who moves to
    the record's LA since brings none of it with her). A user since deleted is of no
    organisation known now: she may have been another's, so neither her email (whose address
    may say which) nor her notes are told. ``at`` is when the entry named her (an old value:
    when it was written; None where that is not known, when a shield's officer is withheld)."""
    if user is None and email is None:
        return NO_ACTOR, False
    officers_apart = _model(entry) == SHIELD and not is_national(viewer)
    if user is None:
        if officers_apart:
            return ACTOR_DELETED, True
        return (f"{ACTOR_DELETED} ({email})" if email else ACTOR_DELETED), False
    if officers_apart and (
        at is None or user_organisation_then(user, at, context.moves) != str(viewer.organisation_id)
    ):
        return ACTOR_WITHHELD, True
    return str(user.audit_name), False


def change_shown(
    entry: Any, viewer: User, context: ChangesContext, sensitive: set[str]
) -> ChangeShown:
    """A django-auditlog entry with the policy applied.

    ``context`` is ``changes_context`` of the entries shown; ``sensitive`` are the
    involvements with sensitive services (``sensitive_involvements``), shown only to those who
    broker contact (a child's history leaves them out: ``changes_shown``).
    """
    model = _model(entry)
    local_authorities = context.authorities
    protect = [
        child_id
        for child_id in context.about(entry)
        if child_id in context.shielded
        and not sees_in_full(viewer, local_authorities.get(child_id))
    ]
    hidden_service = _service_hidden(entry, viewer, context, sensitive)
    # A reverse relation (a child's addresses) is logged as its manager's name, such as
    # "directory.Address.None", which says nothing: its rows' own entries say what changed.
    changes = {
        name: values
        for name, values in entry.changes_dict.items()
        if not isinstance(_logged_field(entry, name), ForeignObjectRel)
    }
    child_ids = (entry.additional_data or {}).get("child_ids", [])
    if model == MERGE and not all(
        sees_sensitive(viewer, local_authorities.get(c)) for c in child_ids
    ):
        # What moved, by id, counts the involvements with sensitive services among them
        # (whose own entries are left out): shown to no one else, so its absence says nothing.
        changes.pop("moved", None)
    if model == SHIELD and not (
        str(entry.object_pk) in context.protected_by
        and sees_in_full(viewer, context.protected_by[str(entry.object_pk)])
    ):
        # Left out of every shield's entries, not masked in some: a mask would say which.
        changes = {name: values for name, values in changes.items() if name not in SHARING_FIELDS}
        # A shield for sharing made within her own LA says why in its justification: said as
        # it is across LAs, where a record's LA is not told that a shielded child lives there.
        if "justification" in changes:
            changes["justification"] = tuple(
                said_across_las(value) if isinstance(value, str) else value
                for value in changes["justification"]
            )
    masked: set[str] = set()
    if protect or hidden_service:
        allowed = frozenset() if hidden_service else VISIBLE_WHEN_SHIELDED.get(model, frozenset())
        masked = set(changes) - allowed
    actor_said, actor_withheld = user_named(
        entry, viewer, context, entry.actor, entry.actor_email, entry.timestamp
    )
    if actor_withheld:
        changes = {name: values for name, values in changes.items() if name not in OFFICERS_OWN}

    def named(name: str, side: int, logged: str) -> tuple[str, bool]:
        # An old value names the user as she was when it was written.
        at = entry.timestamp if side else context.written_at.get((entry.pk, name))
        return user_named(entry, viewer, context, context.users[logged], "", at)

    # The next officer's review logs the note it replaced, written by the officer it names as
    # the reviewer before: withheld where she is, as on her own entry.
    for note, by in NOTE_BY.items():
        wrote = _logged(changes[by][0]) if note in changes and by in changes else ""
        if wrote in context.users and named(by, 0, wrote)[1]:
            changes[note] = (NOTE_WITHHELD, changes[note][1])

    def user_said(name: str, side: int, logged: str) -> str:
        # A masked entry's shown fields (names, dates, a shield's reason) name no one; were
        # one added that did, its user would stay an id rather than be named.
        if protect or hidden_service or logged not in context.users:
            return logged
        return named(name, side, logged)[0]

    organisations = {} if protect or hidden_service else context.organisations
    return ChangeShown(
        timestamp=entry.timestamp,
        actor=actor_said,
        action=entry.get_action_display(),
        model=entry.content_type.name,
        object_repr=""
        if hidden_service or (protect and model not in VISIBLE_WHEN_SHIELDED)
        else entry.object_repr,
        changes={
            _field_label(entry, name): (
                _value_said(entry, name, old, partial(user_said, name, 0), organisations),
                _value_said(entry, name, new, partial(user_said, name, 1), organisations),
            )
            for name, (old, new) in changes.items()
            if name not in masked
        },
        withheld=tuple(
            f"{_field_label(entry, field)}: {WITHHELD}" for field in changes if field in masked
        ),
        masked=bool(protect) or hidden_service,
    )


def _logged_field(entry: Any, name: str) -> Any:
    """The model field a logged change is of, or None (a field removed since)."""
    model = entry.content_type.model_class()
    try:
        return model._meta.get_field(name) if model is not None else None
    except FieldDoesNotExist:
        return None


def _field_label(entry: Any, name: str) -> str:
    """A logged field's plain name, as its model calls it ("Review note" for review_note)."""
    # A field removed since has no verbose name left.
    label = str(getattr(_logged_field(entry, name), "verbose_name", name))
    return capfirst(label.replace("_", " ")) or name


NOT_SET = "not set"


def _names_a(model: Any, model_field: Any) -> bool:
    return bool(
        model_field is not None
        and (model_field.many_to_one or model_field.one_to_one)
        and model_field.related_model is model
    )


def _value_said(
    entry: Any,
    name: str,
    logged: Any,
    user_said: Callable[[str], str],
    organisations: dict[str, str],
) -> str:
    """A logged value as a change history says it: "not set" for none, a choice's label
    ("Domestic abuse", not domestic_abuse), Yes or No, a date as pages write it, a user as
    ``user_said`` names her (``user_named``) and an organisation by its name where
    ``organisations`` has it; other values (other records' ids: a child's, which is not
    named on purpose, a service's, a school's) as logged."""
    value, model_field = _logged(logged), _logged_field(entry, name)
    if not value:
        return NOT_SET
    if _names_a(User, model_field):
        return user_said(value)
    if _names_a(Organisation, model_field):
        return organisations.get(value, value)
    base_field = getattr(model_field, "base_field", None)  # an array: a user's roles
    choices = {
        str(code): str(label)
        for code, label in getattr(base_field or model_field, "flatchoices", None) or ()
    }
    if base_field is not None:
        try:  # logged as Python writes a list: "['practitioner', 'auditor']"
            codes = [str(code) for code in ast.literal_eval(value)]
        except (ValueError, SyntaxError, TypeError):
            return value
        return ", ".join(choices.get(code, code) for code in codes) or NOT_SET
    if choices:
        return choices.get(value, value)
    if isinstance(model_field, BooleanField):
        return {"True": "Yes", "False": "No"}.get(value, value)
    if isinstance(model_field, DateField):
        return _date_said(value, moment=isinstance(model_field, DateTimeField))
    return value


def _date_said(value: str, *, moment: bool) -> str:
    """A logged date as pages say it ("30 November 2026"), and a moment, which the change log
    keeps in UTC without its zone ("2026-11-30 18:26:15.470081"), in UK time with it ("30
    November 2026, 6:26pm"); anything else as logged."""
    try:
        if moment:
            return moment_said(datetime.fromisoformat(value).replace(tzinfo=UTC))
        return day_said(date.fromisoformat(value))
    except ValueError:
        return value


# What a view or template receives instead of a Child ------------------------------------------


@dataclass(frozen=True)
class ContactTeam:
    """The local authority's ContactPoint team, who broker contact with a shielded child."""

    name: str
    phone: str
    email: str


@dataclass(frozen=True)
class Provenance:
    said: str  # "From GP registrations", "Recorded by a practitioner" (``SOURCE_SAID``)
    received_at: datetime


@dataclass(frozen=True)
class NameShown:
    kind: str
    given_name: str
    family_name: str
    provenance: Provenance | None  # none on a masked record: its names only


@dataclass(frozen=True)
class AddressShown:
    kind: str
    lines: tuple[str, ...]
    postcode: str
    started_on: date | None
    ended_on: date | None
    expected_return_by: date | None
    provenance: Provenance


@dataclass(frozen=True)
class CarerShown:
    name: str
    relationship: str
    parental_responsibility: bool
    phone: str
    # False for what a feed applied before phones were checked ("ask at reception"): kept,
    # but not shown as a number someone can ring.
    phone_is_a_number: bool
    email: str
    address: tuple[str, ...]
    country: str
    overseas: bool
    provenance: Provenance


@dataclass(frozen=True)
class InvolvementShown:
    id: int
    service: str
    service_kind: str
    service_phone: str
    service_email: str
    service_address: tuple[str, ...]
    practitioner: str
    practitioner_job: str
    practitioner_phone: str
    practitioner_email: str
    practitioner_organisation: str
    # Her ContactPoint access has ended (suspended, left, checks run out): her details may no
    # longer reach her, so the record says so rather than send others to ring her.
    practitioner_access_ended: bool
    role: str
    started_on: date
    ended_on: date | None
    caf_held: bool
    lead_professional: bool
    sensitive: str
    # Why a sensitive service may be held (consent, or suspected harm and the reason): seen
    # only with the involvement itself, by those who broker contact (``visible_child``).
    sensitive_basis: str
    sensitive_reason: str
    is_mine: bool
    provenance: Provenance


def full_name(given_name: str, middle_names: str, family_name: str) -> str:
    """A child's names in order, as the record and the search results both give them."""
    return " ".join(part for part in (given_name, middle_names, family_name) if part)


@dataclass(frozen=True)
class ChildRecord:
    """A child as this viewer may see it. Masked records carry only the allowed fields;
    everything else stays at its empty default, so nothing can be shown by mistake."""

    contactpoint_id: str
    contactpoint_id_display: str
    given_name: str
    middle_names: str
    family_name: str
    other_names: tuple[NameShown, ...]
    gender: str
    date_of_birth: date
    age: str  # in words: "10", "5 months"
    status: str
    date_of_death: date | None
    shielded: bool
    masked: bool
    contact_team: ContactTeam | None
    # The record this one was merged into (followed through later merges): raw and displayed.
    merged_into: str = ""
    merged_into_display: str = ""
    provenance: Provenance | None = None
    current_addresses: tuple[AddressShown, ...] = ()
    past_addresses: tuple[AddressShown, ...] = ()
    carers: tuple[CarerShown, ...] = ()
    education: tuple[InvolvementShown, ...] = ()
    gp_practices: tuple[InvolvementShown, ...] = ()
    services: tuple[InvolvementShown, ...] = ()
    ended_involvements: tuple[InvolvementShown, ...] = ()
    caf_held: bool = False
    lead_professional: InvolvementShown | None = None
    my_involvement: InvolvementShown | None = None
    # On a masked record, when the viewer's own current involvement began: nothing of where,
    # but enough for her to end it when she stops working with the child.
    involved_since: date | None = None
    # Whether one of her own current involvements (after a merge she may have two) holds the
    # lead, which ending them stands her down from; on a masked record too.
    involved_as_lead: bool = False
    past_addresses_held: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Whether the viewer's team shields this record: another LA's officer is not offered it.
    may_shield: bool = False
    # Whether the viewer is of the contact_team, which passes on requests to reach the child
    # (for a record merged into another, the kept record's): it is not told to contact itself.
    contact_team_is_viewers: bool = False

    @property
    def full_name(self) -> str:
        """Her first, middle and family names, as every page that names her says them."""
        return full_name(self.given_name, self.middle_names, self.family_name)


def _team(organisation: Organisation) -> ContactTeam:
    return ContactTeam(
        name=organisation.team_name or f"{organisation.name} ContactPoint team",
        phone=organisation.team_phone,
        email=organisation.team_email,
    )


def _provenance(fact: Any) -> Provenance:
    return Provenance(said=SOURCE_SAID[fact.source], received_at=fact.received_at)


def _lines(place: Any) -> tuple[str, ...]:
    return tuple(part for part in (place.line_1, place.line_2, place.town) if part)


def _address(address: Address) -> AddressShown:
    return AddressShown(
        kind=address.get_kind_display(),
        lines=_lines(address),
        postcode=address.postcode,
        started_on=address.started_on,
        ended_on=address.ended_on,
        expected_return_by=address.expected_return_by,
        provenance=_provenance(address),
    )


def _involvement(involvement: Involvement, viewer: User) -> InvolvementShown:
    service: Service | None = involvement.service
    practitioner = involvement.practitioner
    return InvolvementShown(
        id=involvement.pk,
        service=service.name if service else "",
        service_kind=service.get_kind_display() if service else "",
        service_phone=service.phone if service else "",
        service_email=service.email if service else "",
        service_address=(*_lines(service), service.postcode) if service else (),
        practitioner=practitioner.display_name if practitioner else "",
        practitioner_job=practitioner.job_title if practitioner else "",
        practitioner_phone=practitioner.phone if practitioner else "",
        practitioner_email=practitioner.email if practitioner else "",
        practitioner_organisation=practitioner.organisation.name if practitioner else "",
        practitioner_access_ended=involvement.practitioner_access_ended(timezone.now()),
        role=involvement.role,
        started_on=involvement.started_on,
        ended_on=involvement.ended_on,
        caf_held=involvement.caf_held,
        lead_professional=involvement.lead_professional,
        sensitive=involvement.get_sensitive_category_display(),
        sensitive_basis=involvement.get_sensitive_basis_display()
        if involvement.sensitive_category
        else "",
        sensitive_reason=involvement.sensitive_basis_note if involvement.sensitive_category else "",
        is_mine=practitioner is not None and practitioner.pk == viewer.pk,
        provenance=_provenance(involvement),
    )


def is_shielded(child: Child) -> bool:
    """From prefetched shields where available, so a page costs no extra query per child.

    A record merged into another is shielded while that one is: what stayed behind on it
    (a carer both records had, a second lead professional) and its change history are the
    shielded child's."""
    if any(shield.lifted_at is None for shield in child.shields.all()):
        return True
    return child.merged_into is not None and is_shielded(child.merged_into)


def audit_facts(child: Child) -> dict[str, Any]:
    """What an access event records about the child it concerns. Her local authority is the
    one whose team keeps her shield (for a record merged into another, the kept record's): its
    auditors read everyone's access to her, and are told of views of her from outside it."""
    return {
        "child_id": child.pk,
        "child_contactpoint_id": child.contactpoint_id,
        "child_shielded": is_shielded(child),
        "child_local_authority_id": shielding_authority(child),
    }


def is_masked_for(child: Child, viewer: User) -> bool:
    return is_shielded(child) and not sees_in_full(viewer, shielding_authority(child))


def visible_child(
    child: Child, viewer: User, *, past_addresses: bool = False, overridden: bool = False
) -> ChildRecord:
    """The record page's view of ``child``: masked if shielded, unless the viewer may see it
    in full or is on the one visit an override allows (``overridden``, checked by the caller
    with ``override_visit``); sensitive-service involvements only for those who broker
    contact."""
    today = timezone.localdate()
    shielded = is_shielded(child)
    kept = child.record_kept()  # its team keeps the shield and brokers contact
    masked = shielded and not overridden and not sees_in_full(viewer, kept.local_authority_id)
    # Only the fields allowed on a shielded record are copied here; the rest are added below,
    # and only for a record that is not masked.
    identity = ChildRecord(
        contactpoint_id=child.contactpoint_id,
        contactpoint_id_display=child.contactpoint_id_display,
        given_name=child.given_name,
        middle_names=child.middle_names,
        family_name=child.family_name,
        other_names=tuple(
            NameShown(name.get_kind_display(), name.given_name, name.family_name, None)
            for name in child.other_names.all()
        ),
        gender=child.get_gender_display(),
        date_of_birth=child.date_of_birth,
        age=child.age_in_words(today),
        status=child.get_status_display(),
        date_of_death=child.date_of_death,
        shielded=shielded,
        masked=masked,
        contact_team=_team(kept.local_authority) if shielded else None,
        may_shield=has_permission(viewer, Permission.MANAGE_SHIELDS)
        and viewer.organisation_id == child.local_authority_id,
        contact_team_is_viewers=has_permission(viewer, Permission.BROKER_CONTACT)
        and viewer.organisation_id == kept.local_authority_id,
    )
    if child.merged_into_id is not None:
        identity = replace(
            identity,
            merged_into=kept.contactpoint_id,
            merged_into_display=kept.contactpoint_id_display,
        )
    if masked:
        mine = [
            involvement
            for involvement in child.involvements.all()
            if involvement.practitioner_id == viewer.pk
            and involvement.ended_on is None
            and not involvement.sensitive_category
        ]
        return replace(
            identity,
            involved_since=min((i.started_on for i in mine), default=None),
            involved_as_lead=any(i.lead_professional for i in mine),
        )
    sensitive_shown = sees_sensitive(viewer, child.local_authority_id)
    involvements = [
        _involvement(involvement, viewer)
        for involvement in child.involvements.all()
        if sensitive_shown or not involvement.sensitive_category
    ]
    current = [i for i in involvements if i.ended_on is None]
    education_kinds = {Service.Kind(kind).label for kind in Service.EDUCATION_KINDS}
    gp_label = Service.Kind.GP_PRACTICE.label
    addresses = list(child.addresses.all())
    return replace(
        identity,
        provenance=_provenance(child),
        other_names=tuple(
            NameShown(name.get_kind_display(), name.given_name, name.family_name, _provenance(name))
            for name in child.other_names.all()
        ),
        current_addresses=tuple(_address(a) for a in addresses if a.ended_on is None),
        past_addresses=tuple(_address(a) for a in addresses if a.ended_on is not None)
        if past_addresses
        else (),
        past_addresses_held=sum(1 for a in addresses if a.ended_on is not None),
        carers=tuple(
            CarerShown(
                name=f"{link.carer.given_name} {link.carer.family_name}",
                relationship=link.get_relationship_display(),
                parental_responsibility=link.parental_responsibility,
                phone=link.carer.phone,
                phone_is_a_number=telephone_numbers_are_valid(link.carer.phone),
                email=link.carer.email,
                address=(*_lines(link.carer), link.carer.postcode),
                country=link.carer.country_name,
                overseas=link.carer.is_overseas,
                provenance=_provenance(link),
            )
            for link in child.carer_relationships.all()
            if link.ended_on is None
        ),
        education=tuple(i for i in current if i.service_kind in education_kinds),
        gp_practices=tuple(i for i in current if i.service_kind == gp_label),
        services=tuple(i for i in current if i.service_kind not in education_kinds | {gp_label}),
        ended_involvements=tuple(i for i in involvements if i.ended_on is not None),
        caf_held=any(i.caf_held for i in current),
        lead_professional=next((i for i in current if i.lead_professional), None),
        # Hers to change: never a sensitive one, even for a viewer who may see it.
        my_involvement=next((i for i in current if i.is_mine and not i.sensitive), None),
        involved_as_lead=any(
            i.is_mine and not i.sensitive and i.lead_professional for i in current
        ),
    )


def lead_professional_named(holder: Involvement) -> str:
    """Who holds the lead, for a practitioner told they cannot take it. Never a sensitive
    service, which only those who broker contact may know of: the database refuses one as lead
    (``involvement_sensitive_never_lead``)."""
    who = holder.practitioner.display_name if holder.practitioner else ""
    where = holder.service.name if holder.service else ""
    return " at ".join(part for part in (who, where) if part)


@dataclass(frozen=True)
class SearchResultShown:
    contactpoint_id: str
    contactpoint_id_display: str
    name: str
    gender: str
    date_of_birth: date
    age: str  # in words: "10", "5 months"
    date_of_death: date | None  # shown on a masked record too: it says nothing of where
    archived_on: date | None  # found only by data managers, for a year: a status, not a place
    shielded: bool
    score: int
    where: str  # town and postcode district of current addresses; empty when masked


def visible_search_result(child: Child, score: int, viewer: User) -> SearchResultShown:
    masked = is_masked_for(child, viewer)
    current = getattr(child, "current_addresses", [])
    places = sorted(
        {
            f"{address.town}, {address.postcode.split(' ')[0]}"
            for address in current
            if address.postcode
        }
    )
    # Left England, or no known address, says where she is as well as a town does.
    places += sorted({address.get_kind_display() for address in current if not address.postcode})
    return SearchResultShown(
        contactpoint_id=child.contactpoint_id,
        contactpoint_id_display=child.contactpoint_id_display,
        name=full_name(child.given_name, child.middle_names, child.family_name),
        gender=child.get_gender_display(),
        date_of_birth=child.date_of_birth,
        age=child.age_in_words(timezone.localdate()),
        date_of_death=child.date_of_death,
        archived_on=child.archived_on if child.status == Child.Status.ARCHIVED else None,
        shielded=is_shielded(child),
        score=score,
        where="" if masked else "; ".join(places),
    )


# Feed matching and its review ---------------------------------------------------------------

HIDDEN = "Hidden: a possible match is shielded"


def linkage_levels(incoming: Person, child: Child, *, shielded: bool) -> dict[str, str | None]:
    """How far a feed row agrees with a child, field by field, for deciding a match. A
    shielded child's postcode is never compared: a row with one counts as living elsewhere.
    Otherwise whether a row was matched would tell whoever uploaded it whether a guessed
    postcode is where the child lives; and a shielded child is matched only on the rest, so
    more often by a person than automatically."""
    levels = agreement(incoming, child.person())
    if shielded and levels["postcode"] is not None:
        levels["postcode"] = "different"
    return levels


def linkage_weight(levels: dict[str, str | None]) -> float:
    return match_weight(levels, settings.FEED_MATCH_LEVELS or DEFAULT_LEVELS)


def linkage_strength(weight: float) -> str:
    """A candidate's weight as a data manager reads it, by the thresholds the import decides
    with (``match_decision``): strong enough to be joined without her, had no other record come
    as close; possible, so sent to her; or weak, too little to be sent to her on its own."""
    if weight >= settings.FEED_MATCH_UPPER:
        return "Strong match"
    return "Possible match" if weight >= settings.FEED_MATCH_LOWER else "Weak match"


@dataclass(frozen=True)
class RecordNamed:
    """A record as a data manager picks it out to merge or separate: who, never where."""

    contactpoint_id: str
    contactpoint_id_display: str
    name: str
    date_of_birth: date
    gender: str
    masked: bool


def record_named(child: Child, viewer: User) -> RecordNamed:
    return RecordNamed(
        contactpoint_id=child.contactpoint_id,
        contactpoint_id_display=child.contactpoint_id_display,
        name=f"{child.given_name} {child.family_name}",
        date_of_birth=child.date_of_birth,
        gender=child.get_gender_display().lower(),
        masked=is_masked_for(child, viewer),
    )


@dataclass(frozen=True)
class CandidateShown:
    contactpoint_id: str
    contactpoint_id_display: str
    name: str
    other_names: str
    date_of_birth: date
    gender: str
    postcodes: str
    weight: float
    strength: str
    levels: dict[str, str | None]
    shielded: bool


@dataclass(frozen=True)
class ReviewShown:
    """A feed record under review beside its possible matches. Where any of them (or the
    child it was matched to) is shielded, nothing that could say where the row's person
    lives is shown: its postcode, its record id (a pupil number names the school), and the
    postcode's part in each comparison; the weights are those of the fields shown, and the
    candidates are ranked by them."""

    record_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: str
    postcode: str
    location_hidden: bool
    candidates: tuple[CandidateShown, ...]


def _gender_said(code: str) -> str:
    """A row's gender code ("female", in any case) as the candidates' is shown ("Female")."""
    return dict(Gender.choices).get(code.lower(), code)


def review_shown(
    *,
    incoming: Person,
    payload: dict[str, str],
    record_id: str,
    candidates: list[Child],
    decided: Child | None,
    viewer: User,
    unseen: Iterable[int] = (),
) -> ReviewShown:
    """``candidates`` with their names, addresses and shields prefetched; ``unseen``, the ids
    of those on its shortlist the viewer may not see at all (archived out of sight). The row
    is hidden beside a shielded candidate, seen or not (as the review queue hides it), and
    where it could be a shielded child who is not among them (shielded since it came, say,
    when better candidates had kept her off its shortlist)."""
    hidden = bool(shielded_among(unseen)) or any(
        is_masked_for(child, viewer) for child in [*candidates, *filter(None, [decided])]
    )
    if not hidden:
        lookalike = shielded_lookalike(incoming)
        hidden = lookalike is not None and is_masked_for(lookalike, viewer)
    shown = []
    for child in candidates:
        masked = is_masked_for(child, viewer)
        person = child.person()
        levels = agreement(incoming, person)
        if hidden:
            levels["postcode"] = None  # not shown, so not counted in the weight shown
        weight = linkage_weight(levels)
        shown.append(
            CandidateShown(
                contactpoint_id=child.contactpoint_id,
                contactpoint_id_display=child.contactpoint_id_display,
                name=f"{child.given_name} {child.family_name}",
                other_names=", ".join(
                    f"{n.given_name} {n.family_name}" for n in child.other_names.all()
                ),
                date_of_birth=child.date_of_birth,
                gender=child.get_gender_display(),
                postcodes="Hidden: the record is shielded"
                if masked
                else ", ".join(person.postcodes),
                weight=weight,
                strength=linkage_strength(weight),
                levels=levels,
                shielded=is_shielded(child),
            )
        )
    if hidden:
        # Ranked as matched, by the row's postcode too, the order would say which candidate's
        # postcode or district the row gives: ranked by the weights shown instead.
        shown.sort(key=lambda candidate: (-candidate.weight, candidate.contactpoint_id))
    return ReviewShown(
        record_id=HIDDEN if hidden else record_id,
        given_name=payload.get("given_name", ""),
        family_name=payload.get("family_name", ""),
        # As read from the row, so that it is shown as the candidates' dates are.
        date_of_birth=incoming.date_of_birth,
        gender=_gender_said(payload.get("gender", "")),
        postcode=HIDDEN if hidden else payload.get("postcode", ""),
        location_hidden=hidden,
        candidates=tuple(shown),
    )


@dataclass(frozen=True)
class NumberHeld:
    """The row's NHS number or UPN that another record holds and keeps, as a data manager
    deciding on the row is told of it: ``value`` and ``holder`` (a ContactPoint ID, displayed)
    empty where withheld (``numbers_held_shown``)."""

    kind: str
    value: str
    holder: str


def numbers_held_shown(
    held: Iterable[tuple[str, str, str]], shown: ReviewShown
) -> tuple[NumberHeld, ...]:
    """``held`` (each number's kind, value and holder: ``numbers_held_elsewhere``) as the
    review ``shown`` may say it, beside "make a new record" and in the decision's outcome.
    Beside a shielded possible match neither the number nor who holds it: the page hides the
    row's record id there, as a pupil number names the school, and the number with the record
    that keeps it would name a shielded child's school. Otherwise the holder only where the
    page lists it among the candidates, whose access event names them: one out of the data
    manager's sight (archived long ago) is not named."""
    hidden = shown.location_hidden
    on_page = {candidate.contactpoint_id_display for candidate in shown.candidates}
    return tuple(
        NumberHeld(
            kind=kind,
            value="" if hidden else value,
            holder=holder if not hidden and holder in on_page else "",
        )
        for kind, value, holder in held
    )


# The shield follows the child -----------------------------------------------------------------


def _shielded_children() -> QuerySet[Child]:
    """Children with a shield in force. (A filter on ``shields__lifted_at__isnull`` would be
    an outer join, and take in every child with no shield at all.)"""
    return Child.objects.filter(
        pk__in=Shield.objects.filter(lifted_at__isnull=True).values("child_id")
    )


def shielded_lookalike(person: Person, *, other_than: int | None = None) -> Child | None:
    """A shielded child that ``person`` could be: born on the same day (or a mistyped one),
    with the same or a close first name or surname. Deliberately wide: a child who has fled
    with a parent often has a new surname and address, and that is the case to catch."""
    today = timezone.localdate()
    dates = date_variants(person.date_of_birth, today - timedelta(days=26 * 365), today)
    families = set().union(*(family_keys(name) for name in person.family_names))
    givens = set().union(*(given_keys(name) for name in person.given_names))
    keys = NameKey.objects.filter(date_of_birth__in=dates).filter(
        Q(family_key__in=families) | Q(given_key__in=givens)
    )
    shielded = (
        _shielded_children()
        .filter(pk__in=keys.values("child_id"))
        .exclude(pk=other_than or 0)
        .exclude(status=Child.Status.MERGED)
        .prefetch_related("other_names", "addresses")
    )
    # Each of the person's names on its own: a former name may be the very one she was
    # shielded under.
    each_name = [
        replace(person, family_names=(family,), given_names=(given,))
        for given, family in zip(person.given_names, person.family_names, strict=True)
    ]
    for candidate in shielded:
        held = candidate.person()
        for name in each_name:
            levels = agreement(name, held)
            close_name = {levels["given_name"], levels["family_name"]} & {"exact", "close"}
            if levels["date_of_birth"] in ("exact", "close") and close_name:
                return candidate
    return None


def rows_resembling_shielded(people: dict[int, Person]) -> set[int]:
    """The keys of those ``people`` (feed rows, by any key) that could be a shielded child, as
    ``shielded_lookalike`` reads them. The birthdays of the shielded are read once, so that a
    queue of hundreds asks for look-alikes only for the few rows born on one of them."""
    today = timezone.localdate()
    birthdays = set(
        _shielded_children()
        .exclude(status=Child.Status.MERGED)
        .values_list("date_of_birth", flat=True)
        .distinct()
    )
    return {
        key
        for key, person in people.items()
        if birthdays.intersection(
            date_variants(person.date_of_birth, today - timedelta(days=26 * 365), today)
        )
        and shielded_lookalike(person) is not None
    }


RESEMBLES_SHIELDED = (
    "Shielded by a data feed: a feed record put on it could be a shielded child. Review "
    "whether it needs to stay shielded."
)
FOR_ANOTHER_RECORD = (
    "Shielded automatically, to keep another record's details safe. Only the team that keeps "
    "that record's shield can lift it, and they review it on their own pages."
)
SHARES_WITH_SHIELDED = (
    "Shielded automatically: it shares a current home, or a parent or carer (the same person or "
    "phone number), with a shielded child, and its page would show them. Review whether it "
    "needs to stay shielded."
)


def said_across_las(justification: str) -> str:
    """A justification as it is said to one not told what a shield for sharing is for: made
    within her LA, it says so (``SHARES_WITH_SHIELDED``); across LAs it does not."""
    return justification.replace(SHARES_WITH_SHIELDED, FOR_ANOTHER_RECORD)


def justification_shown(shield: Shield, viewer: User) -> str:
    """The shield's justification as its page shows it to this officer. One for sharing made
    within her LA says that a shielded child shares the home: an officer not ``sharing_told``
    (the record moved to another LA since, by a feed) reads it as across LAs."""
    if shield.for_sharing and not sharing_told(shield, viewer):
        return said_across_las(shield.justification)
    return shield.justification


def sharing_told(shield: Shield, viewer: User) -> bool:
    """Whether the officer may be told that this shield is only for sharing a home or carer
    with a shielded child: only one who sees that child in full. To another LA's officer, who
    sees this record's home and carers in full, it would say that a shielded child lives there
    (``FOR_ANOTHER_RECORD``); and whom it protects, if she has been purged since, fails closed."""
    return (
        shield.for_sharing
        and shield.protects is not None
        and sees_in_full(viewer, shielding_authority(shield.protects))
    )


def protected_through(child: Child) -> Child | None:
    """The child whose home or carer this record shows, if its shield in force (or that of
    the record it was merged into) is one for sharing them with her: an override of it shows
    her whereabouts too, and her LA must hear of it."""
    held = (
        Shield.objects.filter(
            child=child.record_kept(), lifted_at__isnull=True, for_sharing=True,
            protects__isnull=False,
        )
        .select_related("protects")
        .first()
    )  # fmt: skip
    return held.protects if held is not None else None


def may_lift(shield: Shield, viewer: User) -> bool:
    """Whether the officer may lift this shield. A shield for sharing protects the child whose
    home or carer the record shares: only an officer who sees her in full (``sharing_told``)
    can judge whether the record still leads to her. Once she is purged, nothing is left for
    it to protect, and the record's own team decides."""
    if shield.for_sharing and shield.protects_id is not None:
        return sharing_told(shield, viewer)
    return True


def shield_for_review(
    child: Child, why: str = RESEMBLES_SHIELDED, *, protects: Child | None = None
) -> Shield:
    """A record a feed row could reveal a shielded child through is shielded too (unless it
    is already), due for review at once: the LA's shielding team decides whether it stays so.
    ``protects`` is the shielded child whose home or carer the record shares, if that is why."""
    in_force = Shield.objects.filter(child=child, lifted_at__isnull=True).first()
    if in_force is not None:
        return in_force
    try:
        with transaction.atomic():
            made = Shield.objects.create(
                child=child,
                reason=Shield.Reason.OTHER,
                justification=why,
                review_on=timezone.localdate(),
                shielded_by=None,
                for_sharing=protects is not None,
                protects=protects,
            )
    except IntegrityError:  # shielded meanwhile by another request, which has committed
        return Shield.objects.get(child=child, lifted_at__isnull=True)
    reviews_offer_shielded(child)
    return made


def reviews_offer_shielded(child: Child) -> None:
    """Feed rows waiting for review that could be ``child``, just shielded, offer her, and
    their reviews (and the queue) hide where the rows live: until she was shielded, better
    candidates could keep her off their shortlists. Called wherever a shield is put on."""
    from directory.feed_import import reviews_resembling_compare_afresh  # it uses this policy

    reviews_resembling_compare_afresh(shielded=child)


# Words systems shorten, read the same whoever wrote them ("Quillfeather Ln", "Acacia Tce"),
# most to letters that begin no word of theirs, which a full stop after them ("Tce.") could
# not say (``_found``). "St" is a street or a saint, which cannot always be told, so both are
# read as "st": "St Mary's Street" is "St Mary's", a home too many rather than one too few.
# All of them are words every address may have (``_COMMON_WORDS``). Not read so: a shortening
# that stands for more than one word ("Gr" for "Green", "Grove" or "Grange", "Circ" for
# "Circus" or "Circle"), which cut short with a full stop ("Gr.") stands for each of them.
_SHORTENED = {
    "rd": "road", "ln": "lane", "street": "st", "saint": "st", "ave": "avenue", "av": "avenue",
    "cl": "close", "ct": "court", "cres": "crescent", "dr": "drive", "gdns": "gardens",
    "gro": "grove", "pl": "place", "sq": "square", "ter": "terrace", "terr": "terrace",
    "tce": "terrace", "pde": "parade", "wk": "walk", "grn": "green", "mws": "mews",
    "hse": "house", "ho": "house", "cott": "cottage", "cotts": "cottages", "pk": "park",
    "bldgs": "buildings", "hts": "heights", "upr": "upper", "lwr": "lower",
    "rm": "room", "flt": "flat", "fl": "flat", "clo": "close", "crt": "court", "yd": "yard",
    "vw": "view", "blvd": "boulevard", "hl": "hill", "pkwy": "parkway", "whf": "wharf",
    "appr": "approach", "psge": "passage", "bldg": "building", "blk": "block", "twr": "tower",
    "twrs": "towers", "apt": "apartment", "apts": "apartments", "fm": "farm", "ldg": "lodge",
    "mnr": "manor", "ctr": "centre", "cntr": "centre", "flr": "floor", "gnd": "ground",
    "grd": "ground", "bsmt": "basement",
}  # fmt: skip


# Words of a street's or a house's own name shortened so ("Mt Pleasant"): read as the word,
# which still names one street or house ("Mount Road" at a postcode a slip from hers,
# ``_at_or_near``), so it is no common word, and is looked for however written.
_SHORTENED_IN_NAMES = {
    "mt": "mount", "gt": "great", "lt": "little", "nth": "north", "sth": "south",
}  # fmt: skip

_READ_AS = {**_SHORTENED, **_SHORTENED_IN_NAMES}


# Words that join a home's name to its flat's, not part of either ("Room 2 at Refuge House",
# "Flat 2 of Refuge House"); "The Old Rectory" is "Old Rectory".
_JOINING = frozenset({"the", "at", "of", "in", "within"})


# An apostrophe however typed: straight, curly either way, a backtick or a modifier letter.
_APOSTROPHE = re.compile("['\u2018\u2019`\u02bc]")


Reading = tuple[frozenset[str], ...]  # one text read more than one way


def _readings(text: str) -> Reading:
    """Its words, read alike however written: "Tŷ" as "ty", "Ln" as "lane", "Saint" and "St"
    alike; "the" left out ("The Old Rectory" is "Old Rectory"). Read twice: with each
    apostrophe run together ("Marys", "Oneill"), and with it a space ("Mary s", "O Neill").
    A word of two letters or more with a full stop after it, other than the words every
    address may have ("Rd.", "Flat."), is kept with its stop: cut short, it stands for any
    word it begins ("Ref." for "Refuge", ``_found``)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))

    def word_read(word: str, stop: str) -> str:
        if word in _READ_AS:
            return _READ_AS[word]
        return word + stop if len(word) > 1 and word not in _COMMON_WORDS else word

    def read(written: str) -> frozenset[str]:
        words = re.findall(r"(?<![0-9])([a-z]+)(\.?)", written.lower())  # not 9a's "a"
        return frozenset(word_read(word, stop) for word, stop in words if word not in _JOINING)

    return read(_APOSTROPHE.sub("", plain)), read(plain)


def _words(text: str) -> frozenset[str]:
    """Its words in either reading: what another address's name is looked for in."""
    joined, apart = _readings(text)
    return joined | apart


# Words that name a part of a house ("Flat 2", "Top Flat", "Annexe"), not the house.
_PART_OF_A_HOUSE = frozenset(
    {"flat", "apartment", "apt", "annexe", "annex", "floor", "unit", "room", "studio", "basement",
     "maisonette", "bedsit", "suite", "bedroom"}
)  # fmt: skip


# Words that say which flat ("Top Flat", "Ground Floor Flat", "Flat A").
_WHICH_FLAT = frozenset(
    {"top", "ground", "first", "second", "third", "lower", "upper", "rear", "front", "garden",
     "side", "back", *"abcdefghijklmnopqrstuvwxyz"}
)  # fmt: skip


@dataclass(frozen=True)
class _Home:
    """What names a home within its postcode."""

    numbers: frozenset[str]  # house and flat numbers, "9a" however spaced ("9 A")
    words: frozenset[str]  # in either reading
    # The house's name (its first part that is not a flat's, and any later part that names a
    # building) in each reading, each to be found whole in another address; with no name, its
    # words stand for it.
    name: Reading
    named: bool
    numbered_flats_only: bool  # every number is a flat's ("Flat 2, Refuge House")
    # Its name holds no number but a flat's: a house's own name ("Rose Bank, 14 Quillfeather
    # Lane"), not a number on a street ("9 Refuge Road").
    own_name: bool


# Words that end a building's name ("2 Refuge House", "4 Rose Cottages"): a number before
# one is a flat's in it, or a house's in its row, not a number on a street.
_BUILDING = frozenset(
    {"house", "cottage", "cottages", "court", "lodge", "hall", "mansions", "tower", "towers",
     "block", "building", "buildings", "flats", "apartments", "chambers", "heights", "manor",
     "farm", "barn", "mill", "villa", "villas", "hostel", "centre"}
)  # fmt: skip


# Words that end a street's name ("Mill Lane", "Court Road"): a building's word before one is
# the street's, not a building's ("14 Mill Lane").
_STREET = frozenset(
    {"road", "lane", "st", "avenue", "close", "court", "crescent", "drive", "gardens", "grove",
     "place", "square", "terrace", "park", "way", "walk", "row", "hill", "green", "rise", "view",
     "mews", "yard", "parade", "wharf", "gate", "end", "side", "vale", "croft", "passage",
     "boulevard", "approach", "circus", "parkway", "wynd", "brow", "bank"}
)  # fmt: skip


# The words every address may have, which name no one street or house.
_COMMON_WORDS = frozenset(
    {*_STREET, *_BUILDING, *_PART_OF_A_HOUSE, *_WHICH_FLAT, *_JOINING, *_SHORTENED,
     *_SHORTENED.values()}
)  # fmt: skip


def _building(part: str) -> str | None:
    """The part up to the building's word that ends a name in it ("refuge house quillfeather
    lane quibbleton" is "refuge house", "refuge house 2" all of it); None if no building is
    named in it ("14 mill lane")."""
    words = list(re.finditer(r"[a-z]+", part))
    if not words:  # "-" or "." for an empty line, "45" alone: no name at all
        return None
    read = [_READ_AS.get(word.group(), word.group()) for word in words]
    ends = [
        word.end()
        for word, this, after in zip(words, read, [*read[1:], ""], strict=True)
        if this in _BUILDING and after not in _STREET
    ]
    if not ends:
        return None
    return part if not re.search("[a-z]", part[ends[-1] :]) else part[: ends[-1]]


def _numbers(text: str) -> frozenset[str]:
    """Its house and flat numbers, each with its digits alone too ("14a" is at "14")."""
    found = re.findall(r"(\d+)([a-z]?)", text)
    return frozenset(number + letter for number, letter in found) | {n for n, _ in found}


def _ascii_digits(text: str) -> str:
    """Digits however typed (full width, Arabic-Indic) as 0 to 9; the rest as it is."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


# Where one part of an address ends and the next begins: a comma, a semicolon, a line's end,
# brackets ("Refuge House (c/o Women's Aid)"), and before post left "care of" someone.
_BETWEEN_PARTS = re.compile(r"[,;()\[\]\n]|(?=\bc\s*/\s*o\b|\bc\.\s*o\b|\bcare\s+of\b)")


def _parts(text: str) -> list[str]:
    """Its parts between commas and the like, a number alone joined to the part after it ("2, Refuge
    House" is "2 Refuge House")."""
    parts: list[str] = []
    number = ""
    for part in _BETWEEN_PARTS.split(text):
        if re.fullmatch(r"\s*\d+[a-z]?\W*", part):
            number += f" {part}"
        elif part.strip():
            parts.append(f"{number} {part}")
            number = ""
    return [*parts, number] if number.strip() else parts


# "c/o" or "care of" at the start of a part: post is left with whoever it names.
_CARE_OF = re.compile(r"^\W*(?:c\s*/\s*o|c\.\s*o\b\.?|care\s+of)\b\W*")


def _without_care_of(parts: list[str]) -> list[str]:
    """The parts that name the home. Post "care of" someone living there ("c/o Mrs Vexwright,
    Refuge House") names her, not the house, where another part names it; "c/o Refuge House"
    names the house itself."""
    others = [part for part in parts if not _CARE_OF.match(part)]
    if any(not _words(part) & _PART_OF_A_HOUSE for part in others):
        return others
    return [_CARE_OF.sub("", part) for part in parts]


_POSTCODE = re.compile(r"\b[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b")


_UNITS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_DIGIT = "|".join(_UNITS[:9])
_BELOW_A_HUNDRED = rf"(?:(?:{'|'.join(_TENS)})(?:[\s-]+(?:{_DIGIT}))?|{'|'.join(_UNITS)})"
# "Seven", "Forty-Five", "Two Hundred", "One Hundred and Two".
_NUMBER_WORDS = re.compile(
    rf"\b(?:({_DIGIT})[\s-]+hundred(?:[\s-]+(?:and[\s-]+)?({_BELOW_A_HUNDRED}))?"
    rf"|({_BELOW_A_HUNDRED}))\b"
)


# Before a number in words that is a flat's ("Flat Two", "No. Seven").
_BEFORE_A_NUMBER = frozenset({*_PART_OF_A_HOUSE, "no", "number"})


def _number_in_words(words: re.Match[str]) -> str:
    """ "Fourteen", "twenty-one", "twenty one" or "one hundred and two" as its digits, where
    it is a number of the home's: a flat's ("Flat Two"), or first in its part before a
    street's name ("Fourteen Quillfeather Lane"). Else it is part of a name, kept as written:
    "Seven Oaks" is a house, not the 7 on its street, nor "14 Seven Sisters Road" a 7."""
    hundreds, rest, alone = words.groups()
    before = _BETWEEN_PARTS.split(words.string[: words.start()])[-1]
    after = _BETWEEN_PARTS.split(words.string[words.end() :])[0]
    last = re.findall(r"[a-z]+", before)[-1:]
    flats = bool(last) and _READ_AS.get(last[0], last[0]) in _BEFORE_A_NUMBER
    on_a_street = (
        not re.search(r"[a-z0-9]", before)
        and bool(_readings(after)[1] & _STREET)
        and _building(after) is None
    )
    if not (flats or on_a_street):
        return words.group()
    if alone:
        return str(_below_a_hundred(alone))
    return str(100 * (_UNITS.index(hundreds) + 1) + (_below_a_hundred(rest) if rest else 0))


def _below_a_hundred(words: str) -> int:
    """ "Seven", "forty-five" or "forty five" as its value."""
    tens, *unit = re.split(r"[\s-]+", words)
    if tens not in _TENS:
        return _UNITS.index(tens) + 1
    return 20 + 10 * _TENS.index(tens) + (_UNITS.index(unit[0]) + 1 if unit else 0)


def _in_words(number: str) -> str:
    """A house number ("7", "21a") as it may be written in words ("seven", "twenty one"), for
    a house whose name holds it ("7 Oaks" for "Seven Oaks"); "" past ninety-nine."""
    value = int(re.sub("[^0-9]", "", number))
    if not 0 < value < 100:
        return ""
    if value < 20:
        return _UNITS[value - 1]
    return " ".join([_TENS[value // 10 - 2], *([_UNITS[value % 10 - 1]] if value % 10 else [])])


def _home(line_1: str, line_2: str) -> _Home:
    text = _ascii_digits(unicodedata.normalize("NFKC", f"{line_1}, {line_2}").lower())
    # "Fourteen Quillfeather Lane" is "14 Quillfeather Lane", "Seven Oaks" still "Seven Oaks".
    text = _NUMBER_WORDS.sub(_number_in_words, text)
    text = re.sub(r"\b(\d+)\s+([a-z])\b", r"\1\2", re.sub(r"\bno\W*(?=\d)", "", text))
    # Its postcode, if a line holds it, is no number of the home's; "F2" is "Flat 2".
    text = re.sub(r"\bf\W*(?=\d)", "flat ", _POSTCODE.sub(" ", text))
    parts = _without_care_of(_parts(text))
    flats = [part for part in parts if _words(part) & _PART_OF_A_HOUSE]
    house = [part for part in parts if part not in flats]
    numbers = _numbers(text)
    flat_numbers = {number for part in flats for number in _numbers(part)}
    buildings = []
    for part in house:
        # "2 Refuge House" is a flat in the house, as "Flat 2, Refuge House" is.
        if building := _building(part):
            flat_numbers |= _numbers(building)
            buildings.append(building)
    # With no part free of a flat's words, the house is named beside the flat in one part
    # ("Refuge House Flat 2"): its name is what is left once the flat's words go.
    beside = (
        (joined - _PART_OF_A_HOUSE - _WHICH_FLAT, apart - _PART_OF_A_HOUSE - _WHICH_FLAT)
        for joined, apart in (_readings(_building(part) or part) for part in flats)
    )
    # A building named after another part ("Quibbleton Women's Aid, Refuge House": who runs
    # it) names the home too.
    named_by = dict.fromkeys([*(_building(part) or part for part in house[:1]), *buildings])
    name: Reading | None = next((n for n in beside if n[0]), None)
    if house:
        name = tuple(reading for part in named_by for reading in _readings(part))
    return _Home(
        numbers=numbers,
        # A letter joined to a number ("flat 3c block") is still a word another address's
        # name may hold ("C Block"); only a name leaves it out ("2a, Refuge House").
        words=_words(text)
        | _words(re.sub(r"(\d)([a-z])\b", r"\1 \2", text))
        | _words(" ".join(_in_words(number) for number in numbers)),
        name=name or _readings(text),
        named=name is not None,
        numbered_flats_only=bool(numbers) and numbers <= flat_numbers,
        own_name=bool(house) and _numbers(house[0]) <= flat_numbers,
    )


def _within(name: Reading, others: frozenset[str]) -> bool:
    """Whether the name, in one reading or the other, is all in the other's words."""
    return any(some and all(_found(word, others) for word in some) for some in name)


def _found(word: str, others: frozenset[str]) -> bool:
    """Whether the word is one of the others, a shortened one ("ref.") standing for any word
    it begins, either way round: "Ref. House" is "Refuge House". Within a postcode two homes
    whose names differ only so are rare; taken for one, a home too many is shielded for
    review, where one too few shows her refuge."""
    if word in others:
        return True
    if word.endswith("."):
        return any(other.startswith(word[:-1]) for other in others)
    return any(other.endswith(".") and word.startswith(other[:-1]) for other in others)


def same_home(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two addresses at one postcode could be one home, however written: they share a
    number ("9 Refuge Rd", "Flat 2, 9 Refuge Road"); or one names a house, in either line,
    that the other names too ("Refuge House, Quillfeather Lane", "Flat 2, Refuge House",
    "Refuge House Quillfeather Lane", "Top Flat, Refuge House"), with its street's words
    however shortened ("Rose Cottage, Quillfeather Ln"), and whatever follows a building's name
    in its part ("Refuge House Quillfeather Lane Quibbleton"), in brackets or after "c/o". A
    number before a building's name is a flat's ("2 Refuge House", "F2 Refuge House"); "14A"
    is at "14"; digits count however typed, and a number in words as its digits where it is
    a number ("Fourteen Quillfeather Lane", not "Seven Oaks"); a postcode in a line is no
    number of the home's.
    Wide on purpose: within a postcode, a home too many is shielded for review, one too few
    shows her refuge."""
    return _one_home(_home(*a), _home(*b))


def same_home_and_street(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """``same_home`` for two addresses whose postcodes are a slip apart ("9 Refuge Road, ZE2
    9QX" and "9 Refuge Rd, ZE2 9QY"), where a number shared is not enough ("9 Mill Lane" is
    near "9 Refuge Road"): one must also name its street or house as the other does."""
    return _one_home_and_street(_home(*a), _home(*b))


def _one_home_and_street(one: _Home, other: _Home) -> bool:
    """``same_home_and_street`` of two addresses already read."""
    return _one_home(one, other) and (
        _within(one.name, other.words) or _within(other.name, one.words)
    )


def _one_home(one: _Home, other: _Home) -> bool:
    """``same_home`` of two addresses already read."""
    if _flat_in_house(one, other) or _flat_in_house(other, one):
        return True
    if one.numbers and other.numbers:
        return bool(one.numbers & other.numbers)
    if one.numbers or other.numbers:
        numbered, named = (one, other) if one.numbers else (other, one)
        # "Rose Bank Quillfeather Lane Quibbleton" is "Rose Bank, 14 Quillfeather Lane".
        return _within(named.name, numbered.words) or (
            numbered.own_name and _within(numbered.name, named.words)
        )
    return _within(one.name, other.words) or _within(other.name, one.words)


def _flat_in_house(flat: _Home, other: _Home) -> bool:
    """A flat ("Flat 2, Refuge House"), in the house the other names, whatever its numbers."""
    return flat.numbered_flats_only and flat.named and _within(flat.name, other.words)


# Where one phone number in a field ends and the next begins ("07700 987654 / 01632 960123",
# "07700 987654 ext 2"); the same in contactpoint_phone_keys (directory migration 0015).
_BETWEEN_NUMBERS = re.compile(r"[/,;&|]|[A-Za-z]+")
_ONE_NUMBER_AT_MOST = 13  # digits: "+44 (0)7700 900123"


def phone_keys(phone: str) -> set[str]:
    """Each phone number's last 9 digits: spaces, brackets and +44 or 0 set aside; nothing for
    a number too short, or a placeholder of one digit repeated. As ``PhoneKeys`` reads them in
    the database, where they are indexed."""
    keys = set()
    for part in _BETWEEN_NUMBERS.split(phone):
        digits = re.sub("[^0-9]", "", part)
        keys.add(digits[-9:])
        if len(digits) > _ONE_NUMBER_AT_MOST:  # two run together: the first one's too
            keys.add(re.sub("^0", "", re.sub("^44", "", digits))[1:10])
    return {key for key in keys if len(key) == 9 and len(set(key)) > 1}


def _carers_reached(mine: QuerySet[Any, Any]) -> list[tuple[str, Q]]:
    """How these parents and carers are found on other records, beside being the same person:
    by each phone number, and by email, however written (a name may be written another way,
    and a number or an address is nearly unique to its holder)."""
    phones = {
        key for phone in mine.values_list("carer__phone", flat=True) for key in phone_keys(phone)
    }
    emails = {email.lower() for email in mine.values_list("carer__email", flat=True) if email}
    return [
        *((key, Q(carer_phone_keys__contains=[key])) for key in sorted(phones)),
        *((email, Q(carer_email=email)) for email in sorted(emails)),
    ]


def _with_contacts(links: QuerySet[Any, Any]) -> QuerySet[Any, Any]:
    return links.annotate(
        carer_phone_keys=PhoneKeys("carer__phone"), carer_email=Lower("carer__email")
    )


# A parent or carer or a phone number more records than this share is not followed: a
# placeholder number, a switchboard, a refuge's own number. The shield page says so, for the
# officer to look them up by hand. Homes are not capped: the postcode bounds them.
SHARED_BY_AT_MOST = 10

Place = tuple[int, str, str, str]  # a child, and a postcode and lines it is shown with


def _street_words(line_1: str, line_2: str) -> set[str]:
    """The words of an address that name its street or house, not what every address has
    ("refuge" of "Flat 2, 9 Refuge Rd"), as a database's "contains" finds them ("Mary's"
    holds "mary"); a street's or a building's word too where it names one (``_naming``)."""
    _, apart = _readings(f"{line_1} {line_2}")
    # Of three letters or more, or two cut short ("re.", as ``_found`` reads it); without its
    # stop: "Refuge" holds "ref" and "re".
    words = {word.rstrip(".") for word in apart if len(word) > 2}
    return {word for word in words if word not in _COMMON_WORDS} | _naming(f"{line_1}, {line_2}")


_STREET_OR_BUILDING = _STREET | _BUILDING


def _naming(text: str) -> set[str]:
    """The street's and building's words that name a street or house where they stand: before
    another ("park" of "Park Road", "manor" of "Manor House") or alone in their part ("The
    Green"); not "road" of "Refuge Road", which every street may end with."""
    named = set()
    for part in _BETWEEN_PARTS.split(text.lower()):
        words = re.findall(r"(?<![0-9])[a-z]+", part)
        read = [_READ_AS.get(word, word) for word in words if word not in _JOINING]
        named |= {
            this
            for this, after in pairwise([*read, ""])
            if this in _STREET_OR_BUILDING and (after in _STREET_OR_BUILDING or len(read) == 1)
        }
    return {word for word in named if len(word) > 2}


def _written_short(word: str) -> list[str]:
    """The word as it may be written shortened: cut short with a full stop ("re.", "ref." ...
    "refug."), or as ``_READ_AS`` reads it ("mt" for "mount", "pk" for "park")."""
    short = [short for short, full in _READ_AS.items() if full == word]
    return [*(f"{word[:end]}." for end in range(2, len(word))), *short]


# The letters with accents, either case, that addresses are written with: Latin-1, Latin
# Extended-A and -B ("ŵ", "ŷ", "é", "ç"), and Latin Extended Additional ("ẁ", "ỳ").
_ACCENTED_LETTERS = (range(0xC0, 0x250), range(0x1E00, 0x1F00))


@cache
def _letter_forms() -> dict[str, str]:
    """Each letter and its accented forms, read as that letter (``_readings``): "ŵ" and "Ŵ"
    as "w", a long s as "s". Found once, when first looked for."""
    forms = {letter: letter for letter in "abcdefghijklmnopqrstuvwxyz"}
    for character in (chr(point) for block in _ACCENTED_LETTERS for point in block):
        decomposed = unicodedata.normalize("NFKD", character)
        read = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
        if read in forms:
            forms[read] += character
    return forms


def _as_stored(word: str) -> str:
    """A pattern (PostgreSQL's, case aside) for a word of ``_street_words`` or its shortened
    forms, as a line may hold it: each letter accented or not, a combining accent typed after
    it ("Dŵr" for "dwr"). The database compares what is stored, not what is read, and "Tŷ
    Dŵr" at a postcode a slip from hers is her refuge. Only Latin letters' accents: with
    every form Unicode has (full width, circled), PostgreSQL took twice as long to compile it,
    and sharing_records a tenth longer."""
    forms = _letter_forms()
    return "".join(
        f"[{forms[letter]}][\u0300-\u036f]*" if letter in forms else re.escape(letter)
        for letter in word
    )


def _at_or_near(places: list[Place], to: str = "") -> Q:
    """Addresses (``to`` a carer's: "carer__") at these places' postcodes, or at a postcode
    a slip from one (ZE2 9QY for ZE2 9QX: a mistyped postcode must not make her refuge
    another home) that names one of their streets or houses, which keeps the neighbours
    out."""
    exact = {postcode for _, postcode, _, _ in places}
    slips = {slip for postcode in exact for slip in one_slip_away(postcode)} - exact
    words = {word for _, _, line_1, line_2 in places for word in _street_words(line_1, line_2)}
    near = Q(**{f"{to}postcode__in": exact})
    if slips and words:
        # Each word as written, or shortened ("Ref." for "Refuge", "Mt" for "Mount", "Pk" for
        # "Park"), anywhere in either line: one pattern a line, not a condition a word, which
        # Django took longer to build than PostgreSQL to answer.
        written = {short for word in words for short in (word, *_written_short(word))}
        naming = "|".join(_as_stored(word) for word in sorted(written))
        near |= Q(**{f"{to}postcode__in": slips}) & (
            Q(**{f"{to}line_1__iregex": naming}) | Q(**{f"{to}line_2__iregex": naming})
        )
    return near


def _places(
    children: Q, postcodes: Iterable[str] | None, *, ended: bool, near: list[Place] | None = None
) -> list[Place]:
    """Where ``children`` live, or lived (``ended``), and where their current parents and
    carers in the UK live; only at ``postcodes``, unless None, and only at or near the
    ``near`` places (``_at_or_near``), unless None."""
    homes = Address.objects.filter(children, kind=Address.Kind.RESIDENTIAL).exclude(postcode="")
    carers = (
        CareRelationship.objects.filter(children, ended_on__isnull=True, carer__country="GB")
        .exclude(carer__postcode="")
        .exclude(carer__line_1="")
    )
    if not ended:
        homes = homes.filter(ended_on__isnull=True)
    if postcodes is not None:
        homes = homes.filter(postcode__in=list(postcodes))
        carers = carers.filter(carer__postcode__in=list(postcodes))
    if near is not None:
        homes = homes.filter(_at_or_near(near))
        carers = carers.filter(_at_or_near(near, "carer__"))
    return [
        *homes.values_list("child_id", "postcode", "line_1", "line_2"),
        *carers.values_list("child_id", "carer__postcode", "carer__line_1", "carer__line_2"),
    ]


@dataclass
class Sharing:
    """The records that share a home, or a parent or carer, with a child."""

    # Records whose pages show one of her current homes or her parents and carers: shielding
    # her shields them.
    show_hers: set[int] = field(default_factory=set)
    # Records whose current homes or carers her page shows (her past addresses too): if one
    # of them is shielded, she is.
    shown_by: set[int] = field(default_factory=set)
    # Homes, carers and phone numbers shared too widely to follow (SHARED_BY_AT_MOST).
    too_common: int = 0

    @property
    def records(self) -> set[int]:
        return self.show_hers | self.shown_by

    def add(self, found: set[int], *into: set[int], capped: bool = True) -> None:
        if capped and len(found) > SHARED_BY_AT_MOST:
            self.too_common += 1
            return
        for records in into:
            records |= found


def sharing_records(child: Child) -> Sharing:
    """The other records that share one of this child's homes (``same_home`` at the same
    postcode, her parents' and carers' addresses too), or one of her parents or carers (the
    same person, or the same phone number, each followed only if no more than
    SHARED_BY_AT_MOST records share it). Merged-away records hold nothing and are left out."""
    sharing = Sharing()
    own = Q(child=child)
    current = _places(own, None, ended=False)
    every = _places(own, None, ended=True)
    # Each home read once for this look, compared with each of hers, and kept no longer.
    read = cache(_home)
    # Everyone who lives or lived at her home: a brother who moved out to his father's, under
    # his father's name, still shows it as his past address.
    for mine, theirs, into in (
        (current, _places(~own, None, ended=True, near=current), sharing.show_hers),
        (every, _places(~own, None, ended=False, near=every), sharing.shown_by),
    ):
        for home in {(postcode, l1, l2) for _, postcode, l1, l2 in mine}:
            shows = _shows_home(home, read)
            sharing.add({place[0] for place in theirs if shows(place)}, into, capped=False)
    links = CareRelationship.objects.filter(ended_on__isnull=True)
    carers = links.filter(child=child)
    for carer_id in carers.values_list("carer_id", flat=True):
        linked = links.filter(carer_id=carer_id).exclude(child=child)
        sharing.add(set(linked.values_list("child_id", flat=True)), *_both(sharing))
    for _, reached in _carers_reached(carers):
        same = _with_contacts(links).filter(reached).exclude(child=child)
        sharing.add(set(same.values_list("child_id", flat=True)), *_both(sharing))
    merged = set(
        Child.objects.filter(pk__in=sharing.records, status=Child.Status.MERGED).values_list(
            "pk", flat=True
        )
    )
    sharing.show_hers -= merged
    sharing.shown_by -= merged
    return sharing


def _shows_home(
    home: tuple[str, str, str], read: Callable[[str, str], _Home] = _home
) -> Callable[[Place], bool]:
    """Whether a place is this home (postcode and lines), however written (``same_home``), or
    at a postcode a slip away and naming its street or house (``same_home_and_street``).
    ``read`` reads a home's lines: a cache of ``_home`` where the same homes are compared
    again and again."""
    postcode, line_1, line_2 = home
    slips = one_slip_away(postcode)
    mine = read(line_1, line_2)

    def shows(place: Place) -> bool:
        _, at, theirs_1, theirs_2 = place
        if at == postcode:
            return _one_home(mine, read(theirs_1, theirs_2))
        return at in slips and _one_home_and_street(mine, read(theirs_1, theirs_2))

    return shows


@dataclass(frozen=True)
class Shared:
    """What of a child's, that her shielding officer sees, another record shows: her current
    homes and her parents' and carers' addresses, and those parents and carers themselves."""

    addresses: list[str]
    carers: list[str]


def shared_with(child: Child, record: Child) -> Shared:
    """Which of her current homes and parents and carers (``sharing_records``'s ``show_hers``)
    ``record`` shows: what her officer judges a shield for sharing them by. Nothing of the
    record's own that she does not share."""
    theirs = _places(Q(child=record), None, ended=True)
    addresses = []
    for _, postcode, line_1, line_2 in _places(Q(child=child), None, ended=False):
        shows = _shows_home((postcode, line_1, line_2))
        written = ", ".join(part for part in (line_1, line_2, postcode) if part)
        if written not in addresses and any(shows(place) for place in theirs):
            addresses.append(written)
    links = CareRelationship.objects.filter(ended_on__isnull=True)
    on_record = links.filter(child=record)
    carers = []
    for link in links.filter(child=child).select_related("carer").order_by("pk"):
        mine = links.filter(pk=link.pk)
        if on_record.filter(carer_id=link.carer_id).exists() or any(
            _with_contacts(on_record).filter(reached).exists()
            for _, reached in _carers_reached(mine)
        ):
            carers.append(f"{link.carer.given_name} {link.carer.family_name}")
    return Shared(addresses, carers)


def shields_kept_for(child: Child, *, alongside: set[int]) -> QuerySet[Shield]:
    """The shields in force on other records for sharing a home or carer with this child that
    her shield page does not list among her LA's records ``alongside`` her: other LAs' records,
    whose own officers may not lift them (``may_lift``), and her LA's records that no longer
    share them (she moved on), left shielded until her officer lifts each."""
    return (
        Shield.objects.filter(lifted_at__isnull=True, for_sharing=True, protects=child)
        .exclude(child_id__in=alongside, child__local_authority_id=child.local_authority_id)
        .select_related("child")
        .order_by("child__date_of_birth", "child_id")
    )


def _both(sharing: Sharing) -> tuple[set[int], set[int]]:
    return sharing.show_hers, sharing.shown_by


def shield_sources_among(child_ids: Iterable[int]) -> set[int]:
    """Which of these children are shielded for themselves, not only for sharing a home or
    carer with a shielded child: the shields that are followed to the records alongside."""
    return set(
        Shield.objects.filter(
            child_id__in=list(child_ids), lifted_at__isnull=True, for_sharing=False
        ).values_list("child_id", flat=True)
    )


def sharing_fingerprint(record_id: int, protects_id: int) -> str:
    """What an officer saw when deciding about the shield a record has for sharing a home or
    carer with a child, as one digest: the record's homes, past homes and parents and carers
    (with everything ``sharing_records`` reads of them: their addresses and countries, phone
    numbers and emails), and what of hers it shares (``shared_with``). Not her record's id or
    its other homes and carers: merged into another record, which brings its own, a decision
    stands while the record shares no more with it than the officer saw."""
    homes = Address.objects.filter(child_id=record_id).order_by("pk")
    carers = CareRelationship.objects.filter(child_id=record_id).order_by("pk")
    shared = shared_with(Child(pk=protects_id), Child(pk=record_id))
    facts = [
        *homes.values_list("kind", "postcode", "line_1", "line_2", "ended_on"),
        *carers.values_list(
            "carer_id", "ended_on", "carer__phone", "carer__email", "carer__country",
            "carer__postcode", "carer__line_1", "carer__line_2",
        ),
        sorted(shared.addresses),
        sorted(shared.carers),
    ]  # fmt: skip
    # Keyed: the page carries it, and a plain digest would let its reader test guesses.
    return salted_hmac("shielding.sharing_fingerprint", repr(facts), algorithm="sha256").hexdigest()


def _lifted_by_a_person(child_id: int, protects: int) -> bool:
    """An officer has lifted this record's shield for that child, and the record's homes and
    carers, and what of hers it shares, are as the officer saw them (``sharing_fingerprint``):
    their decision stands, but not for a new home (Cal, lifted because he lived with his
    father, moving in with her at her next refuge)."""
    seen = (
        Shield.objects.filter(child_id=child_id, protects_id=protects, lifted_by__isnull=False)
        .order_by("-lifted_at")
        .values_list("lifted_seeing", flat=True)
        .first()
    )
    return bool(seen) and seen == sharing_fingerprint(child_id, protects)


def _near_a_shield(child: Child) -> bool:
    """Whether a child shielded for itself lives, or has a parent or carer, at one of this
    child's postcodes, or shares one of its parents or carers or their phone numbers: a cheap
    first look, before ``sharing_records`` compares homes one by one."""
    places = _places(Q(child=child), None, ended=True)
    links = CareRelationship.objects.filter(ended_on__isnull=True)
    mine = links.filter(child=child)
    nearby: list[QuerySet[Any, Any]] = [
        Address.objects.filter(_at_or_near(places)),
        links.filter(_at_or_near(places, "carer__")),
        links.filter(carer_id__in=mine.values("carer_id")),
        *(_with_contacts(links).filter(reached) for _, reached in _carers_reached(mine)),
    ]
    sources = Shield.objects.filter(lifted_at__isnull=True, for_sharing=False)
    # Each look's records first, by its own index, then the shields among them. Asked as one
    # query, PostgreSQL went through every shield in force reading each one's carers' phone
    # numbers: 0.2 to 0.9 s a record on 1,000,000 children, for every row a feed changed.
    return any(
        sources.filter(child_id__in=list(children.values_list("child_id", flat=True))).exists()
        for children in nearby
    )


def shield_follows_home_and_carers(child: Child) -> set[int]:
    """After a child is shielded, or its homes or parents and carers change: if it is
    shielded for itself, each record that would show one of its homes or carers is shielded
    too; if it would show those of a child shielded for itself, it is. Either way the LA's
    shielding team reviews it, and a shield an officer lifted is not put back; nothing is
    lifted here. Across LAs the shield does not say why: that a shielded child lives there is
    not the other LA's to know. Returns the records it shielded."""
    if not (shield_sources_among([child.pk]) or _near_a_shield(child)):
        return set()  # most records: no shielded child at any of its homes or carers
    sharing = sharing_records(child)
    if not sharing.records:
        return set()
    ids = {*sharing.records, child.pk}
    in_force = shielded_among(ids)
    sources = shield_sources_among(ids)
    las = dict(Child.objects.filter(pk__in=ids).values_list("pk", "local_authority_id"))

    def why(source: int, shielded: int) -> str:
        return SHARES_WITH_SHIELDED if las[source] == las[shielded] else FOR_ANOTHER_RECORD

    made = set()
    if child.pk in sources:
        for other in Child.objects.filter(pk__in=sharing.show_hers - in_force).order_by("pk"):
            if not _lifted_by_a_person(other.pk, child.pk):
                shield_for_review(other, why(child.pk, other.pk), protects=child)
                made.add(other.pk)
        return made
    found = sorted(
        source for source in sharing.shown_by & sources if not _lifted_by_a_person(child.pk, source)
    )
    if found and child.pk not in in_force:
        shield_for_review(child, why(found[0], child.pk), protects=Child(pk=found[0]))
        made.add(child.pk)
    return made


def follow_every_shield() -> tuple[int, int]:
    """Follows every shield in force, made for the child itself, to the records alongside: the
    daily safety net behind ``follow_shields_after_commit``, and the first pass over shields
    made before shields were followed. Each child in a transaction of its own. Returns how
    many shields it followed and how many records it shielded."""
    followed = made = 0
    with transaction.atomic():
        shields_kept_for_record_kept(Shield.objects.all())
        shields_kept_for_splits(Merge.objects.all())
    sources = Shield.objects.filter(lifted_at__isnull=True, for_sharing=False)
    for child_id in sources.order_by("child_id").values_list("child_id", flat=True).iterator():
        with transaction.atomic():
            made += len(shield_follows_home_and_carers(Child.objects.get(pk=child_id)))
        followed += 1
    return followed, made


# However a shield and a change at her brother's home interleave, the later of the two to
# commit sees the other: each looks again once it has committed. A shield made by a file
# that ran for longer than this before it committed can still be missed here, until the
# daily ``shields_follow``.
AFTER_COMMIT_MARGIN = timedelta(hours=1)


# How long the look after commit waits before each try again, in seconds. A deadlock or a
# serialization failure is over at once, a database's failover in seconds; past these the
# look is ``shields_follow --pending``'s, within the minute, not the request's to wait for.
FOLLOW_RETRY_WAITS = (0.2, 1.0)


def follow_shields_after_commit(since: datetime, children: Iterable[int] = ()) -> None:
    """When this transaction commits, follows every shield made since ``since`` (less a
    margin for the transactions that made them), and those of ``children``, to the records
    alongside again. A feed file, a merge or a shield in another transaction may have changed
    a home or carer that this transaction could not see; whichever commits second sees both.
    The records of every merge made or undone since are looked at again too, whether shielded
    or not: a shielded child's new home, given by a file as a merge moved the home she shares
    to another record, is on a record the file never saw hold it.

    The look is owed in a row written in this transaction (``ShieldsToFollow``), so it commits
    with the change or not at all. A look that fails (a deadlock, a lock or the database away)
    is tried again twice (``FOLLOW_RETRY_WAITS``); past that, or if the process ended between
    the commit and the look, the row waits for ``shields_follow --pending``, run every minute,
    and a record showing her home is open to every practitioner for a minute or so, not until
    the night's ``shields_follow``. It costs a small insert and delete for each feed file,
    merge and shield; the request that committed waits for the look, as it did, and when the
    look fails for the tries again too (1.2 s of waits, and the two looks). A retry alone
    would not survive the database staying away or the process ending, and a check on each
    request would cost every request a query.

    Only within a transaction: outside one the look would be done at once, before the change
    it is owed for."""
    if not connection.in_atomic_block:
        raise RuntimeError("a look after commit is owed by a transaction: there must be one")
    owed = ShieldsToFollow.objects.create(since=since, children=list(children))
    transaction.on_commit(lambda: _follow_with_retries(owed.pk), robust=True)


def _follow_with_retries(owed_id: int) -> None:
    for wait in (*FOLLOW_RETRY_WAITS, None):
        try:
            _follow_owed(owed_id)
            return
        except (OperationalError, InterfaceError) as error:
            if wait is None:
                # Ids and the error's kind only: no child's name or address in a log line.
                logger.warning(
                    "Shields to follow #%s left for shields_follow --pending: %s",
                    owed_id,
                    type(error).__name__,
                )
                return
            # A connection the database ended is closed by the look's atomic block, whose
            # rollback on it fails: the next try connects afresh.
            time.sleep(wait)


def _follow_owed(owed_id: int) -> bool:
    """Does the look owed (``follow_shields_after_commit``) and deletes its row, in one
    transaction: whether it did. Not if it is done already, or being done on another
    connection (the minute's ``shields_follow --pending`` taking it as it commits)."""
    with transaction.atomic():
        owed = ShieldsToFollow.objects.select_for_update(skip_locked=True).filter(pk=owed_id)
        found = owed.first()
        if found is None:
            return False
        after = found.since - AFTER_COMMIT_MARGIN
        shields_kept_for_record_kept(Shield.objects.filter(shielded_at__gte=after))
        moved = Merge.objects.filter(Q(merged_at__gte=after) | Q(unmerged_at__gte=after))
        shields_kept_for_splits(moved)
        recent = Child.objects.filter(
            Q(shields__shielded_at__gte=after) | Q(pk__in=found.children),
            shields__lifted_at__isnull=True,
            shields__for_sharing=False,
        ).distinct()
        # In id order, as the records of the merges below: two looks at once take their
        # locks in one order, rather than each wait for the other (PostgreSQL ending one).
        for shielded in recent.order_by("pk"):
            shield_follows_home_and_carers(shielded)
        records = {pk for merge in moved.values_list("kept_id", "absorbed_id") for pk in merge}
        for record in Child.objects.filter(pk__in=records).order_by("pk"):
            shield_follows_home_and_carers(record)
        found.delete()
    return True


def follow_owed_shields() -> tuple[int, int]:
    """The looks after commit still owed (``follow_shields_after_commit``), each in a
    transaction of its own, oldest first: how many it did, and how many failed again (left
    for its next run). One that fails on a fault of its own, not the database's, is left too:
    stopping there would leave every look owed after it undone, run after run."""
    done = failed = 0
    for owed_id in ShieldsToFollow.objects.order_by("pk").values_list("pk", flat=True):
        try:
            if _follow_owed(owed_id):
                done += 1
        except Exception as error:  # anything at all: the look is left owed; the run exits 1
            failed += 1
            logger.warning("Shields to follow #%s failed again: %s", owed_id, type(error).__name__)
    return done, failed


def shields_kept_for_move(*, from_child: Child, to: Child, only: set[int] | None = None) -> None:
    """The shields on other records for sharing a home or carer with ``from_child`` protect
    ``to`` from then on (only those on the records ``only``, if given): her homes and carers
    moved to it in a merge or unmerge, and its officer finds those in force on its shield page
    and judges each by what it shares with it. Those lifted move too: an officer's lift stands
    while the record shares no more with her than they saw (``_lifted_by_a_person``), whichever
    record holds her homes. Whom a shield protects is kept out of its change log (another
    LA's record's), so an update that bypasses the log loses nothing."""
    kept = Shield.objects.filter(for_sharing=True, protects=from_child)
    if only is not None:
        kept = kept.filter(child_id__in=only)
    kept.exclude(child_id__in=[from_child.pk, to.pk]).update(protects=to)


def shields_kept_for_record_kept(shields: QuerySet[Shield]) -> None:
    """Those of these shields for sharing that protect a record merged away since protect the
    record it joined, which holds her homes and carers: a merge moves the shields it sees
    (``shields_kept_for_move``), and a feed's transaction may make one for her that commits
    after it. Left on the merged-away record, her officer's page would say the record shares
    nothing with her, and her shield page would not list it. One on the record she joined (a
    lift for her, say) stays hers: it cannot protect the record it is on, and a merge never
    moves it (``shields_kept_for_move``); pointed on at a record that one joins later, the
    unmerges would lose the lift."""
    stale = shields.filter(for_sharing=True, protects__merged_into__isnull=False).exclude(
        child_id=F("protects__merged_into_id")
    )
    for merged_away in Child.objects.filter(pk__in=stale.values("protects_id")):
        shields_kept_for_move(from_child=merged_away, to=merged_away.record_kept())


def shields_kept_for_split(*, kept: Child, absorbed: Child) -> None:
    """An unmerge: the shields kept for the merged record (and those lifted) that share her
    homes or carers only with the record split off it now protect that record, if it is
    shielded for itself."""
    if not shield_sources_among([absorbed.pk]):
        return
    with_absorbed = sharing_records(absorbed).show_hers
    if with_absorbed:
        only = with_absorbed - sharing_records(kept).show_hers
        shields_kept_for_move(from_child=kept, to=absorbed, only=only)


def shields_kept_for_splits(merges: QuerySet[Merge]) -> None:
    """``shields_kept_for_split`` again for those of these merges that have been undone, where
    shields for sharing still protect the record kept: an unmerge moves the shields it sees,
    and a feed's transaction may make one for the merged record, which held her refuge, that
    commits after it. Left so, it would protect a record that no longer shares her home, and
    her own record's shield page would not list it."""
    protecting = Shield.objects.filter(for_sharing=True, protects_id=OuterRef("kept_id"))
    undone = merges.filter(unmerged_at__isnull=False).filter(Exists(protecting))
    for merge in undone.select_related("kept", "absorbed").order_by("unmerged_at"):
        shields_kept_for_split(kept=merge.kept, absorbed=merge.absorbed)


def shield_carry(*, source: Child, target: Child, why: str) -> Shield | None:
    """When records are merged or unmerged, ``source``'s shield in force is put on ``target``
    too, unless it has one: the child's facts move between the two, and the shield must
    follow them. A shield the target had only for sharing gives way to one the source had for
    itself; a shield carried keeps whom it protects. Lifting either is a shielding officer's
    decision, never a side effect."""
    carried = source.shields.filter(lifted_at__isnull=True).first()
    if carried is None:
        return None
    held = target.shields.filter(lifted_at__isnull=True).first()
    if held is not None:
        if not (held.for_sharing and not carried.for_sharing):
            return None
        held.reason, held.review_on = carried.reason, carried.review_on
        held.justification = f"{why} {carried.justification}"
        held.shielded_by, held.for_sharing, held.protects = carried.shielded_by, False, None
        held.save()
        return held
    made = Shield.objects.create(
        child=target,
        reason=carried.reason,
        justification=f"{why} {carried.justification}",
        review_on=carried.review_on,
        shielded_by=carried.shielded_by,
        for_sharing=carried.for_sharing,
        protects=carried.protects,
    )
    reviews_offer_shielded(target)
    return made
