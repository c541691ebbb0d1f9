"""Paths that carry a secret, as the logs must show them.

A set-up link's token is the account's password until it is used: written into the access
log (which auditors read and export) or gunicorn's log, it would let whoever reads them choose
the password and enrol the second factor of a new user, or of one whose administrator gave a
new link. Only a hash of it is stored (accounts.models.SetupLink); the logs keep neither.
"""

import re

# accounts/urls.py: path("set-up/<str:token>/", ...), under "accounts/".
_SET_UP_TOKEN = re.compile(r"^(/accounts/set-up/)[^/]+")


def path_without_secrets(path: str) -> str:
    """``path`` with a set-up link's token taken out: "/accounts/set-up/[token]/"."""
    return _SET_UP_TOKEN.sub(r"\1[token]", path)
