"""Forms for couples and the cycle-map editor. Each form names the fields it takes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from cycles.models import (
    EMOTION_STEP_KINDS,
    Couple,
    CyclePattern,
    CyclePosition,
    EFTStep,
    EmotionTerm,
    MoveDirection,
    StepKind,
)


class CoupleForm(forms.Form):
    """Open a couple's record, or correct its header: partners, pattern, step, status."""

    partner_a_name = forms.CharField(
        label="Partner A: display name", max_length=100, help_text="A pseudonym is fine."
    )
    partner_a_pronouns = forms.CharField(label="Partner A: pronouns", max_length=40, required=False)
    partner_a_position = forms.ChoiceField(
        label="Partner A: position in the cycle", choices=CyclePosition.choices
    )
    partner_b_name = forms.CharField(
        label="Partner B: display name", max_length=100, help_text="A pseudonym is fine."
    )
    partner_b_pronouns = forms.CharField(label="Partner B: pronouns", max_length=40, required=False)
    partner_b_position = forms.ChoiceField(
        label="Partner B: position in the cycle", choices=CyclePosition.choices
    )
    cycle_pattern = forms.ChoiceField(label="Cycle pattern", choices=CyclePattern.choices)
    eft_step = forms.TypedChoiceField(label="EFT step", choices=EFTStep.choices, coerce=int)
    started_on = forms.DateField(
        label="Start date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, with_status: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if with_status:
            from cycles.models import CoupleStatus

            self.fields["status"] = forms.ChoiceField(label="Status", choices=CoupleStatus.choices)

    def clean_started_on(self) -> Any:
        started_on = self.cleaned_data["started_on"]
        if started_on > timezone.localdate():
            raise forms.ValidationError("The start date can't be in the future.")
        return started_on

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        a, b = cleaned.get("partner_a_name", ""), cleaned.get("partner_b_name", "")
        if a and b and a.strip().lower() == b.strip().lower():
            self.add_error("partner_b_name", "Give the partners different display names.")
        return cleaned

    @staticmethod
    def initial_for(couple: Couple) -> dict[str, Any]:
        partners = {p.label: p for p in couple.partners.all()}
        initial: dict[str, Any] = {
            "cycle_pattern": couple.cycle_pattern,
            "eft_step": couple.eft_step,
            "started_on": couple.started_on,
            "status": couple.status,
        }
        for label in ("A", "B"):
            key = label.lower()
            initial[f"partner_{key}_name"] = partners[label].display_name
            initial[f"partner_{key}_pronouns"] = partners[label].pronouns
            initial[f"partner_{key}_position"] = partners[label].position
        return initial


STEP_KIND_CHOICES = [("", "Choose a kind of step…"), *StepKind.choices]
MOVE_CHOICES = [("", "—"), *MoveDirection.choices]


class StepForm(forms.Form):
    """One link of a partner's chain in the editor."""

    kind = forms.ChoiceField(label="Kind of step", choices=STEP_KIND_CHOICES)
    term = forms.CharField(
        label="Emotion",
        max_length=60,
        required=False,
        help_text="Pick from the vocabulary or type your own word.",
    )
    text = forms.CharField(label="In their words", max_length=300, required=False)
    move = forms.ChoiceField(label="Move", choices=MOVE_CHOICES, required=False)
    # One of EFT's chain slots a new map opens with: dropped on saving if left unsaid.
    # Always "1" or "" by the time a form is bound (editor.rows_from_post), so never an error
    # beside a field the therapist cannot see.
    starter = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, vocabulary: dict[str, EmotionTerm], **kwargs: Any) -> None:
        self.vocabulary = vocabulary
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind", "")
        term = (cleaned.get("term") or "").strip()
        text = (cleaned.get("text") or "").strip()
        if term and kind and kind not in EMOTION_STEP_KINDS:
            self.add_error("term", "Only emotion steps take an emotion; use the words field.")
        if kind in EMOTION_STEP_KINDS and term and term.lower() not in self.vocabulary:
            # Free text beside the vocabulary: kept as the step's words.
            text = f"{term} — {text}" if text else term
            term = ""
        if kind and not term and not text:
            self.add_error("text", "Say what this step is: an emotion or a few words.")
        if cleaned.get("move") and kind != StepKind.ACTION:
            self.add_error("move", "Only an action has a pursuing or withdrawing move.")
        cleaned["term"], cleaned["text"] = term, text
        cleaned["emotion"] = self.vocabulary.get(term.lower()) if term else None
        return cleaned


class CycleMapMetaForm(forms.Form):
    base_revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    change_note = forms.CharField(label="What changed (optional)", max_length=200, required=False)
