from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from plans.services import GoalDraft, plan_save
from tests.factories import World

PLAN_DAYS_AGO = 30


@pytest.fixture
def world(db: None) -> World:
    return World.build()


def save_plan(couple: Any, goals: list[GoalDraft], **fields: Any) -> Any:
    """Save the couple's next revision from what is there now."""
    plan_date = fields.pop(
        "plan_date", timezone.localdate() - datetime.timedelta(days=PLAN_DAYS_AGO)
    )
    plan, _ = plan_save(
        couple=couple,
        author=couple.therapist,
        base_revision=couple.plan_revisions.count(),
        plan_date=plan_date,
        review_on=fields.pop("review_on", plan_date + datetime.timedelta(weeks=12)),
        goals=goals,
        **fields,
    )
    return plan


def goal(evidence: str, stage: int = 1, **fields: Any) -> GoalDraft:
    return GoalDraft(
        stage=stage,
        interventions=fields.pop("interventions", "Track the cycle together."),
        evidence=evidence,
        review_on=fields.pop("review_on", timezone.localdate() + datetime.timedelta(weeks=8)),
        **fields,
    )
