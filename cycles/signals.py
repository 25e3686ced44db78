"""A transfer or a co-therapy change told at sign-in: each therapist sees, once, the cases moved
to or from them, and those they joined or left as co-therapist, since (the e-mail told them
already; this is the message on the next sign-in)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.db.models import Q
from django.utils import timezone

from core import dates
from cycles.models import CaseEvent, CaseEventKind


def tell_transfers(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if request is None or user is None or not getattr(user, "is_therapist", False):
        return
    if not hasattr(request, "_messages"):
        return  # no page to show it on (a sign-in made outside the browser): kept for the next
    untold = (
        CaseEvent.objects.filter(kind__in=TOLD)
        .filter(
            Q(to_therapist=user, new_therapist_told_at__isnull=True)
            | Q(from_therapist=user, old_therapist_told_at__isnull=True)
        )
        .select_related("couple", "from_therapist", "to_therapist")
        .order_by("at", "pk")
    )
    told_new: list[int] = []
    told_old: list[int] = []
    # Signing in, the person's practice's date format isn't active yet (people.middleware).
    with dates.override(event_format(untold, user)):
        for event in untold:
            code, day = event.couple.case_code, dates.show(event.on_date)
            (told_new if event.to_therapist_id == user.pk else told_old).append(event.pk)
            messages.info(request, _told(event, user, code, day))
    now = timezone.now()
    if told_new:
        CaseEvent.objects.filter(pk__in=told_new).update(new_therapist_told_at=now)
    if told_old:
        CaseEvent.objects.filter(pk__in=told_old).update(old_therapist_told_at=now)


TOLD = [
    CaseEventKind.TRANSFERRED,
    CaseEventKind.CO_THERAPIST_JOINED,
    CaseEventKind.CO_THERAPIST_LEFT,
]


def event_format(untold: Any, user: Any) -> str | None:
    """The practice's date format, read only when there is something to tell."""
    if not untold or user.practice_id is None:
        return None
    return str(user.practice.date_format)


def _told(event: CaseEvent, user: Any, code: str, day: str) -> str:
    if event.kind == CaseEventKind.CO_THERAPIST_JOINED:
        return f"Case {code}: you joined as co-therapist on {day}."
    if event.kind == CaseEventKind.CO_THERAPIST_LEFT:
        return f"Case {code}: you left as co-therapist on {day}."
    if event.to_therapist_id == user.pk:
        return f"Case {code} was transferred to you from {event.from_therapist} on {day}."
    return f"Case {code} was transferred from you to {event.to_therapist} on {day}."


def connect() -> None:
    user_logged_in.connect(tell_transfers, dispatch_uid="cycles-tell-transfers")
