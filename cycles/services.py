"""Writes that span models for couples and cycle maps (HackSoft style: keyword-only, atomic)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.urls import reverse
from django.utils import timezone

from core import dates
from core.concurrency import claim_version, create_once
from cycles.models import (
    CLOSED_STATUSES,
    CaseEvent,
    CaseEventKind,
    Couple,
    CoupleStatus,
    CycleMap,
    CyclePattern,
    CyclePosition,
    CycleStep,
    DestructionRequest,
    EFTStep,
    EmotionTerm,
    MoveDirection,
    Partner,
    RetentionPolicy,
    StepKind,
    add_years,
    reached,
)
from people.access import supervises, treats

if TYPE_CHECKING:
    import datetime

    from django.db.models import QuerySet

    from people.models import User


@dataclass(frozen=True)
class PartnerDetails:
    display_name: str
    position: str = CyclePosition.VARIES
    pronouns: str = ""


@transaction.atomic
def couple_create(
    *,
    therapist: User,
    partner_a: PartnerDetails,
    partner_b: PartnerDetails,
    cycle_pattern: str = CyclePattern.PURSUE_WITHDRAW,
    eft_step: int = EFTStep.ALLIANCE_ASSESSMENT,
    started_on: datetime.date | None = None,
    request_token: uuid.UUID | None = None,
) -> Couple:
    """Open a couple's record with its two partners, in the therapist's practice.

    A form sent twice with the same `request_token` opens one record: the second gets the
    first's couple back (core/concurrency.py).
    """
    if therapist.practice_id is None or not therapist.is_therapist:
        raise ValueError("Only a therapist of a practice can open a couple's record.")
    practice_id = therapist.practice_id

    def create(token: uuid.UUID | None) -> Couple:
        couple = Couple.objects.create(
            practice_id=practice_id,
            therapist=therapist,
            cycle_pattern=cycle_pattern,
            eft_step=eft_step,
            started_on=started_on or timezone.localdate(),
            request_token=token,
        )
        for label, details in (("A", partner_a), ("B", partner_b)):
            Partner.objects.create(
                couple=couple,
                label=label,
                display_name=details.display_name,
                position=details.position,
                pronouns=details.pronouns,
            )
        return couple

    couple, _ = create_once(
        Couple.objects.filter(therapist=therapist),
        token=request_token,
        parent=therapist,
        create=create,
    )
    return couple


@transaction.atomic
def couple_update(
    *,
    couple: Couple,
    partner_a: PartnerDetails,
    partner_b: PartnerDetails,
    cycle_pattern: str,
    eft_step: int,
    started_on: datetime.date,
    status: str,
    read_version: int | None,
) -> Couple:
    """Correct the couple's header and partners (positions can reverse over time).

    Refused with StaleEdit when the couple was saved since `read_version` was read.
    """
    couple.version = claim_version(Couple, pk=couple.pk, read_version=read_version)
    couple.cycle_pattern = cycle_pattern
    couple.eft_step = eft_step
    couple.started_on = started_on
    couple.status = status
    couple.save()
    for label, details in (("A", partner_a), ("B", partner_b)):
        couple.partners.filter(label=label).update(
            display_name=details.display_name,
            position=details.position,
            pronouns=details.pronouns,
        )
    return couple


@dataclass(frozen=True)
class StepDraft:
    """One link of a partner's chain as the therapist wrote it."""

    kind: str
    text: str = ""
    emotion: EmotionTerm | None = None
    move: str = ""


class StaleRevision(Exception):
    """Someone saved a newer revision of this map since the editor opened it."""

    def __init__(self, current: int) -> None:
        super().__init__(f"The map is now at revision {current}.")
        self.current = current


def current_revision_number(couple: Couple) -> int:
    latest = couple.cycle_maps.order_by("-revision").values_list("revision", flat=True).first()
    return latest or 0


