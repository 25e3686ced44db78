"""Recording, correcting, repairing and withdrawing ruptures, in place on the session page.

Each view answers an htmx request with the session page's region it changed and a plain
request with a redirect (or the whole page when the form has errors), so every form works
without JavaScript.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from core import dates
from core.concurrency import StaleEdit
from core.http import is_htmx
from flags import runs as nightly
from flags import same_day
from flags.worker import broker_answers, runs_in_process
from people import audit
from people.access import practice_admin, signed_in
from ruptures.forms import RepairForm, RuptureForm, UndoRepairForm
from ruptures.models import NightlyRun, RunStatus, Rupture, RuptureRepair
from ruptures.services import (
    repair_withdraw,
    rupture_correct,
    rupture_record,
    rupture_repair,
    rupture_withdraw,
)
from sessions import signing
from sessions.forms import AmendmentForm, WithdrawForm
from sessions.models import PrivateNote, TherapySession
from sessions.views import session_page_context

SESSION_PAGE = "sessions/detail.html"

if TYPE_CHECKING:
    from people.models import Practice


NOT_HELD = (
    "This session didn't take place ({attendance}): ruptures and repairs are recorded in "
    "sessions that did."
)


SIGNED = (
    "Session {ordinal} is signed: its record is locked. A rupture or repair is no longer "
    "added to it or taken from it; correct what it says with an amendment."
)


def _editable_session(request: HttpRequest, pk: int) -> TherapySession:
    return get_object_or_404(
        TherapySession.objects.editable_by(request.user).current().select_related("couple"),
        pk=pk,
    )


def _editable_rupture(request: HttpRequest, pk: int) -> Rupture:
    return get_object_or_404(
        Rupture.objects.editable_by(request.user)
        .current()
        .select_related("session__couple", "repaired_in")
        .with_repair_note(),
        pk=pk,
    )


def _region(
    request: HttpRequest,
    session: TherapySession,
    region: str,
    repair_forms: dict[int, RepairForm] | None = None,
    undo_forms: dict[int, UndoRepairForm] | None = None,
    **extra: Any,
) -> HttpResponse:
    context = session_page_context(session, request.user, repair_forms, undo_forms) | extra
    template = f"{SESSION_PAGE}#{region}" if is_htmx(request) else SESSION_PAGE
    return render(request, template, context)


@require_POST
def rupture_add(request: HttpRequest, session_pk: int) -> HttpResponse:
    """Add a rupture to a session."""
    user = signed_in(request)
    session = _editable_session(request, session_pk)
    if request.POST.get("action") == "refresh":
        # A page drawn before the markers were shown on the client (static/js/
        # rupture-markers.js) still posts this when the type changes: swap nothing, so no
        # tick is lost, and record nothing. Can go once no such page is open.
        return HttpResponse(status=204)
    form = RuptureForm(request.POST, prefix="new", session=session)
    if not session.took_place:
        form.add_error(None, NOT_HELD.format(attendance=session.get_attendance_display().lower()))
    elif session.is_signed:
        form.add_error(None, SIGNED.format(ordinal=session.ordinal))
    if not form.is_valid():
        focus_first_error(form)
        return _region(request, session, "ruptures", rupture_form=form)
    data = dict(form.cleaned_data)
    reflection = data.pop("reflection")
    token = data.pop("request_token")
    del data["version"]  # a new rupture has none yet
    rupture_record(
        session=session, recorded_by=user, reflection=reflection, request_token=token, **data
    )
    same_day.recheck_after_commit(session.couple_id)
    if not is_htmx(request):
        messages.success(request, f"Recorded the rupture. {same_day.WHEN_SUPERVISOR_SEES}")
        return redirect("therapy_sessions:detail", pk=session.pk)
    fresh = RuptureForm(prefix="new", session=session)
    fresh.fields["rupture_type"].widget.attrs["autofocus"] = True  # ready for the next one
    response = _region(request, session, "ruptures", just_added=True, rupture_form=fresh)
    return trigger_client_event(response, "rupturesChanged")


def focus_first_error(form: forms.BaseForm) -> None:
    """Redrawn with errors, the form puts the keyboard on the first field in error (htmx
    focuses an `autofocus` element it swaps in), where its message is read out with it."""
    for name in form.fields:
        if name in form.errors:
            form.fields[name].widget.attrs["autofocus"] = True
            return


@require_http_methods(["GET", "POST"])
def rupture_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    rupture = _editable_rupture(request, pk)
    reflection = PrivateNote.objects.visible_to(user).filter(rupture=rupture).first()
    if request.method == "GET":
        # The form shows the rupture, and the private reflection it decrypts: both are reads.
        code = rupture.session.couple.case_code
        audit.record(request, "read rupture", rupture, case_code=code, detail="edit form")
        if reflection is not None:
            audit.record(request, "read private note", reflection, case_code=code)
    form = RuptureForm(
        request.POST or None,
        instance=rupture,
        initial={"reflection": reflection.text if reflection else ""},
        prefix=f"r{rupture.pk}",
    )
    amendment = AmendmentForm(request.POST or None) if rupture.session.is_signed else None
    valid = form.is_valid() and (amendment is None or amendment.is_valid())
    if request.method == "POST" and valid:
        try:
            correct_rupture(rupture, form, user, amendment)
        except StaleEdit as stale:
            refuse_stale_rupture(form, stale, user)
        except signing.SignOffRefused as refused:
            if amendment is not None:
                amendment.add_error("amendment_reason", str(refused))
        except IntegrityError:
            form.add_error(None, "That combination can't be saved: check type, markers and repair.")
        else:
            same_day.recheck_after_commit(rupture.couple_id)
            messages.success(request, "Saved the correction.")
            return redirect("therapy_sessions:detail", pk=rupture.session_id)
    context = {
        "form": form,
        "withdraw_form": WithdrawForm(),
        "rupture": rupture,
        "session": rupture.session,
        "amendment": amendment,
    }
    return render(request, "ruptures/edit.html", context)


# What a signed session's record says of a rupture observed in it (sessions migration 0010).
OBSERVED = [
    "minute",
    "rupture_type",
    "who_moved",
    "toward",
    "withdrawal_markers",
    "confrontation_markers",
    "significance",
    "therapist_contribution",
    "note",
]


def correct_rupture(
    rupture: Rupture, form: RuptureForm, user: Any, amendment: AmendmentForm | None
) -> None:
    """Save the correction; in a signed session, a change to what was observed is an
    amendment of the session's record, with its reason (docs/domain.md, "Signing")."""

    def save() -> None:
        rupture_correct(correction=form, author=user, read_version=form.read_version())

    if amendment is None:
        save()
        return
    stored = Rupture.objects.get(pk=rupture.pk)
    corrected = {name: getattr(form.instance, name) for name in OBSERVED}
    what = f"Rupture ({stored.get_rupture_type_display().lower()})"
    changes = signing.change_rows(what, stored, corrected)
    if not changes:
        save()  # the private reflection, or the repair's later state: outside the record
        return
    signing.amend(
        rupture.session,
        by=user,
        reason=amendment.cleaned_data["amendment_reason"],
        changes=changes,
        apply=save,
    )


