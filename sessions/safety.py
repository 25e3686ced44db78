"""The safety screen each partner takes alone (docs/domain.md, "Safety screen"; issue 22).

Couples work carries a duty an individual record doesn't: screening each partner privately
for intimate partner violence and fear, because conjoint sessions can be unsafe. The practice
configures its screens as measure definitions of kind "safety screen" (no licensed instrument
ships; `EXAMPLE_SCREEN` is an invented example for the demo and tests). A partner answers on
the locked hand-over screen (sessions.measure_views) or on a private remote link
(invitations/); both store through `record_screen`, then queue the couple's flag recheck
(`flags.same_day.recheck_after_commit`, as every screen that saves to the record does), so a
positive screen opens the "Safety concern" flag (flags/rules.py) within minutes, for the
therapist and supervisor only.

What never happens (docs/security.md, "Safety screen"): the other partner's screen, copy of
the record or link shows nothing of it, not even that a screen was sent or answered; no
shared or de-identified view, no digest beyond "1 safety concern" and a case code, no log
line or URL carries answers or which partner was screened.

The interface other apps use:
- `safety_definitions(practice_id)`: the active safety screens a practice may give;
- `SafetyScreenForm(data, definition=...)`: validates one partner's answers (all or none);
- `record_screen(...)`: stores them, returns the SafetyScreen;
- `record_review(...)`: the clinician's word that a concern was assessed (closes the flag).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.db import transaction
from django.utils import timezone

from core.concurrency import create_once
from sessions.models import (
    MeasureDefinition,
    MeasureKind,
    SafetyOutcome,
    SafetyReview,
    SafetyScreen,
)
from sessions.models.measures import EnteredBy

if TYPE_CHECKING:
    from cycles.models import Couple
    from people.models import User
    from sessions.models import TherapySession


# What a safety concern flag tells the therapist and supervisor (flags/rules.py).
GUIDANCE = (
    "Conjoint sessions may be contraindicated: see each partner individually to assess "
    "safety before the next joint session."
)

EXAMPLE_CODE = "example-safety-screen"
EXAMPLE_NAME = (
    "Example safety screen — replace with the screen your practice is licensed or trained to use"
)
_NO_YES = {"0": "No", "1": "Yes"}
# Invented for this product's demo and tests, not a validated instrument: any "Yes" is positive.
EXAMPLE_ITEMS: list[dict[str, Any]] = [
    {
        "key": "hurt",
        "text": "In the past year, has your partner pushed, hit, slapped, kicked or "
        "otherwise hurt you?",
        "min": 0,
        "max": 1,
        "anchors": _NO_YES,
        "positive_at": 1,
    },
    {
        "key": "afraid",
        "text": "Are you afraid of your partner, or of what might happen at home after a session?",
        "min": 0,
        "max": 1,
        "anchors": _NO_YES,
        "positive_at": 1,
    },
    {
        "key": "controlled",
        "text": "Does your partner threaten you, watch where you go, or control your money "
        "or who you see?",
        "min": 0,
        "max": 1,
        "anchors": _NO_YES,
        "positive_at": 1,
    },
    {
        "key": "forced",
        "text": "Has your partner forced or pressured you into sexual activity you did not want?",
        "min": 0,
        "max": 1,
        "anchors": _NO_YES,
        "positive_at": 1,
    },
]
EXAMPLE_SCREEN: dict[str, Any] = {
    "code": EXAMPLE_CODE,
    "name": EXAMPLE_NAME,
    "citation": "Invented example for demonstration, not a validated or licensed instrument.",
    "kind": MeasureKind.SAFETY_SCREEN,
    "items": EXAMPLE_ITEMS,
    "cutoff": None,
    "lower_is_worse": False,
}

PARTNER_INTRO = (
    "These questions are for you alone. Your partner will not see your answers, or whether "
    "you answered. Your therapist will read them."
)


class ScreenError(ValueError):
    """The answers don't fit the definition, or the definition isn't a usable safety screen."""


def safety_definitions(practice_id: int | None) -> list[MeasureDefinition]:
    """The active safety screens the practice may give: its own and any shared ones."""
    return list(MeasureDefinition.objects.for_practice(practice_id).safety_screens())


def safety_definition(practice_id: int | None, code: str) -> MeasureDefinition | None:
    return (
        MeasureDefinition.objects.for_practice(practice_id)
        .safety_screens()
        .filter(code=code)
        .first()
    )


def has_safety_concern(couple: Couple) -> bool:
    """Whether a partner's safety screen was ever positive on this case (open or assessed
    since): sharing it with a consultation group asks for a deliberate confirmation."""
    return SafetyScreen.objects.filter(couple_id=couple.pk, positive=True).exists()


class SafetyScreenForm(forms.Form):
    """One partner's answers to one safety screen: every question, or none (`answered`).

    Each question is a choice of the item's whole numbers, with its anchors ("No", "Yes");
    cleaned_data["answers"] maps item keys to ints once every question is answered.
    """

    def __init__(self, *args: Any, definition: MeasureDefinition, **kwargs: Any) -> None:
        self.definition = definition
        super().__init__(*args, **kwargs)
        for item in definition.items:
            low, high = int(item["min"]), int(item["max"])
            anchors = item.get("anchors", {})
            choices = [
                (n, anchors[str(n)] if str(n) in anchors else str(n)) for n in range(low, high + 1)
            ]
            self.fields[item["key"]] = forms.TypedChoiceField(
                label=item["text"],
                choices=[*choices, ("", "Not answered")],
                coerce=int,
                required=False,
                empty_value=None,
                widget=forms.RadioSelect(attrs={"class": "scale"}),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        keys = [item["key"] for item in self.definition.items]
        answered = [k for k in keys if cleaned.get(k) is not None]
        if answered and len(answered) < len(keys):
            for key in keys:
                if cleaned.get(key) is None and key not in self.errors:
                    self.add_error(key, "Answer every question, or none.")
        cleaned["answered"] = bool(keys) and len(answered) == len(keys)
        cleaned["answers"] = {k: cleaned[k] for k in answered}
        return cleaned


def _checked_answers(definition: MeasureDefinition, answers: dict[str, Any]) -> dict[str, int]:
    if not definition.is_safety_screen:
        raise ScreenError("That definition is not a safety screen.")
    items = {item["key"]: item for item in definition.items}
    if set(answers) != set(items):
        raise ScreenError("Answer every question of the screen.")
    checked = {}
    for key, item in items.items():
        value = answers[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScreenError(f"The answer to {key!r} is not a whole number.")
        if not int(item["min"]) <= value <= int(item["max"]):
            raise ScreenError(f"The answer to {key!r} is out of range.")
        checked[key] = value
    return checked


@transaction.atomic
def record_screen(
    *,
    couple: Couple,
    partner: str,
    definition: MeasureDefinition,
    answers: dict[str, Any],
    entered_by: str,
    recorded_by: User | None = None,
    session: TherapySession | None = None,
    request_token: uuid.UUID | None = None,
) -> SafetyScreen:
    """Store one partner's safety screen (the caller then queues the couple's flag recheck).

    `partner` is "A" or "B"; `answers` maps every item key of `definition` (a safety screen
    of the couple's practice, or a shared one) to a whole number in its range, as
    SafetyScreenForm's cleaned_data["answers"]; anything else raises ScreenError. `entered_by`
    is an EnteredBy value (PARTNER on the hand-over screen, PARTNER_REMOTE from a link).
    `request_token` makes the save idempotent: a second call with the same token returns the
    first call's screen (a double click, a link's form sent twice).
    """
    if partner not in ("A", "B"):
        raise ScreenError("The partner is A or B.")
    if entered_by not in EnteredBy.values:
        raise ScreenError("Unknown way of entering the answers.")
    if definition.practice_id not in (None, couple.practice_id) or not definition.active:
        raise ScreenError("That safety screen is not this practice's.")
    if session is not None and session.couple_id != couple.pk:
        raise ScreenError("That session is another couple's.")
    checked = _checked_answers(definition, answers)

    def create(token: uuid.UUID | None) -> SafetyScreen:
        return SafetyScreen.objects.create(
            couple=couple,
            partner=partner,
            definition=definition,
            session=session,
            answers=checked,
            total=Decimal(sum(checked.values())),
            positive=definition.screen_positive(checked),
            entered_by=entered_by,
            recorded_at=timezone.now(),
            recorded_by=recorded_by,
            request_token=token,
        )

    screen, _ = create_once(
        SafetyScreen.objects.filter(couple=couple, partner=partner),
        token=request_token,
        parent=couple,
        create=create,
    )
    return screen


@transaction.atomic
def record_review(
    *,
    couple: Couple,
    partner: str,
    outcome: str,
    reviewed_by: User,
    request_token: uuid.UUID | None = None,
) -> SafetyReview:
    """The therapist's or supervisor's word that the partner's concern was assessed, seeing
    them alone: the open safety concern closes at the recheck the caller then queues."""
    if partner not in ("A", "B"):
        raise ScreenError("The partner is A or B.")
    if outcome not in SafetyOutcome.values:
        raise ScreenError("Choose what the assessment found.")

    def create(token: uuid.UUID | None) -> SafetyReview:
        return SafetyReview.objects.create(
            couple=couple,
            partner=partner,
            outcome=outcome,
            reviewed_by=reviewed_by,
            reviewed_at=timezone.now(),
            request_token=token,
        )

    review, _ = create_once(
        SafetyReview.objects.filter(couple=couple, partner=partner),
        token=request_token,
        parent=couple,
        create=create,
    )
    return review
