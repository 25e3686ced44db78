"""Writes that span models for couples and cycle maps (HackSoft style: keyword-only, atomic)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.concurrency import claim_version, create_once
from cycles.models import (
    Couple,
    CycleMap,
    CyclePattern,
    CyclePosition,
    CycleStep,
    EFTStep,
    EmotionTerm,
    MoveDirection,
    Partner,
    StepKind,
)

if TYPE_CHECKING:
    import datetime

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