def cycle_map_save(
    *,
    couple: Couple,
    author: User,
    base_revision: int,
    chains: dict[str, list[StepDraft]],
    change_note: str = "",
    created_at: datetime.datetime | None = None,
) -> CycleMap:
    """Save the partners' chains as the next revision of the couple's map.

    1. Refuse if the map moved on since `base_revision` was read (StaleRevision).
    2. Create revision base+1; the unique (couple, revision) constraint refuses the loser of
       two saves racing from the same base, so nothing is silently overwritten.
    3. Write each partner's steps in order, then link each partner's last action to the
       other partner's first trigger: the loop of the cycle.
    """
    try:
        with transaction.atomic():
            current = current_revision_number(couple)
            if current != base_revision:
                raise StaleRevision(current)
            cycle_map = CycleMap.objects.create(
                couple=couple,
                revision=base_revision + 1,
                author=author,
                change_note=change_note,
                created_at=created_at or timezone.now(),
            )
            partners = {p.label: p for p in couple.partners.all()}
            written = {
                label: _write_chain(cycle_map, partners[label], chains.get(label, []))
                for label in ("A", "B")
            }
            _close_the_loop(written)
            return cycle_map
    except IntegrityError as error:
        if "cycle_map_revision_once" in str(error):
            raise StaleRevision(current_revision_number(couple)) from error
        raise


def _write_chain(cycle_map: CycleMap, partner: Partner, drafts: list[StepDraft]) -> list[CycleStep]:
    steps = [
        CycleStep(
            cycle_map=cycle_map,
            partner=partner,
            position=index,
            kind=draft.kind,
            text=draft.text,
            emotion=draft.emotion,
            move=draft.move if draft.kind == StepKind.ACTION else "",
        )
        for index, draft in enumerate(drafts, start=1)
    ]
    return CycleStep.objects.bulk_create(steps)


def _close_the_loop(written: dict[str, list[CycleStep]]) -> None:
    for label, other in (("A", "B"), ("B", "A")):
        actions = [s for s in written[label] if s.kind == StepKind.ACTION]
        triggers = [s for s in written[other] if s.kind == StepKind.TRIGGER]
        if actions and triggers:
            action = actions[-1]
            action.leads_to = triggers[0]
            action.save(update_fields=["leads_to"])


def default_move_for(position: str) -> str:
    """A pursuer's moves are pursuing steps, a withdrawer's withdrawing ones."""
    if position == CyclePosition.WITHDRAWER:
        return MoveDirection.WITHDRAWING
    return MoveDirection.PURSUING


class CaseRefused(Exception):
    """A closing, reopening or transfer that can't be made; the message says why."""


def _close_open_flags(couple: Couple, today: datetime.date) -> None:
    """A closed case's open flags close today (the nightly run opens none for it: flags.rules)."""
    flags = reached(Couple, "flags")
    flags.open().filter(couple=couple, opened_on__lte=today).update(closed_on=today)


@transaction.atomic
def couple_discharge(
    *,
    couple: Couple,
    by: User,
    reason: str,
    closed_on: datetime.date,
    note: str = "",
    read_version: int | None,
) -> Couple:
    """Close the case: its status becomes the reason, `closed_on` the discharge date.

    Refused with StaleEdit when the couple was saved since `read_version` was read.
    """
    if reason not in CLOSED_STATUSES:
        raise CaseRefused("Choose why the case is closing.")
    if couple.is_closed:
        raise CaseRefused("This case is already closed.")
    if closed_on > timezone.localdate():
        raise CaseRefused("A case can't be closed on a date still to come.")
    couple.version = claim_version(Couple, pk=couple.pk, read_version=read_version)
    couple.status = reason
    couple.closed_on = closed_on
    couple.save(update_fields=["status", "closed_on", "version"])
    CaseEvent.objects.create(
        couple=couple,
        kind=CaseEventKind.DISCHARGED,
        on_date=closed_on,
        reason=reason,
        note=note if reason == CoupleStatus.CLOSED_OTHER else "",
        by=by,
    )
    _close_open_flags(couple, timezone.localdate())
    return couple


@transaction.atomic
def couple_reopen(*, couple: Couple, by: User, note: str, read_version: int | None) -> Couple:
    """Reopen a closed case (active again), with the reason it is reopened."""
    if not couple.is_closed:
        raise CaseRefused("This case is open already.")
    couple.version = claim_version(Couple, pk=couple.pk, read_version=read_version)
    couple.status = CoupleStatus.ACTIVE
    couple.closed_on = None
    couple.save(update_fields=["status", "closed_on", "version"])
    CaseEvent.objects.create(
        couple=couple, kind=CaseEventKind.REOPENED, on_date=timezone.localdate(), note=note, by=by
    )
    return couple


