"""`{% plan_summary couple %}`: the couple page's card on the plan, in one query."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from plans.models import PlanRevision

register = template.Library()


@register.inclusion_tag("plans/_summary.html")
def plan_summary(couple: Any) -> dict[str, Any]:
    """Stage focus, goals open and met, and the next review date of the current revision."""
    plan = (
        PlanRevision.objects.filter(couple_id=couple.pk).summarised().order_by("-revision").first()
    )
    return {"couple": couple, "plan": plan, "today": timezone.localdate()}
