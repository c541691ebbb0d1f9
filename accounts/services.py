"""Changes to users and organisations: each one a transaction, each one in the change log.

django-auditlog records every field these change, with the acting user (set by its middleware
for requests and by ``auditlog.context.set_actor`` in commands), so "who changed what from what"
is answered for suspensions, 2FA resets, unlocks, roles and dates alike.
"""

import base64
import secrets
import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from importlib import import_module
from typing import Any, NamedTuple

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.db.models import Min, QuerySet
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.lockout import sign_in_failures_clear
from accounts.middleware import (
    ACCOUNT_DELETED,
    PASSWORD_CHANGED,
    SIGN_IN_UNRECORDED,
    SIGNED_IN_AT,
    session_ended_unseen,
    session_password_current,
    session_time_out,
)
from accounts.models import Organisation, SetupLink, User
from accounts.permissions import may_act_on
from accounts.roles import Role
from audit.integrity import events_open_from
from audit.models import Action, AuditEvent
from audit.recorder import AuditNote, record_event


class UsernameTaken(Exception):
    """Someone else took the username after the form checked it (a double click on "Add user")."""


@transaction.atomic
def user_create(
    *,
    username: str,
    organisation: Organisation,
    roles: list[Role],
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    job_title: str = "",
    phone: str = "",
    home_postcode: str = "",
    vetting_checked_on: date | None = None,
    training_completed_on: date | None = None,
    by: User | None,
) -> tuple[User, str]:
    """A new user with no usable password, and the set-up link they will finish with."""
    user = User(
        username=username,
        organisation=organisation,
        roles=[role.value for role in roles],
        first_name=first_name,
        last_name=last_name,
        email=email,
        job_title=job_title,
        phone=phone,
        home_postcode=home_postcode,
        vetting_checked_on=vetting_checked_on,
        training_completed_on=training_completed_on,
    )
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        if not User.objects.filter(username=username).exists():
            raise
        raise UsernameTaken from None
    return user, setup_link_create(user=user, by=by)


@transaction.atomic
def setup_link_create(*, user: User, by: User | None) -> str:
    """Replaces any unused link with a new one, valid for 72 hours; returns its full URL."""
    now = timezone.now()
    setup_links_end(user, now, because=SetupLink.Ending.REPLACED)
    token = secrets.token_urlsafe(32)
    SetupLink.objects.create(
        user=user,
        token_hash=SetupLink.hash_token(token),
        created_by=by,
        expires_at=now + settings.SETUP_LINK_VALID_FOR,
    )
    return settings.SITE_URL.rstrip("/") + reverse("accounts:setup", args=[token])


def setup_links_end(user: User, now: datetime, *, because: SetupLink.Ending) -> int:
    """Her unused links end, and how many did: on suspension, on a two-factor reset, on a new
    link, and once she signs in with both factors, when a link left in an email would only let
    whoever finds it choose her password. Each records why, so that whoever follows it later
    is told the truth: one ended by a suspension did not expire, and does not work again once
    she is reactivated. One already run out is left as it ended."""
    return _links_unused(user, now).update(expires_at=now, ended_because=because)


def setup_link_unused(user: User, now: datetime) -> bool:
    """Whether she holds a link she has not used that still works: one a suspension or a
    two-factor reset would end, which the administrator is told of before he confirms."""
    return _links_unused(user, now).exists()


def _links_unused(user: User, now: datetime) -> QuerySet[SetupLink]:
    return SetupLink.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now)


def setup_link_any(token: str) -> SetupLink | None:
    """``token``'s link, usable or not: the events of its page name the account it was made
    for, so that her LA's auditors see a link used, or tried again once used or ended, and the
    page says why it no longer works."""
    return (
        SetupLink.objects.select_related("user", "user__organisation", "created_by")
        .filter(token_hash=SetupLink.hash_token(token))
        .first()
    )