def may_transfer(user: User, couple: Couple) -> bool:
    """The practice admin, or the supervisor of the couple's therapist, may move the case."""
    if not user.is_authenticated or user.practice_id != couple.practice_id:
        return False
    if user.is_practice_admin:
        return True
    return supervises(user, couple)


def transfer_targets(couple: Couple) -> QuerySet[User]:
    """The therapists of the couple's practice it could move to (its own therapist aside)."""
    from people.models import User

    return (
        User.objects.filter(practice_id=couple.practice_id, is_therapist=True, is_active=True)
        .exclude(pk=couple.therapist_id)
        .order_by("display_name", "username")
    )


TRANSFER_SUBJECT = "Cycles: case {code} transferred"
TRANSFER_BODY = (
    "Case {code} has been transferred from {old} to {new} by {by}.\n\n"
    "Sign in to Cycles to see your caseload. This message holds no clinical content."
)


@transaction.atomic
def couple_transfer(
    *, couple: Couple, to_therapist: User, by: User, note: str, read_version: int | None
) -> Couple:
    """Move the case to another therapist of the practice; both are told by e-mail (the case
    code and names only). Private notes stay their author's: they are not moved, and the new
    therapist never reads the old one's (sessions.PrivateNote.visible_to)."""
    if not may_transfer(by, couple):
        raise CaseRefused("Only the practice admin or the therapist's supervisor can move a case.")
    if (
        to_therapist.practice_id != couple.practice_id
        or not to_therapist.is_therapist
        or not to_therapist.is_active
    ):
        raise CaseRefused("A case can only move to a therapist of this practice.")
    if to_therapist.pk == couple.therapist_id:
        raise CaseRefused("The case is already with this therapist.")
    old = couple.therapist
    couple.version = claim_version(Couple, pk=couple.pk, read_version=read_version)
    couple.therapist = to_therapist
    if couple.co_therapist_id == to_therapist.pk:
        couple.co_therapist = None  # the co-therapist now leads the case alone
    couple.save(update_fields=["therapist", "co_therapist", "version"])
    CaseEvent.objects.create(
        couple=couple,
        kind=CaseEventKind.TRANSFERRED,
        on_date=timezone.localdate(),
        note=note,
        by=by,
        from_therapist=old,
        to_therapist=to_therapist,
    )
    words = {"code": couple.case_code, "old": old, "new": to_therapist, "by": by}
    recipients = [person.email for person in (old, to_therapist) if person.email]

    def tell() -> None:
        send_mail(
            TRANSFER_SUBJECT.format(**words),
            TRANSFER_BODY.format(**words),
            None,
            recipients,
        )

    transaction.on_commit(tell)
    return couple


CO_THERAPY_SUBJECT = "Cycles: co-therapy on case {code}"
CO_THERAPY_JOINED = (
    "{person} is now the co-therapist of case {code} (with {lead}), set by {by}.\n\n"
    "Sign in to Cycles to see the case. This message holds no clinical content."
)
CO_THERAPY_LEFT = (
    "{person} is no longer the co-therapist of case {code} (with {lead}), set by {by}.\n\n"
    "This message holds no clinical content."
)


def co_therapist_targets(couple: Couple) -> QuerySet[User]:
    """The therapists of the practice who could join the case (its lead therapist aside)."""
    return transfer_targets(couple)


