"""Writes of the treatment plan (HackSoft style: keyword-only, atomic).

Each save writes a whole new revision, as the cycle map's does (cycles.services.cycle_map_save):
refused when someone saved a newer revision since the form was opened, made once however
often the same form is sent (its request token, core.concurrency.create_once).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from core.concurrency import create_once
from plans import signing
from plans.models import GoalStatus, PlanGoal, PlanRevision

if TYPE_CHECKING:
    from cycles.models import Couple
    from people.models import User


@dataclass(frozen=True)
class GoalDraft:
    """One goal as the therapist wrote it; `targets` is the snapshot of the steps it names."""

    stage: int
    interventions: str
    evidence: str
    review_on: datetime.date
    status: str = GoalStatus.OPEN
    targets: list[dict[str, Any]] = field(default_factory=list)


class StalePlan(Exception):
    """Someone saved a newer revision of this plan since the form was opened."""

    def __init__(self, current: int) -> None:
        super().__init__(f"The plan is now at revision {current}.")
        self.current = current


class GoalNotFound(Exception):
    """The goal to mark is not in the plan's current revision."""


def latest_plan(couple: Couple) -> PlanRevision | None:
    """The current revision with its author, its reviewer and goals: two queries."""
    return (
        couple.plan_revisions.select_related("author", "reviewed_by")
        .prefetch_related(Prefetch("goals", queryset=PlanGoal.objects.order_by("position")))
        .order_by("-revision")
        .first()
    )


def current_revision_number(couple: Couple) -> int:
    latest = couple.plan_revisions.order_by("-revision").values_list("revision", flat=True).first()
    return latest or 0


def plan_save(
    *,
    couple: Couple,
    author: User,
    base_revision: int,
    plan_date: datetime.date,
    review_on: datetime.date,
    goals: list[GoalDraft],
    change_note: str = "",
    request_token: uuid.UUID | None = None,
) -> tuple[PlanRevision, bool]:
    """Save the plan as the couple's next revision; returns (revision, created).

    1. Take the couple's row lock (create_once), so saves of one plan take turns.
    2. A form sent again with the same `request_token` gets its first save back (created False).
    3. Refuse if the plan moved on since `base_revision` was read (StalePlan); the unique
       (couple, revision) is the last word if two saves race anyway.
    4. Write revision base+1 with its goals in order; it awaits a supervisor's co-signature
       when the author's notes need co-signing, and replaces an earlier one still awaiting
       (plans.signing).
    """
    if review_on < plan_date or any(goal.review_on < plan_date for goal in goals):
        raise ValueError("A review date can't be before the plan's date.")

    def create(token: uuid.UUID | None) -> PlanRevision:
        current = current_revision_number(couple)
        if current != base_revision:
            raise StalePlan(current)
        plan = PlanRevision.objects.create(
            couple=couple,
            revision=base_revision + 1,
            author=author,
            created_at=timezone.now(),
            plan_date=plan_date,
            review_on=review_on,
            change_note=change_note,
            request_token=token,
            cosign_state=signing.state_on_save(author.pk),
        )
        signing.supersede_earlier(plan)
        PlanGoal.objects.bulk_create(
            PlanGoal(
                plan=plan,
                position=position,
                stage=goal.stage,
                targets=goal.targets,
                interventions=goal.interventions,
                evidence=goal.evidence,
                status=goal.status,
                review_on=goal.review_on,
            )
            for position, goal in enumerate(goals, start=1)
        )
        return plan

    try:
        with transaction.atomic():
            return create_once(
                PlanRevision.objects.filter(couple=couple),
                token=request_token,
                parent=couple,
                create=create,
            )
    except IntegrityError as error:
        if "plan_revision_once" in str(error):
            raise StalePlan(current_revision_number(couple)) from error
        raise


def drafts_of(plan: PlanRevision) -> list[GoalDraft]:
    return [
        GoalDraft(
            stage=goal.stage,
            interventions=goal.interventions,
            evidence=goal.evidence,
            review_on=goal.review_on,
            status=goal.status,
            targets=list(goal.targets),
        )
        for goal in plan.goals.all()
    ]


def goal_mark(
    *,
    couple: Couple,
    author: User,
    base_revision: int,
    position: int,
    status: str,
    request_token: uuid.UUID | None = None,
) -> tuple[PlanRevision, bool]:
    """Mark one goal of the current revision met, revised, dropped (or open again): a new
    revision with every goal as it was but that one."""
    with transaction.atomic():
        # A mark sent twice reaches plan_save, whose create_once gives the first save back.
        plan = couple.plan_revisions.filter(revision=base_revision).first()
        if plan is None:
            current = current_revision_number(couple)
            if current == 0:
                raise GoalNotFound  # no plan at all: nothing to mark
            raise StalePlan(current)
        goals = drafts_of(plan)
        if not 1 <= position <= len(goals):
            raise GoalNotFound
        goals[position - 1] = replace(goals[position - 1], status=status)
        label = GoalStatus(status).label.lower()
        return plan_save(
            couple=couple,
            author=author,
            base_revision=base_revision,
            plan_date=plan.plan_date,
            review_on=plan.review_on,
            goals=goals,
            change_note=f"Goal {position} marked {label}.",
            request_token=request_token,
        )