def setup_link_find(token: str, now: datetime) -> SetupLink | None:
    """The usable link, or None. One whose maker could no longer give it (she has been given
    a role he does not hold since, or his own access has ended: he has been suspended, or his
    vetting or training has lapsed) is not: its holder would set up an account above him, or
    on his behalf. One he made for himself is not either: he would choose his password
    without giving the old one (views refuse to make it)."""
    link = setup_link_any(token)
    if link is None or not link.is_usable(now):
        return None
    maker = link.created_by
    if maker is not None and (
        maker.pk == link.user_id
        or maker.access_problem(now) is not None
        or not may_act_on(maker, link.user, "setup-link")
    ):
        return None
    return link


@transaction.atomic
def setup_link_redeem(*, link: SetupLink, password: str) -> User | None:
    """The password a new user chose, or a user who forgot hers; the link can never be used
    again. Her other sessions end with the old password: Django checks each against it. None
    if it was used (or ran out) since it was found: of two sent at once, one sets a password."""
    link = SetupLink.objects.select_for_update().select_related("user").get(pk=link.pk)
    if not link.is_usable(timezone.now()):
        return None
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    user = link.user
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


class PasswordAlreadyChanged(Exception):
    """Her password became the one asked for after the request read her account: a double
    click's first request changed it (JavaScript off), and wrote its event."""


@transaction.atomic
def password_change(*, user: User, current: str, password: str) -> bool:
    """The new password a signed-in user chose, having given her ``current`` one; False, and
    nothing changed, if that is not correct. Her other sessions end with the old password, as
    after a set-up link: Django checks each against it (and accounts.middleware writes each
    one's sign-out). Checked against her account read afresh under lock, not as the request
    read it: a double click's second request would otherwise change it again once its first
    had (PasswordAlreadyChanged: ``user`` then has the new password, to keep her session)."""
    held = User.objects.select_for_update().only("password").get(pk=user.pk)
    if held.password != user.password and held.check_password(password):
        user.password = held.password
        raise PasswordAlreadyChanged
    if not held.check_password(current):
        return False
    user.set_password(password)
    user.save(update_fields=["password"])
    return True


def password_is_current(*, user: User, current: str) -> bool:
    """Whether ``current`` is her password as saved now: checked even when the new one she
    chose is refused, so that the page lists both mistakes at once."""
    return User.objects.only("password").get(pk=user.pk).check_password(current)


# A user's profile as the administrator's form gives it and user_update saves it.
PROFILE = (
    "first_name", "last_name", "email", "job_title", "phone", "home_postcode",
    "vetting_checked_on", "training_completed_on",
)  # fmt: skip


def _end_sessions(user: User) -> None:
    """Every session signed in under the old stamp fails its next check (accounts/middleware)."""
    user.session_stamp = uuid.uuid4()


@transaction.atomic
def user_update(
    *,
    user: User,
    first_name: str,
    last_name: str,
    email: str,
    job_title: str,
    phone: str,
    home_postcode: str,
    roles: list[Role],
    may_give: Collection[Role] = tuple(Role),
    vetting_checked_on: date | None,
    training_completed_on: date | None,
) -> User:
    """The details an administrator's form changes, and only those: his copy of the account
    was read before he saved, and writing all of it back would undo a suspension or a
    two-factor reset made meanwhile (and let her old sessions back in). ``roles`` are those
    chosen of the roles he ``may_give``; the others she holds are neither given nor taken
    away, as they are when he saves (another administrator may have changed them since)."""
    # Locked, so the change log compares with the row as it is, not as another request left it.
    held = User.objects.select_for_update().values_list("roles", flat=True).get(pk=user.pk)
    kept = [Role(role) for role in held if Role(role) not in may_give]
    user.first_name, user.last_name, user.email = first_name, last_name, email
    user.job_title, user.phone, user.home_postcode = job_title, phone, home_postcode
    user.roles = [role.value for role in Role if role in roles or role in kept]
    user.vetting_checked_on = vetting_checked_on
    user.training_completed_on = training_completed_on
    user.save(update_fields=[*PROFILE, "roles"])
    return user


