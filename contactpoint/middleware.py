"""Response headers that belong on every page, requests and request bodies the service will
not read, and the change log's view of the client."""

import codecs
from collections.abc import Callable
from typing import Any

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control
from django.utils.http import parse_header_parameters
from whitenoise.middleware import WhiteNoiseFileResponse

from audit.models import Action
from audit.recorder import audit_note
from contactpoint.client import client_ip


class NoStoreMiddleware:
    """Nothing the application renders may be kept by a browser or a proxy cache: almost
    every page shows a child, a user or an audit event. Static files (WhiteNoise's) keep their
    long cache lifetimes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not isinstance(response, WhiteNoiseFileResponse):
            patch_cache_control(response, no_store=True, private=True, max_age=0)
        return response


class ChangeLogMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, with the client's address as the access log has it.

    Its own reading believes the first ``X-Forwarded-For`` hop from anyone, so a client could
    write any address into the change log; and it stores ``X-Forwarded-Port``, which a client
    could set beyond what the column holds, failing the audited change with it.
    """

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str:
        return client_ip(request)

    @staticmethod
    def _get_remote_port(request: HttpRequest) -> None:
        return None


class RequestBodyMiddleware:
    """Refuses a request body before anything reads it (the CSRF check reads every form):

    - larger than ``LARGEST_REQUEST_BYTES``, or than ``LARGEST_UPLOAD_BYTES`` on the pages that
      take a file (``UPLOAD_PATHS``), so that no one can fill the disk with uploads, signed in or
      not (413);
    - sent without a length (chunked), which browsers never do for a form (411);
    - a form declared in a character set other than UTF-8, which Django refuses when the body is
      read, and again on its own error page, leaving a bare server error (400).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        refused = _body_refused(request)
        if refused is not None:
            return refused
        return self.get_response(request)


# The pages that take a form as well as showing one; every other page is only shown.
FORM_VIEWS = frozenset(
    {
        "accounts:login",
        "accounts:two_factor",
        "accounts:enrol",
        "accounts:setup",
        "accounts:password_change",
        "accounts:backup_codes_renew",
        "accounts:user_create",
        "accounts:user_edit",
        "accounts:user_action",
        "accounts:organisation_create",
        "accounts:organisation_edit",
        "directory:search",
        "directory:my_involvement",
        "directory:end_my_involvement",
        "directory:feeds",
        "directory:review",
        "directory:merge",
        "directory:separate",
        "directory:unmerge",
        "shielding:shield",
        "shielding:shield_protecting",
        "shielding:override",
        "shielding:request_contact",
        "shielding:contact_request",
    }
)
# Forms with no page of their own: a button on another page sends them.
FORM_ONLY_VIEWS = frozenset({"accounts:logout", "shielding:override_sign_off"})
SHOWN = ("GET", "HEAD")


def allowed_methods(view_name: str) -> tuple[str, ...]:
    """What the page named ``view_name`` answers (the ``Allow`` header of a 405)."""
    if view_name in FORM_ONLY_VIEWS:
        return ("POST",)
    return (*SHOWN, "POST") if view_name in FORM_VIEWS else SHOWN


class MethodMiddleware:
    """Each page answers only what it is for: GET and HEAD to show it, POST as well where it
    takes a form. Anything else, PUT or OPTIONS or a form sent to a page that has none, is
    no request a page of the service sends, and is refused (405) before anyone reads it: the
    views would otherwise answer it as a GET, showing a child's record to it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponseBase | None:
        match = request.resolver_match
        allowed = allowed_methods(match.view_name if match else "")
        return None if request.method in allowed else method_refused(request, allowed)


def method_refused(request: HttpRequest, allowed: tuple[str, ...]) -> HttpResponse:
    """The 405 page: its event is a refused request, not a page view."""
    audit_note(request, action=Action.ERROR, detail={"refused": "method_not_allowed"})
    response = _refusal(
        405, "Go back and use the page's own links and buttons. Nothing has been changed."
    )
    response["Allow"] = ", ".join(allowed)
    return response


def _body_refused(request: HttpRequest) -> HttpResponse | None:
    meta = request.META
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return _refusal(411, "Send the form again from the page it is on.")
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refusal(400, "Go back and try again. Nothing has been changed.")
    largest = (
        settings.LARGEST_UPLOAD_BYTES
        if request.path in settings.UPLOAD_PATHS
        else settings.LARGEST_REQUEST_BYTES
    )
    if length > largest:
        return _refusal(
            413, f"What you sent is larger than this page takes ({largest / 2**20:g} MB at most)."
        )
    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    unreadable = UNREADABLE_CHARSET in meta or not _is_text_encoding(charset)
    form_not_utf8 = request.content_type == "application/x-www-form-urlencoded" and (
        charset != "utf-8"
    )
    if unreadable or form_not_utf8:
        return _refusal(400, "Go back and try again. Nothing has been changed.")
    return None


# Set by readable_charset() on a request whose declared character set it took out.
UNREADABLE_CHARSET = "contactpoint.unreadable_charset"


def _is_text_encoding(charset: str) -> bool:
    """A character set Python can decode text in ("undefined" is a codec that decodes
    nothing; "hex" is no text encoding; a NUL in the name is an error of its own)."""
    try:
        codec = codecs.lookup(charset)
        b"a=b".decode(codec.name)
    except (LookupError, ValueError):  # UnicodeError is a ValueError
        return False
    return bool(getattr(codec, "_is_text_encoding", True))


def readable_charset(environ: dict[str, Any]) -> dict[str, Any]:
    """Takes a declared character set that is not a text encoding ("charset=hex") out of the
    request before Django reads it: Django would fail on it while building the request, before
    any middleware could answer with a page. RequestBodyMiddleware then refuses the request."""
    try:
        kind, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
    except ValueError:  # a header Django cannot parse either
        return {**environ, "CONTENT_TYPE": "", UNREADABLE_CHARSET: "?"}
    charset = params.pop("charset", None)
    if charset is None or _is_text_encoding(charset):
        return environ
    kept = "".join(f"; {name}={value}" for name, value in params.items())
    return {**environ, "CONTENT_TYPE": kind + kept, UNREADABLE_CHARSET: charset}


def _refusal(status: int, advice: str) -> HttpResponse:
    # Rendered without the request: nothing about it has been read, or may be.
    page = render_to_string("400.html", {"advice": advice})
    return HttpResponse(page, status=status)
