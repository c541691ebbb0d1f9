"""Search and the child record. Children reach templates only through the shielding policy."""

from functools import partial
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.models import User
from accounts.permissions import Permission, permission_required, signed_in_user
from audit.models import Action
from audit.recorder import THROUGH_ANOTHER_RECORD, audit_also, audit_note
from contactpoint.confirmation import confirmation_page, confirmed
from contactpoint.routers import replica_reads
from directory import services
from directory.forms import InvolvementForm, SearchForm
from directory.models import Child, SensitiveCategory, Service
from directory.search import (
    child_by_contactpoint_id,
    child_for_record,
    children_search,
    search_rate_exceeded,
)
from shielding.policy import (
    audit_facts,
    lead_professional_named,
    visible_child,
    visible_search_result,
)
from shielding.services import override_visit

RATE_LIMITED = (
    "You have made a lot of searches in a short time, so searching is paused for a few "
    "minutes. If you need to find a child urgently, contact your local authority's "
    "ContactPoint team."
)


@never_cache
@permission_required(Permission.SEARCH_CHILDREN)
def search(request: HttpRequest) -> HttpResponse:
    """Criteria come by POST, so that no name is ever in a URL, a log or browser history."""
    viewer = signed_in_user(request)
    form = SearchForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"form": form, "searched": False}
    status = 200
    if request.method == "POST" and form.is_valid():
        if search_rate_exceeded(viewer, timezone.now()):
            form.add_error(None, RATE_LIMITED)
            audit_note(
                request,
                action=Action.SEARCH,
                search_criteria=form.audit_criteria(),
                detail={"refused": "rate_limit"},
            )
            return render(request, "directory/search.html", context, status=429)
        with replica_reads():
            if form.cleaned_data.get("contactpoint_id"):
                outcome = child_by_contactpoint_id(
                    contactpoint_id=form.cleaned_data["contactpoint_id"], viewer=viewer
                )
            else:
                outcome = children_search(criteria=form.criteria(), viewer=viewer)
        audit_note(
            request,
            action=Action.SEARCH,
            search_criteria=form.audit_criteria(),
            result_ids=outcome.contactpoint_ids,
            result_count=None if outcome.too_many else len(outcome.matches),
            detail={"too_many": True} if outcome.too_many else None,
        )
        context.update(
            searched=True,
            too_many=outcome.too_many,
            results=[
                visible_search_result(child, points, viewer) for child, points in outcome.matches
            ],
            cap=settings.SEARCH_RESULT_CAP,
        )
    return render(request, "directory/search.html", context, status=status)


def _record_child(request: HttpRequest, contactpoint_id: str) -> Child:
    child = child_for_record(contactpoint_id=contactpoint_id, viewer=signed_in_user(request))
    if child is None:
        raise Http404
    return child


@never_cache
@permission_required(Permission.VIEW_RECORDS)
def child_record(request: HttpRequest, contactpoint_id: str) -> HttpResponse:
    viewer = signed_in_user(request)
    with replica_reads():
        child = _record_child(request, contactpoint_id)
    spent = None
    # A HEAD request gets no page: it must not spend the one visit nobody would see.
    visit = request.GET.get("visit") if request.method != "HEAD" else None
    if visit:
        # An override shows the record unmasked for this one visit; a reload spends nothing.
        spent = override_visit(child=child, practitioner=viewer, token=visit)
    override = spent.override if spent is not None else None
    # An override's one visit shows the past addresses too: a link to them would end it.
    past = request.GET.get("past") == "1" or override is not None
    record = visible_child(child, viewer, past_addresses=past, overridden=bool(override))
    if visit and override is None and record.masked:
        messages.info(request, "The override has been used. The record is shielded again.")
    if spent is not None:
        audit_note(
            request,
            action=Action.OVERRIDE,
            **audit_facts(child),
            reason=spent.override.reason,
            detail={"past_addresses": True} if record.past_addresses else None,
        )
        # A record shielded to keep another child's home safe shows that home: her LA's
        # auditors read this override in her access history and reports, and no one else
        # learns from it who she is.
        if spent.protected is not None:
            audit_also(
                request,
                action=Action.OVERRIDE,
                **audit_facts(spent.protected),
                reason=spent.override.reason,
                detail={THROUGH_ANOTHER_RECORD: child.contactpoint_id},
            )
    else:
        audit_note(
            request,
            action=Action.VIEW_RECORD,
            **audit_facts(child),
            detail={"masked": record.masked}
            | ({"past_addresses": True} if record.past_addresses else {}),
            result_ids=[record.merged_into] if record.merged_into else [],
        )
    # Not through an override: the involvement pages refuse a record masked for her.
    takes_involvements = child.takes_involvements and override is None
    return render(
        request,
        "directory/record.html",
        {"record": record, "override": override, "takes_involvements": takes_involvements},
    )


