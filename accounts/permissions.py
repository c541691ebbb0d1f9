"""What each role may do: the one table every view's access check reads.

Views name the permission they need with ``@permission_required``. Two rules read a role
beside an organisation and live with what they serve: shielding officers see their own LA's
shielded records in full (shielding/policy.py ``sees_in_full``), and ``is_national`` below.
A user holding several roles has the union of their permissions.
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from accounts.models import User
from accounts.roles import Role


class Permission(StrEnum):
    SEARCH_CHILDREN = "search_children"
    VIEW_RECORDS = "view_records"
    RECORD_OWN_INVOLVEMENT = "record_own_involvement"
    OVERRIDE_SHIELD = "override_shield"
    MANAGE_SHIELDS = "manage_shields"
    BROKER_CONTACT = "broker_contact"
    SEE_SENSITIVE_SERVICES = "see_sensitive_services"
    REVIEW_MATCHES = "review_matches"
    MERGE_RECORDS = "merge_records"
    SEE_ARCHIVED_RECORDS = "see_archived_records"
    MANAGE_USERS = "manage_users"
    MANAGE_ORGANISATIONS = "manage_organisations"
    MANAGE_ALL_USERS = "manage_all_users"
    READ_AUDIT = "read_audit"
    READ_ALL_AUDIT = "read_all_audit"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PRACTITIONER: frozenset({P.SEARCH_CHILDREN, P.VIEW_RECORDS, P.RECORD_OWN_INVOLVEMENT}),
    Role.OVERRIDE_PRACTITIONER: frozenset(
        {P.SEARCH_CHILDREN, P.VIEW_RECORDS, P.RECORD_OWN_INVOLVEMENT, P.OVERRIDE_SHIELD}
    ),
    Role.SHIELDING_OFFICER: frozenset(
        {
            P.SEARCH_CHILDREN,
            P.VIEW_RECORDS,
            P.MANAGE_SHIELDS,
            P.BROKER_CONTACT,
            P.SEE_SENSITIVE_SERVICES,
        }
    ),
    Role.DATA_MANAGER: frozenset(
        {
            P.SEARCH_CHILDREN,
            P.VIEW_RECORDS,
            P.REVIEW_MATCHES,
            P.MERGE_RECORDS,
            P.SEE_ARCHIVED_RECORDS,
        }
    ),
    Role.LA_ADMINISTRATOR: frozenset({P.MANAGE_USERS}),
    Role.AUDITOR: frozenset({P.READ_AUDIT}),
    Role.NATIONAL_ADMINISTRATOR: frozenset(
        {P.MANAGE_USERS, P.MANAGE_ALL_USERS, P.MANAGE_ORGANISATIONS}
    ),
}
NATIONAL_ROLES = frozenset({Role.NATIONAL_ADMINISTRATOR})


def signed_in_user(request: HttpRequest) -> User:
    """The user AccessControlMiddleware let through: signed in, verified, access current."""
    assert isinstance(request.user, User)
    return request.user


def has_permission(user: Any, permission: Permission) -> bool:
    if not isinstance(user, User):
        return False
    return any(permission in ROLE_PERMISSIONS[Role(role)] for role in user.roles)


def is_national(user: User) -> bool:
    """National administrators, and auditors of the service operator, see every organisation."""
    return user.has_role(Role.NATIONAL_ADMINISTRATOR) or (
        user.has_role(Role.AUDITOR) and user.organisation.kind == "service_operator"
    )


def grantable_roles(admin: User, to: User | None = None) -> list[Role]:
    """The roles ``admin`` may give (``to`` a user, if named): only roles they hold
    themselves, and no national role. A national administrator may give every role.

    To himself, none he does not hold: he may give one up, but another administrator gives
    him a new one, as another records his checks (a national administrator could otherwise
    make herself an override practitioner, or the auditor of her own actions).
    """
    if to is not None and to.pk == admin.pk:
        return [role for role in grantable_roles(admin) if admin.has_role(role)]
    if admin.has_role(Role.NATIONAL_ADMINISTRATOR):
        return list(Role)
    if not admin.has_role(Role.LA_ADMINISTRATOR):
        return []
    return [role for role in Role if admin.has_role(role) and role not in NATIONAL_ROLES]


# Taking access away: an LA must be able to stop a leaver, or an account misused, at once,
# whatever roles she holds. Every other action can extend or restore her access.
ACTIONS_ON_ANYONE = frozenset({"suspend"})


def may_act_on(admin: User, managed: User, action: str) -> bool:
    """Whether ``admin`` may take ``action`` on ``managed`` (change her details, roles or
    checks; reactivate, unlock, reset her second factor, give her a set-up link): only where
    he could have given every role she holds. Recording her checks, reactivating or unlocking
    her, a fresh second factor or a set-up link would otherwise let him keep open, or open
    for himself, an account he could not have made (a shielding officer's, a
    practitioner's). Any administrator of hers may suspend her."""
    if action in ACTIONS_ON_ANYONE:
        return True
    grantable = {role.value for role in grantable_roles(admin)}
    return set(managed.roles) <= grantable


View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def permission_required(permission: Permission) -> Callable[[View], View]:
    """Refuse the view (403) to anyone whose roles do not grant ``permission``."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_permission(request.user, permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
