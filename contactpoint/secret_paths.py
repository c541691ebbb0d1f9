"""Paths that carry a secret, as the logs must show them.

A set-up link's token is the account's password until it is used: written into the access
log (which auditors read and export) or gunicorn's log, it would let whoever reads them choose
the password and enrol the second factor of a new user, or of one whose administrator gave a
new link. Only a hash of it is stored (accounts.models.SetupLink); the logs keep neither.
"""

import logging
import re

# accounts/urls.py: path("set-up/<str:token>/", ...), under "accounts/".
_SET_UP_TOKEN = re.compile(r"^(/accounts/set-up/)[^/]+")


def path_without_secrets(path: str) -> str:
    """``path`` with a set-up link's token taken out: "/accounts/set-up/[token]/"."""
    return _SET_UP_TOKEN.sub(r"\1[token]", path)


# Anywhere in a text: a request line, or a whole URL (the set-up page is the referrer of its
# own style sheet and scripts).
_SET_UP_TOKEN_IN_TEXT = re.compile(r"(/accounts/set-up/)[^/?#\s\"]+")


def text_without_secrets(text: str) -> str:
    """``text`` with any set-up link's token taken out, wherever its path appears."""
    return _SET_UP_TOKEN_IN_TEXT.sub(r"\1[token]", text)


class SecretPathFilter(logging.Filter):
    """Takes a set-up link's token out of Django's log lines, which name the path of a request
    that failed: "Internal Server Error: /accounts/set-up/…/" (whose link, rolled back, is still
    usable), "Forbidden (CSRF token missing.): …"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                path_without_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