def refuse_stale_rupture(form: RuptureForm, stale: StaleEdit, user: Any) -> None:
    """Show what the rupture (and the user's own reflection) say now, beside the form."""
    current = stale.current
    if current is None:
        form.refuse_stale(None, {})
        return
    reflection = PrivateNote.objects.visible_to(user).filter(rupture=current).first()
    saved = RuptureForm(
        instance=current, initial={"reflection": reflection.text if reflection else ""}
    )
    form.refuse_stale(current, saved.initial)


@require_POST
def rupture_repair_view(request: HttpRequest, session_pk: int, pk: int) -> HttpResponse:
    """From a later session, mark an earlier open rupture as repaired (fully or partly)."""
    session = _editable_session(request, session_pk)
    form = RepairForm(request.POST, prefix=f"repair{pk}")
    if already_repaired_here(request, session, pk):
        return _repaired(request, session)
    rupture = get_object_or_404(
        Rupture.objects.editable_by(request.user).current().select_related("session"),
        pk=pk,
        couple_id=session.couple_id,
    )
    if not rupture.is_open:  # repaired from another tab or device since this page was drawn
        message = (
            f"The rupture from session {rupture.session.ordinal} was marked "
            f"{rupture.get_status_display().lower()} since this page was opened: nothing "
            "was changed. Correct it from its own session's page if needed."
        )
        return _region(request, session, "repairs", repair_error=message)
    if not session.took_place:
        message = NOT_HELD.format(attendance=session.get_attendance_display().lower())
        return _region(request, session, "repairs", repair_error=message)
    if session.is_signed:
        return _region(
            request, session, "repairs", repair_error=SIGNED.format(ordinal=session.ordinal)
        )
    if rupture.session.starts_at >= session.starts_at:
        message = (
            f"The rupture from session {rupture.session.ordinal} can only be repaired in a "
            "later session."
        )
        return _region(request, session, "repairs", repair_error=message)
    if not form.is_valid():
        return _region(request, session, "repairs", repair_forms={rupture.pk: form})
    try:
        rupture_repair(
            rupture=rupture,
            repaired_in=session,
            status=form.cleaned_data["status"],
            strategies=form.cleaned_data["strategies"],
            resolution_stage=form.cleaned_data["resolution_stage"],
            note=form.cleaned_data["note"],
            recorded_by=signed_in(request),
            read_version=form.read_version(),
            request_token=form.token(),
        )
    except StaleEdit as stale:
        form.refuse_stale(stale.current, {})
        return _region(request, session, "repairs", repair_forms={rupture.pk: form})
    same_day.recheck_after_commit(session.couple_id)
    return _repaired(request, session)


