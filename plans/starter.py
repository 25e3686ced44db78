"""A starter plan drafted from the couple's cycle map: offered, never imposed.

The therapist asks for it ("Draft a plan from the cycle map"); it only fills the plan form,
which they edit and save (or not). Goals follow EFT's stages (Johnson 2004): de-escalate the
cycle the map names; re-engage the withdrawer and soften the blamer from their primary
emotions and attachment needs; consolidate new positions.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from cycles.models import CyclePosition, EFTStage, MoveDirection, StepKind
from plans.models import Evidence, GoalStatus

if TYPE_CHECKING:
    from cycles.models import CycleStep, Partner

PLAN_REVIEW_AFTER = datetime.timedelta(weeks=12)
REVIEW_AFTER = {
    EFTStage.DE_ESCALATION: datetime.timedelta(weeks=8),
    EFTStage.RESTRUCTURING: datetime.timedelta(weeks=20),
    EFTStage.CONSOLIDATION: datetime.timedelta(weeks=32),
}


def _words(steps: list[CycleStep], fallback: str) -> str:
    return " / ".join(step.label for step in steps) or fallback


def _withdraws(partner: Partner, actions: list[CycleStep]) -> bool:
    if partner.position == CyclePosition.WITHDRAWER:
        return True
    if partner.position == CyclePosition.PURSUER:
        return False
    return any(step.move == MoveDirection.WITHDRAWING for step in actions)


def starter_goals(
    map_steps: list[CycleStep], partners: list[Partner], plan_date: datetime.date
) -> list[dict[str, Any]]:
    """The goals' initial values for the plan form, naming each partner's moves, primary
    emotions and needs as the map words them."""
    steps: dict[int, list[CycleStep]] = {p.pk: [] for p in partners}
    for step in map_steps:
        steps.setdefault(step.partner_id, []).append(step)

    def of(partner: Partner, kind: str) -> list[CycleStep]:
        return [s for s in steps[partner.pk] if s.kind == kind]

    def goal(stage: EFTStage, targets: list[CycleStep], text: str, evidence: str) -> dict[str, Any]:
        return {
            "stage": int(stage),
            "targets": [str(s.pk) for s in targets],
            "interventions": text,
            "evidence": evidence,
            "status": GoalStatus.OPEN,
            "review_on": plan_date + REVIEW_AFTER[stage],
        }

    moves = [(p, of(p, StepKind.ACTION)) for p in partners]
    named = "; ".join(f"{p.display_name}: {_words(actions, 'their move')}" for p, actions in moves)
    goals = [
        goal(
            EFTStage.DE_ESCALATION,
            [s for _, actions in moves for s in actions],
            f"Track the cycle in session and name it as the common enemy ({named}). Reflect "
            "the reactive emotions and reframe the problem as the cycle and the attachment "
            "needs under it.",
            Evidence.DE_ESCALATION,
        )
    ]
    # The withdrawer's re-engagement comes first in stage 2, then the blamer's softening.
    for partner, actions in sorted(moves, key=lambda pa: not _withdraws(*pa)):
        primary = of(partner, StepKind.PRIMARY_EMOTION)
        needs = of(partner, StepKind.ATTACHMENT_NEED)
        feeling = _words(primary, "the primary emotion").lower()
        need = _words(needs, "what they need").lower()
        move = _words(actions, "their move")
        if _withdraws(partner, actions):
            text = (
                f"Help {partner.display_name} reach the {feeling} beneath the move ({move}), "
                f"stay engaged and ask for {need}."
            )
            evidence = Evidence.WITHDRAWER_REENGAGEMENT
        else:
            text = (
                f"Help {partner.display_name} reach the {feeling} beneath the move ({move}) "
                f"and ask for {need} from a softer place."
            )
            evidence = Evidence.BLAMER_SOFTENING
        goals.append(goal(EFTStage.RESTRUCTURING, primary + needs, text, evidence))
    goals.append(
        goal(
            EFTStage.CONSOLIDATION,
            [s for _, actions in moves for s in actions],
            f"Consolidate new positions: new solutions to old problems without falling back "
            f"into the old moves ({named}); a shared story of the cycle and how they repair.",
            Evidence.CSI4_ABOVE_CUTOFF,
        )
    )
    return goals
