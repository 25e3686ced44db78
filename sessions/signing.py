"""Signing a session's record, co-signing it, and amending it once signed
(docs/domain.md, "Signing").

The record is the session's content, its ruptures as observed and the repairs made in it;
private notes and reflections are outside it and stay their author's. Signed, the record is
locked: the database refuses a change to it except while an amendment of that session is
applying (sessions migration 0010), which `amend` does in its own transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Exists, Model, OuterRef, Q
from django.utils import timezone

from core import dates
from people.models import Supervision
from sessions.models import (
    Amendment,
    CosignState,
    SignOffEvent,
    SignOffKind,
    TherapySession,
)

if TYPE_CHECKING:
    import datetime
    from collections.abc import Callable, Iterable

    from people.models import User


class SignOffRefused(Exception):
    """The step can't be taken now; the message says why, in words for the person."""


def needs_cosign(therapist_id: int) -> bool:
    """Whether a supervisor of the therapist co-signs their notes (people.Supervision)."""
    return Supervision.objects.filter(therapist_id=therapist_id, notes_need_cosign=True).exists()


def may_cosign(user: User, session: TherapySession) -> bool:
    """A supervisor of the session's therapist, never its author."""
    return supervises_author(user, session.therapist_id)


def waits_for(user: User, author: str) -> Q:
    """What waits in `user`'s sign-off queue: records whose author (the field `author`) has
    `user` as a supervisor set to co-sign their notes (Supervision.notes_need_cosign); or, when
    none of the author's active supervisors is set to any more (turned off, or the supervisor
    deactivated while records waited), any active supervisor of theirs, so no waiting record
    is left in nobody's queue. Any supervisor of theirs may co-sign (supervises_author),
    covering for a colleague."""
    theirs = Supervision.objects.filter(
        therapist_id=OuterRef(f"{author}_id"), supervisor__is_active=True
    )
    mine = theirs.filter(supervisor=user)
    return Q(Exists(mine.filter(notes_need_cosign=True))) | (
        Q(Exists(mine)) & ~Q(Exists(theirs.filter(notes_need_cosign=True)))
    )


def supervises_author(user: User, author_id: int) -> bool:
    """Who co-signs what a therapist wrote: a supervisor of theirs, never the author. The one
    rule for a session's record (above) and a treatment plan's revision (plans.signing)."""
    if user.pk == author_id:
        return False
    return Supervision.objects.filter(supervisor=user, therapist_id=author_id).exists()


UNCHANGED_NEEDS_A_REPLY = (
    "You haven't amended the record since your supervisor sent it back: amend it, or say "
    "why it stands as it is."
)


def unanswered_request(events: Iterable[SignOffEvent]) -> bool:
    """Whether the supervisor's latest change request (events in order) has had no amendment
    since: signing again then needs a reply saying why the record stands as it is."""
    waiting = False
    for event in events:
        if event.kind == SignOffKind.CHANGES_REQUESTED:
            waiting = True
        elif event.kind == SignOffKind.AMENDED:
            waiting = False
    return waiting


@transaction.atomic
def sign(session: TherapySession, *, by: User, reply: str = "") -> TherapySession:
    """The session's therapist signs its record; after changes were requested, signs again
    (the new signature's time is the one shown and the one the co-signature waits from)."""
    locked = TherapySession.objects.select_for_update().get(pk=session.pk)
    if by.pk != locked.therapist_id:
        raise SignOffRefused("Only the therapist who held the session signs its record.")
    if locked.is_withdrawn:
        raise SignOffRefused("This session was withdrawn: there is no record to sign.")
    if locked.is_signed and locked.cosign_state != CosignState.CHANGES_REQUESTED:
        raise SignOffRefused(f"You already signed session {locked.ordinal}.")
    reply = reply.strip()
    sent_back = locked.cosign_state == CosignState.CHANGES_REQUESTED
    if sent_back and not reply and unanswered_request(locked.signoff_events.all()):
        raise SignOffRefused(UNCHANGED_NEEDS_A_REPLY)
    # Signing again (after an amendment the supervisor asked for) is the signature that
    # stands, and the co-signature waits from then; each signing stays in the history.
    locked.signed_at, locked.signed_by = timezone.now(), by
    locked.cosign_state = (
        CosignState.AWAITING if needs_cosign(locked.therapist_id) else CosignState.NOT_NEEDED
    )
    locked.save(update_fields=["signed_at", "signed_by", "cosign_state"])
    SignOffEvent.objects.create(
        session=locked, kind=SignOffKind.SIGNED, by=by, comment=reply if sent_back else ""
    )
    return locked


