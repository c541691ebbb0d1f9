"""Shielding officers' screens, the override warning, and requests for brokered contact."""

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.models import User
from accounts.permissions import Permission, permission_required, signed_in_user
from audit.models import Action
from audit.recorder import audit_note
from contactpoint.telephone_numbers import telephone_number_is_valid
from directory.models import Child
from directory.search import child_for_record, findable_children
from shielding import services
from shielding.forms import (
    ContactOutcomeForm,
    ContactRequestForm,
    OverrideForm,
    ShieldForm,
    ShieldLiftForm,
    ShieldReviewForm,
    SignOffForm,
)
from shielding.models import ContactRequest, Shield, ShieldOverride
from shielding.policy import (
    SHARED_BY_AT_MOST,
    audit_facts,
    is_masked_for,
    is_shielded,
    justification_shown,
    may_lift,
    shared_with,
    sharing_fingerprint,
    sharing_told,
    shields_kept_for,
    visible_child,
)


def _child(request: HttpRequest, contactpoint_id: str) -> Child:
    child = child_for_record(contactpoint_id=contactpoint_id, viewer=signed_in_user(request))
    if child is None:
        raise Http404
    return child


def _own_la_child(request: HttpRequest, contactpoint_id: str) -> Child:
    """Shielding officers act on their own LA's children; others' do not exist for them."""
    child = _child(request, contactpoint_id)
    if child.local_authority_id != signed_in_user(request).organisation_id:
        raise Http404
    return child


def _record_url(child: Child) -> str:
    return reverse("directory:child_record", args=[child.contactpoint_id])


# Shield, review, lift -------------------------------------------------------------------------


def _shielded_message(alongside: int) -> str:
    if not alongside:
        return "The record is shielded"
    one = alongside == 1
    return (
        f"The record is shielded, and so {'is' if one else 'are'} {alongside} "
        f"record{'' if one else 's'} that share{'s' if one else ''} a home or a parent or carer "
        f"with this child. Review {'it' if one else 'them'}: {'it is' if one else 'they are'} "
        "listed on this child's shield page"
    )


def _for_sharing_why(shield: Shield, officer: User) -> str:
    """Why a shield for sharing is on the record, as the officer may be told it: another
    LA's officer is not told that a shielded child lives there (``sharing_told``)."""
    if sharing_told(shield, officer):
        return "for sharing a home or carer with a shielded child"
    return "to keep another record's details safe"


def _shielded_meanwhile(
    request: HttpRequest, child: Child, *, in_force: Shield | None = None
) -> HttpResponseBase:
    audit_note(request, **audit_facts(child), detail={"refused": "shielded_since"})
    message = "Someone else shielded this record a moment ago"
    own_below = "Nothing has been saved: make the shield the record's own below if it needs one"
    if in_force is not None and in_force.for_sharing:
        why = _for_sharing_why(in_force, signed_in_user(request))
        message = f"This record was shielded a moment ago, {why}. {own_below}"
    elif in_force is not None and in_force.automatic:
        message = f"{message}. {own_below}"
    messages.error(request, message)
    return redirect(reverse("shielding:shield", args=[child.contactpoint_id]))


def _lifted_meanwhile(request: HttpRequest, child: Child) -> HttpResponseBase:
    return _refused_meanwhile(
        request, child, "lifted_since", "Someone else lifted this shield meanwhile"
    )


def _refused_meanwhile(
    request: HttpRequest, child: Child, refused: str, what: str, *, about: Child | None = None
) -> HttpResponseBase:
    """Back to the child's shield page, told that nothing was changed; ``about``: the other
    LA's record, shielded for her, whose shield her officer's decision was about."""
    detail = {"refused": refused, **_protecting_elsewhere([about] if about else [])}
    audit_note(request, **audit_facts(child), detail=detail)
    messages.error(request, f"{what}. Nothing has been changed.")
    return redirect(reverse("shielding:shield", args=[child.contactpoint_id]))