@transaction.atomic
def co_therapist_set(
    *, couple: Couple, co_therapist: User | None, by: User, note: str, read_version: int | None
) -> Couple:
    """A second therapist joins the case (or the one there leaves): same rights on the shared
    record, own private notes (docs/domain.md#co-therapy). Everyone concerned is told by
    e-mail (the case code and names only) and at their next sign-in (cycles.signals)."""
    if not may_transfer(by, couple):
        raise CaseRefused(
            "Only the practice admin or the therapist's supervisor sets a co-therapist."
        )
    if co_therapist is not None and (
        co_therapist.practice_id != couple.practice_id
        or not co_therapist.is_therapist
        or not co_therapist.is_active
    ):
        raise CaseRefused("A co-therapist is a therapist of this practice.")
    if co_therapist is not None and co_therapist.pk == couple.therapist_id:
        raise CaseRefused(f"{co_therapist} already leads this case.")
    old = couple.co_therapist
    if (old and old.pk) == (co_therapist and co_therapist.pk):
        raise CaseRefused("Nothing to change: that is the case's co-therapist already.")
    couple.version = claim_version(Couple, pk=couple.pk, read_version=read_version)
    couple.co_therapist = co_therapist
    couple.save(update_fields=["co_therapist", "version"])
    today = timezone.localdate()
    told: list[tuple[str, User]] = []
    if old is not None:
        CaseEvent.objects.create(
            couple=couple,
            kind=CaseEventKind.CO_THERAPIST_LEFT,
            on_date=today,
            note=note,
            by=by,
            from_therapist=old,
        )
        told.append((CO_THERAPY_LEFT, old))
    if co_therapist is not None:
        CaseEvent.objects.create(
            couple=couple,
            kind=CaseEventKind.CO_THERAPIST_JOINED,
            on_date=today,
            note=note,
            by=by,
            to_therapist=co_therapist,
        )
        told.append((CO_THERAPY_JOINED, co_therapist))
    _tell_co_therapy(couple, by, told)
    return couple


def _tell_co_therapy(couple: Couple, by: User, told: list[tuple[str, User]]) -> None:
    """After the commit: the lead therapist and each joining or leaving co-therapist."""
    subject = CO_THERAPY_SUBJECT.format(code=couple.case_code)
    letters = []
    for body, person in told:
        words = {"person": person, "code": couple.case_code, "lead": couple.therapist, "by": by}
        text = body.format(**words)
        letters += [(text, p.email) for p in (person, couple.therapist) if p.email]

    def send() -> None:
        for text, address in letters:
            send_mail(subject, text, None, [address])

    transaction.on_commit(send)


# Retention and two-person destruction (docs/domain.md, "Closing, transferring and keeping
# records").


def past_retention(policy: RetentionPolicy, today: datetime.date | None = None) -> QuerySet[Couple]:
    """The practice's closed records whose retention period (`policy`, the practice's
    RetentionPolicy.for_practice) has ended, oldest first."""
    latest_closing = add_years(today or timezone.localdate(), -policy.years)
    return (
        Couple.objects.filter(practice_id=policy.practice_id, closed_on__lte=latest_closing)
        .closed()
        .order_by("closed_on", "case_code")
    )


def _refuse_within_retention(couple: Couple) -> datetime.date:
    """The record's discharge date, when it is closed and past retention; else refused."""
    if not couple.is_closed or couple.closed_on is None:
        raise CaseRefused(f"{couple.case_code} is not closed: only a closed record is destroyed.")
    until = RetentionPolicy.for_practice(couple.practice_id).kept_until(couple.closed_on)
    if timezone.localdate() < until:
        raise CaseRefused(
            f"{couple.case_code} is kept until {dates.show(until)}: "
            "a record within its retention period can't be destroyed."
        )
    return couple.closed_on


@transaction.atomic
def destruction_request(*, couple: Couple, by: User) -> DestructionRequest:
    """The practice admin asks for a record past retention to be destroyed; nothing is
    deleted until the couple's therapist or their supervisor confirms."""
    if not (by.is_practice_admin and by.practice_id == couple.practice_id):
        raise CaseRefused("Only the practice admin asks for a record to be destroyed.")
    Couple.objects.select_for_update().filter(pk=couple.pk).first()
    closed_on = _refuse_within_retention(couple)
    if DestructionRequest.objects.filter(couple=couple, destroyed_at__isnull=True).exists():
        raise CaseRefused(f"The destruction of {couple.case_code} is already waiting.")
    return DestructionRequest.objects.create(
        practice_id=couple.practice_id,
        couple=couple,
        case_code=couple.case_code,
        started_on=couple.started_on,
        closed_on=closed_on,
        requested_by=by,
    )


