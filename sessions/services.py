"""Writes for therapy sessions and private notes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from sessions.models import NoteKind, PrivateNote, TherapySession

if TYPE_CHECKING:
    import datetime

    from cycles.models import Couple
    from people.models import User


def next_ordinal(couple: Couple) -> int:
    highest = TherapySession.objects.current().filter(couple=couple).aggregate(n=Max("ordinal"))
    return (highest["n"] or 0) + 1


@transaction.atomic
def session_log(
    *,
    couple: Couple,
    therapist: User,
    starts_at: datetime.datetime,
    private_note: str = "",
    **fields: Any,
) -> TherapySession:
    """Record a session of the couple; its number is the next in the treatment unless given."""
    fields.setdefault("ordinal", next_ordinal(couple))
    session = TherapySession.objects.create(
        couple=couple, therapist=therapist, starts_at=starts_at, **fields
    )
    if private_note:
        private_note_write(author=therapist, session=session, text=private_note)
    return session


def private_note_write(*, author: User, session: TherapySession, text: str) -> PrivateNote | None:
    """Write (or clear) the author's private psychotherapy note on a session."""
    existing = PrivateNote.objects.filter(session=session, author=author).first()
    if not text.strip():
        if existing:
            existing.delete()  # the author's own process note; it was never part of the record
        return None
    if existing:
        existing.text = text
        existing.save(update_fields=["text", "updated_at"])
        return existing
    return PrivateNote.objects.create(
        author=author, kind=NoteKind.PSYCHOTHERAPY_NOTE, session=session, text=text
    )


@transaction.atomic
def session_withdraw(*, session: TherapySession, by: User, reason: str) -> TherapySession:
    """Withdraw a session logged by mistake: hidden from views and summaries, kept on record."""
    session.withdrawn_at = timezone.now()
    session.withdrawn_by = by
    session.withdrawal_reason = reason
    session.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason", "updated_at"])
    return session