def _services_for(viewer: User, *, held: int | None = None) -> Any:
    """Services a practitioner may say they work for: their own LA's non-sensitive services,
    and the one her involvement already names (``held``), so that a change of her CAF flag
    does not clear a service her LA's list no longer offers her (she moved LA, say)."""
    return (
        Service.objects.filter(
            Q(local_authority_id=viewer.organisation_id)
            | Q(local_authority__isnull=True)
            | Q(pk=held)
        )
        .exclude(kind__in=SensitiveCategory.values)
        .order_by("name")
    )


def _closed_to_involvements(
    request: HttpRequest, child: Child, *, ending: bool = False
) -> HttpResponseBase | None:
    """Where a record takes no involvements, nothing is saved and the practitioner is told why:
    sent to the record the child's was merged into (the same child, whose involvements and
    lead professional it holds), to the same page there (``ending``: the question before
    ending hers, which a shielded record still asks her), or back to the archived record."""
    if child.takes_involvements:
        return None
    audit_note(request, **audit_facts(child), detail={"refused": f"record_{child.status}"})
    if child.merged_into_id is not None:
        kept = child.record_kept()
        merged = (
            f"Record {child.contactpoint_id_display} has been merged into record "
            f"{kept.contactpoint_id_display}."
        )
        if ending:
            messages.info(request, f"{merged} Nothing has been ended: end your involvement here.")
            return redirect("directory:end_my_involvement", contactpoint_id=kept.contactpoint_id)
        messages.info(
            request, f"{merged} Nothing has been saved: record your involvement on this record."
        )
        return redirect("directory:my_involvement", contactpoint_id=kept.contactpoint_id)
    messages.info(
        request,
        "This record is archived. Involvements can no longer be recorded, changed or ended on it.",
    )
    return redirect("directory:child_record", contactpoint_id=child.contactpoint_id)


def _shielded_meanwhile(request: HttpRequest, child: Child) -> HttpResponseBase:
    """Her form was read before the record was shielded, or merged into a shielded one:
    nothing is saved, and she is sent to the masked record, which says nothing of where."""
    audit_note(request, **audit_facts(child), detail={"refused": "record_shielded"})
    messages.info(
        request,
        "This record has been shielded. Nothing has been saved: contact the local "
        "authority team shown on the record about your work with this child.",
    )
    return redirect("directory:child_record", contactpoint_id=child.contactpoint_id)