def _kept_in_sight(shields: QuerySet[Shield], officer: User) -> QuerySet[Shield]:
    """Those on records she can open: an archived one stays shielded, out of sight, until it
    is purged, and its page is not found. A merged-away one holds nothing of hers: the shield
    carried to the record it joined is the one she reviews."""
    findable = findable_children(officer, timezone.localdate())
    return shields.filter(child__in=findable, child__merged_into__isnull=True)


def _lifted_message(child: Child, officer: User) -> str:
    """Her shield lifted, the records shielded to keep her details safe stay so until her
    officer lifts each (her shield page lists them): she is told how many."""
    kept = Shield.objects.filter(lifted_at__isnull=True, for_sharing=True, protects=child)
    still = _kept_in_sight(kept, officer).count()
    if not still:
        return "The shield has been lifted"
    one = still == 1
    return (
        f"The shield has been lifted. {still} record{'' if one else 's'} shielded to keep this "
        f"child's details safe {'is' if one else 'are'} still shielded: review "
        f"{'it' if one else 'them'} on this child's shield page"
    )


def _sharing_changed(form: ShieldLiftForm, *, told: bool) -> None:
    """A lift of a shield for sharing refused: the homes or carers changed since the page was
    shown. Only an officer ``sharing_told`` hears that there is a child it shares them with."""
    whose = "of the child it shares them with" if told else "the details its shield keeps safe"
    form.add_error(
        None,
        f"The homes or carers of this record, or {whose}, have changed since this page "
        "was shown. Look at them again before lifting.",
    )


def _protecting_elsewhere(records: list[Child]) -> dict[str, list[str]]:
    """Other LAs' records shielded to keep a child of hers safe, as her officer's page event
    names them: in its detail, which only her LA's auditors and national ones read, not in its
    results, where the records' own LA's auditors would find the event in their access history
    (a subject access request) and with it whom their shield protects."""
    return (
        {"protecting_elsewhere": [record.contactpoint_id for record in records]} if records else {}
    )


def _review_initial() -> dict[str, date]:
    """The next review date a shield's forms offer: six months on."""
    return {"review_on": services.default_review_date(timezone.localdate())}


