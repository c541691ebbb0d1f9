"""Signing in (password, then a second factor), setting up an account, and user administration."""

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.forms import Form
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.forms import (
    CODE_TAKEN,
    USERNAME_TAKEN,
    ChangePasswordForm,
    ChoosePasswordForm,
    EnrolmentCodeForm,
    OrganisationForm,
    SecurityCodeForm,
    SignInForm,
    UserForm,
    UserSearchForm,
)
from accounts.lockout import (
    OWN_ACCOUNT_REFUSALS,
    lock_lifts_at,
    refusal_message,
    sign_in_failure_record,
    sign_in_failures_clear,
    sign_in_refused,
    username_locked,
)
from accounts.middleware import (
    access_ended_response,
    duration_in_words,
    session_renew,
    session_replace,
    session_start,
)
from accounts.models import Organisation, SetupLink, SignInFailure, User
from accounts.permissions import (
    Permission,
    grantable_roles,
    has_permission,
    may_act_on,
    permission_required,
    signed_in_user,
)
from accounts.roles import Role
from accounts.services import PROFILE
from audit.models import Action
from audit.recorder import audit_note
from contactpoint.client import client_ip
from contactpoint.confirmation import confirmation_page, confirmed
from contactpoint.middleware import method_refused
from directory.models import Caseload, Involvement


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


def _to_step(request: HttpRequest, step: str) -> HttpResponse:
    """The two-factor ``step`` (giving a code, or setting up), which leads on to the page
    she asked for once she has passed it."""
    if (next_url := _safe_next(request)) == "/":
        return redirect(step)
    return redirect(f"{reverse(step)}?{urlencode({'next': next_url})}")


@sensitive_post_parameters("password")
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    """The first factor. Only a correct password reveals anything about the account."""
    form = SignInForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        username, ip = form.cleaned_data["username"], client_ip(request)
        refused = sign_in_refused(username=username, ip_address=ip, now=timezone.now())
        if refused:
            _sign_in_failed(request, username, {refused: True})
            form.add_error(None, refusal_message(refused))
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if not isinstance(user, User):
                sign_in_failure_record(
                    username=username, ip_address=ip, stage=SignInFailure.Stage.PASSWORD
                )
                _sign_in_failed(request, username, {})
                form.add_error(None, "Enter a correct username and password")
            else:
                problem = user.access_problem(timezone.now())
                if problem:
                    audit_note(
                        request,
                        action=Action.SIGN_IN_FAILED,
                        user=user,
                        detail={"username": username, "access_ended": problem},
                    )
                    return access_ended_response(request, user, problem, at_sign_in=True)
                session_replace(request, user)
                login(request, user)
                session_start(request, user)
                audit_note(request, action=Action.SIGN_IN)
                if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                    return _to_step(request, "accounts:enrol")
                return _to_step(request, "accounts:two_factor")
    return render(request, "accounts/login.html", {"form": form, "next": _safe_next(request)})


def _sign_in_failed(request: HttpRequest, username: str, detail: dict[str, Any]) -> None:
    """The event of a refused password, against the account it was for, where the LA's
    auditors see it. A username that names no account is not kept: it is often the
    password, typed in the wrong box, and auditors read and export the log. In any case, as
    the lockout counts it (accounts.lockout) and as usernames are unique."""
    accounts = User.objects.filter(username__iexact=username)
    account = accounts.filter(username=username).first() or accounts.order_by("pk").first()
    tried: dict[str, Any] = {"username": username} if account else {"username_unknown": True}
    audit_note(request, action=Action.SIGN_IN_FAILED, user=account, detail=tried | detail)


@sensitive_post_parameters("otp_token")
@never_cache
def two_factor(request: HttpRequest) -> HttpResponse:
    """The second factor: a code from the authenticator app, or a single-use backup code."""
    user = signed_in_user(request)
    if user.is_verified():
        return redirect(_safe_next(request))
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return _to_step(request, "accounts:enrol")
    form = SecurityCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        refused = sign_in_refused(username=user.username, ip_address=ip, now=timezone.now())
        if refused:
            audit_note(request, action=Action.TWO_FACTOR_FAILED, detail={refused: True})
            form.add_error("otp_token", refusal_message(refused))
        else:
            try:
                device = services.second_factor_match(
                    user=user, token=form.cleaned_data["otp_token"], session=request.session
                )
            except services.SessionEnded:
                # A double click's first request signed her in: her browser holds its session.
                return _to_step(request, "accounts:two_factor")
            except services.CodeTooSoon as pause:
                _code_too_soon(request, form, pause)
            else:
                if device is not None:
                    return _second_factor_passed(request, user, device, _safe_next(request))
                sign_in_failure_record(
                    username=user.username, ip_address=ip, stage=SignInFailure.Stage.SECOND_FACTOR
                )
                audit_note(request, action=Action.TWO_FACTOR_FAILED)
                form.add_error("otp_token", "The security code is not correct, or has been used")
    return render(request, "accounts/two_factor.html", {"form": form, "next": _safe_next(request)})


