"""Restoring an earlier revision of a cycle map: a new revision with that revision's steps.

The history is never rewritten: restoring revision 2 of a map at revision 5 saves revision 6,
whose steps are revision 2's, through the one save (`cycles.services.cycle_map_save`), so it
is refused like any save made from a stale revision and leaves the same audit trail (the
database's change triggers, people migration 0005).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Prefetch

from cycles.models import CycleMap, CycleStep
from cycles.services import StaleRevision, StepDraft, cycle_map_save

if TYPE_CHECKING:
    from cycles.models import Couple
    from people.models import User


class RevisionNotFound(Exception):
    """The revision asked for is not one of this couple's."""


@dataclass(frozen=True)
class Restored:
    cycle_map: CycleMap
    # False when this request found its own restore already made (a double click).
    created: bool


def with_steps(couple: Couple) -> dict[int, CycleMap]:
    """Every revision of the couple's map by number, each with its steps (two queries)."""
    steps = CycleStep.objects.select_related("emotion", "partner").order_by(
        "partner__label", "position"
    )
    maps = couple.cycle_maps.select_related("author").prefetch_related(
        Prefetch("steps", queryset=steps)
    )
    return {cycle_map.revision: cycle_map for cycle_map in maps}


def chains_of(cycle_map: CycleMap) -> dict[str, list[StepDraft]]:
    """A saved revision's steps as the drafts a save takes, partner by partner, in order."""
    chains: dict[str, list[StepDraft]] = {"A": [], "B": []}
    for step in cycle_map.steps.all():
        chains[step.partner.label].append(
            StepDraft(kind=step.kind, text=step.text, emotion=step.emotion, move=step.move)
        )
    return chains


def same_steps(one: CycleMap, other: CycleMap) -> bool:
    return chains_of(one) == chains_of(other)


def restore_note(revision: int) -> str:
    return f"Restored revision {revision}."


def cycle_map_restore(
    *, couple: Couple, author: User, revision: int, base_revision: int
) -> Restored:
    """Save revision `revision`'s steps as the next revision of the couple's map.

    1. Refuse a revision the couple's map never had (RevisionNotFound).
    2. Save its steps through cycle_map_save from `base_revision`, the revision the history
       page showed as current: a newer save since then refuses it (StaleRevision).
    3. A refusal whose newer revision is this same restore, by the same person, made from
       the same base (the first of a double click), is that restore, not a conflict.
    """
    revisions = with_steps(couple)
    if revision not in revisions:
        raise RevisionNotFound(revision)
    wanted = revisions[revision]
    try:
        saved = cycle_map_save(
            couple=couple,
            author=author,
            base_revision=base_revision,
            chains=chains_of(wanted),
            change_note=restore_note(revision),
        )
    except StaleRevision:
        made = with_steps(couple).get(base_revision + 1)
        if (
            made is not None
            and made.author_id == author.pk
            and made.change_note == restore_note(revision)
            and same_steps(made, wanted)
        ):
            return Restored(made, created=False)
        raise
    return Restored(saved, created=True)