@never_cache
@permission_required(Permission.MANAGE_SHIELDS)
def shield(request: HttpRequest, contactpoint_id: str) -> HttpResponseBase:
    officer = signed_in_user(request)
    child = _own_la_child(request, contactpoint_id)
    in_force = next((s for s in child.shields.all() if s.lifted_at is None), None)
    record = visible_child(child, officer)
    mentioned: list[Child] = []  # other children named on the page
    refused = ""  # a decision the officer may not take, for the page's event
    initial = _review_initial()
    posted = request.POST if request.method == "POST" else None
    decided = posted is not None and (posted.get("form") == "review" or "decision" in posted)
    # Her page was shown before a colleague lifted the shield, or shielded the record: the
    # form she sent is not the one the record now takes.
    if decided and in_force is None:
        return _lifted_meanwhile(request, child)
    # (The own-sake form beside a shield the service put on names its fields apart:
    # "own-reason".)
    if (
        posted is not None
        and not decided
        and in_force is not None
        and (not in_force.automatic or "own-reason" not in posted)
    ):
        return _shielded_meanwhile(request, child, in_force=in_force)
    reviewing = decided and in_force is not None
    # A shield the service put on (for sharing a home with a shielded child, say) can also be
    # made the officer's own, for the child itself (and then followed to its own family).
    own_form = None
    if in_force is None or in_force.automatic:
        # Beside the review form, its fields named apart (one id per field on the page).
        own_form = ShieldForm(
            None if reviewing else posted, initial=initial, prefix="own" if in_force else None
        )
    review_form = (
        ShieldReviewForm(posted if reviewing else None, initial=initial) if in_force else None
    )
    if own_form is not None and posted is not None and not reviewing and own_form.is_valid():
        try:
            _, alongside_shielded = services.shield_create(
                child=child, by=officer, **own_form.cleaned_data
            )
        except services.ShieldedSince:  # its event says shielded, as the record is now
            return _shielded_meanwhile(request, Child.objects.get(pk=child.pk))
        except services.MergedRecord as merged:
            mentioned.append(merged.merged_into)
            own_form.add_error(
                None,
                f"This record was merged into {merged.merged_into.contactpoint_id_display}. "
                "Shield that record instead: its shield covers this one too",
            )
        else:
            audit_note(
                request,
                action=Action.CHANGE,
                **audit_facts(child),
                detail={"change": "shield"},
                result_ids=[other.contactpoint_id for other in alongside_shielded],
            )
            messages.success(request, _shielded_message(len(alongside_shielded)))
            return redirect(_record_url(child))
    if review_form is not None and in_force is not None and reviewing and review_form.is_valid():
        data = review_form.cleaned_data
        try:
            if data["decision"] == "lift":
                services.shield_lift(
                    shield=in_force,
                    by=officer,
                    note=data["note"],
                    seen=request.POST.get("seen", ""),
                )
                messages.success(request, _lifted_message(child, officer))
            else:
                services.shield_review(
                    shield=in_force, by=officer, review_on=data["review_on"], note=data["note"]
                )
                messages.success(request, "The shield has been reviewed")
        except services.LiftedSince:
            return _lifted_meanwhile(request, child)
        except services.ChangedSince:  # made an officer's own: its event says so
            fresh = Child.objects.get(pk=child.pk)
            return _shielded_meanwhile(request, fresh, in_force=fresh.shields.get(lifted_at=None))
        except services.NotTheirsToLift:
            refused = "not_theirs_to_lift"
            review_form.add_error(
                "decision",
                "You cannot lift this shield: it keeps another record's details safe, and only "
                "the team that keeps that record's shield can lift it. They review it on "
                "their own pages",
            )
        except services.SharingChanged:
            _sharing_changed(review_form, told=sharing_told(in_force, officer))
        else:
            audit_note(
                request,
                action=Action.CHANGE,
                **audit_facts(child),
                detail={"change": f"shield_{data['decision']}"},
            )
            # Her brother's own shield lifted, hers follows him again: he still lives at her
            # refuge (``shield_lift``). The officer reviews that shield on this page.
            again = Shield.objects.filter(child=child, lifted_at__isnull=True).first()
            if data["decision"] != "lift" or again is None:
                return redirect(_record_url(child))
            messages.success(
                request,
                f"The record is still shielded, {_for_sharing_why(again, officer)}. "
                "Review that shield here",
            )
            return redirect(reverse("shielding:shield", args=[child.contactpoint_id]))
    # The error summary is the submitted form's.
    form: ShieldForm | ShieldReviewForm | None = (
        review_form if reviewing or own_form is None else own_form
    )
    alongside = services.records_alongside(child)
    kept = [
        _kept_row(shield, officer)
        for shield in _kept_in_sight(shields_kept_for(child, alongside=alongside.sharing), officer)
    ]
    audit_note(
        request,
        action=Action.VIEW_RECORD,
        **audit_facts(child),
        detail={
            "page": "shield",
            **({"refused": refused} if refused else {}),
            **_protecting_elsewhere([shield.child for shield, *_, theirs in kept if theirs]),
        },
        result_ids=[other.contactpoint_id for other, _ in alongside.shown]
        + [shield.child.contactpoint_id for shield, *_, theirs in kept if not theirs]
        + [other.contactpoint_id for other in mentioned],
    )
    return render(
        request,
        "shielding/shield.html",
        {
            "form": form,
            "review_form": review_form,
            # What the officer sees now, for a shield for sharing: a lift stands while it is so.
            # Only for one who may lift it: to anyone else, the field would say what it is for.
            "seen": sharing_fingerprint(child.pk, in_force.protects_id)
            if in_force is not None and in_force.protects_id and may_lift(in_force, officer)
            else "",
            "own_form": own_form,
            "record": record,
            "shield": in_force,
            "sharing_told": in_force is not None and sharing_told(in_force, officer),
            "justification": justification_shown(in_force, officer) if in_force else "",
            # IDs and whether each is shielded: nothing else of those children reaches the page.
            "alongside": [
                (other.contactpoint_id, other.contactpoint_id_display, shielded)
                for other, shielded in alongside.shown
            ],
            "alongside_more": alongside.total - len(alongside.shown),
            "kept_for_her": [(url, shown_id, theirs) for _, url, shown_id, theirs in kept],
            "too_common": alongside.too_common,
            "shared_by_at_most": SHARED_BY_AT_MOST,
        },
    )


