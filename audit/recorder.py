"""Writing the access log: one event per request, in the request's own transaction.

``AuditMiddleware`` opens a transaction around everything the request does, and writes the
request's event inside it once the response is ready. If the event cannot be written the
transaction rolls back and the user gets a "service unavailable" page instead of the response:
no data is ever shown without its event (fail closed). Views add what only they know —
the action, the child viewed, the search criteria and results — with ``audit_note()``.
"""

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.messages import get_messages
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from accounts.sessions import still_stored
from audit.models import Action, AuditEvent
from contactpoint.client import client_ip
from contactpoint.secret_paths import path_without_secrets
from directory import contactpoint_id

logger = logging.getLogger(__name__)
# Show no data: the load balancer's probe, and the load test's ceiling (only routed for it).
UNAUDITED_PATHS = frozenset({"/health/", "/loadtest/ceiling/"})


@dataclass
class AuditNote:
    """What a view tells the audit log about its request, beyond what the request shows."""

    action: Action = Action.PAGE_VIEW
    user: User | None = None  # who acted, where request.user does not say (sign-out)
    child_id: int | None = None
    child_contactpoint_id: str = ""
    child_shielded: bool | None = None
    child_local_authority_id: int | None = None
    search_criteria: dict[str, Any] | None = None
    result_ids: list[str] = field(default_factory=list)
    result_count: int | None = None
    reason: str = ""
    detail: dict[str, Any] | None = None
    # Events about other children, written with this one (``audit_also``).
    also: list["AuditNote"] = field(default_factory=list)


# An event that tells a child's own LA what a request did to her through another record (an
# override of a record shielded to keep her home safe): only her LA's auditors, and national
# ones, see it (``audit.selectors``), as only her officers are told what that shield is for.
THROUGH_ANOTHER_RECORD = "through_another_record"
# An auditor's second event for one request, naming the children she read beside the one she
# asked for, without saying whom she asked for (``audit.views._note_read``).
LISTED_BESIDE = "listed_beside_child_asked_for"


def audit_also(request: HttpRequest, **facts: Any) -> None:
    """Adds an event about another child (or another user) to this request's, written in the
    same transaction: if either cannot be written, nothing is shown."""
    _request_note(request).also.append(AuditNote(**facts))


def _request_note(request: HttpRequest) -> AuditNote:
    note = getattr(request, "audit", None)
    if note is None:  # a request that did not pass through AuditMiddleware (a unit test)
        note = request.audit = AuditNote()  # type: ignore[attr-defined]
    return note


def audit_note(request: HttpRequest, **facts: Any) -> None:
    """Adds facts to this request's event (see AuditNote for the names)."""
    note = _request_note(request)
    for name, value in facts.items():
        if not hasattr(note, name):
            raise TypeError(f"audit events have no field {name!r}")
        setattr(note, name, value)


def sign_out_note(request: HttpRequest, user: User) -> None:
    """The request ends ``user``'s session: its event says so, and the session ends even if
    the request fails (see ``AuditMiddleware._sign_out_stands``). Unless another request, or
    the daily clean-up, ended it as this one ran (``still_stored``): that one's event is its
    sign-out, and a session is signed out once."""
    if not still_stored(request.session):
        return
    audit_note(request, action=Action.SIGN_OUT, user=user)
    request.session_ended = request.session.session_key  # type: ignore[attr-defined]


def sign_out_noted(request: HttpRequest) -> bool:
    """Whether this request's event is the sign-out of the session it ended (``sign_out_note``)."""
    return _request_note(request).action == Action.SIGN_OUT


def session_replaced_note(request: HttpRequest, *, by: User) -> None:
    """The session the browser held, if signed in, ends as ``by`` signs in (or is refused)
    over it: an event on its user says so, where her LA's auditors see her session end and
    why. Not her sign-out, which she did not make; and no session key, which is a secret.
    Nor where another request ended it as this one ran (her "Sign out" in another tab): that
    one's event says so, and a session ends once (``still_stored``)."""
    held = getattr(request, "user", None)
    if isinstance(held, User) and still_stored(request.session):
        audit_also(
            request,
            action=Action.SESSION_REPLACED,
            user=held,
            detail={"sign_in_user_id": by.pk, "sign_in_username": by.username},
        )


# A ContactPoint ID as pages show it (``contactpoint_id.display``): three groups of four digits.
_SHOWN_ID = re.compile(r"\b\d{4} \d{4} \d{4}\b")


def _ids_in_messages(request: HttpRequest | None, note: AuditNote) -> list[str]:
    """The ContactPoint IDs in the messages this page showed, which the view that added them
    (before a redirect) could not name in this page's event: "now a record of its own: …",
    "merged into record …". Only messages shown count, and only IDs the event lacks."""
    storage = get_messages(request) if request is not None else []
    if not getattr(storage, "used", False):
        return []
    shown = (
        contactpoint_id.normalise(typed)
        for message in storage
        for typed in _SHOWN_ID.findall(str(message))
    )
    named = {*note.result_ids, note.child_contactpoint_id}
    return [cpid for cpid in dict.fromkeys(shown) if cpid and cpid not in named]


