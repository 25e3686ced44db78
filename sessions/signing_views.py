"""Sign, co-sign or send back a session's record (sessions.signing; docs/domain.md, "Signing")."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from people import audit
from people.access import signed_in
from plans import signing as plan_signing
from sessions import signing
from sessions.models import CosignState, TherapySession

if TYPE_CHECKING:
    from people.models import User
    from plans.models import PlanRevision


@require_POST
def session_sign(request: HttpRequest, pk: int) -> HttpResponse:
    """The session's therapist signs its record (or signs again after changes were asked)."""
    user = signed_in(request)
    session = get_object_or_404(TherapySession.objects.editable_by(user).current(), pk=pk)
    reply = request.POST.get("reply", "")[:2000]
    try:
        signed = signing.sign(session, by=user, reply=reply)
    except signing.SignOffRefused as refused:
        messages.info(request, str(refused))
        return redirect("therapy_sessions:detail", pk=session.pk)
    audit.record(request, "signed session", signed)
    told = f"Signed session {signed.ordinal}: its record is locked, and a change is an amendment."
    if signed.cosign_state == CosignState.AWAITING:
        told += " It now waits for your supervisor's co-signature."
    messages.success(request, told)
    return redirect("therapy_sessions:detail", pk=session.pk)


@require_POST
def session_review(request: HttpRequest, pk: int) -> HttpResponse:
    """A supervisor of the session's therapist co-signs the record or sends it back."""
    user = signed_in(request)
    session = get_object_or_404(TherapySession.objects.visible_to(user).current(), pk=pk)
    if not signing.may_cosign(user, session):
        messages.error(request, "Only a supervisor of this session's therapist co-signs it.")
        return redirect("therapy_sessions:detail", pk=session.pk)
    comment = request.POST.get("comment", "")[:2000]
    sending_back = request.POST.get("outcome") == "request_changes"
    try:
        if sending_back:
            reviewed = signing.request_changes(session, by=user, comment=comment)
        else:
            reviewed = signing.cosign(session, by=user, comment=comment)
    except signing.SignOffRefused as refused:
        messages.error(request, str(refused))
        return redirect("therapy_sessions:detail", pk=session.pk)
    if sending_back:
        audit.record(request, "requested changes to session", reviewed)
        messages.success(request, f"Sent session {reviewed.ordinal} back with your comment.")
    else:
        audit.record(request, "co-signed session", reviewed)
        messages.success(request, f"Co-signed session {reviewed.ordinal}.")
    return redirect("therapy_sessions:cosign_queue")


# A queue longer than this shows its oldest rows and says how many more wait.
QUEUE_ROWS = 100


@dataclass(frozen=True)
class QueueRow:
    """One record awaiting a supervisor's co-signature: a session's record or a revision of a
    treatment plan, in one list so the oldest comes first whatever it is."""

    case_code: str
    what: str
    url: str
    therapist: User
    held: datetime.datetime | None
    signed_at: datetime.datetime


def _session_row(session: TherapySession) -> QueueRow:
    return QueueRow(
        case_code=session.couple.case_code,
        what=f"Session {session.ordinal}",
        url=reverse("therapy_sessions:detail", args=[session.pk]),
        therapist=session.therapist,
        held=session.starts_at,
        signed_at=session.signed_at or session.starts_at,
    )


def _plan_row(plan: PlanRevision) -> QueueRow:
    code = plan.couple.case_code
    return QueueRow(
        case_code=code,
        what=f"Treatment plan, revision {plan.revision}, {code}",
        url=reverse("plans:revision", args=[code, plan.revision]),
        therapist=plan.author,
        held=None,
        signed_at=plan.created_at,
    )


@require_GET
def cosign_queue(request: HttpRequest) -> HttpResponse:
    """What waits for this person: a supervisor's co-signatures (session records and plan
    revisions, oldest first), a therapist's records and plans sent back and their records not
    signed yet."""
    user = signed_in(request)
    if not (user.is_supervisor or user.is_therapist):
        raise Http404("Only clinicians sign records.")
    rows = TherapySession.objects.current().select_related("couple", "therapist")
    awaiting = rows.filter(
        signing.waits_for(user, "therapist"), cosign_state=CosignState.AWAITING
    ).order_by("signed_at", "pk")
    sent_back = rows.filter(therapist=user, cosign_state=CosignState.CHANGES_REQUESTED).order_by(
        "signed_at", "pk"
    )
    unsigned = (
        TherapySession.objects.unsigned()
        .select_related("couple", "therapist")
        .filter(therapist=user)
        .order_by("starts_at", "pk")
    )
    # The treatment plans' revisions (plans.signing): a query each, for the roles they concern.
    plans_awaiting, plans_total = (
        plan_signing.awaiting(user, limit=QUEUE_ROWS) if user.is_supervisor else ([], 0)
    )
    plans_sent_back = plan_signing.sent_back(user) if user.is_therapist else []
    awaiting_rows = sorted(
        [_session_row(s) for s in awaiting[:QUEUE_ROWS]] + [_plan_row(p) for p in plans_awaiting],
        key=lambda row: row.signed_at,
    )[:QUEUE_ROWS]
    context = {
        "awaiting": awaiting_rows,
        "awaiting_total": awaiting.count() + plans_total,
        "sent_back": list(sent_back[:QUEUE_ROWS]),
        "plans_sent_back": plans_sent_back,
        "unsigned": list(unsigned[:QUEUE_ROWS]),
        "unsigned_total": unsigned.count(),
        "now": timezone.now(),
    }
    return render(request, "sessions/cosign_queue.html", context)
