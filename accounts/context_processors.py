"""What the page header needs to know about the signed-in user."""

from typing import Any

from django.http import HttpRequest

from accounts.permissions import Permission, has_permission


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    verified = bool(user is not None and getattr(user, "is_verified", lambda: False)())
    return {
        "signed_in": bool(user is not None and user.is_authenticated),
        "can": {p.value: verified and has_permission(user, p) for p in Permission},
    }
