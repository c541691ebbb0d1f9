"""The one place that decides whether a request may reach a page at all.

Every page needs a signed-in user whose session is current, whose access has not ended and
who has passed the second factor — except the pages on the two short lists below, which are
what it takes to get that far. Roles are checked afterwards, by each view's
``@permission_required`` (accounts/permissions.py).
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, logout, update_session_auth_hash
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.sessions import RENEWED_HERE, kept_if_renewed
from audit.models import Action
from audit.recorder import audit_also, audit_note, session_replaced_note, sign_out_noted

# The footer's pages, which show no data: readable by anyone (someone who cannot sign in may
# need the accessibility statement), and a session that has ended ends there too, as on the
# sign-in page (``_ended_on_an_open_page``).
FOOTER_VIEWS = frozenset({"accessibility", "cookies", "privacy"})
# Reachable by anyone: signing in, a new user's set-up link, the health check, and the footer's
# pages.
PUBLIC_VIEWS = frozenset(
    {"accounts:login", "accounts:setup", "health", "loadtest_ceiling", *FOOTER_VIEWS}
)
# Reachable after the password but before the second factor.
FIRST_FACTOR_VIEWS = frozenset({"accounts:two_factor", "accounts:enrol", "accounts:logout"})

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN_AT = "last_seen_at"
# How often her activity is noted (``LAST_SEEN_AT``): saving the session on every request
# would be a write per page. A request this soon after the time noted is not noted, so her
# idle time-out counts from the time noted plus this: never before the time allowed has
# passed since her last request, and at most this much after.
LAST_SEEN_EVERY = timedelta(minutes=1)
SESSION_STAMP = "session_stamp"
# In a timed-out session's sign-out event: the minutes it was allowed.
TIMED_OUT_MINUTES = "minutes"
# A session's sign-out event, where a new password chosen elsewhere ended it.
PASSWORD_CHANGED = {"password_changed": True}
# One whose user's account was deleted before it timed out, found by the daily clean-up
# (``accounts.services.sessions_expired_clear``).
ACCOUNT_DELETED = {"account_deleted": True}
# One with no sign-in time kept, which cannot tell when it timed out, whether the request
# that comes back with it or the daily clean-up finds it (``session_time_out``).
SIGN_IN_UNRECORDED = {"sign_in_unrecorded": True}


def session_replace(request: HttpRequest, by: User) -> None:
    """Ends whatever session the browser held, as ``by`` signs in (or is refused) there:
    nothing from before is kept (login() alone would keep the session of the same user,
    second factor and all, even one timed out and not yet ended), and its user's log says so."""
    session_replaced_note(request, by=by)
    request.session.flush()


def session_start(request: HttpRequest, user: User) -> None:
    """Called right after ``login()``: what the session is later checked against."""
    now = timezone.now().timestamp()
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN_AT] = now
    request.session[SESSION_STAMP] = str(user.session_stamp)


def session_renew(request: HttpRequest, user: User) -> None:
    """After her new password, her session goes on under a new key, marked with the new
    password (a copy of its old cookie, taken before, no longer works). For a minute its old
    key holds only that it was renewed, signed in as nobody: a double click's second request,
    sent with it (JavaScript off), is then sent home rather than to the sign-in page, which
    would end the cookie of the new key in her browser, and sign her out there."""
    replaced = request.session.session_key
    update_session_auth_hash(request, user)
    if replaced is not None:
        left = request.session.__class__(replaced)
        left.clear()  # not read: the old key's session has just been deleted
        left[RENEWED_HERE] = True
        left.set_expiry(60)
        left.save(must_create=True)