@require_GET
def rupture_repair_form(request: HttpRequest, session_pk: int, pk: int) -> HttpResponse:
    """One earlier open rupture's repair form, loaded when asked for: into its line of the
    session page with htmx, or on a page of its own without JavaScript. It posts to
    `rupture_repair_view` with its guards (the rupture's version, a request token)."""
    session = _editable_session(request, session_pk)
    rupture = get_object_or_404(
        Rupture.objects.editable_by(request.user)
        .current()
        .select_related("session__couple", "repaired_in"),
        pk=pk,
        couple_id=session.couple_id,
        session__starts_at__lt=session.starts_at,
    )
    audit.record(
        request, "read rupture", rupture, case_code=session.couple.case_code, detail="repair form"
    )
    context: dict[str, Any] = {
        "session": session,
        "rupture": rupture,
        "standalone": not is_htmx(request),
    }
    if not session.took_place:
        context["unavailable"] = NOT_HELD.format(
            attendance=session.get_attendance_display().lower()
        )
    elif not rupture.is_open or rupture.repaired_in_id == session.pk:
        context["unavailable"] = (
            f"The rupture from session {rupture.session.ordinal} was marked "
            f"{rupture.get_status_display().lower()} since this page was opened."
        )
    else:
        form = RepairForm(prefix=f"repair{rupture.pk}", initial={"version": rupture.version})
        form.fields["status"].widget.attrs["autofocus"] = True  # htmx focuses it on the swap
        context["form"] = form
    template = "ruptures/repair.html#repair" if is_htmx(request) else "ruptures/repair.html"
    return render(request, template, context)


def already_repaired_here(request: HttpRequest, session: TherapySession, pk: int) -> bool:
    """This repair form was already recorded (a double click or a retried request)."""
    token = request.POST.get(f"repair{pk}-request_token", "")
    try:
        key = uuid.UUID(token)
    except ValueError:
        return False
    repairs = RuptureRepair.objects.filter(
        request_token=key, rupture_id=pk, session=session, withdrawn_at__isnull=True
    )
    return repairs.filter(rupture__in=Rupture.objects.editable_by(request.user)).exists()


def _repaired(request: HttpRequest, session: TherapySession) -> HttpResponse:
    if not is_htmx(request):
        messages.success(request, "Marked the rupture repaired in this session.")
        return redirect("therapy_sessions:detail", pk=session.pk)
    return trigger_client_event(_region(request, session, "repairs"), "rupturesChanged")


@require_POST
def repair_withdraw_view(request: HttpRequest, session_pk: int, pk: int) -> HttpResponse:
    """Undo a repair recorded in this session by mistake: the rupture goes back to how it
    stood before; the repair stays on record, withdrawn."""
    session = _editable_session(request, session_pk)
    rupture = get_object_or_404(
        Rupture.objects.editable_by(request.user).current().select_related("session"),
        pk=pk,
        couple_id=session.couple_id,
    )
    if rupture.repaired_in_id != session.pk:  # a second click, or another tab, undid it first
        message = (
            f"The rupture from session {rupture.session.ordinal} is no longer repaired in this "
            "session (the repair was undone, or it was repaired again later): nothing changed."
        )
        return _region(request, session, "repairs", repair_message=message)
    if session.is_signed:
        return _region(
            request, session, "repairs", repair_error=SIGNED.format(ordinal=session.ordinal)
        )
    form = UndoRepairForm(request.POST, prefix=f"undo{rupture.pk}")
    if not form.is_valid():
        return _region(request, session, "repairs", undo_forms={rupture.pk: form})
    undone = repair_withdraw(
        rupture=rupture, session=session, by=signed_in(request), reason=form.cleaned_data["reason"]
    )
    if undone is None:
        message = (
            "This repair wasn't logged when it was recorded, so it can't be undone here: "
            "correct the rupture from its own session's page."
        )
        return _region(request, session, "repairs", repair_error=message)
    same_day.recheck_after_commit(session.couple_id)
    message = (
        f"Undid the repair. The rupture from session {rupture.session.ordinal} is "
        f"{rupture.get_status_display().lower()} again, as before it."
    )
    if not is_htmx(request):
        messages.success(request, message)
        return redirect("therapy_sessions:detail", pk=session.pk)
    response = _region(request, session, "repairs", repair_message=message)
    return trigger_client_event(response, "rupturesChanged")


