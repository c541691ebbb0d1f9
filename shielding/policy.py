"""The shielding policy: what anyone may see of a shielded child, decided in this one place.

A shielded child's whereabouts must never leak (DESIGN.md "Shielding"). The policy is an
allow-list: for a shielded child, only the fields named here are shown to someone without the
right to see the record in full; every other field — and any field added later — is masked.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from accounts.models import User
from accounts.roles import Role
from shielding.models import Shield

MASK = "[shielded]"

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
    """Which of these children have a shield in force."""
    ids = {child_id for child_id in child_ids if child_id is not None}
    if not ids:
        return set()
    in_force = Shield.objects.filter(child_id__in=ids, lifted_at__isnull=True)
    return set(in_force.values_list("child_id", flat=True))


def sees_in_full(viewer: User, local_authority_id: int | None) -> bool:
    """Shielding officers of the child's local authority see its shielded records in full."""
    return viewer.has_role(Role.SHIELDING_OFFICER) and viewer.organisation_id == local_authority_id


@dataclass(frozen=True)
class ChangeShown:
    """One change-log entry as a viewer may see it."""

    timestamp: Any
    actor: str
    action: str
    model: str
    object_repr: str
    changes: dict[str, tuple[str, str]]
    masked: bool


def change_shown(
    entry: Any, viewer: User, shielded: set[int], local_authorities: dict[int, int]
) -> ChangeShown:
    """A django-auditlog entry with the policy applied.

    ``shielded`` are the ids of the shielded children among those the entries are about;
    ``local_authorities`` maps a child id to its local authority id.
    """
    model = f"{entry.content_type.app_label}.{entry.content_type.model}"
    child_ids = (entry.additional_data or {}).get("child_ids", [])
    protect = [
        child_id
        for child_id in child_ids
        if child_id in shielded and not sees_in_full(viewer, local_authorities.get(child_id))
    ]
    changes = dict(entry.changes_dict)
    if protect:
        allowed = VISIBLE_WHEN_SHIELDED.get(model, frozenset())
        changes = {
            field: (values if field in allowed else (MASK, MASK))
            for field, values in changes.items()
        }
    return ChangeShown(
        timestamp=entry.timestamp,
        actor=entry.actor.username if entry.actor else "system",
        action=entry.get_action_display(),
        model=entry.content_type.name,
        object_repr=entry.object_repr if not protect or model in VISIBLE_WHEN_SHIELDED else MASK,
        changes={field: (str(old), str(new)) for field, (old, new) in changes.items()},
        masked=bool(protect),
    )
