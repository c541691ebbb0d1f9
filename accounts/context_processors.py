"""What the page header needs to know about the signed-in user."""

from typing import Any

from django.http import HttpRequest

from accounts.permissions import Permission, has_permission

FEED_VIEWS = {"feeds", "review_queue", "review", "merge", "merges", "unmerge", "separate"}
# Pages reached from a child's record, under the practitioner's "Find a child".
FROM_A_RECORD = {"request_contact", "override"}


def navigation_section(view_name: str) -> str:
    """The header's menu item a page belongs to, marked as current there (GOV.UK service
    navigation's active item), or "" for a page under none."""
    namespace, _, name = view_name.partition(":")
    if namespace == "directory":
        return "feeds" if name in FEED_VIEWS else "search"
    if namespace == "shielding":
        return "search" if name in FROM_A_RECORD else "shielding"
    if namespace == "accounts":
        if name.startswith("user_"):
            return "users"
        return "organisations" if name.startswith("organisation_") else ""
    return "audit" if namespace == "audit" else ""


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    verified = bool(user is not None and getattr(user, "is_verified", lambda: False)())
    match = getattr(request, "resolver_match", None)
    view_name = match.view_name if match is not None else ""
    return {
        "signed_in": bool(user is not None and user.is_authenticated),
        "can": {p.value: verified and has_permission(user, p) for p in Permission},
        "view_name": view_name,
        "section": navigation_section(view_name),
    }