@never_cache
@permission_required(Permission.MANAGE_SHIELDS)
def shield_protecting(request: HttpRequest, contactpoint_id: str) -> HttpResponseBase:
    """Another LA's record, shielded for sharing a home or carer with a child of hers: its own
    LA's officers may not lift the shield (``may_lift``), so she may lift it here. She sees
    only what of her child's the record shows (``shared_with``), and the record as any
    practitioner outside its LA does: not its own homes and carers, which could lead to
    someone else.

    That the shield is kept for another LA's child is not the record's LA's to know: its
    events are her child's, naming the record only in their detail (``_protecting_elsewhere``),
    and she does not keep the shield (a new review date), which its team would see; its own
    team reviews it as any shield the service put on."""
    officer = signed_in_user(request)
    child = _child(request, contactpoint_id)
    if child.local_authority_id == officer.organisation_id:
        return redirect(reverse("shielding:shield", args=[child.contactpoint_id]))
    in_force = next((s for s in child.shields.all() if s.lifted_at is None), None)
    # Only a shield for sharing with a child still held: once she is purged, nothing is left
    # for it to protect, and the record's own team decides (``may_lift``).
    protected = in_force.protects if in_force is not None and in_force.for_sharing else None
    if in_force is None or protected is None or not may_lift(in_force, officer):
        raise Http404
    about = {**audit_facts(protected), "detail": _protecting_elsewhere([child])}
    posted = request.POST if request.method == "POST" else None
    form = ShieldLiftForm(posted)
    if posted is not None and form.is_valid():
        try:
            services.shield_lift(
                shield=in_force, by=officer, note=form.cleaned_data["note"],
                seen=posted.get("seen", ""),
            )  # fmt: skip
        except services.LiftedSince:
            what = "Someone else lifted this shield meanwhile"
            return _refused_meanwhile(request, protected, "lifted_since", what, about=child)
        except services.ChangedSince:  # made its own LA's officer's: not hers to lift
            what = "The shield on this record has changed since this page was shown"
            return _refused_meanwhile(request, protected, "changed_since", what, about=child)
        except services.SharingChanged:
            _sharing_changed(form, told=True)
        else:
            about["detail"] |= {"change": "shield_lift", "page": "shield_protecting"}
            audit_note(request, action=Action.CHANGE, **about)
            return _lifted_protecting(request, child, protected, officer)
    about["detail"] |= {"page": "shield_protecting"}
    audit_note(request, action=Action.VIEW_RECORD, **about)
    return render(
        request,
        "shielding/shield_protecting.html",
        {
            "form": form,
            "record": visible_child(child, officer),
            "shield": in_force,
            # Her ID only: nothing else of hers reaches the page.
            "protected_id": protected.contactpoint_id,
            "protected_id_display": protected.contactpoint_id_display,
            "protected_shielded": is_shielded(protected),
            "shared": shared_with(protected, child),
            "seen": sharing_fingerprint(child.pk, protected.pk),
        },
    )


