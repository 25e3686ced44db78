"""The safety screen's test world: the practice's own screen, made from the invented example
(sessions.safety.EXAMPLE_SCREEN) with canary words in its name and questions, so a test can
look for any trace of it (tests/sessions/test_safety_screen.py, tests/security/
test_safety_privacy.py)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from sessions.models import MeasureDefinition
from sessions.safety import EXAMPLE_SCREEN

if TYPE_CHECKING:
    from people.models import Practice

CANARY = "CANARY-5afe"
SCREEN_NAME = f"Harbour screen {CANARY}-name"


def question(key: str) -> str:
    return f"{CANARY}-{key} question"


def practice_screen(practice: Practice, **fields: Any) -> MeasureDefinition:
    """The example screen as the practice's own, every question holding the canary."""
    items = copy.deepcopy(EXAMPLE_SCREEN["items"])
    for item in items:
        item["text"] = question(item["key"])
    values = {**EXAMPLE_SCREEN, "code": "harbour-screen", "name": SCREEN_NAME, "items": items}
    return MeasureDefinition.objects.create(practice=practice, **(values | fields))


def answers(**given: int) -> dict[str, int]:
    """Every question answered "No", but those given."""
    return {item["key"]: given.get(item["key"], 0) for item in EXAMPLE_SCREEN["items"]}


def posted(**given: int) -> dict[str, str]:
    return {key: str(value) for key, value in answers(**given).items()}
