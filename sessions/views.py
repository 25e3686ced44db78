"""Logging and reading therapy sessions.

The session page is where ruptures are added, corrected and repaired (ruptures.views renders
its regions). Reads: `visible_to` (therapist, supervisor); writes: `editable_by` (therapist).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import IntegrityError
from django.db.models import Count, QuerySet, Window
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.concurrency import StaleEdit, replayed
from core.http import page_number
from cycles.models import Couple
from flags import same_day
from invitations import services as remote_links
from people import audit
from people.access import may_edit, signed_in
from ruptures.forms import RepairForm, RuptureForm, UndoRepairForm
from ruptures.models import Rupture
from sessions import signing
from sessions.forms import AmendmentForm, SessionForm, WithdrawForm
from sessions.models import AllianceRating, PostSessionReport, PrivateNote, TherapySession
from sessions.services import session_log, session_update, session_withdraw

# The session page lists this many earlier open ruptures at a time, most recent first: each
# is a line with a "Repaired here…" control that loads its form on demand
# (ruptures.views.rupture_repair_form), so the page weighs the same however long the treatment.
EARLIER_OPEN_SHOWN = 20


def session_page_context(
    session: TherapySession,
    user: Any,
    repair_forms: dict[int, RepairForm] | None = None,
    undo_forms: dict[int, UndoRepairForm] | None = None,
    open_page: int = 1,
) -> dict[str, Any]:
    """Everything the session page shows, in a fixed number of queries.

    The repairs lead when there are any to make or made here (`repairs_first`). Earlier
    open ruptures come a page at a time (`open_page`, EARLIER_OPEN_SHOWN each, with
    their total counted by a window in the same query); a repair form is built only for a
    rupture in `repair_forms` (posted and refused), which the page shows open in its line.
    """
    ruptures = list(
        Rupture.objects.current()
        .filter(session=session)
        .select_related("repaired_in")
        .with_repair_note()
        .order_by("minute", "pk")
    )
    earlier_open, open_total, open_page = earlier_open_page(session, open_page)
    refused = dict(repair_forms or {})
    missing = set(refused) - {r.pk for r in earlier_open}
    if missing:  # a refused form for a rupture on another page: shown first, with its errors
        earlier_open[:0] = earlier_open_ruptures(session).filter(pk__in=missing)
    for rupture in earlier_open:
        rupture.repair_form = refused.get(rupture.pk)  # type: ignore[attr-defined]
    repaired_here = list(
        Rupture.objects.current()
        .filter(repaired_in=session)
        .select_related("session", "repaired_in")
        .with_repair_note()
    )
    for rupture in repaired_here:
        prefix = f"undo{rupture.pk}"
        rupture.undo_form = (undo_forms or {}).get(rupture.pk) or UndoRepairForm(prefix=prefix)  # type: ignore[attr-defined]
    note = PrivateNote.objects.visible_to(user).filter(session=session).first()
    can_edit = may_edit(user, session.couple)
    editable = can_edit and not session.is_withdrawn
    shown_from = (open_page - 1) * EARLIER_OPEN_SHOWN
    # A signed session takes no new repair (ruptures.views), so its open list isn't offered.
    offers_repairs = editable and session.took_place and not session.is_signed
    repairs_first = bool(repaired_here) or (offers_repairs and bool(earlier_open))
    return {
        "alliance": list(AllianceRating.objects.filter(session=session)),
        "reports": list(PostSessionReport.objects.filter(session=session)),
        "session": session,
        "couple": session.couple,
        "ruptures": ruptures,
        "earlier_open": earlier_open,
        "earlier_open_total": open_total,
        "earlier_open_page": open_page,
        "earlier_open_first": shown_from + 1,
        "earlier_open_last": shown_from + len(earlier_open) - len(missing),
        "earlier_open_more": open_total > shown_from + EARLIER_OPEN_SHOWN,
        "repaired_here": repaired_here,
        # The page leads with the repairs when this session made or can make one; the
        # add-rupture form stays folded until asked for, unless recording ruptures is all
        # this session still needs (none yet, nothing to repair).
        "repairs_first": repairs_first,
        "add_rupture_unfolded": not ruptures and not repairs_first,
        "private_note": note,
        "can_edit": editable,
        "rupture_form": RuptureForm(prefix="new", session=session) if can_edit else None,
        "withdraw_form": WithdrawForm() if can_edit else None,
    }


def earlier_open_ruptures(session: TherapySession) -> QuerySet[Rupture]:
    """The couple's ruptures from before this session still open (a repair form each)."""
    return (
        Rupture.objects.open()
        .filter(couple_id=session.couple_id, session__starts_at__lt=session.starts_at)
        .exclude(repaired_in=session)
        .select_related("session", "repaired_in")
    )