def _session_problem(
    request: HttpRequest, user: User, now: datetime
) -> tuple[str | None, dict[str, Any]] | None:
    """Why her session has ended, if it has: what she is told (None: that her access has
    ended, by ``access_ended_response``), and what her sign-out event says (``_signed_out``)."""
    session = request.session
    timed_out: tuple[str, dict[str, Any]] | None = None
    ends, timed_out_why = session_time_out(session)
    if now > ends:
        timed_out = f"{_time_out_told(timed_out_why)} {_sign_in_again(user)}", timed_out_why
    if session.get(SESSION_STAMP) != str(user.session_stamp):
        why = _account_changed(user, session.get(SIGNED_IN_AT, 0), now)
        if timed_out is not None:
            # Whoever is at her computer after a time-out is told only of the time-out, and
            # learns nothing of her account; her sign-out says both.
            told, timed_out_why = timed_out
            return told, timed_out_why | why
        if "access_ended" in why and not why.get("reactivated"):
            # Suspended as she worked: told so, and whom to contact, not to sign in again,
            # which she cannot.
            return None, why
        return "You have been signed out because your account was changed. Sign in again.", why
    return timed_out


def _time_out_told(why: dict[str, Any]) -> str:
    """What she is told of her session's time-out (``session_time_out``): the limit it
    reached, or, where it kept no sign-in time to tell which, only that she was signed out."""
    if "timed_out" not in why:
        return "You have been signed out, to protect children's information."
    allowed = duration_in_words(timedelta(minutes=why[TIMED_OUT_MINUTES]))
    if why["timed_out"] == "session_length":
        return f"You have been signed out because you were signed in for {allowed}."
    return (
        f"You have been signed out because you did nothing for {allowed}, "
        "to protect children's information."
    )


# What a new user timed out while setting up two-factor sign-in (finding her phone, say) is
# told: her set-up link is used, but her password stands; the key she may have scanned does not.
FINISH_SETTING_UP = (
    "Sign in again with your username and the password you chose, then finish setting up "
    "two-factor sign-in. You will be shown a new QR code: scan that one."
)


def _sign_in_again(user: User) -> str:
    """What a timed-out user is asked to do: sign in again, and, one who had not finished
    setting up two-factor sign-in, finish it with a new key."""
    if user.is_verified() or TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return "Sign in again."
    return FINISH_SETTING_UP