@never_cache
@permission_required(Permission.RECORD_OWN_INVOLVEMENT)
def my_involvement(request: HttpRequest, contactpoint_id: str) -> HttpResponseBase:
    """Add or change my own involvement with a child: role, service, CAF, lead professional."""
    viewer = signed_in_user(request)
    child = _record_child(request, contactpoint_id)
    record = visible_child(child, viewer)
    if record.masked and request.method == "POST":
        return _shielded_meanwhile(request, child)  # since her form was read, or merged
    if record.masked:
        raise Http404  # a shielded record's services are the LA team's to broker
    if closed := _closed_to_involvements(request, child):
        return closed
    mine = record.my_involvement
    initial = {}
    held = None
    if mine:
        initial = {
            "involvement": mine.id,
            "role": mine.role,
            "started_on": mine.started_on,
            "caf_held": mine.caf_held,
            "lead_professional": mine.lead_professional,
        }
        current = next(i for i in child.involvements.all() if i.pk == mine.id)
        initial["service"] = held = current.service_id
    form_for = partial(
        InvolvementForm,
        services=_services_for(viewer, held=held),
        born=child.date_of_birth,
        died=child.date_of_death,
    )
    form = form_for(request.POST if request.method == "POST" else None, initial=initial)
    refused: dict[str, str] = {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            recorded = services.involvement_record_mine(
                child=child,
                practitioner=viewer,
                role=data["role"],
                service=data["service"],
                started_on=data["started_on"],
                caf_held=data["caf_held"],
                lead_professional=data["lead_professional"],
                shown=data["involvement"],
            )
        except services.RecordClosed:
            # Merged or archived since the page was read: nothing was saved.
            return _closed_to_involvements(request, Child.objects.get(pk=child.pk)) or redirect(
                "directory:child_record", contactpoint_id=child.contactpoint_id
            )
        except services.RecordShielded:
            return _shielded_meanwhile(request, Child.objects.get(pk=child.pk))
        except services.InvolvementEnded:
            # What she typed, as a new involvement: recorded only if she saves it once more.
            refused, mine = {"refused": "involvement_ended"}, None
            form = form_for({**request.POST.dict(), "involvement": ""})
            form.full_clean()
            form.add_error(
                None,
                "You ended this involvement meanwhile, so nothing has been saved. If you still "
                "work with the child, check these details and save them to record your "
                "involvement again",
            )
        except services.LeadProfessionalTaken as taken:
            named = lead_professional_named(taken.holder) or "Another practitioner"
            form.add_error(
                "lead_professional",
                f"{named} is already the lead professional for this child. Agree the handover "
                "with them: they must stop being lead professional before you can become it.",
            )
        else:
            audit_note(
                request,
                action=Action.CHANGE,
                **audit_facts(child),
                detail={"change": "own_involvement"},
            )
            messages.success(request, "Your involvement with this child has been saved")
            if recorded.lead_taken_from is not None:
                named = lead_professional_named(recorded.lead_taken_from)
                messages.success(
                    request,
                    f"You are now the lead professional, in place of {named}, whose "
                    "ContactPoint access has ended.",
                )
            return redirect("directory:child_record", contactpoint_id=child.contactpoint_id)
    audit_note(
        request,
        action=Action.VIEW_RECORD,
        **audit_facts(child),
        detail={"page": "own_involvement"} | refused,
    )
    return render(
        request, "directory/involvement.html", {"form": form, "record": record, "mine": mine}
    )


@never_cache
@permission_required(Permission.RECORD_OWN_INVOLVEMENT)
def end_my_involvement(request: HttpRequest, contactpoint_id: str) -> HttpResponseBase:
    """Asks first (GOV.UK's check before a destructive action): the child's record stops
    naming her, and her lead professional role, if she held it, goes with it."""
    viewer = signed_in_user(request)
    child = _record_child(request, contactpoint_id)
    record = visible_child(child, viewer)
    # A merged record has none (they moved to the record kept, which checks them in turn),
    # and says on its own page which record it was merged into.
    if record.masked and record.involved_since is None and child.merged_into_id is None:
        raise Http404  # a shielded record says nothing of who works with the child
    if closed := _closed_to_involvements(request, child, ending=True):
        return closed
    if not confirmed(request):
        mine = record.my_involvement
        if mine is None and not record.masked:
            return _no_involvement_to_end(request, child)
        audit_note(
            request,
            action=Action.VIEW_RECORD,
            **audit_facts(child),
            detail={"page": "confirm_end_own_involvement"},
        )
        name = " ".join(filter(None, (record.given_name, record.family_name)))
        return confirmation_page(
            request,
            caption=name,
            # The question names the record by its ID: titles, which repeat it, never name a child.
            question="Are you sure you want to end your involvement with record "
            f"{record.contactpoint_id_display}?",
            consequences=[
                f"The record will no longer show you as working with {name}"
                + (", or as their lead professional." if record.involved_as_lead else "."),
                "Your involvement stays in the child's history. If you work with the child "
                "again, record your involvement again.",
            ],
            button="End my involvement",
            cancel_url=reverse("directory:child_record", args=[child.contactpoint_id]),
        )
    try:
        ended = services.involvement_end_mine(
            child=child, practitioner=viewer, ended_on=timezone.localdate()
        )
    except services.RecordClosed:  # merged or archived since the page was read
        closed = _closed_to_involvements(request, Child.objects.get(pk=child.pk), ending=True)
        return closed or redirect("directory:child_record", contactpoint_id=child.contactpoint_id)
    if ended:
        audit_note(
            request,
            action=Action.CHANGE,
            **audit_facts(child),
            detail={"change": "end_own_involvement", "involvement_ids": [i.pk for i in ended]},
        )
        messages.success(request, "Your involvement has ended. It stays in the child's history.")
        return redirect("directory:child_record", contactpoint_id=child.contactpoint_id)
    return _no_involvement_to_end(request, child)


def _no_involvement_to_end(request: HttpRequest, child: Child) -> HttpResponseBase:
    # Nothing changed: the request is logged as what it was, an access to the record.
    audit_note(request, **audit_facts(child), detail={"ended": "nothing current"})
    messages.info(request, "You have no current involvement with this child to end.")
    return redirect("directory:child_record", contactpoint_id=child.contactpoint_id)
