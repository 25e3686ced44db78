"""The demo's treatment plans (docs/domain.md, "Treatment plan"): drafted from each couple's
cycle map by the same starter a therapist asks for (plans.starter), then saved as the
therapist would, through plans.services.plan_save.

Two cases carry one: the founding case (therapist1's walk-out and repair), whose plan reads its
progress from the record, and one of therapist2's, whose notes the supervisor co-signs, so its
plan waits on the supervisor's Sign-off list beside his sessions.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from plans.forms import step_snapshot
from plans.services import GoalDraft, plan_save
from plans.starter import starter_goals

if TYPE_CHECKING:
    from demo.data import BuiltCouple, DemoSummary

CO_SIGNED_THERAPIST = "therapist2"


def add_plans(built: list[BuiltCouple], summary: DemoSummary, today: datetime.date) -> int:
    """One plan on the founding case and one on the co-signed associate's first case."""
    chosen = [b for b in built if b.spec.seed_case]
    associate = summary.users[CO_SIGNED_THERAPIST]
    chosen += [b for b in built if b.couple.therapist_id == associate.pk][:1]
    for item in chosen:
        _draft_and_save(item, today)
    return len(chosen)


def _draft_and_save(item: BuiltCouple, today: datetime.date) -> None:
    couple = item.couple
    cycle_map = couple.cycle_maps.order_by("-revision").first()
    if cycle_map is None:
        return
    steps = list(cycle_map.steps.select_related("partner").order_by("partner__label", "position"))
    partners = list(couple.partners.order_by("label"))
    plan_date = today - datetime.timedelta(days=14)
    by_pk = {str(step.pk): step for step in steps}
    goals = [
        GoalDraft(
            stage=goal["stage"],
            interventions=goal["interventions"],
            evidence=goal["evidence"],
            review_on=goal["review_on"],
            targets=[step_snapshot(by_pk[pk]) for pk in goal["targets"]],
        )
        for goal in starter_goals(steps, partners, plan_date)
    ]
    plan_save(
        couple=couple,
        author=couple.therapist,
        base_revision=0,
        plan_date=plan_date,
        review_on=plan_date + datetime.timedelta(weeks=12),
        goals=goals,
        change_note="Drafted from the cycle map.",
    )
