"""Data managers' screens: upload a feed file, work the review queue, merge and unmerge."""

import hashlib
from collections import Counter
from datetime import date
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.models import Organisation, User
from accounts.permissions import Permission, permission_required, signed_in_user
from audit.models import Action
from audit.recorder import audit_note
from contactpoint.confirmation import confirmation_page, confirmed
from contactpoint.govuk_forms import DateInputField, GovukMessages
from directory.feed_import import (
    ImportOutcome,
    NoLocalAuthority,
    ReviewChanged,
    ReviewDecided,
    RowRefused,
    data_manager_la,
    decision_shielded,
    feed_check,
    feed_import,
    feed_unreadable,
    feed_upload_queue,
    numbers_held_elsewhere,
    oldest_extract,
    purged_numbers_carried,
    refused_because,
    review_decide,
    review_version,
    row_from_record,
)
from directory.feeds import FEED_SOURCES, LA_FEED_SOURCES, FeedRow, RowErrors, error_report
from directory.forms import ContactPointIdField
from directory.models import (
    EXTRACTED_BEFORE,
    GIVEN_SINCE,
    Child,
    FeedImport,
    FeedUpload,
    Gender,
    MatchReview,
    Merge,
    Source,
    SourceRecord,
)
from directory.search import child_for_record, findable_children
from directory.services import (
    MergedOnSince,
    NotSeparable,
    ShieldedAcrossLas,
    children_merge,
    children_unmerge,
    source_record_separate,
)
from shielding.policy import (
    HIDDEN,
    NumberHeld,
    ReviewShown,
    audit_facts,
    kept_within_la,
    numbers_held_shown,
    record_named,
    review_shown,
    rows_resembling_shielded,
    shielded_among,
)

Row = TypeVar("Row", bound=Model)


class UploadForm(GovukMessages, forms.Form):
    source = forms.ChoiceField(
        label="Which feed",
        choices=[("", "Choose a feed"), *((s.value, s.label) for s in FEED_SOURCES)],
        error_messages={"required": "Select which feed the file comes from"},
    )
    local_authority = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(kind=Organisation.Kind.LOCAL_AUTHORITY),
        empty_label=None,
        error_messages={
            "required": "Select the local authority the file comes from",
            "invalid_choice": "Select the local authority the file comes from",
        },
    )
    file = forms.FileField(
        label="The file (CSV, UTF-8, one header row)",
        error_messages={"required": "Select a file to upload", "empty": "The file is empty"},
    )
    # Asked, not assumed: files arrive out of order, and taking the day one arrives as its
    # extract date would let an old file imported late move children back to old homes.
    extracted_on = DateInputField(
        label="Date the file was extracted",
        help_text="The day the feed's system produced the file (its supplier says, often in "
        "the file's name). For example, 27 3 2026",
    )
    skip_invalid = forms.BooleanField(
        label="Import the valid rows and leave out the rows with errors", required=False
    )

    def __init__(self, *args: Any, la: Organisation | None, **kwargs: Any) -> None:
        """``la``: the uploader's local authority (``data_manager_la``), whose own feeds and
        name are the only ones offered; None for the national team, offered every feed and LA."""
        super().__init__(*args, **kwargs)
        if la is None:
            return
        source = self.fields["source"]
        assert isinstance(source, forms.ChoiceField)
        source.choices = [("", "Choose a feed"), *((s.value, s.label) for s in LA_FEED_SOURCES)]
        source.error_messages["invalid_choice"] = NATIONAL_FEED
        # Their own LA; none for a partner organisation's (it holds no LA's files).
        organisation = self.fields["local_authority"]
        assert isinstance(organisation, forms.ModelChoiceField)
        organisation.queryset = Organisation.objects.filter(
            kind=Organisation.Kind.LOCAL_AUTHORITY, pk=la.pk
        )

    def clean_extracted_on(self) -> date:
        extracted_on: date = self.cleaned_data["extracted_on"]
        if extracted_on > timezone.localdate():
            raise forms.ValidationError(
                "The date the file was extracted must be today or in the past"
            )
        if extracted_on < (oldest := oldest_extract()):
            raise forms.ValidationError(
                "The date the file was extracted must be within the last year, on or after "
                f"{oldest:%-d %B %Y}"
            )
        return extracted_on

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.FEED_UPLOAD_MAX_BYTES:
            raise forms.ValidationError("The file must be smaller than 50 MB")
        if "\x00" in (upload.name or ""):
            raise forms.ValidationError("The file's name must not contain a null character")
        return upload


