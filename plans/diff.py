"""What changed between two revisions of a plan, goal by goal (the history page's comparison).

Goals are compared as the therapist reads them; a goal whose place holds a changed goal is
shown once with the fields that changed ("Status: Open → Met"), as marking a goal does.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.dates import show
from cycles.models import EFTStage
from plans.forms import target_label
from plans.models import Evidence, GoalStatus

if TYPE_CHECKING:
    from plans.models import PlanGoal, PlanRevision

FIELDS = ("Stage", "Targets", "Interventions", "Evidence", "Status", "Review")


def describe(goal: PlanGoal) -> tuple[str, ...]:
    """A goal's fields as shown, in the order of FIELDS."""
    return (
        str(EFTStage(goal.stage).label),
        "; ".join(target_label(t) for t in goal.targets) or "—",
        goal.interventions,
        str(Evidence(goal.evidence).label),
        str(GoalStatus(goal.status).label),
        show(goal.review_on),
    )


@dataclass(frozen=True)
class GoalChange:
    sign: str  # "+" added, "-" removed, "~" changed, " " unchanged
    fields: tuple[str, ...]  # the goal as it reads (the newer, when changed)
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (field, before, after)

    @property
    def shown(self) -> list[tuple[str, str]]:
        return list(zip(FIELDS, self.fields, strict=True))


@dataclass(frozen=True)
class PlanChanges:
    plan: list[tuple[str, str, str]]  # the plan's own fields that changed
    goals: list[GoalChange]


def compare(older: PlanRevision, newer: PlanRevision) -> PlanChanges:
    plan = [
        (name, before, after)
        for name, before, after in (
            ("Plan date", show(older.plan_date), show(newer.plan_date)),
            ("Plan review date", show(older.review_on), show(newer.review_on)),
        )
        if before != after
    ]
    before = [describe(g) for g in older.goals.all()]
    after = [describe(g) for g in newer.goals.all()]
    goals: list[GoalChange] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            goals += [GoalChange(" ", g) for g in before[i1:i2]]
        elif tag == "replace" and i2 - i1 == j2 - j1:
            for old, new in zip(before[i1:i2], after[j1:j2], strict=True):
                changed = [(n, o, w) for n, o, w in zip(FIELDS, old, new, strict=True) if o != w]
                goals.append(GoalChange("~", new, changed))
        else:
            goals += [GoalChange("-", g) for g in before[i1:i2]]
            goals += [GoalChange("+", g) for g in after[j1:j2]]
    return PlanChanges(plan=plan, goals=goals)