@transaction.atomic
def cosign(session: TherapySession, *, by: User, comment: str = "") -> TherapySession:
    return _review(session, by=by, outcome=CosignState.COSIGNED, comment=comment)


@transaction.atomic
def request_changes(session: TherapySession, *, by: User, comment: str) -> TherapySession:
    if not comment.strip():
        raise SignOffRefused("Say what should change, so the therapist can amend the record.")
    return _review(session, by=by, outcome=CosignState.CHANGES_REQUESTED, comment=comment)


def _review(session: TherapySession, *, by: User, outcome: str, comment: str) -> TherapySession:
    locked = TherapySession.objects.select_for_update().get(pk=session.pk)
    if by.pk == locked.therapist_id:
        raise SignOffRefused("You can't co-sign your own note: your supervisor does.")
    if not may_cosign(by, locked):
        raise SignOffRefused("Only a supervisor of this session's therapist co-signs it.")
    if locked.cosign_state != CosignState.AWAITING:
        state = locked.get_cosign_state_display().lower()
        raise SignOffRefused(f"Session {locked.ordinal} is not awaiting co-signature ({state}).")
    locked.cosign_state = outcome
    locked.save(update_fields=["cosign_state"])
    kind = SignOffKind(outcome)  # the two outcomes are sign-off kinds of the same name
    SignOffEvent.objects.create(session=locked, kind=kind, by=by, comment=comment.strip())
    return locked


def changed(record: Model, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields whose value, as a reader sees it, would change (a start time differing only
    in seconds the form doesn't show is no change)."""
    return {
        name: value
        for name, value in fields.items()
        if _shown(record, name, getattr(record, name)) != _shown(record, name, value)
    }


def change_rows(what: str, record: Model, fields: dict[str, Any]) -> list[dict[str, str]]:
    """Each field that would change as {what, field, before, after}, in words."""
    return [
        {
            "what": what,
            "field": str(getattr(record._meta.get_field(name), "verbose_name", name)).capitalize(),
            "before": _shown(record, name, getattr(record, name)),
            "after": _shown(record, name, value),
        }
        for name, value in changed(record, fields).items()
    ]


def _shown(record: Model, name: str, value: Any) -> str:
    field = record._meta.get_field(name)
    flag = getattr(field, "flag", None)
    if flag is not None:  # a FlagSetField: its members' labels
        members = [m.label for m in flag if int(value or 0) & int(m)]
        return ", ".join(members) or "none"
    choices = dict(getattr(field, "flatchoices", None) or [])
    if value in choices:
        return str(choices[value])
    if value is None or value == "":
        return "—"
    if hasattr(value, "astimezone"):
        return f"{dates.show(value)}, {timezone.localtime(value):%H:%M}"
    return str(value)


@transaction.atomic
def amend(
    session: TherapySession,
    *,
    by: User,
    reason: str,
    changes: Iterable[dict[str, str]],
    apply: Callable[[], Any],
) -> Amendment:
    """Amend a signed record: keep what it said (`changes`, before and after) and why, then
    `apply` the change while the amendment is applying, the one window the database opens."""
    locked = TherapySession.objects.select_for_update().get(pk=session.pk)
    if not locked.is_signed:
        raise SignOffRefused("This record is not signed: correct it directly.")
    if by.pk != locked.therapist_id:
        raise SignOffRefused("Only the therapist who signed the record amends it.")
    rows = list(changes)
    if not rows:
        raise SignOffRefused("Nothing would change: an amendment needs a change.")
    if not reason.strip():
        raise SignOffRefused("Say why the record is amended.")
    amendment = Amendment.objects.create(
        session=locked, by=by, reason=reason.strip(), changes=rows, applying=True
    )
    apply()
    amendment.applying = False
    amendment.save(update_fields=["applying"])
    SignOffEvent.objects.create(session=locked, kind=SignOffKind.AMENDED, by=by)
    if locked.cosign_state == CosignState.COSIGNED:
        # A co-signed record that changes goes back to the supervisor.
        TherapySession.objects.filter(pk=locked.pk).update(cosign_state=CosignState.AWAITING)
    return amendment


def unsigned_overdue(practice_id: int, *, before: datetime.datetime) -> dict[int, Counter[str]]:
    """Held sessions of the practice started before `before` and still unsigned, counted by
    therapist and case code (the morning digest's "not signed" line): one query."""
    rows = (
        TherapySession.objects.unsigned()
        .filter(couple__practice_id=practice_id, starts_at__lt=before)
        .values_list("therapist_id", "couple__case_code")
    )
    found: dict[int, Counter[str]] = defaultdict(Counter)
    for therapist_id, case_code in rows:
        found[therapist_id][case_code] += 1
    return dict(found)