def may_confirm_destruction(user: User, couple: Couple) -> bool:
    """The couple's therapist (or co-therapist), or their supervisor, confirms a destruction."""
    if not user.is_authenticated or user.practice_id != couple.practice_id:
        return False
    return treats(user, couple) or supervises(user, couple)


@transaction.atomic
def destruction_confirm(*, request: DestructionRequest, by: User) -> DestructionRequest:
    """The second person confirms: the couple's clinical rows are deleted, the request stays
    as the tombstone (case code, dates, who requested, who confirmed)."""
    locked = DestructionRequest.objects.select_for_update().filter(pk=request.pk).first()
    if locked is None or locked.destroyed_at is not None or locked.couple_id is None:
        raise CaseRefused("This record was destroyed already.")
    couple = Couple.objects.select_for_update().get(pk=locked.couple_id)
    if not may_confirm_destruction(by, couple):
        raise CaseRefused("Only the couple's therapist or their supervisor confirms.")
    if by.pk == locked.requested_by_id:
        raise CaseRefused("Destroying a record needs two people: someone else must confirm.")
    _refuse_within_retention(couple)
    _delete_record(couple)
    locked.confirmed_by = by
    locked.destroyed_at = timezone.now()
    locked.save(update_fields=["confirmed_by", "destroyed_at"])
    return locked


def _delete_record(couple: Couple) -> None:
    """Every clinical row of the couple. Ruptures first (with their repairs and reflections),
    then sessions (with their notes and measures), then the couple and what cascades from it;
    reached through the foreign keys the higher apps declared (docs/architecture.md)."""
    for part in ("ruptures", "sessions"):
        _delete_with_protected(reached(Couple, part).filter(couple=couple))
    _delete_with_protected(Couple.objects.filter(pk=couple.pk))


def _delete_with_protected(rows: QuerySet[Any], depth: int = 0) -> None:
    """Delete `rows`, first deleting the rows that protect them (a signed session's sign-off
    events, its amendments): all of them belong to the record being destroyed."""
    while True:
        try:
            rows.delete()
            return
        except (ProtectedError, RestrictedError) as error:
            if depth >= 4:
                raise
            blocking = (
                error.protected_objects
                if isinstance(error, ProtectedError)
                else error.restricted_objects
            )
            by_model: dict[type[Any], list[Any]] = {}
            for row in blocking:
                by_model.setdefault(type(row), []).append(row.pk)
            for model, pks in by_model.items():
                _delete_with_protected(model._default_manager.filter(pk__in=pks), depth + 1)


@transaction.atomic
def retention_set(*, practice_id: int, years: int, read_version: int | None) -> RetentionPolicy:
    """Save the practice's retention period (its row made on the first save)."""
    policy, created = RetentionPolicy.objects.get_or_create(practice_id=practice_id)
    if not created or read_version != policy.version:
        policy.version = claim_version(RetentionPolicy, pk=policy.pk, read_version=read_version)
    policy.years = years
    policy.save(update_fields=["years", "version"])
    return policy


DESTRUCTION_SUBJECT = "Cycles: destroying the record of {code} needs your confirmation"
DESTRUCTION_BODY = (
    "{by} asked for the closed record {code} (past its retention period) to be destroyed.\n\n"
    "Nothing is deleted until the couple's therapist or their supervisor confirms: sign in to "
    "Cycles and open {path}. This message holds no clinical content."
)


def tell_destruction_asked(asked: DestructionRequest, couple: Couple) -> None:
    """The couple's therapist and their supervisors are asked to confirm (case code only)."""
    from people.models import User

    therapists = [t for t in (couple.therapist, couple.co_therapist) if t is not None]
    supervisors = User.objects.filter(
        supervisions__therapist__in=therapists, practice_id=couple.practice_id
    )
    emails = {*(t.email for t in therapists), *supervisors.values_list("email", flat=True)}
    emails -= {""}
    path = reverse("cycles:destroy_confirm", args=[couple.case_code])
    words = {"code": asked.case_code, "by": asked.requested_by, "path": path}
    send_mail(
        DESTRUCTION_SUBJECT.format(**words), DESTRUCTION_BODY.format(**words), None, sorted(emails)
    )