def _lifted_protecting(
    request: HttpRequest, record: Child, protected: Child, officer: User
) -> HttpResponseBase:
    """Her officer lifted another LA's record's shield for her: the record may still share a
    home or carer with a second shielded child, and be shielded again at once for that child
    (``shield_lift``). Only an officer who sees that child in full is told why, and sent to
    review it; to any other, that it is still shielded is all the record's page shows too."""
    again = Shield.objects.filter(child=record, lifted_at__isnull=True).first()
    if again is None:
        messages.success(request, "The shield has been lifted")
    elif sharing_told(again, officer):
        messages.success(
            request,
            "The shield has been lifted. The record is still shielded, "
            f"{_for_sharing_why(again, officer)}. Review that shield here",
        )
        return redirect(reverse("shielding:shield_protecting", args=[record.contactpoint_id]))
    else:
        messages.success(
            request,
            "The shield has been lifted. The record is still shielded, by a shield that is not "
            "yours to review",
        )
    return redirect(reverse("shielding:shield", args=[protected.contactpoint_id]))


def _kept_row(shield: Shield, officer: User) -> tuple[Shield, str, str, bool]:
    """A shield, where she reviews it, its record's ID, and whether that is another LA's
    record (shielded to protect a child of hers)."""
    ours = shield.child.local_authority_id == officer.organisation_id
    page = "shielding:shield" if ours else "shielding:shield_protecting"
    url = reverse(page, args=[shield.child.contactpoint_id])
    return shield, url, shield.child.contactpoint_id_display, not ours


@permission_required(Permission.MANAGE_SHIELDS)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The LA team's work: shields due for review, overrides and contact requests waiting."""
    officer = signed_in_user(request)
    today = timezone.localdate()
    due = (
        Shield.objects.filter(
            lifted_at__isnull=True,
            review_on__lte=today + timedelta(days=14),
            child__local_authority=officer.organisation,
            # Only records she can open: an archived one stays shielded, out of sight.
            child__in=findable_children(officer, today),
        )
        .select_related("child")
        .order_by("review_on")
    )
    audit_note(
        request,
        action=Action.PAGE_VIEW,
        detail={"page": "shielding_dashboard"},
        result_ids=[shield.child.contactpoint_id for shield in due],
    )
    return render(
        request,
        "shielding/dashboard.html",
        {
            "due": [
                (shield, shield.child.contactpoint_id, shield.child.contactpoint_id_display)
                for shield in due
            ],
            "today": today,
            "overrides_waiting": _overrides(officer).filter(reviewed_at__isnull=True).count(),
            "requests_waiting": _requests(officer).filter(handled_at__isnull=True).count(),
        },
    )


# Overrides ------------------------------------------------------------------------------------


@never_cache
@permission_required(Permission.OVERRIDE_SHIELD)
def override(request: HttpRequest, contactpoint_id: str) -> HttpResponseBase:
    """The warning and the reason; then one visit of the unmasked record."""
    practitioner = signed_in_user(request)
    child = _child(request, contactpoint_id)
    if not is_masked_for(child, practitioner):
        return redirect(_record_url(child))
    form = OverrideForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        # Through a record merged into another, it is the kept record's shield that is
        # overridden: her details are there, and so is the team that signs it off.
        child = child.record_kept()
        requested, token = services.override_request(
            child=child, practitioner=practitioner, reason=form.cleaned_data["reason"]
        )
        audit_note(
            request,
            action=Action.CHANGE,
            **audit_facts(child),
            reason=requested.reason,
            detail={"override_requested": requested.pk},
        )
        return redirect(f"{_record_url(child)}?visit={token}")
    audit_note(
        request,
        action=Action.VIEW_RECORD,
        **audit_facts(child),
        detail={"page": "override_warning"},
    )
    return render(
        request,
        "shielding/override.html",
        {"form": form, "record": visible_child(child, practitioner)},
    )


def _overrides(officer: User) -> Any:
    return ShieldOverride.objects.filter(child__local_authority=officer.organisation)