def _code_too_soon(request: HttpRequest, form: Any, pause: services.CodeTooSoon) -> None:
    """Her code came in the pause after a wrong one: it was not checked, so it is not counted
    against her, and she is told how long to wait rather than that a right code is wrong."""
    audit_note(request, action=Action.TWO_FACTOR_FAILED, detail={"too_soon": True})
    form.add_error(
        "otp_token",
        f"You entered a wrong code just now. Wait {_pause_in_words(pause.until - timezone.now())},"
        " then enter the newest code",
    )


def _pause_in_words(left: timedelta) -> str:
    """What is left of a wait, rounded up: seconds under a minute, then minutes, then hours
    (django-otp's pause doubles with each wrong code in a row, to hours after a dozen; a
    lockout lasts up to its period)."""
    seconds = max(1, math.ceil(left.total_seconds()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds > 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return duration_in_words(
        timedelta(minutes=minutes if minutes < 60 else math.ceil(minutes / 60) * 60)
    )


def _signed_in_fully(request: HttpRequest, user: User, device: Any) -> None:
    """Both factors given: the session is verified under a new key, and this is the user's
    last sign-in (what the 90 days without one count from)."""
    django_otp.login(request, device)
    request.session.cycle_key()
    sign_in_failures_clear(user.username, signed_in_from=client_ip(request))
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    services.setup_links_end(user, user.last_login, because=SetupLink.Ending.SIGNED_IN)


# She gets new ones herself, with a code from her app (backup_codes_renew).
NO_BACKUP_CODES_LEFT = (
    "You have used your last backup code. Get new backup codes now, from your home page, "
    "with a code from your authenticator app."
)


def _second_factor_passed(
    request: HttpRequest, user: User, device: Any, next_url: str
) -> HttpResponse:
    _signed_in_fully(request, user, device)
    audit_note(request, action=Action.TWO_FACTOR_PASSED, detail={"device": type(device).__name__})
    if isinstance(device, StaticDevice):
        left = device.token_set.count()
        messages.info(
            request,
            f"You used a backup code. You have {left} left." if left else NO_BACKUP_CODES_LEFT,
        )
    return redirect(next_url)


# The authenticator this session is setting up: its key is shown to no other session.
ENROLLING = "enrolling_device_id"
# Whether it replaced a key she may have scanned before (``services.Enrolment``).
ENROLLING_REPLACED = "enrolling_replaced_a_key"


@sensitive_post_parameters("otp_token")
@never_cache
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in: scan a QR code, prove it with a code, then see the backup codes once."""
    user = signed_in_user(request)
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return _to_step(request, "accounts:two_factor")
    shown, replaced = services.enrolment_device(user=user, shown=request.session.get(ENROLLING))
    if request.session.get(ENROLLING) != shown.pk:
        # Only then: a double click's first request, enrolling her, ends this session's key.
        request.session[ENROLLING] = shown.pk
        request.session[ENROLLING_REPLACED] = replaced
    form = EnrolmentCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            proved = services.enrolment_prove(user=user, token=form.cleaned_data["otp_token"])
        except services.CodeTooSoon as pause:
            _code_too_soon(request, form, pause)
        else:
            if proved is not None:
                codes = services.backup_codes_create(user=user)
                del request.session[ENROLLING]
                request.session.pop(ENROLLING_REPLACED, None)
                _signed_in_fully(request, user, proved)
                audit_note(request, action=Action.TWO_FACTOR_ENROLLED)
                context = {"codes": codes, "next": _safe_next(request)}
                return render(request, "accounts/backup_codes.html", context)
            if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                # A double click's first request enrolled her.
                return _to_step(request, "accounts:two_factor")
            sign_in_failure_record(
                username=user.username,
                ip_address=client_ip(request),
                stage=SignInFailure.Stage.SECOND_FACTOR,
            )
            audit_note(request, action=Action.TWO_FACTOR_FAILED)
            form.add_error("otp_token", "The security code is not correct. Try the newest code")
    qr = segno.make(shown.config_url, error="m")
    return render(
        request,
        "accounts/enrol.html",
        {
            "form": form,
            "qr_svg": qr.svg_inline(scale=5, title="QR code for your authenticator app"),
            "secret": services.authenticator_key(shown),
            "replaced": request.session.get(ENROLLING_REPLACED, False),
        },
    )


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
def setup(request: HttpRequest, token: str) -> HttpResponse:
    """A new user's one-time link: choose a password, then enrol the second factor."""
    link = services.setup_link_find(token, timezone.now())
    if link is None:
        return _setup_link_refused(request, services.setup_link_any(token))
    # Each visit is an event of her account, where her LA's auditors see it.
    audit_note(request, user=link.user, detail={"set_up_link": True})
    form = ChoosePasswordForm(link.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = services.setup_link_redeem(link=link, password=form.cleaned_data["new_password1"])
        if user is None:  # used by another submission meanwhile
            return _setup_link_refused(request, link)
        if problem := user.access_problem(timezone.now()):
            # Her password stands (a newcomer's training may come later), but as at sign-in
            # she is not let in, and the log does not say she signed in.
            audit_note(
                request,
                action=Action.SIGN_IN_FAILED,
                user=user,
                detail={"set_up_link": True, "access_ended": problem},
            )
            return access_ended_response(request, user, problem, at_sign_in=True, password_set=True)
        session_replace(request, user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        session_start(request, user)
        audit_note(request, action=Action.SIGN_IN, detail={"set_up_link": True})
        return redirect("accounts:enrol")
    return render(request, "accounts/setup.html", {"form": form, "new_user": link.user})


def _setup_link_refused(request: HttpRequest, link: SetupLink | None) -> HttpResponse:
    """A link used, ended or never made: its event names the account it was for, if any, as
    a link tried again after it was used (or after she was suspended) may be someone else's
    doing."""
    account = link.user if link is not None else None
    audit_note(request, user=account, detail={"set_up_link": True, "refused": True})
    return render(request, "accounts/setup_invalid.html", {"link": link}, status=404)


# Her own account -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _OwnAccountStep:
    """What a wrong password or code on one of her own pages is: a failed sign-in at
    ``stage``, counted towards the lockout, with the event ``action`` (the sign-in's) marked
    ``detail``, and, while the lockout holds, what she is told she cannot do (``doing``)."""

    doing: str
    stage: str
    action: Action
    detail: dict[str, Any]


CHANGING_PASSWORD = _OwnAccountStep(
    "change your password",
    SignInFailure.Stage.PASSWORD,
    Action.SIGN_IN_FAILED,
    {"changing_password": True},
)
RENEWING = _OwnAccountStep(
    "get new backup codes",
    SignInFailure.Stage.SECOND_FACTOR,
    Action.TWO_FACTOR_FAILED,
    {"renewing_backup_codes": True},
)


def _locked_out(request: HttpRequest, form: Form, step: _OwnAccountStep) -> bool:
    """Whether signing in is locked for her (or from here): she is then told, in words for
    someone signed in, that she cannot take this ``step`` for now and until when, with the
    event a wrong password or code would write, and hers is not even checked."""
    user, ip, now = signed_in_user(request), client_ip(request), timezone.now()
    refused = sign_in_refused(username=user.username, ip_address=ip, now=now)
    if refused:
        audit_note(request, action=step.action, detail=step.detail | {refused: True})
        left = ""
        if refused != "busy":
            lifts = lock_lifts_at(refused, username=user.username, ip_address=ip, now=now)
            left = _pause_in_words(lifts - now)
        form.add_error(None, OWN_ACCOUNT_REFUSALS[refused].format(doing=step.doing, left=left))
    return bool(refused)


def _wrong_answer(
    request: HttpRequest, form: Form, step: _OwnAccountStep, field: str, message: str
) -> None:
    sign_in_failure_record(
        username=signed_in_user(request).username, ip_address=client_ip(request), stage=step.stage
    )
    audit_note(request, action=step.action, detail=step.detail)
    form.add_error(field, message)


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@never_cache
def password_change(request: HttpRequest) -> HttpResponse:
    """She chooses a new password, giving her current one. A wrong one is a failed sign-in,
    counted towards the lockout: a session left open is no way to guess her password. Her
    other sessions end; this one stays signed in."""
    user = signed_in_user(request)
    form = ChangePasswordForm(user, request.POST if request.method == "POST" else None)
    complete = form.is_bound and form.is_valid()
    # Her current password is checked whatever else is wrong, so that the page lists every
    # mistake at once; a wrong one counts once each time she sends the form.
    current = form.cleaned_data.get("current_password") if form.is_bound else None
    if current and not _locked_out(request, form, CHANGING_PASSWORD):
        if complete:
            try:
                changed = services.password_change(
                    user=user, current=current, password=form.cleaned_data["new_password1"]
                )
            except services.PasswordAlreadyChanged:
                # Answered as its first request was; that one wrote the change's event.
                audit_note(request, detail=CHANGING_PASSWORD.detail | {"sent_again": True})
                changed = True
            else:
                if changed:
                    audit_note(request, action=Action.PASSWORD_CHANGED)
            if changed:
                session_renew(request, user)
                messages.success(
                    request,
                    "Your password has been changed. Anyone signed in as you elsewhere has "
                    "been signed out.",
                )
                return redirect("home")
        # Complete and not changed: the service found her current password wrong.
        if complete or not services.password_is_current(user=user, current=current):
            _wrong_answer(
                request,
                form,
                CHANGING_PASSWORD,
                "current_password",
                "Your current password is not correct",
            )
    return render(request, "accounts/password_change.html", {"form": form})


# The code from her app that last got her new backup codes in this session, as a keyed hash.
RENEWED_WITH = "backup_codes_renewed_with"


def _renewed_with(token: str) -> str:
    return salted_hmac("accounts.backup_codes_renew", token).hexdigest()


@sensitive_post_parameters("otp_token")
@never_cache
def backup_codes_renew(request: HttpRequest) -> HttpResponse:
    """New backup codes for a code from her authenticator app, shown once; the old ones stop
    working. A wrong code counts towards the lockout, as at sign-in; the code that got her
    the codes, sent again (django-otp refuses a code used once), does not."""
    user = signed_in_user(request)
    form = EnrolmentCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and not _locked_out(request, form, RENEWING):
        renewed_with = _renewed_with(form.cleaned_data["otp_token"])
        if renewed_with == _session_as_saved(request).get(RENEWED_WITH):
            # A refresh of the page of her codes, or a double click's second request: the
            # code is no guess, and the codes are neither shown twice nor replaced unasked.
            request.session[RENEWED_WITH] = renewed_with  # kept, if this copy is saved last
            audit_note(request, detail=RENEWING.detail | {"sent_again": True})
            context = {"form": EnrolmentCodeForm(), "shown_once": True}
            return render(request, "accounts/backup_codes_renew.html", context)
        try:
            codes = services.backup_codes_renew(user=user, token=form.cleaned_data["otp_token"])
        except services.CodeTooSoon as pause:
            _code_too_soon(request, form, pause)
        else:
            if codes is not None:
                request.session[RENEWED_WITH] = renewed_with
                audit_note(request, action=Action.BACKUP_CODES_RENEWED)
                context = {"codes": codes, "next": reverse("home"), "renewed": True}
                return render(request, "accounts/backup_codes.html", context)
            _wrong_answer(
                request,
                form,
                RENEWING,
                "otp_token",
                "The security code is not correct. Try the newest code",
            )
    return render(request, "accounts/backup_codes_renew.html", {"form": form})


def _session_as_saved(request: HttpRequest) -> SessionBase:
    """Her session as it is saved now, not as this request read it: a double click's first
    request, which this one waited for (the lockout's turn), has saved it since."""
    return type(request.session)(request.session.session_key)


# User administration ---------------------------------------------------------------------


def _manageable_users(admin: User) -> QuerySet[User]:
    """LA administrators see their own organisation's users; national administrators, all."""
    users = User.objects.select_related("organisation")
    if has_permission(admin, Permission.MANAGE_ALL_USERS):
        return users
    return users.filter(organisation=admin.organisation)


def _organisations_for(admin: User) -> QuerySet[Organisation]:
    if has_permission(admin, Permission.MANAGE_ALL_USERS):
        return Organisation.objects.all()
    return Organisation.objects.filter(pk=admin.organisation_id)


def _managed_user(request: HttpRequest, pk: int, *, locked: bool = False) -> User:
    """404 for a user outside the administrator's reach: their existence is not revealed.
    The request's event names her, as each of her pages shows her details. ``locked``: read
    under lock until the request ends, so that what is checked of her before an action
    (already suspended?) is still so when it is done (a double click)."""
    users = _manageable_users(signed_in_user(request))
    if locked:
        users = users.select_for_update(of=("self",))
    managed = get_object_or_404(users, pk=pk)
    audit_note(request, detail=_named(managed))
    return managed


def _named(managed: User) -> dict[str, Any]:
    return {"user_id": managed.pk, "username": managed.username}


# The most users one page lists; a search finds the others.
USERS_SHOWN = 200


@permission_required(Permission.MANAGE_USERS)
def user_list(request: HttpRequest) -> HttpResponse:
    admin = signed_in_user(request)
    form = UserSearchForm(request.GET)
    users = _manageable_users(admin).order_by("last_name", "first_name", "username")
    query = form.cleaned_data.get("q", "").strip() if form.is_valid() else ""
    if query:
        users = users.filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(email__icontains=query)
        )
    if query:
        audit_note(request, search_criteria={"query": "users", "q": query})
    now = timezone.now()
    # Whether each has involvements to hand over, in the list's one query: flagged where her
    # access has ended, so that Lee finds whose children need a handover (counts on her page).
    listed = users.annotate(
        to_hand_over=Exists(Involvement.to_hand_over().filter(practitioner=OuterRef("pk")))
    )
    rows = [(user, user.access_problem(now)) for user in listed[:USERS_SHOWN]]
    # The list shows each user's name, roles and last sign-in: its event says whose.
    audit_note(request, detail={"users_listed": [user.pk for user, _ in rows]})
    # Those not listed are said to exist, or Lee would take the list for all his users.
    total = users.count() if len(rows) == USERS_SHOWN else len(rows)
    context = {"form": form, "rows": rows, "query": query, "total": total}
    return render(request, "accounts/users/list.html", context)


def _profile(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in PROFILE}


@permission_required(Permission.MANAGE_USERS)
def user_create(request: HttpRequest) -> HttpResponse:
    admin = signed_in_user(request)
    form = UserForm(
        request.POST if request.method == "POST" else None,
        grantable=grantable_roles(admin),
        organisations=_organisations_for(admin),
        initial={"organisation": admin.organisation_id},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, link = services.user_create(
                username=data["username"],
                organisation=data.get("organisation") or admin.organisation,
                roles=[Role(value) for value in data["roles"]],
                **_profile(data),
                by=admin,
            )
        except services.UsernameTaken:
            form.add_error("username", USERNAME_TAKEN)
        else:
            _note_admin_action(request, "create_user", user)
            return render(
                request, "accounts/users/link.html", {"managed": user, "link": link, "new": True}
            )
    if request.method == "POST":
        # Which account he tried to add (a second one for himself, say), though none was.
        tried = {"username": form.data.get("username", "")[:150]}
        _note_admin_action(request, "create_user", tried | _fields_changed(form), refused=True)
    return render(request, "accounts/users/form.html", {"form": form, "managed": None})


@permission_required(Permission.MANAGE_USERS)
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    admin = signed_in_user(request)
    managed = _managed_user(request, pk)
    now = timezone.now()
    problem = managed.access_problem(now)
    context = {
        "managed": managed,
        "problem": problem,
        # Her access has ended (suspended, lapsed, dormant): who takes over her children?
        "handover": _caseload_said(managed, ended=True) if problem else [],
        "dormant": managed.is_dormant(now),
        "locked": username_locked(managed.username, now),
        "has_two_factor": TOTPDevice.objects.filter(user=managed, confirmed=True).exists(),
        "is_self": managed.pk == admin.pk,
        "may_act": may_act_on(admin, managed, "change_user"),
    }
    return render(request, "accounts/users/detail.html", context)


# What an administrator may not change on his own account, and what he is told.
SET_BY_ANOTHER = {
    "vetting_checked_on": "Another administrator must record your own checks",
    "training_completed_on": "Another administrator must record your own checks",
    "home_postcode": "Another administrator must change your own home postcode",
}

# Why his own page offers only the roles he holds (accounts.permissions.grantable_roles).
OWN_ROLES = "You can give up a role here. Another administrator must give you a new one"


def _refused(request: HttpRequest, action: str, managed: User, refusal: str) -> HttpResponse:
    """Back to her page, told why, and logged as refused: nothing was done."""
    _note_admin_action(request, action, managed, refused=True)
    messages.error(request, refusal)
    return redirect("accounts:user_detail", pk=managed.pk)


def _role_above(name: str) -> str:
    return (
        f"You cannot do that: {name} holds a role you do not hold. "
        "Ask an administrator who holds it, or a national administrator."
    )


@permission_required(Permission.MANAGE_USERS)
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    admin = signed_in_user(request)
    # Under lock when saving: a role given her meanwhile waits, and is seen by the check below.
    managed = _managed_user(request, pk, locked=request.method == "POST")
    if not may_act_on(admin, managed, "change_user"):
        return _refused(
            request,
            "change_user",
            managed,
            _role_above(managed.display_name),
        )
    grantable = grantable_roles(admin, to=managed)
    form = UserForm(
        request.POST if request.method == "POST" else None,
        grantable=grantable,
        organisations=_organisations_for(admin),
        editing=managed,
        initial={"roles": managed.roles, **{name: getattr(managed, name) for name in PROFILE}},
    )
    if managed.pk == admin.pk:
        form.fields["roles"].help_text = OWN_ROLES
    if request.method == "POST" and form.is_valid() and managed.pk == admin.pk:
        # The checks that let someone in are vouched for by someone else, and the postcode
        # the auditors catch searches of his own street by is not his to move.
        for name, refusal in SET_BY_ANOTHER.items():
            if form.cleaned_data[name] != getattr(managed, name):
                form.add_error(name, refusal)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.user_update(
            user=managed,
            roles=[Role(value) for value in data["roles"]],
            may_give=grantable,
            **_profile(data),
        )
        _note_admin_action(request, "change_user", _named(managed) | _fields_changed(form))
        messages.success(request, f"{managed.display_name}'s details have been updated")
        return redirect("accounts:user_detail", pk=managed.pk)
    if request.method == "POST":
        # Refused, by a mistake in the form or a change that is not his to make (his own
        # checks): the log says which fields he tried, as of a change made.
        refused = _named(managed) | _fields_changed(form)
        _note_admin_action(request, "change_user", refused, refused=True)
    return render(request, "accounts/users/form.html", {"form": form, "managed": managed})


def _fields_changed(form: Any) -> dict[str, Any]:
    """The names of the fields an administrator's form changes, for its event: not their
    values, which may be personal (a home postcode, a phone number) and are the change log's."""
    return {"changed": form.changed_data}


ALREADY_SUSPENDED = "{name} is already suspended. Nothing has been changed."
OWN_SET_UP_LINK = (
    "You cannot give yourself a link to choose a new password. "
    "Ask another administrator to give you one."
)
USER_ACTIONS = {
    "suspend": (services.user_suspend, "{name} has been suspended and signed out everywhere"),
    "reactivate": (services.user_reactivate, "{name} can sign in again"),
    "reset-two-factor": (
        services.user_two_factor_reset,
        "{name}'s two-factor sign-in has been reset; they will set it up at their next sign-in",
    ),
    "unlock": (services.user_unlock, "{name} can try to sign in again"),
}
# What an administrator suspending her or resetting her two-factor sign-in is asked of a link
# it would end (only if she holds one), and told of one it ended (``user_suspend``,
# ``user_two_factor_reset``).
SET_UP_LINK_WILL_STOP = "The set-up link they have not used yet will stop working."
SET_UP_LINK_WITHDRAWN = (
    "The set-up link they had not used yet no longer works: give them a new one if they "
    "still need it"
)


# What whoever takes over from a practitioner whose access ends does on each child's record
# (``directory.services.involvement_record_mine`` passes the lead to them).
HANDOVER = (
    "Ask their team to arrange a handover: whoever takes over records their own involvement "
    "with each child, as lead professional where this user was the lead."
)
# Her involvements through a sensitive service are hidden from everyone but the child's LA's
# shielding officers, her team and the administrator among them: those officers hand them over.
# Counts only, never which service or local authority (``Caseload.sensitive``).
SENSITIVE_HANDOVER = (
    "which only shielding officers can see: the shielding officers of {whose} local authority "
    "arrange {handover}."
)
OTHERS_HANDOVER = "For their other involvements, ask their team to arrange a handover" + (
    HANDOVER.removeprefix("Ask their team to arrange a handover")
)


def _sensitive_said(caseload: Caseload) -> str:
    """How many of her children she works with through a sensitive service, and who hands
    those over."""
    if caseload.children == 1:
        involvement = "Their involvement with that child is through a sensitive service"
    elif caseload.sensitive == 1:
        involvement = "Their involvement with 1 of them is through a sensitive service"
    else:
        involvement = (
            f"Their involvements with {caseload.sensitive} of them are through sensitive services"
        )
    whose, handover = (
        ("the child's" if caseload.children == 1 else "that child's", "its handover")
        if caseload.sensitive == 1
        else ("each child's", "their handover")
    )
    return f"{involvement}, " + SENSITIVE_HANDOVER.format(whose=whose, handover=handover)


def _caseload_said(managed: User, *, ended: bool) -> list[str]:
    """What her current involvements mean for an administrator ending her access (``ended``:
    or finding it ended): nothing where she has none. Counts only (``caseload_of``)."""
    caseload = Involvement.caseload_of(managed)
    if not caseload.children:
        return []
    children = "1 child" if caseload.children == 1 else f"{caseload.children} children"
    held = f"involved with {children}"
    if caseload.leading:
        of_them = "that child" if caseload.children == 1 else f"{caseload.leading} of them"
        held += f", and the lead professional for {of_them}"
    if ended:
        said = f"They are still recorded as {held}, but their ContactPoint access has ended."
    else:
        said = (
            f"They are currently {held}. Once they are suspended, each child's record will "
            "say that their ContactPoint access has ended."
        )
    if not caseload.sensitive:
        return [said, HANDOVER]
    return [said, _sensitive_said(caseload)] + ([OTHERS_HANDOVER] if caseload.seen else [])


# What a reactivated user still needs before she can sign in.
STILL_CANNOT_SIGN_IN = {
    "vetting": "a current enhanced vetting check is recorded",
    "training": "their completed training is recorded",
}


# What each action that cannot be taken back asks, and what it says it will do.
ASKED_FIRST = {
    "suspend": (
        "Are you sure you want to suspend {name}?",
        [
            "They will be signed out everywhere straight away, and will not be able to sign "
            "in until an administrator reactivates their account.",
            SET_UP_LINK_WILL_STOP,
        ],
        "Suspend {name}",
    ),
    "reset-two-factor": (
        "Are you sure you want to reset {name}'s two-factor sign-in?",
        [
            "Their authenticator app and backup codes will stop working, and they will be "
            "signed out everywhere straight away.",
            SET_UP_LINK_WILL_STOP,
            "They will set up two-factor sign-in again the next time they sign in.",
        ],
        "Reset two-factor sign-in",
    ),
}


@never_cache
@permission_required(Permission.MANAGE_USERS)
def user_action(request: HttpRequest, pk: int, action: str) -> HttpResponseBase:
    admin = signed_in_user(request)
    if action not in USER_ACTIONS and action != "setup-link":
        raise Http404  # before any event: a made-up action is no administrative action
    managed = _managed_user(request, pk, locked=request.method == "POST")
    if request.method != "POST" and action not in ASKED_FIRST:
        return method_refused(request, ("POST",))  # only a question is a page
    name = managed.display_name
    refusal = None
    if not may_act_on(admin, managed, action):
        refusal = _role_above(name)
    elif managed.pk == admin.pk and action == "setup-link":
        # He would choose a new password without giving his old one.
        refusal = OWN_SET_UP_LINK
    elif managed.pk == admin.pk and action in {"suspend", "reset-two-factor"}:
        refusal = "You cannot do that to your own account. Ask another administrator."
    elif action == "suspend" and managed.suspended_at is not None:
        # Its date says when her access ended: a second suspension must not move it.
        refusal = ALREADY_SUSPENDED.format(name=name)
    elif action == "setup-link" and managed.suspended_at is not None:
        # A link is a way in: its holder would choose the password she is let in with later.
        refusal = f"{name} is suspended. Reactivate them first, then give them a link."
    elif already := _already_done(action, managed):
        # A repeat (a page left open) would move a recorded date, or sign her out for nothing.
        refusal = f"{name} {already}. Nothing has been changed."
    if refusal:
        return _refused(request, action, managed, refusal)
    if action in ASKED_FIRST and not confirmed(request):
        audit_note(
            request,
            detail={"page": f"confirm_{action}", **_named(managed)},
        )
        question, consequences, button = ASKED_FIRST[action]
        if not services.setup_link_unused(managed, timezone.now()):
            consequences = [said for said in consequences if said != SET_UP_LINK_WILL_STOP]
        if action == "suspend":
            # Her access may have ended already (dormant, a check lapsed): her records say so.
            ended = managed.access_problem(timezone.now()) is not None
            consequences = consequences + _caseload_said(managed, ended=ended)
        return confirmation_page(
            request,
            question=question.format(name=name),
            consequences=consequences,
            button=button.format(name=name),
            cancel_url=reverse("accounts:user_detail", args=[managed.pk]),
        )
    _note_admin_action(request, action, managed)
    if action == "setup-link":
        link = services.setup_link_create(user=managed, by=admin)
        context = {"managed": managed, "link": link, "new_password": managed.has_usable_password()}
        return render(request, "accounts/users/link.html", context)
    service, done = USER_ACTIONS[action]
    try:
        links_ended = service(user=managed)
    except services.AlreadySuspended:  # by a suspension confirmed at the same moment
        _note_admin_action(request, action, managed, refused=True)
        messages.error(request, ALREADY_SUSPENDED.format(name=name))
        return redirect("accounts:user_detail", pk=managed.pk)
    still = STILL_CANNOT_SIGN_IN.get(managed.access_problem(timezone.now()) or "")
    if action == "reactivate" and still:
        # Reactivated while her checks have lapsed: "can sign in again" would not be true yet.
        done = "{name} has been reactivated, but cannot sign in until " + still
    if links_ended:
        # Withdrawn by the suspension or the reset (each says whether it ended one): she may
        # still need one.
        done += ". " + SET_UP_LINK_WITHDRAWN
    messages.success(request, done.format(name=name))
    return redirect("accounts:user_detail", pk=managed.pk)


def _already_done(action: str, managed: User) -> str | None:
    """What makes the action pointless for ``managed`` now, where the user page would not
    offer it: reactivating someone neither suspended nor dormant (it would restart her 90
    days), unlocking someone not locked out, resetting a two-factor sign-in never set up."""
    now = timezone.now()
    if action == "reactivate" and not (managed.suspended_at or managed.is_dormant(now)):
        return f"is not suspended, and has signed in within {settings.DORMANT_AFTER_DAYS} days"
    if action == "unlock" and not username_locked(managed.username, now):
        return "is not locked out"
    if (
        action == "reset-two-factor"
        and not TOTPDevice.objects.filter(user=managed, confirmed=True).exists()
    ):
        return "has not set up two-factor sign-in yet: they will set it up at their next sign-in"
    return None


def _note_admin_action(
    request: HttpRequest, action: str, about: User | dict[str, Any], *, refused: bool = False
) -> None:
    """An administrative action's event, naming whom (a user) or what ``about`` it is."""
    named = _named(about) if isinstance(about, User) else about
    audit_note(
        request,
        action=Action.ADMIN_ACTION,
        detail={"action": action, **named} | ({"refused": True} if refused else {}),
    )


# Organisations (national administrators) ---------------------------------------------------


@permission_required(Permission.MANAGE_ORGANISATIONS)
def organisation_list(request: HttpRequest) -> HttpResponse:
    organisations = list(Organisation.objects.all())
    # The list shows each one's ContactPoint team and its phone and email: its event says whose.
    audit_note(request, detail={"organisations_listed": [each.pk for each in organisations]})
    return render(request, "accounts/organisations/list.html", {"organisations": organisations})


def _managed_organisation(request: HttpRequest, pk: int) -> Organisation:
    """The organisation the page shows and its form changes: the request's event names it,
    as ``_managed_user`` names a user, so an auditor reads which one it was."""
    organisation = get_object_or_404(Organisation, pk=pk)
    audit_note(request, detail=_organisation_named(organisation))
    return organisation


def _organisation_named(organisation: Organisation) -> dict[str, Any]:
    return {"organisation_id": organisation.pk, "organisation_code": organisation.code}


@permission_required(Permission.MANAGE_ORGANISATIONS)
def organisation_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    organisation = _managed_organisation(request, pk) if pk is not None else None
    action = "create_organisation" if organisation is None else "change_organisation"
    form = OrganisationForm(
        request.POST if request.method == "POST" else None, instance=organisation
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.organisation_save(
                organisation=form.instance, changed=form.changed_data
            )
        except services.CodeTaken:
            form.add_error("code", CODE_TAKEN)
        else:
            _note_admin_action(request, action, _organisation_named(saved) | _fields_changed(form))
            messages.success(request, f"{saved.name} has been saved")
            return redirect("accounts:organisation_list")
    if request.method == "POST":
        # A new one is named by the code tried (one taken, say), as none was made.
        named = (
            _organisation_named(organisation)
            if organisation is not None
            else {"organisation_code": form.data.get("code", "")[:20]}
        )
        _note_admin_action(request, action, named | _fields_changed(form), refused=True)
    return render(
        request, "accounts/organisations/form.html", {"form": form, "organisation": organisation}
    )
