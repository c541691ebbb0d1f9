"""Reads of users' accounts that more than one app's screens need."""

from datetime import datetime

from auditlog.models import LogEntry

from accounts.models import User


def user_organisation_then(user: User, moment: datetime, moves: dict[int, list[LogEntry]]) -> str:
    """The organisation ``user`` was in at ``moment``, read back from now through the moves
    her change log records (a move is logged as a change of ``organisation``); ``moves``
    keeps each user's change log, read once for a page."""
    if user.pk not in moves:
        moves[user.pk] = list(LogEntry.objects.get_for_object(user).order_by("-timestamp", "-pk"))
    organisation = str(user.organisation_id)
    for entry in moves[user.pk]:
        if entry.timestamp <= moment:
            break
        if moved := entry.changes_dict.get("organisation"):
            organisation = str(moved[0])
    return organisation