def record_event(
    request: HttpRequest | None,
    note: AuditNote,
    *,
    status: int | None,
    at: datetime | None = None,
) -> None:
    """Inserts one event, dated now or ``at``; raises if it cannot, so the caller's
    transaction fails with it. ``at`` only for what a command finds happened earlier, and
    never before ``audit.integrity.events_open_from``: a sealed day gains no event."""
    user = note.user
    if user is None and request is not None and isinstance(getattr(request, "user", None), User):
        user = request.user  # type: ignore[assignment]
    meta = request.META if request is not None else {}
    AuditEvent.objects.create(
        occurred_at=at or timezone.now(),
        request_id=getattr(request, "request_id", None),
        user_id=user.pk if user else None,
        username=user.username if user else "",
        roles=list(user.roles) if user else [],
        organisation_id=user.organisation_id if user else None,
        action=note.action,
        # gunicorn takes methods of up to 20 letters (VERSION-CONTROL is a WebDAV one).
        method=(request.method or "")[:10] if request is not None else "",
        # Auditors read and export paths: a set-up link's token would let them use it.
        path=_storable(path_without_secrets(request.path))[:500] if request is not None else "",
        status=status,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=_storable(meta.get("HTTP_USER_AGENT", ""))[:500],
        child_id=note.child_id,
        child_contactpoint_id=note.child_contactpoint_id,
        child_shielded=note.child_shielded,
        child_local_authority_id=note.child_local_authority_id,
        search_criteria=_storable_json(note.search_criteria),
        result_ids=[*note.result_ids, *_ids_in_messages(request, note)],
        result_count=note.result_count,
        reason=_storable(note.reason),
        detail=_storable_json(note.detail),
    )


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL; a request may carry one (in its path, or the name of
    an uploaded file), and its event must still be written."""
    return text.replace("\x00", "\ufffd")


def _storable_json(value: Any) -> Any:
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, dict):
        return {_storable(str(key)): _storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_json(item) for item in value]
    return value


class _Failed(Exception):
    """Rolls back a request whose response is a server error, keeping that response."""

    def __init__(self, response: HttpResponseBase) -> None:
        self.response = response


def service_unavailable() -> HttpResponse:
    # Rendered without a request or the database: it must work when they are the problem.
    return HttpResponse(render_to_string("503.html"), status=503)


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path in UNAUDITED_PATHS:
            # The load balancer's probe shows no data and must answer even when the database
            # (and so the audit log) is down; auditing it would fill the log with noise.
            return self.get_response(request)
        request.request_id = uuid.uuid4()  # type: ignore[attr-defined]
        request.audit = AuditNote()  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if response.status_code >= 500:
                    raise _Failed(response)  # nothing a failed request did is kept
                record_event(request, request.audit, status=response.status_code)  # type: ignore[attr-defined]
                for also in request.audit.also:  # type: ignore[attr-defined]
                    record_event(request, also, status=response.status_code)
            return response
        except _Failed as failure:
            self._sign_out_stands(request)
            lost = getattr(request, "database_lost", False)
            if lost or not connection.is_usable():
                # The database (or the read replica) went away mid-request: say the service
                # is unavailable.
                self._record_failure(request, 503)
                return service_unavailable()
            self._record_failure(request, failure.response.status_code)
            return failure.response
        except DatabaseError:
            logger.exception("request %s failed in the database", request.request_id)  # type: ignore[attr-defined]
            self._sign_out_stands(request)
            self._record_failure(request, 503)
            return service_unavailable()

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """A view that lost its database connection, the replica's included (whose loss the
        primary's ``is_usable`` cannot see): its 500 becomes the service-unavailable page."""
        if isinstance(exception, OperationalError | InterfaceError):
            request.database_lost = True  # type: ignore[attr-defined]

    def _sign_out_stands(self, request: HttpRequest) -> None:
        """A session the request ended stays ended though the request failed and its
        transaction rolled back: staying signed in is never the safer failure (a shared
        computer's next user would have the session). Best effort, as the database may be
        the very thing that failed; while it is down, no session can be used either."""
        ended = getattr(request, "session_ended", None)
        if ended is None:
            return
        try:
            with transaction.atomic():
                type(request.session)(session_key=ended).delete()
        except DatabaseError:
            logger.exception("could not end the session of request %s", request.request_id)  # type: ignore[attr-defined]

    def _record_failure(self, request: HttpRequest, status: int) -> None:
        """Best effort: the database may be the very thing that failed."""
        note = request.audit  # type: ignore[attr-defined]
        note.action = Action.ERROR
        try:
            with transaction.atomic():
                record_event(request, note, status=status)
        except DatabaseError:
            logger.exception("could not record the failure of request %s", request.request_id)  # type: ignore[attr-defined]