@permission_required(Permission.MANAGE_SHIELDS)
def override_queue(request: HttpRequest) -> HttpResponse:
    return _override_queue_page(request, signed_in_user(request))


def _override_queue_page(
    request: HttpRequest, officer: User, refused: tuple[int, str, str] | None = None
) -> HttpResponse:
    """The overrides waiting for sign-off; ``refused``: the override whose sign-off was not
    saved, the error and the note as typed, shown at that row (GOV.UK's error pattern)."""
    waiting = (
        _overrides(officer)
        .filter(reviewed_at__isnull=True)
        .select_related("child", "practitioner", "practitioner__organisation")
        .order_by("requested_at")
    )
    audit_note(
        request,
        action=Action.PAGE_VIEW,
        detail={"page": "override_queue"},
        result_ids=[item.child.contactpoint_id for item in waiting],
    )
    # A record archived since cannot be opened: the override is still signed off.
    openable = set(
        findable_children(officer, timezone.localdate())
        .filter(pk__in=[item.child_id for item in waiting])
        .values_list("pk", flat=True)
    )
    rows = [(item, item.child_id in openable) for item in waiting]
    return render(
        request,
        "shielding/overrides.html",
        {
            "overrides": rows,
            "refused_pk": refused[0] if refused else None,
            "refused_error": refused[1] if refused else "",
            "refused_note": refused[2] if refused else "",
            "page_has_errors": refused is not None,
        },
    )


def _sign_off_refused(request: HttpRequest, item: ShieldOverride, refused: str) -> None:
    """The event says the sign-off of this override, naming its child, was refused."""
    audit_note(
        request,
        action=Action.ADMIN_ACTION,
        **audit_facts(item.child),
        detail={"action": "override_sign_off", "override": item.pk, "refused": refused},
    )


def _signed_off_meanwhile(request: HttpRequest, item: ShieldOverride) -> HttpResponseBase:
    _sign_off_refused(request, item, "signed_off")
    messages.info(request, "Someone else signed off this override meanwhile. Their note stands.")
    return redirect("shielding:override_queue")


@permission_required(Permission.MANAGE_SHIELDS)
def override_sign_off(request: HttpRequest, pk: int) -> HttpResponseBase:
    officer = signed_in_user(request)
    item = get_object_or_404(_overrides(officer), pk=pk)
    if item.reviewed_at is not None:
        # Her queue was shown before a colleague signed it off.
        return _signed_off_meanwhile(request, item)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        error = "The note must be 2,000 characters or fewer, as plain text"
        typed = request.POST.get("note", "").replace("\x00", "")
        queue = _override_queue_page(request, officer, (item.pk, error, typed))
        # The queue's event, with the children it lists, says what was refused.
        _sign_off_refused(request, item, "note_invalid")
        return queue
    try:
        services.override_sign_off(override=item, by=officer, note=form.cleaned_data["note"])
    except services.OverrideSignedOff:
        return _signed_off_meanwhile(request, item)
    audit_note(
        request,
        action=Action.ADMIN_ACTION,
        **audit_facts(item.child),
        detail={"action": "override_sign_off", "override": pk},
    )
    messages.success(request, "The override has been signed off")
    return redirect("shielding:override_queue")


# Brokered contact -----------------------------------------------------------------------------