def _limit(span: timedelta) -> dict[str, int]:
    """The time-out as her sign-out event keeps it: auditors read it as it was then, not as
    the setting is when they read it (``audit.views._sign_out_reason``)."""
    return {TIMED_OUT_MINUTES: int(span.total_seconds() // 60)}


def session_time_out(session: Mapping[str, Any]) -> tuple[datetime, dict[str, Any]]:
    """When a session times out, and what its sign-out event says of that: the first of its
    limits it reaches, its absolute limit or its idle time-out, and the time that one allows.
    The idle time-out counts from her activity as last noted, plus ``LAST_SEEN_EVERY``, the
    most a later request of hers may not have been noted. A session past both ended at the
    first: she was not signed in for ten hours if she left after one, and the middleware and
    the daily clean-up say the same of it. A session that kept no sign-in time (signed in
    before it was kept) cannot say when it timed out, nor by which limit: it has ended (as
    long ago as can be), and both say that it kept none (``SIGN_IN_UNRECORDED``); the
    clean-up dates it when its session expired."""
    if SIGNED_IN_AT not in session:
        return datetime.fromtimestamp(0, tz=UTC), dict(SIGN_IN_UNRECORDED)
    longest, idle = settings.SESSION_ABSOLUTE_TIMEOUT, settings.SESSION_IDLE_TIMEOUT
    by_length = session[SIGNED_IN_AT] + longest.total_seconds()
    by_idle = session.get(LAST_SEEN_AT, 0) + (idle + LAST_SEEN_EVERY).total_seconds()
    ends, why = (
        (by_length, {"timed_out": "session_length", **_limit(longest)})
        if by_length <= by_idle
        else (by_idle, {"timed_out": "idle", **_limit(idle)})
    )
    return datetime.fromtimestamp(ends, tz=UTC), why


def session_ended_unseen(
    session: Mapping[str, Any],
    user: User | None,
    *,
    ended_by: tuple[datetime, dict[str, Any]] | None,
) -> tuple[datetime, dict[str, Any]]:
    """When a session nobody came back to ended, and what its sign-out event says, as this
    middleware would have said it at a request just after: its time-out (a closed browser's
    session ends by the idle one, as timed there: ``session_time_out``), or what
    ended it before that (``ended_by``: when, and what its event says: a new password chosen
    elsewhere, her account deleted), and what changed on her account meanwhile (``user``:
    None once her account is deleted, when nothing more is known)."""
    ended, why = session_time_out(session)
    if ended_by is not None and ended_by[0] < ended:
        ended, why = ended_by[0], dict(ended_by[1])
    if user is not None and session.get(SESSION_STAMP) != str(user.session_stamp):
        why |= _account_changed(user, session.get(SIGNED_IN_AT, 0), ended, ended_unseen=True)
    return ended, why


def session_password_current(held: str | None, user: User) -> bool:
    """Whether a session holding ``held`` (its ``HASH_SESSION_KEY``) was signed in with her
    password as it is now, as Django checks it at each request (with the secret key, or one
    it falls back to): a new password ends every session signed in with the old one."""
    return held is not None and any(
        constant_time_compare(held, current)
        for current in (user.get_session_auth_hash(), *user.get_session_auth_fallback_hash())
    )


def _account_changed(
    user: User, signed_in_at: float, now: datetime, *, ended_unseen: bool = False
) -> dict[str, Any]:
    """Why her account's sessions were ended (a new ``session_stamp``) since this one signed
    in at ``signed_in_at``: a two-factor reset, or access that has ended — or that ended and
    was given back, as a reactivation since she signed in says (a suspended user cannot sign
    in), before this session's next request. ``ended_unseen``: the session ended by itself at
    ``now`` (the daily clean-up's), so only a change made before then is named, and nothing
    is said of one that cannot be dated, which may have come after."""
    before = now.timestamp() if ended_unseen else float("inf")

    def since_sign_in(moment: datetime | None) -> bool:
        return moment is not None and signed_in_at < moment.timestamp() <= before

    why: dict[str, Any] = {}
    if since_sign_in(user.two_factor_reset_at):
        why["two_factor_reset"] = True
    problem = user.access_problem(now)
    if problem == "suspended" and ended_unseen and not since_sign_in(user.suspended_at):
        problem = None
    if problem:
        why["access_ended"] = problem
    elif not why and since_sign_in(user.reactivated_at):
        why.update(access_ended="suspended", reactivated=True)
    return why or ({} if ended_unseen else {"account_changed": True})


def duration_in_words(span: timedelta) -> str:
    """Whole hours as hours, anything else as minutes: "10 hours", "20 minutes", "1 minute"."""
    minutes = int(span.total_seconds() // 60)
    count, unit = (minutes // 60, "hour") if minutes % 60 == 0 else (minutes, "minute")
    return f"{count} {unit}{'' if count == 1 else 's'}"


def access_ended_response(
    request: HttpRequest,
    user: User,
    problem: str,
    *,
    at_sign_in: bool = False,
    password_set: bool = False,
    why: dict[str, Any] | None = None,
) -> HttpResponse:
    """Ends the session and tells the user why and whom to contact (403). ``at_sign_in``: she
    was refused as she signed in (``password_set``: through a set-up link, and the password
    she chose stands). Whatever session the browser held then ends as a sign-in would replace
    it, without a sign-out: the request's event stays the refused sign-in, where her LA's
    auditors see it, even on a shared computer someone else was still signed in on. ``why``:
    what her sign-out's event says, where more than her access ended (a two-factor reset)."""
    organisation = user.organisation
    if at_sign_in:
        session_replace(request, user)
        request.user = AnonymousUser()
    else:
        _signed_out(request, why or {"access_ended": problem})
    return render(
        request,
        "accounts/access_ended.html",
        {"problem": problem, "organisation": organisation, "password_set": password_set},
        status=403,
    )


def _signed_out(request: HttpRequest, why: dict[str, Any] | None) -> None:
    """Ends her session, and her sign-out event says ``why`` (``timed_out``, ``access_ended``
    ...): auditors would otherwise read it as a sign-out she made herself. Where another
    request (or the daily clean-up) ended it as this one ran, that one's event is its
    sign-out, and says why; this one's says nothing of it (``audit.recorder.sign_out_note``)."""
    logout(request)
    if sign_out_noted(request):
        audit_note(request, detail=why)


def _to_sign_in(request: HttpRequest, step: str = "accounts:login") -> HttpResponseBase:
    """The sign-in page (or its ``step``), to come back to the page asked for. Not to a
    form's address: the form is not sent again, and such an address may answer a form only
    (sign-out: 405)."""
    if request.method not in ("GET", "HEAD"):
        return redirect(step)
    return redirect_to_login(request.get_full_path(), step)


def _ended_by_new_password(request: HttpRequest) -> None:
    """A session signed in before her password was chosen anew (through a set-up link, which
    signs her out everywhere else) ends at its next request, when Django finds that it no
    longer matches her password and silently empties it. An event of her sign-out says why, or
    her LA's auditors would never see that session end. Read before anything asks who is
    signed in (the change log's middleware does, before any view): the asking ends it."""
    session = request.session
    held, password_was = session.get(SESSION_KEY), session.get(HASH_SESSION_KEY)
    if held is None:
        return
    with kept_if_renewed(session):
        signed_in = isinstance(request.user, User)
    if signed_in or session.get(RENEWED_HERE):
        # Renewed meanwhile by a double click's first request: her browser holds that session.
        return
    if getattr(session, "ended_here", None) is False:
        return  # another tab's request, at the same moment, ended it and says so
    account = User.objects.filter(pk=User._meta.pk.to_python(held)).first()
    if account is not None and not session_password_current(password_was, account):
        # An event of its own: the request goes on as someone else's, or nobody's.
        audit_also(request, action=Action.SIGN_OUT, user=account, detail=dict(PASSWORD_CHANGED))


def _ended_on_an_open_page(request: HttpRequest) -> None:
    """A session that has ended (timed out, her account changed or her access ended) ends on a
    footer page, and on the sign-in page as it is opened, as on any other, and the page shows
    nobody signed in (signing in then replaces no session, hers having ended): on a shared computer,
    whoever opens it after her sees no menu of hers, and its event is her sign-out, saying
    why, not a page she read. The page itself is still shown, with what she is told."""
    user = request.user
    if not isinstance(user, User):
        return
    now = timezone.now()
    ended = _session_problem(request, user, now)
    access_problem = None if ended else user.access_problem(now)
    if ended is None and access_problem is None:
        return
    told, why = ended or (None, {"access_ended": access_problem})
    _signed_out(request, why)
    if told is not None:
        messages.info(request, told)


class AccessControlMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        _ended_by_new_password(request)
        response = self.get_response(request)
        if request.resolver_match is None and isinstance(getattr(request, "user", None), User):
            # No page matched (the "page not found" page): a session that has ended, or an
            # account whose access has, ends here too, not on the next real page.
            return self._refusal(request, "") or response
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponseBase | None:
        match = request.resolver_match
        return self._refusal(request, match.view_name if match else "")

    @staticmethod
    def _refusal(request: HttpRequest, name: str) -> HttpResponseBase | None:
        """Why this request may not reach the page ``name``, as the response; None if it may."""
        if name in PUBLIC_VIEWS:
            if name in FOOTER_VIEWS or (name == "accounts:login" and request.method == "GET"):
                _ended_on_an_open_page(request)
            return None
        user = request.user
        if not isinstance(user, User):
            if request.method == "POST" and request.session.get(RENEWED_HERE):
                return redirect("home")  # with the renewed session, in her browser now
            return _to_sign_in(request)
        now = timezone.now()
        ended = _session_problem(request, user, now)
        if ended:
            told, why = ended
            if told is None:
                return access_ended_response(request, user, why["access_ended"], why=why)
            _signed_out(request, why)
            messages.info(request, told)
            return _to_sign_in(request)
        access_problem = user.access_problem(now)
        if access_problem:
            return access_ended_response(request, user, access_problem)
        if name in FIRST_FACTOR_VIEWS:
            # Not noted as seen: these replace her session or end it, and a double click's
            # second request would save the one its first had deleted (400 "Bad Request").
            return None
        if not user.is_verified():
            return _to_sign_in(request, "accounts:two_factor")
        if now.timestamp() - request.session.get(LAST_SEEN_AT, 0) > LAST_SEEN_EVERY.total_seconds():
            request.session[LAST_SEEN_AT] = now.timestamp()
        return None
