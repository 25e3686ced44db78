"""The couple page's safety card: `{% load safety %}{% safety_card couple %}` (sessions/safety.py).

For the couple's therapist and supervisor only (the couple page is theirs alone): a calm
notice while a partner's safety concern is open, each partner's screens and reviews, the
"Screen partner A / B" hand-over actions for the therapist and the review form. Reads the
page's open flags from its context (`open_flags`) and adds two or three queries.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import template

from sessions import safety
from sessions.models import SafetyOutcome, SafetyReview, SafetyScreen

register = template.Library()

# ruptures.models.FlagKind.SAFETY_CONCERN: the flags app is a floor above, so its value here.
SAFETY_CONCERN = "safety_concern"
SCREENS_SHOWN = 10


@register.inclusion_tag("sessions/_safety_card.html", takes_context=True)
def safety_card(context: dict[str, Any], couple: Any) -> dict[str, Any]:
    can_edit = bool(context.get("can_edit"))
    concerns = sorted(
        (flag for flag in context.get("open_flags", []) if flag.kind == SAFETY_CONCERN),
        key=lambda flag: flag.key,
    )
    screens = list(
        SafetyScreen.objects.filter(couple_id=couple.pk)
        .select_related("definition")
        .order_by("-recorded_at", "-pk")[:SCREENS_SHOWN]
    )
    reviews = list(
        SafetyReview.objects.filter(couple_id=couple.pk)
        .select_related("reviewed_by")
        .order_by("-reviewed_at", "-pk")[:SCREENS_SHOWN]
    )
    definitions = safety.safety_definitions(couple.practice_id) if can_edit else []
    return {
        "couple": couple,
        "can_edit": can_edit and not couple.is_closed,
        "concerns": [(flag.key.removeprefix("partner:"), flag) for flag in concerns],
        "screens": screens,
        "reviews": reviews,
        "definitions": definitions,
        "outcomes": SafetyOutcome.choices,
        "guidance": safety.GUIDANCE,
        "no_screen": can_edit and not definitions,
        "request_token": uuid.uuid4(),
        "csrf_token": context.get("csrf_token"),
    }
