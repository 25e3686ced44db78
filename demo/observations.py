"""The demo's per-session observations: Gottman's Four Horsemen and EFT's change events.

Drawn from one `random.Random` per couple (not the builder's), like the measures, so the rest
of the demo is the same as without them. The horsemen thin out as treatment goes on; a couple
past stage 1 shows de-escalation a little after half-way, one in stage 2 at step 6 or later a
withdrawer re-engaging, and at step 7 or in stage 3 a blamer softening; now and then an early
session surfaces an attachment injury.
"""

from __future__ import annotations

import random

from demo.data import BuiltCouple
from sessions.models import EFTChangeEvent, Horseman, TherapySession

OBSERVATIONS_SEED = 7309
# (horseman, chance per session early in treatment); halved in the later sessions.
HORSEMEN = [
    (Horseman.CRITICISM, 0.45),
    (Horseman.DEFENSIVENESS, 0.4),
    (Horseman.STONEWALLING, 0.15),
    (Horseman.CONTEMPT, 0.08),
]
# (change event, where in the held sessions it comes, and whether the couple has got there)
MILESTONES = [
    (EFTChangeEvent.DE_ESCALATION, 0.55, lambda stage, step: stage >= 2),
    (EFTChangeEvent.WITHDRAWER_REENGAGEMENT, 0.75, lambda stage, step: step >= 6),
    (EFTChangeEvent.BLAMER_SOFTENING, 0.9, lambda stage, step: step >= 7),
]


def add_observations(built: list[BuiltCouple]) -> None:
    """Draw every couple's observations, then write them in one bulk update."""
    changed: list[TherapySession] = []
    for number, one in enumerate(built):
        rng = random.Random(OBSERVATIONS_SEED + number)  # noqa: S311 -- invented data
        changed += observe(one, rng)
    TherapySession.objects.bulk_update(changed, ["horsemen", "change_events"], batch_size=200)


def observe(one: BuiltCouple, rng: random.Random) -> list[TherapySession]:
    held = [s for s in one.sessions if s.took_place]
    stage, step = one.couple.eft_stage, one.couple.eft_step
    for index, session in enumerate(held):
        later = index >= len(held) * 0.4
        horsemen = Horseman(0)
        for horseman, chance in HORSEMEN:
            if rng.random() < chance / (2 if later else 1):
                horsemen |= horseman
        session.horsemen = horsemen
        session.change_events = EFTChangeEvent(0)
    for event, where, reached in MILESTONES:
        if held and reached(stage, step):
            held[min(int(len(held) * where), len(held) - 1)].change_events |= event
    if len(held) > 3 and rng.random() < 0.2:
        held[rng.randrange(1, 3)].change_events |= EFTChangeEvent.ATTACHMENT_INJURY
    return held