class AlreadySuspended(Exception):
    """She was suspended meanwhile (another tab, another administrator): that suspension's
    date says when her access ended, and stands."""


@transaction.atomic
def user_suspend(*, user: User) -> bool:
    """Signs her out everywhere, and ends any set-up link she was given; whether one was.
    Whoever holds it would otherwise choose her password, to be let in once she is
    reactivated."""
    # Read under her row's lock: a suspension confirmed at the same moment waits, then sees it.
    held = User.objects.select_for_update().filter(pk=user.pk)
    if held.values_list("suspended_at", flat=True).get() is not None:
        raise AlreadySuspended
    user.suspended_at = timezone.now()
    ended = setup_links_end(user, user.suspended_at, because=SetupLink.Ending.SUSPENDED)
    _end_sessions(user)
    user.save(update_fields=["suspended_at", "session_stamp"])
    return ended > 0


@transaction.atomic
def user_reactivate(*, user: User) -> None:
    """Lifts a suspension, and restarts the 90 days, so a dormant account can be used again
    (its last sign-in stays what it was)."""
    user.suspended_at = None
    user.reactivated_at = timezone.now()
    user.save(update_fields=["suspended_at", "reactivated_at"])


@transaction.atomic
def user_two_factor_reset(*, user: User) -> bool:
    """Removes every device, so the user enrols again at their next sign-in, signs her out
    everywhere, and ends any set-up link she has not used; whether one was. Whoever holds such
    a link could otherwise choose her password and then set up an authenticator of their own,
    the only other thing the reset leaves asked of them."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    user.two_factor_reset_at = timezone.now()
    ended = setup_links_end(
        user, user.two_factor_reset_at, because=SetupLink.Ending.TWO_FACTOR_RESET
    )
    _end_sessions(user)
    user.save(update_fields=["two_factor_reset_at", "session_stamp"])
    return ended > 0


def sessions_expired_clear(*, now: datetime) -> int:
    """Deletes every stored session past its expiry, as Django's ``clearsessions`` does, and
    first writes the sign-out event of each that someone was signed in to; how many. A
    session whose browser was closed, or left idle, is never seen again by the middleware
    that writes a sign-out, and her LA's auditors would read a sign-in that never ended.
    Its event is dated when it ended, unless that day may be sealed already: then it is
    dated when it was found, and says when it ended (``ended_at``). Each session is ended in
    a transaction of its own, under lock, so two runs at once write one event for it.
    ``now``: when the run started; each session is found that long after it as it runs on,
    so a long run that reaches the hour the sealing job seals yesterday dates nothing in it."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    signed_out = 0
    clock_started = timezone.now()
    expired = Session.objects.filter(expire_date__lt=now)
    for key in list(expired.values_list("session_key", flat=True)):
        with transaction.atomic():
            session = expired.select_for_update(skip_locked=True).filter(session_key=key).first()
            if session is None:  # ended by another run meanwhile
                continue
            data = store().decode(session.session_data)
            session.delete()
            held = data.get(SESSION_KEY)
            if held is None:  # nobody signed in to it
                continue
            user, ended, why = _session_ended(data, User._meta.pk.to_python(held), session)
            found = now + (timezone.now() - clock_started)
            # Half an hour short of the seal job's hour: a day is never sealed as this commits.
            if ended < events_open_from(found + timedelta(minutes=30)):
                ended, why = found, why | {"ended_at": ended.isoformat()}
            note = AuditNote(action=Action.SIGN_OUT, user=user, detail=why)
            record_event(None, note, status=None, at=ended)
            signed_out += 1
    return signed_out