NATIONAL_FEED = (
    "Select a school census or local authority system file: child benefit and GP registration "
    "files are uploaded by the national data-quality team"
)
ACROSS_LAS = (
    "A shielded record can only be merged with a record of its own local authority, and so can "
    "a record that other records are still shielded to protect: ask that local authority's "
    "shielding team"
)
NO_LONGER_WAITING = (
    "That feed record is no longer waiting for review: it is removed when the record it was "
    "most likely about is purged under the lifecycle rules. Your decision was not recorded"
)
ARCHIVED_OUT_OF_SIGHT = (
    "The best match for this row is a record archived more than a year ago, which you cannot see. "
    "It is most likely that person, so it cannot be made a new record: set it aside with that "
    "record. It then leaves the records to review, and is removed with that record when the "
    "record is purged"
)
DECISION_NEEDED = "Select one of the records, make a new record, or decide later"
# A row kept from before phones were checked: its carer is recorded without it.
DECIDED_WITHOUT_PHONE = (
    "Your decision has been recorded. The row's {column} is not a telephone number, so it was "
    "not added to the record"
)
# A new record made from a row whose NHS number or UPN another record holds: the number
# ("NHS number, 9434765005") and its holder as the policy lets the page say them
# (``numbers_held_shown``).
NUMBER_KEPT = (
    "The new record does not have the row's {number}, as a number is one child's: it stays "
    "with the record that held it{holder}. If it is the new child's, ask whoever sent the row "
    "to check it"
)
NUMBER_NAMED = {"nhs_number": "NHS number", "upn": "unique pupil number"}
# A number the row carries that a record since purged held: given to no record (on the
# review page, then in the decision's outcome).
NUMBER_PURGED_SHOWN = (
    "The row's {number} was held by a record that has since been purged, and cannot be given "
    "to another: the record you choose, or a new one, will not have it"
)
NUMBER_PURGED = (
    "The record was not given the row's {number}: it was held by a record that has since been "
    "purged, and cannot be given to another. Ask whoever sent the row to check it"
)
# Beside "make a new record", of such a row.
NUMBER_HELD = "The new record will not have the row's {number}: {kept}"


def _number_held_said(held: NumberHeld, *, decided: bool) -> str:
    """``held`` as the review page (``decided``: the decision's outcome) says it."""
    number = NUMBER_NAMED[held.kind] + (f", {held.value}" if held.value else "")
    if decided:
        return NUMBER_KEPT.format(
            number=number, holder=f", ContactPoint ID {held.holder}" if held.holder else ""
        )
    kept = f"it stays with {held.holder}" if held.holder else "another record keeps it"
    return NUMBER_HELD.format(number=number, kept=kept)


NOT_APPLIED_MOVED_ON = (
    "Your decision has been recorded. The row's details were not added to the record: "
    "another local authority's system has sent this child in a file extracted after it, so "
    "its details are newer"
)
CHANGED = "This record has changed since you opened it. Look at it again, then decide"
# A decision review_decide cannot apply, said on the decision's radios.
DECISION_REFUSED = {
    NoLocalAuthority: "A new record needs a local authority and none can be found for this one. "
    "Select decide later, and ask the feed's supplier which local authority it belongs to",
    RowRefused: "The row records a death before that record's date of birth, so it cannot be "
    "that child. Select another record, or make a new one",
}