def earlier_open_page(session: TherapySession, number: int) -> tuple[list[Rupture], int, int]:
    """One page of the earlier open ruptures, most recent first, their total, and the page
    number shown (the last one when `number` is past it), in one query (two past the end)."""
    rows = (
        earlier_open_ruptures(session)
        .annotate(open_total=Window(Count("pk")))
        .order_by("-session__starts_at", "-pk")
    )
    start = (number - 1) * EARLIER_OPEN_SHOWN
    page = list(rows[start : start + EARLIER_OPEN_SHOWN])
    if not page and number > 1:
        total = earlier_open_ruptures(session).count()
        number = max(1, -(-total // EARLIER_OPEN_SHOWN))
        start = (number - 1) * EARLIER_OPEN_SHOWN
        page = list(rows[start : start + EARLIER_OPEN_SHOWN])
    total = int(page[0].open_total) if page else 0
    shown: list[Rupture] = list(page)
    return shown, total, number


@require_GET
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    session = get_object_or_404(
        TherapySession.objects.visible_to(user).select_related("couple", "therapist"), pk=pk
    )
    context = session_page_context(session, user, open_page=page_number(request, "open"))
    record_session_read(request, session, context["private_note"])
    return render(request, "sessions/detail.html", context)


def record_session_read(
    request: HttpRequest, session: TherapySession, note: PrivateNote | None, detail: str = ""
) -> None:
    """The session's read, and its private note's when the page shows one (to its author)."""
    audit.record(request, "read session", session, detail=detail)
    if note is not None:
        audit.record(
            request, "read private note", note, case_code=session.couple.case_code, detail=detail
        )


@require_http_methods(["GET", "POST"])
def session_new(request: HttpRequest, case_code: str) -> HttpResponse:
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    if request.method == "POST" and (logged := replayed(couple.sessions.all(), request.POST)):
        return redirect("therapy_sessions:detail", pk=logged.pk)  # this form, sent again
    form = SessionForm(request.POST or None, initial=SessionForm.initial_new(), couple=couple)
    if request.method == "POST" and form.is_valid():
        step_before = couple.eft_step
        session = session_log(
            couple=couple,
            therapist=user,
            private_note=form.cleaned_data["private_note"],
            request_token=form.token(),
            **form.session_fields(),
        )
        messages.success(request, f"Logged session {session.ordinal}. Add its ruptures below.")
        if sent := remote_links.after_session_logged(session, user):
            who = " and ".join(f"partner {link.partner}" for link in sent)
            messages.info(request, f"A link about this session is on its way to {who}.")
        tell_case_step(request, couple, step_before)
        messages.info(request, same_day.WHEN_SUPERVISOR_SEES)
        same_day.recheck_after_commit(couple.pk)
        return redirect("therapy_sessions:detail", pk=session.pk)
    return render(request, "sessions/form.html", {"form": form, "couple": couple, "session": None})


@require_http_methods(["GET", "POST"])
def session_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    session = get_object_or_404(
        TherapySession.objects.editable_by(user).current().select_related("couple"), pk=pk
    )
    note = PrivateNote.objects.visible_to(user).filter(session=session).first()
    if request.method == "GET":
        # The form shows the session and the decrypted private note: both are reads.
        record_session_read(request, session, note, detail="edit form")
    initial = SessionForm.initial_for(session, note.text if note else "")
    form = SessionForm(
        request.POST or None, initial=initial, couple=session.couple, session=session
    )
    amendment = AmendmentForm(request.POST or None) if session.is_signed else None
    valid = form.is_valid() and (amendment is None or amendment.is_valid())
    if request.method == "POST" and valid:
        step_before = session.couple.eft_step
        try:
            save_session(session, user, form, amendment)
        except StaleEdit as stale:
            refuse_stale_session(form, stale, user)
        except signing.SignOffRefused as refused:
            if amendment is not None:  # only a signed record's save is refused here
                amendment.add_error("amendment_reason", str(refused))
        except IntegrityError:
            form.add_error(
                "date",
                "A rupture of this couple would then be repaired before it happened: "
                "check the dates of this session and of the sessions around it.",
            )
        else:
            messages.success(request, f"Saved session {session.ordinal}.")
            tell_case_step(request, session.couple, step_before)
            same_day.recheck_after_commit(session.couple_id)
            return redirect("therapy_sessions:detail", pk=session.pk)
    context = {"form": form, "couple": session.couple, "session": session, "amendment": amendment}
    return render(request, "sessions/form.html", context)


def save_session(
    session: TherapySession, user: Any, form: SessionForm, amendment: AmendmentForm | None
) -> None:
    """Save the corrected session; a signed one's record changes only by amendment, with its
    reason (the private note, outside the record, is saved either way)."""
    fields = form.session_fields()
    if amendment is not None:
        fields = signing.changed(session, fields)  # a signed record: only what really changes

    def update() -> None:
        session_update(
            session=session,
            author=user,
            private_note=form.cleaned_data["private_note"],
            read_version=form.read_version(),
            **fields,
        )

    if amendment is None or not fields:
        update()
        return
    signing.amend(
        session,
        by=user,
        reason=amendment.cleaned_data["amendment_reason"],
        changes=signing.change_rows("Session", session, fields),
        apply=update,
    )


def tell_case_step(request: HttpRequest, couple: Couple, step_before: int) -> None:
    """Say so when a session's save moved the case's EFT step (services.case_step_follow)."""
    if couple.eft_step != step_before:
        messages.info(
            request,
            f"The case is now at EFT step {couple.get_eft_step_display()} "
            f"(was step {step_before}), as its latest session records.",
        )


def refuse_stale_session(form: SessionForm, stale: StaleEdit, user: Any) -> None:
    """Show what the session (and the user's own private note) say now, beside the form."""
    current = stale.current
    if current is None:
        form.refuse_stale(None, {})
        return
    note = PrivateNote.objects.visible_to(user).filter(session=current).first()
    form.refuse_stale(current, SessionForm.initial_for(current, note.text if note else ""))


@require_POST
def session_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a session logged by mistake (kept in the record, hidden from views)."""
    user = signed_in(request)
    session = get_object_or_404(
        TherapySession.objects.editable_by(user).select_related("couple"), pk=pk
    )
    if session.is_withdrawn:  # a second click, or another tab, got there first
        messages.info(request, f"Session {session.ordinal} was already withdrawn.")
        return redirect(session.couple.get_absolute_url())
    if session.is_signed:
        messages.error(
            request,
            f"Session {session.ordinal} is signed: a signed record can't be withdrawn. "
            "Correct it with an amendment instead.",
        )
        return redirect("therapy_sessions:detail", pk=session.pk)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        context = session_page_context(session, user) | {"withdraw_form": form}
        return render(request, "sessions/detail.html", context)
    if Rupture.objects.current().filter(repaired_in=session).exists():
        messages.error(
            request,
            "This session repaired an earlier rupture: undo that repair first, under "
            "“Repairs in this session”.",
        )
        return redirect("therapy_sessions:detail", pk=session.pk)
    step_before = session.couple.eft_step
    session_withdraw(session=session, by=user, reason=form.cleaned_data["reason"])
    messages.success(request, "Withdrew the session. It stays in the record, hidden from views.")
    tell_case_step(request, session.couple, step_before)
    same_day.recheck_after_commit(session.couple_id)
    return redirect(session.couple.get_absolute_url())