def _session_ended(
    data: dict[str, Any], pk: int, session: Session
) -> tuple[User, datetime, dict[str, Any]]:
    """Whose a session nobody came back to was (her account, or, deleted since, as her last
    event recorded her), when it ended and what its sign-out event says. One with no sign-in
    time (signed in before it was kept) cannot say when it timed out: it is dated when its
    session expired, the latest it can have ended, and says so."""
    user = User.objects.filter(pk=pk).first()
    signed_out = user or _user_as_last_recorded(pk)
    _, timed_out = session_time_out(data)
    if timed_out == SIGN_IN_UNRECORDED:
        return signed_out, session.expire_date, timed_out
    if user is None:
        ended_by = _account_deleted(pk)
    elif session_password_current(data.get(HASH_SESSION_KEY), user):
        ended_by = None
    else:
        changed = _password_chosen_after(user, data[SIGNED_IN_AT])
        ended_by = (changed, PASSWORD_CHANGED) if changed else None
    ended, why = session_ended_unseen(data, user, ended_by=ended_by)
    return signed_out, ended, why


def _user_as_last_recorded(pk: int) -> User:
    """A deleted user as her last event recorded her (username, roles, organisation), not
    saved: her sign-out is then among her organisation's events, where her LA's auditors read
    her sign-in. Known by id alone if no event of hers is left."""
    last = AuditEvent.objects.filter(user_id=pk).order_by("-occurred_at", "-id").first()
    if last is None or (organisation := last.organisation_id) is None:
        return User(pk=pk)
    return User(pk=pk, username=last.username, roles=last.roles, organisation_id=organisation)


def _account_deleted(pk: int) -> tuple[datetime, dict[str, Any]] | None:
    """When her account was deleted, as its change log dated it, and what a session it ended
    says; None if it was not logged."""
    deleted = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User),
        object_pk=str(pk),
        action=LogEntry.Action.DELETE,
    ).aggregate(first=Min("timestamp"))["first"]
    return (deleted, ACCOUNT_DELETED) if deleted else None


def _password_chosen_after(user: User, signed_in_at: float) -> datetime | None:
    """When her password was first chosen anew after ``signed_in_at``: through a set-up link
    (when it was used) or on her own account page (its event); None if neither, as after
    ``manage.py changepassword``, which leaves no time to tell whether it came before or after
    a session ended by itself."""
    since = datetime.fromtimestamp(signed_in_at, tz=UTC)
    through_link = SetupLink.objects.filter(user=user, used_at__gt=since).aggregate(
        first=Min("used_at")
    )["first"]
    on_her_page = AuditEvent.objects.filter(
        user_id=user.pk, action=Action.PASSWORD_CHANGED, occurred_at__gt=since
    ).aggregate(first=Min("occurred_at"))["first"]
    return min(filter(None, (through_link, on_her_page)), default=None)


@transaction.atomic
def user_unlock(*, user: User) -> None:
    """Her failures forgotten, and django-otp's pause after wrong codes with them: it doubles
    with each wrong code in a row, and unlocked, her right code would still meet hours of it."""
    sign_in_failures_clear(user.username)
    for devices in (TOTPDevice.objects, StaticDevice.objects):
        devices.filter(user=user).update(
            throttling_failure_count=0, throttling_failure_timestamp=None
        )
    user.unlocked_at = timezone.now()
    user.save(update_fields=["unlocked_at"])


@transaction.atomic
class Enrolment(NamedTuple):
    device: TOTPDevice
    # It ended another key being set up, which she may have scanned (before her session timed
    # out, say): codes from that one no longer work, and she is told so.
    replaced: bool


def enrolment_device(*, user: User, shown: int | None) -> Enrolment:
    """The authenticator this session is setting up: the one it was shown (``shown``, kept in
    the session), else a new one. Its key is shown to that session only: another signing in
    with her password while she enrols would otherwise hold her second factor for good. A new
    one ends any other being set up, so whoever confirms holds a key nobody else saw."""
    if shown is not None:
        device = TOTPDevice.objects.filter(user=user, confirmed=False, pk=shown).first()
        if device is not None:
            return Enrolment(device, replaced=False)
    ended, _ = TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, confirmed=False, name="Authenticator app")
    return Enrolment(device, replaced=ended > 0)