class ReviewDecisionForm(GovukMessages, forms.Form):
    """A data manager's decision on a review: one of its candidates, a new record, or later;
    on the review as the page showed it (``seen``: its ``review_version``)."""

    choice = forms.ChoiceField(
        error_messages={"required": DECISION_NEEDED, "invalid_choice": DECISION_NEEDED}
    )
    seen = forms.CharField(max_length=16, required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        candidates: list[str],
        version: str,
        out_of_sight: bool = False,
        **kwargs: Any,
    ) -> None:
        """``out_of_sight``: the row's best match is archived out of sight
        (``_best_archived_out_of_sight``), and the row may be set aside with it."""
        super().__init__(*args, **kwargs)
        self.version = version
        choice = self.fields["choice"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [
            *((f"match:{contactpoint_id}", contactpoint_id) for contactpoint_id in candidates),
            ("new", "new"),
            ("defer", "defer"),
            *[("set_aside", "set_aside")] * out_of_sight,
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("seen") != self.version:
            if data.get("seen"):  # a page shown before the row changed: the field shows one
                self.errors.pop("choice", None)  # message, and "look again" covers "choose"
            self.add_error("choice", CHANGED)
        return data


class MergeForm(GovukMessages, forms.Form):
    kept = ContactPointIdField(label="ContactPoint ID of the record to keep")
    absorbed = ContactPointIdField(label="ContactPoint ID of the record to merge into it")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kept") and data.get("kept") == data.get("absorbed"):
            self.add_error("absorbed", "Enter two different records")
        return data


NOT_ANOTHER = "Select the feed record that is another child"
FACTS_LEFT = (
    "Some facts its feed gave {record} were recorded before ContactPoint noted which feed "
    "record gave each fact, so they stay on {record}: check both records"
)


class SeparateForm(GovukMessages, forms.Form):
    """A record, then which of its feed records is another child (offered once the record is
    found)."""

    record = ContactPointIdField(label="ContactPoint ID of the record")
    feed_record = forms.TypedChoiceField(
        label="Which feed record is another child?",
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": NOT_ANOTHER},
    )


def _in_own_la(rows: QuerySet[Row], manager: User, local_authority: str) -> QuerySet[Row]:
    """``rows`` whose ``local_authority`` (a lookup) is the manager's LA; all for the national
    team."""
    la = data_manager_la(manager)
    return rows.filter(**{local_authority: la}) if la else rows


def _imports(manager: User) -> QuerySet[FeedImport]:
    return _in_own_la(FeedImport.objects.all(), manager, "local_authority")


def _reviews(manager: User) -> QuerySet[MatchReview]:
    """An LA's data managers review the records of their LA's files."""
    return _in_own_la(
        MatchReview.objects.all(), manager, "source_record__last_import__local_authority"
    )


@never_cache
@permission_required(Permission.REVIEW_MATCHES)
def feeds(request: HttpRequest) -> HttpResponse:
    manager = signed_in_user(request)
    form = UploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        initial={"local_authority": manager.organisation_id},
        la=data_manager_la(manager),
    )
    outcome, queued = None, None
    if request.method == "POST" and form.is_valid():
        upload, data = form.cleaned_data["file"], form.cleaned_data
        content = upload.read()
        # Checked once, here, unless it is too large to check while the data manager waits:
        # then only what is quick to tell, that it is not the feed's CSV at all (None if not).
        checked: ImportOutcome | None
        if len(content) <= settings.FEED_WEB_CHECK_BYTES:
            checked = feed_check(
                source=data["source"], content=content, skip_invalid=data["skip_invalid"],
                local_authority=data["local_authority"], extracted_on=data["extracted_on"],
            )  # fmt: skip
        else:
            checked = feed_unreadable(source=data["source"], content=content)
        queued = _queued_if_large(checked, data, upload.name, content, manager)
        if queued is None:
            outcome = feed_import(
                source=data["source"],
                file_name=upload.name,
                content=content,
                local_authority=data["local_authority"],
                by=manager,
                skip_invalid=data["skip_invalid"],
                checked=checked,
                extracted_on=data["extracted_on"],
            )
        audit_note(
            request,
            action=Action.ADMIN_ACTION,
            # Which file by its digest and records, not its name: a name is anyone's free text,
            # and the access log outlives any shield put on a child it might name.
            detail={
                "action": "queue_feed" if queued else "import_feed",
                "file_sha256": hashlib.sha256(content).hexdigest(),
                "imported": bool(outcome and outcome.feed_import),
            }
            | ({"upload": queued.pk} if queued else {})
            | ({"feed_import": outcome.feed_import.pk} if outcome and outcome.feed_import else {})
            | ({"resend_of": checked.resend_of.pk} if checked and checked.resend_of else {}),
        )
    refused = bool(outcome and not outcome.already_imported and outcome.feed_import is None)
    return render(
        request,
        "directory/feeds.html",
        {
            "form": form,
            "outcome": outcome,
            # Rows a later file has sent since are said apart, on a file sent again.
            "summary": FeedImport.describe(
                outcome.counts
                - Counter({GIVEN_SINCE: outcome.given_since})
                - Counter({EXTRACTED_BEFORE: outcome.extracted_before})
            )
            if outcome
            else "",
            "report": error_report(outcome.validation.errors) if outcome else "",
            # The file refused: its report heads the page as an error summary does, and the
            # summary's link leads to the file field, which says the same.
            "page_has_errors": refused,
            "file_error": (
                refused_because(outcome, form.cleaned_data["skip_invalid"]) if refused else ""
            ),
            "queued": queued,
            "imports": _imports(manager)
            .select_related("imported_by")
            .order_by("-imported_at")[:20],
            # Not the files themselves: a waiting one can be 50 MB, and any number may wait.
            "uploads": _in_own_la(FeedUpload.objects.defer("content"), manager, "local_authority")
            .select_related("uploaded_by")
            .order_by("-uploaded_at")[:20],
            "open_reviews": _reviews(manager).filter(status=MatchReview.Status.OPEN).count(),
        },
    )


def _queued_if_large(
    checked: ImportOutcome | None,
    data: dict[str, Any],
    file_name: str,
    content: bytes,
    manager: User,
) -> FeedUpload | None:
    """A file too large to check while the data manager waits (``checked`` None), or one that
    will be imported with more rows than can be imported while they wait
    (``FEED_WEB_IMPORT_ROWS``), is imported within minutes by ``manage.py
    import_waiting_feeds``; None for any other file, imported (or refused) now."""
    if checked is not None and (
        not checked.importable or len(checked.validation.rows) <= settings.FEED_WEB_IMPORT_ROWS
    ):
        return None
    return feed_upload_queue(
        source=data["source"], file_name=file_name, content=content,
        rows=checked.validation.rows_read if checked else None,
        local_authority=data["local_authority"], by=manager, skip_invalid=data["skip_invalid"],
        extracted_on=data["extracted_on"],
    )  # fmt: skip


def _queue_rows_hidden(reviews: list[MatchReview]) -> set[int]:
    """The reviews whose row the queue must not place: beside a shielded candidate, one that
    could be a shielded child not among them, and one that no longer reads (as its page)."""
    shielded = shielded_among(c["child_id"] for item in reviews for c in item.candidates)
    hidden = {
        item.pk for item in reviews if any(c["child_id"] in shielded for c in item.candidates)
    }
    people = {}
    for item in reviews:
        if item.pk not in hidden:
            try:
                people[item.pk] = row_from_record(item.source_record).person()
            except RowErrors:
                hidden.add(item.pk)
    return hidden | rows_resembling_shielded(people)


@permission_required(Permission.REVIEW_MATCHES)
def review_queue(request: HttpRequest) -> HttpResponse:
    reviews = (
        _reviews(signed_in_user(request))
        .filter(status__in=[MatchReview.Status.OPEN, MatchReview.Status.DEFERRED])
        .select_related("source_record")
        .order_by("status", "created_at")
    )
    # A pupil number names the school: not beside a record that may be a shielded child, nor
    # for a row that could be one shielded since it was last compared (a file held it then).
    hidden = _queue_rows_hidden(list(reviews))
    rows = [
        (item, HIDDEN if item.pk in hidden else item.source_record.record_id) for item in reviews
    ]
    audit_note(request, action=Action.PAGE_VIEW, detail={"page": "review_queue"})
    return render(request, "directory/reviews.html", {"reviews": rows})


def _best_archived_out_of_sight(review: MatchReview, viewer: User) -> bool:
    """Whether the row's best match still held is a record archived too long ago for
    ``viewer`` to see: the row is most likely that person (the purge takes it with her), and
    a new record of it would be her second, and active."""
    ids = [c["child_id"] for c in review.candidates]
    held = Child.objects.in_bulk(ids)
    best = next((held[pk] for pk in ids if pk in held), None)
    if best is None or best.status != Child.Status.ARCHIVED:
        return False
    return not findable_children(viewer, timezone.localdate()).filter(pk=best.pk).exists()


def _comparison(review: MatchReview, row: FeedRow, viewer: User) -> ReviewShown:
    """The incoming row beside each candidate, as the shielding policy lets ``viewer`` see it."""
    source_record = review.source_record
    ids = [c["child_id"] for c in review.candidates]
    # Only records she may find: one archived over a year ago is out of her sight here too.
    findable = findable_children(viewer, timezone.localdate())
    children = findable.filter(pk__in=ids).prefetch_related("other_names", "addresses", "shields")
    by_id = {child.pk: child for child in children}
    return review_shown(
        incoming=row.person(),
        payload=source_record.payload,
        record_id=source_record.record_id,
        candidates=[by_id[pk] for pk in ids if pk in by_id],
        decided=source_record.child,
        viewer=viewer,
        unseen=[pk for pk in ids if pk not in by_id],
    )


@never_cache
@permission_required(Permission.REVIEW_MATCHES)
def review(request: HttpRequest, pk: int) -> HttpResponseBase:
    manager = signed_in_user(request)
    found = _reviews(manager).select_related("source_record").filter(pk=pk).first()
    if found is None and request.method == "POST":
        # A decision on a page shown before the row went (purged with the record it offered):
        # told so, as for one decided meanwhile, rather than a page that is not there.
        messages.error(request, NO_LONGER_WAITING)
        return redirect("directory:review_queue")
    if found is None:
        raise Http404
    item = found
    try:
        row = row_from_record(item.source_record)
    except RowErrors as problem:
        # Checked when its file came, a stored row can fail a check added since: it cannot be
        # compared or decided here, and the page says so rather than failing.
        audit_note(request, action=Action.PAGE_VIEW, detail={"page": "review", "review": item.pk})
        return render(
            request,
            "directory/review_unreadable.html",
            # The columns only: a value (a school's number, a postcode) may say where a
            # shielded candidate lives.
            {"item": item, "columns": sorted({m.split(":", 1)[0] for m in problem.messages})},
        )
    shown = _comparison(item, row, manager)
    version = review_version(item, item.source_record)
    open_ = item.status in (MatchReview.Status.OPEN, MatchReview.Status.DEFERRED)
    out_of_sight = open_ and _best_archived_out_of_sight(item, manager)
    form = ReviewDecisionForm(
        request.POST if request.method == "POST" else None,
        candidates=[c.contactpoint_id for c in shown.candidates],
        version=version,
        out_of_sight=out_of_sight,
    )
    if request.method == "POST" and open_ and form.is_valid():
        decision, _, wanted = form.cleaned_data["choice"].partition(":")
        chosen = Child.objects.filter(contactpoint_id=wanted).first() if wanted else None
        if decision == "match" and chosen is None:  # purged since the page was shown
            form.add_error("choice", DECISION_NEEDED)
        elif decision == "new" and out_of_sight:
            form.add_error("choice", ARCHIVED_OUT_OF_SIGHT)
        else:
            try:
                outcome = review_decide(
                    review=item, decision=decision, child=chosen, by=manager, seen=version
                )
                child, applied, left_out = outcome.child, outcome.applied, outcome.phones_left_out
            except ReviewChanged:  # by a file imported in the moment since this request began
                # Read again: the page as the row now is, "look again" on the decision (the
                # form's check of what the page showed), as for a page shown before the change.
                return review(request, pk)
            except ReviewDecided:  # not the decision's fault: nothing on the page to correct
                messages.error(request, "Someone else has decided on this record meanwhile")
                return redirect("directory:review", pk=item.pk)
            except (NoLocalAuthority, RowRefused) as refused:  # nothing has changed
                form.add_error("choice", DECISION_REFUSED[type(refused)])
            else:
                facts = audit_facts(child) if child else {}
                not_applied = {"not_applied": list(left_out)} if left_out else {}
                audit_note(
                    request,
                    action=Action.CHANGE,
                    detail={"review": item.pk, "decision": decision, **not_applied},
                    **facts,
                )
                if not applied and decision not in ("defer", "set_aside"):
                    said = NOT_APPLIED_MOVED_ON
                elif left_out:
                    said = DECIDED_WITHOUT_PHONE.format(column=" and ".join(left_out))
                else:
                    said = "Your decision has been recorded"
                kept = [
                    _number_held_said(held, decided=True)
                    for held in numbers_held_shown(outcome.numbers_kept, shown)
                ]
                gone = [
                    NUMBER_PURGED.format(number=NUMBER_NAMED[kind])
                    for kind in outcome.numbers_purged
                ]
                messages.success(request, ". ".join([said, *kept, *gone]))
                return redirect("directory:review_queue")
    audit_note(
        request,
        action=Action.PAGE_VIEW,
        detail={"page": "review", "review": item.pk},
        # A decided review shows the row, which is now (part of) the record it went to.
        result_ids=[c.contactpoint_id for c in shown.candidates]
        + (
            [decided.record_kept().contactpoint_id] if (decided := item.source_record.child) else []
        ),
    )
    return render(
        request,
        "directory/review.html",
        {
            "item": item,
            "incoming": shown,
            "candidates": shown.candidates,
            "form": form,
            "version": version,
            "shielded_candidate": decision_shielded(item, row),
            "numbers_held": [
                _number_held_said(held, decided=False)
                for held in numbers_held_shown(numbers_held_elsewhere(row), shown)
            ],
            "numbers_purged": [
                NUMBER_PURGED_SHOWN.format(number=NUMBER_NAMED[kind])
                for kind in purged_numbers_carried(row)
            ],
            "archived_out_of_sight": ARCHIVED_OUT_OF_SIGHT if out_of_sight else "",
            "source": Source(item.source_record.source).label,
        },
    )


def _merge_pair(
    form: MergeForm, manager: User, mentioned: list[Child]
) -> tuple[Child | None, Child | None]:
    """The two records a valid merge form names, as they are now; or an error on the field of
    each that cannot be merged (one merged already is added to ``mentioned``) and no pair."""
    kept = child_for_record(contactpoint_id=form.cleaned_data["kept"], viewer=manager)
    absorbed = child_for_record(contactpoint_id=form.cleaned_data["absorbed"], viewer=manager)
    la = data_manager_la(manager)
    for name, child in (("kept", kept), ("absorbed", absorbed)):
        if child is None or (la and child.local_authority_id != la.pk):
            form.add_error(name, "There is no record you can merge with that ContactPoint ID")
        elif child.merged_into is not None:
            mentioned.append(child.merged_into)
            into = child.merged_into.contactpoint_id_display
            form.add_error(name, f"That record has been merged into {into} already")
    across = kept and absorbed and kept.local_authority_id != absorbed.local_authority_id
    if not form.errors and across and kept_within_la([kept.pk, absorbed.pk]):  # type: ignore[union-attr]
        form.add_error("absorbed", ACROSS_LAS)
    return (None, None) if form.errors else (kept, absorbed)


_GENDER_UNSAID = (Gender.NOT_KNOWN, Gender.NOT_SPECIFIED)


def _merge_differences(kept: Child, absorbed: Child) -> str:
    """What two records about to be merged disagree on that one child could not ("date of
    birth and gender"): a girl born in 2015 and a boy born in 2013 are two children, and a
    data manager who typed one digit wrong should be told before, not after."""
    differ = []
    if kept.date_of_birth != absorbed.date_of_birth:
        differ.append("date of birth")
    genders = {kept.gender, absorbed.gender}
    if len(genders) > 1 and not genders & set(_GENDER_UNSAID):
        differ.append("gender")
    return " and ".join(differ)


@never_cache
@permission_required(Permission.MERGE_RECORDS)
def merge(request: HttpRequest) -> HttpResponseBase:
    manager = signed_in_user(request)
    form = MergeForm(request.POST if request.method == "POST" else None)
    pair, differ = None, ""
    mentioned: list[Child] = []  # children named in a message
    if request.method == "POST" and form.is_valid():
        kept, absorbed = _merge_pair(form, manager, mentioned)
        if kept and absorbed and request.POST.get("confirmed") == "yes":
            try:
                done = children_merge(kept=kept, absorbed=absorbed, by=manager)
            except (ValueError, ShieldedAcrossLas):  # merged or shielded since it was shown
                # Checked again, the form says which record, and why, on its field.
                kept, absorbed = _merge_pair(form, manager, mentioned)
                if not form.errors:
                    form.add_error(None, "One of the records has changed since: start again")
                    kept = absorbed = None
            else:
                _note_merge(request, {"merge": done.pk}, kept=kept, absorbed=absorbed)
                merged = f"{absorbed.contactpoint_id_display} into {kept.contactpoint_id_display}"
                messages.success(request, f"Merged {merged}")
                return redirect("directory:merges")
        if kept and absorbed:
            pair = [record_named(kept, manager), record_named(absorbed, manager)]
            differ = _merge_differences(kept, absorbed)
    audit_note(
        request,
        action=Action.PAGE_VIEW,
        detail={"page": "merge"},
        result_ids=[child.contactpoint_id for child in pair or []]
        + [child.contactpoint_id for child in mentioned],
    )
    context = {"form": form, "pair": pair, "differ": differ}
    return render(request, "directory/merge.html", context)


@never_cache
@permission_required(Permission.MERGE_RECORDS)
def separate(request: HttpRequest) -> HttpResponseBase:
    """Undoes a feed record's join to a record it is not (an automatic match, or a data
    manager's): it becomes a record of its own."""
    manager = signed_in_user(request)
    form = SeparateForm(request.POST if request.method == "POST" else None)
    child, fed = None, []
    # The feed record is checked once the record's are known to choose from (below).
    if request.method == "POST" and (form.is_valid() or "record" in form.cleaned_data):
        child = child_for_record(contactpoint_id=form.cleaned_data["record"], viewer=manager)
        la = data_manager_la(manager)
        if child is None or child.merged_into_id or (la and child.local_authority_id != la.pk):
            form.add_error("record", "There is no record you can change with that ContactPoint ID")
            child = None
    if child is None:
        form.errors.pop("feed_record", None)  # no feed records are shown to choose from
    if child is not None:
        fed = list(
            SourceRecord.objects.filter(child=child).select_related("first_import", "last_import")
        )
        choice = form.fields["feed_record"]
        assert isinstance(choice, forms.TypedChoiceField)
        choice.choices = [(item.pk, _fed_label(item)) for item in fed]
        form.full_clean()  # again, with the record's feed records to choose from
        chosen = form.cleaned_data.get("feed_record")
        if request.POST.get("separating") == "yes" and chosen is None and not form.errors:
            form.add_error("feed_record", NOT_ANOTHER)
        elif chosen is not None:
            try:
                made, facts_left = source_record_separate(
                    source_record=next(item for item in fed if item.pk == chosen)
                )
            except NotSeparable as refused:
                form.add_error("feed_record", str(refused))
            else:
                audit_note(
                    request,
                    action=Action.CHANGE,
                    detail={"separated": chosen},
                    result_ids=[made.contactpoint_id],
                    **audit_facts(Child.objects.prefetch_related("shields").get(pk=child.pk)),
                )
                messages.success(
                    request,
                    f"The feed record is now a record of its own: {made.contactpoint_id_display}",
                )
                if facts_left:
                    messages.info(request, FACTS_LEFT.format(record=child.contactpoint_id_display))
                return redirect("directory:separate")
    audit_note(
        request,
        action=Action.PAGE_VIEW,
        detail={"page": "separate"},
        result_ids=[child.contactpoint_id] if child else [],
    )
    return render(
        request,
        "directory/separate.html",
        {"form": form, "child": child and record_named(child, manager), "fed": fed},
    )


def _fed_label(item: SourceRecord) -> str:
    """A feed record as the choice names it: the feed, the person it describes and when it
    came; never its address or its id, which could say where a shielded child is."""
    payload = item.payload
    try:
        born = f"{date.fromisoformat(payload.get('date_of_birth', '')):%-d %B %Y}"
    except ValueError:
        born = "on a date that is not valid"
    return (
        f"{Source(item.source).label}: {payload.get('given_name', '')} "
        f"{payload.get('family_name', '')}, born {born}, "
        f"first received {timezone.localtime(item.first_import.imported_at):%-d %B %Y}"
    )


def _note_merge(
    request: HttpRequest, detail: dict[str, int], *, kept: Child, absorbed: Child
) -> None:
    """Both children, and each one's shield as it is now (a merge or unmerge may have just
    carried one over)."""
    audit_note(
        request,
        action=Action.CHANGE,
        detail={**detail, "other_record_shielded": bool(shielded_among([absorbed.pk]))},
        result_ids=[absorbed.contactpoint_id],
        **audit_facts(Child.objects.prefetch_related("shields").get(pk=kept.pk)),
    )


ACROSS_LAS_UNDO = (
    "That merge joined records of two local authorities. Only the national data-quality team "
    "can undo it."
)


def _merges(manager: User) -> QuerySet[Merge]:
    """The merges that took in or kept a record of the manager's LA; all for the national
    team."""
    la = data_manager_la(manager)
    merges = Merge.objects.all()
    return (
        merges.filter(Q(kept__local_authority=la) | Q(absorbed__local_authority=la))
        if la
        else merges
    )


ARCHIVED_UNDO = (
    "The record kept was archived more than a year ago. A merge can no longer be undone once "
    "its record is out of sight."
)


def _undo_refused(merge: Merge, manager: User) -> str | None:
    """Why this data manager may not undo the merge, or None. They undo what they could have
    merged: an LA's, its own records' merges; one across LAs is the national team's, as it
    was theirs to make. And only while they may still see the record kept: undone later, an
    archived child's other record would come back live, its clocks started afresh."""
    la = data_manager_la(manager)
    if la is not None and not (
        la.pk == merge.kept.local_authority_id == merge.absorbed.local_authority_id
    ):
        return ACROSS_LAS_UNDO
    if merge.kept.merged_into is not None:
        return _merged_on_since(merge.kept, manager)
    if not findable_children(manager, timezone.localdate()).filter(pk=merge.kept_id).exists():
        return ARCHIVED_UNDO
    return None


def _unmerge_refused(request: HttpRequest, merge: Merge, refused: str) -> HttpResponseBase:
    """Nothing is undone; the event names the records, and the one merged on into if any."""
    into = merge.kept.merged_into
    audit_note(
        request,
        action=Action.ADMIN_ACTION,
        detail={"unmerge": merge.pk, "refused": True},
        result_ids=[merge.kept.contactpoint_id, merge.absorbed.contactpoint_id]
        + ([into.contactpoint_id] if into else []),
    )
    messages.error(request, refused)
    return redirect("directory:merges")


def _merged_on_since(kept: Child, manager: User) -> str:
    """The record a merge kept was merged into another since: that later merge is undone
    first (``MergedOnSince``), by whoever may undo it."""
    into = kept.merged_into
    assert into is not None
    who = (
        "Undo that merge first."
        if data_manager_la(manager) is None or into.local_authority_id == kept.local_authority_id
        else "It is a record of another local authority: ask the national data-quality team "
        "to undo that merge first."
    )
    return (
        f"{kept.contactpoint_id_display} has since been merged into "
        f"{into.contactpoint_id_display}. {who}"
    )


@permission_required(Permission.MERGE_RECORDS)
def merges(request: HttpRequest) -> HttpResponse:
    manager = signed_in_user(request)
    recent = list(
        _merges(manager)
        .select_related("kept__merged_into", "absorbed", "merged_by")
        .order_by("-merged_at")[:50]
    )
    audit_note(
        request,
        action=Action.PAGE_VIEW,
        detail={"page": "merges"},
        # A kept record merged on since is named too ("has since been merged into"), though
        # that later merge may be older than the 50 listed.
        result_ids=[
            c.contactpoint_id
            for m in recent
            for c in (m.kept, m.absorbed, m.kept.merged_into)
            if c is not None
        ],
    )
    rows = [(merge, _undo_refused(merge, manager)) for merge in recent]
    return render(request, "directory/merges.html", {"merges": rows})


@never_cache
@permission_required(Permission.MERGE_RECORDS)
def unmerge(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Asks first (GOV.UK's check before a destructive action): undoing a merge splits what
    practitioners see as one child's record back into two."""
    manager = signed_in_user(request)
    item = get_object_or_404(
        _merges(manager).select_related("kept__merged_into", "absorbed"),
        pk=pk,
        unmerged_at__isnull=True,
    )
    both = [item.kept.contactpoint_id, item.absorbed.contactpoint_id]
    # Refused before the question, so that no one is asked about what will not be done.
    if refused := _undo_refused(item, manager):
        return _unmerge_refused(request, item, refused)
    if not confirmed(request):
        audit_note(
            request,
            action=Action.PAGE_VIEW,
            detail={"page": "confirm_unmerge", "merge": pk},
            result_ids=both,
        )
        kept, absorbed = item.kept.contactpoint_id_display, item.absorbed.contactpoint_id_display
        return confirmation_page(
            request,
            question=f"Are you sure you want to undo the merge of {absorbed} into {kept}?",
            consequences=[
                f"{absorbed} will be a record of its own again, with what it brought to the "
                "merge and what its feeds have sent since. Practitioners will find two "
                "records again.",
                f"What was recorded on {kept} since the merge stays on {kept}. If {kept} is "
                f"shielded, {absorbed} will be shielded too.",
            ],
            button="Undo the merge",
            cancel_url=reverse("directory:merges"),
        )
    try:
        children_unmerge(merge=item, by=manager)
    except ValueError:  # undone by someone else since the list was shown
        messages.error(request, "That merge has been undone already")
        return redirect("directory:merges")
    except MergedOnSince as later:  # merged on while the question was answered
        item.kept = later.kept
        return _unmerge_refused(request, item, _merged_on_since(later.kept, manager))
    _note_merge(request, {"unmerge": pk}, kept=item.kept, absorbed=item.absorbed)
    messages.success(request, "The merge has been undone")
    return redirect("directory:merges")
