"""Response headers that belong on every page, request bodies the service will not read, and
the change log's view of the client."""

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