class CodeTooSoon(Exception):
    """django-otp pauses a device after a wrong code (a second, then two, four ...): a code
    sent in that pause is not checked, so it is neither right nor a guess to count."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


def _code_checked(device: TOTPDevice | StaticDevice, token: str) -> bool:
    """Whether ``token`` is the device's code; CodeTooSoon in the pause after a wrong one,
    where django-otp would refuse even the right code as if it were wrong."""
    allowed, why = device.verify_is_allowed()
    if not allowed:
        raise CodeTooSoon(why["locked_until"])
    return bool(device.verify_token(token))


@transaction.atomic
def enrolment_prove(*, user: User, token: str) -> TOTPDevice | None:
    """The authenticator being set up that her code proves, now confirmed, and any other
    removed. Her code is checked against each: two loads of the set-up page at once (a double
    click) may each make one, and her browser shows either; each key was shown to her session
    alone. The devices are read under lock, as checking a code saves the whole device: a copy
    read before a double click's first request confirmed it (or before an administrator reset
    her second factor) would undo that."""
    devices = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False)
    # Locked oldest first, as an administrator's reset deletes them; the newest is likeliest.
    locked = list(devices.order_by("pk"))
    proved = next((device for device in reversed(locked) if _code_checked(device, token)), None)
    if proved is not None:
        proved.confirmed = True
        proved.save(update_fields=["confirmed"])
        devices.exclude(pk=proved.pk).delete()
    return proved


class SessionEnded(Exception):
    """The session a code came with ended while the code waited for her device: a double
    click's first request signed her in under a new session key (or she signed out)."""


@transaction.atomic
def second_factor_match(
    *, user: User, token: str, session: SessionBase
) -> TOTPDevice | StaticDevice | None:
    """The device that accepts her code: her app's for six digits, else her backup codes.
    Only that one is tried: a wrong try slows the device it is tried on (django-otp's
    throttling), and trying every device counted each app code she mistyped against her
    backup codes, which only a backup code resets, until they refused her for days.
    Read under lock, so that a code sent twice at once is accepted once; the second is not
    tried at all if the first signed her in meanwhile (SessionEnded), as it is no guess."""
    kind = TOTPDevice if len(token) == 6 and token.isdigit() else StaticDevice
    device = kind.objects.select_for_update().filter(user=user, confirmed=True).first()
    if session.session_key is not None and not session.exists(session.session_key):
        raise SessionEnded
    return device if device is not None and _code_checked(device, token) else None


@transaction.atomic
def authenticator_key(device: TOTPDevice) -> str:
    """The key an authenticator app is set up with by hand, as the QR code gives it, in
    groups of four to be typed ("ABCD EFGH ...")."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def backup_codes_create(*, user: User) -> list[str]:
    """Ten new single-use backup codes, replacing any old ones; shown to the user once."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="Backup codes", defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def backup_codes_renew(*, user: User, token: str) -> list[str] | None:
    """Ten new backup codes, for a code from her authenticator app, replacing the old ones;
    None if the code is not right. Not for a backup code: whoever holds her old codes could
    otherwise swap them for new ones. Read under lock, as checking a code saves the device."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    if device is None or not _code_checked(device, token):
        return None
    return backup_codes_create(user=user)


class CodeTaken(Exception):
    """Another organisation took the code after the form checked it (a double click on "Save")."""


@transaction.atomic
def organisation_save(*, organisation: Organisation, changed: Collection[str] = ()) -> Organisation:
    """A new organisation, or the fields ``changed`` of one that exists: the administrator's
    copy was read before he saved, and writing all of it back would undo another's change."""
    if organisation.pk is not None:
        current = Organisation.objects.select_for_update().get(pk=organisation.pk)
        for name in changed:
            setattr(current, name, getattr(organisation, name))
        organisation = current
    # The code's uniqueness is the database's to say: another save may have taken it since
    # the form looked, and a check here would only move the moment it can.
    organisation.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            organisation.save()
    except IntegrityError:
        taken = Organisation.objects.filter(code__iexact=organisation.code)
        if not taken.exclude(pk=organisation.pk).exists():
            raise
        raise CodeTaken from None
    return organisation
