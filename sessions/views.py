"""Logging and reading therapy sessions.

The session page is where ruptures are added, corrected and repaired (ruptures.views renders
its regions). Reads: `visible_to` (therapist, supervisor); writes: `editable_by` (therapist).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.concurrency import StaleEdit, replayed
from cycles.models import Couple
from people import audit
from people.access import may_edit, signed_in
from ruptures.forms import RepairForm, RuptureForm, UndoRepairForm
from ruptures.models import Rupture
from sessions.forms import SessionForm, WithdrawForm
from sessions.models import AllianceRating, PostSessionReport, PrivateNote, TherapySession
from sessions.services import session_log, session_update, session_withdraw


def session_page_context(
    session: TherapySession,
    user: Any,
    repair_forms: dict[int, RepairForm] | None = None,
    undo_forms: dict[int, UndoRepairForm] | None = None,
) -> dict[str, Any]:
    """Everything the session page shows, in a fixed number of queries."""
    ruptures = list(
        Rupture.objects.current()
        .filter(session=session)
        .select_related("repaired_in")
        .order_by("minute", "pk")
    )
    earlier_open = list(
        Rupture.objects.open()
        .filter(couple_id=session.couple_id, session__starts_at__lt=session.starts_at)
        .exclude(repaired_in=session)
        .select_related("session", "repaired_in")
        .order_by("session__starts_at", "pk")
    )
    for rupture in earlier_open:
        prefix = f"repair{rupture.pk}"
        rupture.repair_form = (repair_forms or {}).get(rupture.pk) or RepairForm(  # type: ignore[attr-defined]
            prefix=prefix, initial={"version": rupture.version}
        )
    repaired_here = list(
        Rupture.objects.current()
        .filter(repaired_in=session)
        .select_related("session", "repaired_in")
    )
    for rupture in repaired_here:
        prefix = f"undo{rupture.pk}"
        rupture.undo_form = (undo_forms or {}).get(rupture.pk) or UndoRepairForm(prefix=prefix)  # type: ignore[attr-defined]
    note = PrivateNote.objects.visible_to(user).filter(session=session).first()
    can_edit = may_edit(user, session.couple)
    return {
        "alliance": list(AllianceRating.objects.filter(session=session)),
        "reports": list(PostSessionReport.objects.filter(session=session)),
        "session": session,
        "couple": session.couple,
        "ruptures": ruptures,
        "earlier_open": earlier_open,
        "repaired_here": repaired_here,
        "private_note": note,
        "can_edit": can_edit and not session.is_withdrawn,
        "rupture_form": RuptureForm(prefix="new") if can_edit else None,
        "withdraw_form": WithdrawForm() if can_edit else None,
    }


@require_GET
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    session = get_object_or_404(
        TherapySession.objects.visible_to(user).select_related("couple", "therapist"), pk=pk
    )
    context = session_page_context(session, user)
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
        session = session_log(
            couple=couple,
            therapist=user,
            private_note=form.cleaned_data["private_note"],
            request_token=form.token(),
            **form.session_fields(),
        )
        messages.success(request, f"Logged session {session.ordinal}. Add its ruptures below.")
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
    if request.method == "POST" and form.is_valid():
        try:
            session_update(
                session=session,
                author=user,
                private_note=form.cleaned_data["private_note"],
                read_version=form.read_version(),
                **form.session_fields(),
            )
        except StaleEdit as stale:
            refuse_stale_session(form, stale, user)
        except IntegrityError:
            form.add_error(
                "date",
                "A rupture of this couple would then be repaired before it happened: "
                "check the dates of this session and of the sessions around it.",
            )
        else:
            messages.success(request, f"Saved session {session.ordinal}.")
            return redirect("therapy_sessions:detail", pk=session.pk)
    context = {"form": form, "couple": session.couple, "session": session}
    return render(request, "sessions/form.html", context)


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
    session_withdraw(session=session, by=user, reason=form.cleaned_data["reason"])
    messages.success(request, "Withdrew the session. It stays in the record, hidden from views.")
    return redirect(session.couple.get_absolute_url())