@never_cache
@permission_required(Permission.VIEW_RECORDS)
def contact_request(request: HttpRequest, contactpoint_id: str) -> HttpResponseBase:
    """ "I am X from service Y and need to contact this child because…" — to the LA team."""
    requester = signed_in_user(request)
    child = _child(request, contactpoint_id)
    record = visible_child(child, requester)
    if not record.shielded:
        if request.method == "POST":
            # Lifted while she wrote: say so, rather than drop what she wrote without a word;
            # her event names the child, as other refusals' do.
            audit_note(request, **audit_facts(child), detail={"refused": "no_longer_shielded"})
            messages.info(
                request,
                "This record is no longer shielded, so your request has not been sent. "
                "The record now shows who works with the child.",
            )
        return redirect(_record_url(child))
    # Her work phone, unless it was saved before the rule it would now be refused by.
    phone = requester.phone if telephone_number_is_valid(requester.phone) else ""
    form = ContactRequestForm(
        request.POST if request.method == "POST" else None,
        initial={"service": requester.job_title, "reply_to": phone or requester.email},
    )
    if request.method == "POST" and form.is_valid():
        # To the team that keeps her shield: for a record merged into another, the kept one's,
        # which the event names as an override's does (with the ID she came by).
        kept = child.record_kept()
        made = services.contact_request_create(child=kept, requester=requester, **form.cleaned_data)
        audit_note(
            request,
            action=Action.BROKERED_CONTACT,
            **audit_facts(kept),
            reason=made.reason,
            result_ids=[child.contactpoint_id] if kept != child else [],
        )
        team = record.contact_team.name if record.contact_team else "the local authority"
        messages.success(request, f"Your request has been sent to {team}. They will contact you.")
        return redirect(_record_url(child))
    audit_note(
        request, action=Action.VIEW_RECORD, **audit_facts(child), detail={"page": "contact_request"}
    )
    return render(
        request,
        "shielding/contact_request.html",
        {"form": form, "record": record, "requester": requester},
    )


def _requests(officer: User) -> Any:
    return ContactRequest.objects.filter(child__local_authority=officer.organisation)


@permission_required(Permission.BROKER_CONTACT)
def contact_queue(request: HttpRequest) -> HttpResponse:
    officer = signed_in_user(request)
    waiting = (
        _requests(officer)
        .filter(handled_at__isnull=True)
        .select_related("child", "requester", "requester__organisation")
        .order_by("requested_at")
    )
    audit_note(
        request,
        action=Action.PAGE_VIEW,
        detail={"page": "contact_queue"},
        result_ids=[item.child.contactpoint_id for item in waiting],
    )
    return render(request, "shielding/contact_requests.html", {"requests": waiting})


def _answered_meanwhile(request: HttpRequest, child: Child, pk: int) -> HttpResponseBase:
    audit_note(request, **audit_facts(child), detail={"refused": "answered_meanwhile"})
    messages.info(request, "This request was answered meanwhile. Its outcome has not been changed.")
    return redirect("shielding:contact_request", pk=pk)


@never_cache
@permission_required(Permission.BROKER_CONTACT)
def contact_request_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The request beside the full record, so the team can broker contact; then the outcome."""
    officer = signed_in_user(request)
    item = get_object_or_404(_requests(officer).select_related("requester"), pk=pk)
    # A record archived since the request was sent is out of sight (no link, no details), but
    # the request is still answered: otherwise it would wait in the queue until the purge.
    shown = child_for_record(contactpoint_id=item.child.contactpoint_id, viewer=officer)
    child = shown or item.child
    form = ContactOutcomeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and item.handled_at is not None:
        # Her page was shown before a colleague recorded the outcome.
        return _answered_meanwhile(request, child, pk)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_request_resolve(
                request=item,
                by=officer,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except services.ContactRequestAnswered:
            return _answered_meanwhile(request, child, pk)
        audit_note(
            request,
            action=Action.BROKERED_CONTACT,
            **audit_facts(child),
            detail={"outcome": form.cleaned_data["outcome"]},
        )
        messages.success(request, "The outcome has been recorded")
        return redirect("shielding:contact_queue")
    audit_note(
        request,
        action=Action.VIEW_RECORD,
        **audit_facts(child),
        detail={"page": "contact_request", "request": pk},
    )
    return render(
        request,
        "shielding/contact_request_detail.html",
        {
            "item": item,
            "form": form,
            "record": visible_child(shown, officer) if shown else None,
        },
    )