@require_POST
def rupture_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a rupture logged by mistake: hidden from views and summaries, kept on record."""
    user = signed_in(request)
    withdrawn = Rupture.objects.editable_by(user).filter(pk=pk, withdrawn_at__isnull=False)
    if earlier := withdrawn.values_list("session_id", flat=True).first():
        # A second click, or another tab, got there first.
        messages.info(request, "This rupture was already withdrawn.")
        return redirect("therapy_sessions:detail", pk=earlier)
    rupture = _editable_rupture(request, pk)
    if rupture.session.is_signed:
        messages.error(request, SIGNED.format(ordinal=rupture.session.ordinal))
        return redirect("therapy_sessions:detail", pk=rupture.session_id)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        context = {
            "form": RuptureForm(instance=rupture, prefix=f"r{rupture.pk}"),
            "withdraw_form": form,
            "rupture": rupture,
            "session": rupture.session,
        }
        return render(request, "ruptures/edit.html", context)
    rupture_withdraw(rupture=rupture, by=user, reason=form.cleaned_data["reason"])
    same_day.recheck_after_commit(rupture.couple_id)
    messages.success(request, "Withdrew the rupture. It stays in the record, hidden from views.")
    return redirect("therapy_sessions:detail", pk=rupture.session_id)


@require_http_methods(["GET"])
def nightly_runs(request: HttpRequest) -> HttpResponse:
    """The practice admin's view of the nightly summaries: recent runs, progress, overdue."""
    user = practice_admin(request)
    runs = list(NightlyRun.objects.visible_to(user).select_related("started_by")[:14])
    practice = cast("Practice", user.practice)  # practice_admin: one of a practice
    next_date = nightly.day_just_ended(practice)
    context = {
        "runs": runs,
        "running": any(r.status in (RunStatus.PENDING, RunStatus.RUNNING) for r in runs),
        "overdue": nightly.overdue(practice),
        "background_down": not runs_in_process() and not broker_answers(),
        "next_date": next_date,
        "already_run": next(
            (r for r in runs if r.for_date == next_date and r.status == RunStatus.FINISHED), None
        ),
    }
    template = "ruptures/runs.html#runs" if is_htmx(request) else "ruptures/runs.html"
    return render(request, template, context)


@require_POST
def nightly_run_start(request: HttpRequest) -> HttpResponse:
    """Start (or resume) the run for the day just ended, now."""
    user = practice_admin(request)
    practice = cast("Practice", user.practice)  # practice_admin: one of a practice
    for_date = nightly.day_just_ended(practice)
    try:
        run = nightly.start_run(practice=practice, for_date=for_date, started_by=user)
    except nightly.BackgroundWorkUnavailable:
        messages.error(request, BACKGROUND_DOWN.format(day=dates.show(for_date)))
        return redirect("ruptures:runs")
    if run.status == RunStatus.FINISHED:
        messages.info(request, ALREADY_RUN.format(day=dates.show(run.for_date)))
    else:
        messages.success(request, f"Started the summaries for {dates.show(run.for_date)}.")
    return redirect("ruptures:runs")


BACKGROUND_DOWN = (
    "Background work is unavailable right now, so the summaries for {day} could not be started. "
    "Nothing is lost: try Run now again in a few minutes. If this lasts, tell whoever looks "
    "after the server that the task queue (Redis) is not answering."
)
ALREADY_RUN = (
    "The summaries for {day} have already run; a run for a day is done once. "
    "Changes recorded since then appear after the next nightly run."
)
