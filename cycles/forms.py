"""Forms for couples and the cycle-map editor. Each form names the fields it takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils import timezone

from core import dates
from core.concurrency import CreateForm, VersionedForm
from core.dates import DateTextField
from cycles.models import (
    CLOSED_STATUSES,
    EMOTION_STEP_KINDS,
    Couple,
    CoupleStatus,
    CyclePattern,
    CyclePosition,
    EFTStep,
    EmotionTerm,
    MoveDirection,
    StepKind,
)

if TYPE_CHECKING:
    import datetime

    # BaseFormSet is generic only in django-stubs: subscripted for mypy, bare at run time.
    _StepFormSetBase = forms.BaseFormSet["StepForm"]
else:
    _StepFormSetBase = forms.BaseFormSet

# What each pattern says of the partners' positions (docs/domain.md#the-negative-cycle). "Varies"
# (positions
# can reverse over time) fits any pattern: only a fixed position can contradict one.
PATTERN_NAMES: dict[str, str] = {
    CyclePattern.PURSUE_WITHDRAW: "pursue–withdraw",
    CyclePattern.PURSUE_PURSUE: "pursue–pursue",
    CyclePattern.WITHDRAW_WITHDRAW: "withdraw–withdraw",
}
POSITION_NOUNS: dict[str, str] = {
    CyclePosition.PURSUER: "pursuer",
    CyclePosition.WITHDRAWER: "withdrawer",
}
# The one fixed position a pattern rules out for both partners.
RULED_OUT: dict[str, str] = {
    CyclePattern.PURSUE_PURSUE: CyclePosition.WITHDRAWER,
    CyclePattern.WITHDRAW_WITHDRAW: CyclePosition.PURSUER,
}
PATTERN_NEEDS: dict[str, str] = {
    CyclePattern.PURSUE_WITHDRAW: "one partner pursues and the other withdraws",
    CyclePattern.PURSUE_PURSUE: "both partners pursue",
    CyclePattern.WITHDRAW_WITHDRAW: "both partners withdraw",
}


def misplaced_partners(pattern: str, positions: dict[str, tuple[str, str]]) -> list[str]:
    """The labels ("A", "B") of the partners whose position contradicts the pattern.

    `positions` maps each label to (display name, position). In a pursue–withdraw cycle two
    pursuers or two withdrawers contradict it; in the other two, a partner in the ruled-out
    position does.
    """
    if pattern == CyclePattern.PURSUE_WITHDRAW:
        (_, a), (_, b) = positions["A"], positions["B"]
        return ["A", "B"] if a == b and a != CyclePosition.VARIES else []
    ruled_out = RULED_OUT.get(pattern)
    return [label for label, (_, position) in positions.items() if position == ruled_out]


def pattern_contradiction(pattern: str, positions: dict[str, tuple[str, str]]) -> str | None:
    """A clinician's sentence saying how the pattern and the positions disagree, if they do."""
    misplaced = misplaced_partners(pattern, positions)
    if not misplaced:
        return None
    position = positions[misplaced[0]][1]
    if len(misplaced) == 2:
        who = f"both partners are recorded as {POSITION_NOUNS[position]}s"
    else:
        label, name = misplaced[0], positions[misplaced[0]][0]
        partner = f"Partner {label} ({name})" if name else f"Partner {label}"
        who = f"{partner} is recorded as a {POSITION_NOUNS[position]}"
    return (
        f"In a {PATTERN_NAMES[pattern]} cycle {PATTERN_NEEDS[pattern]}, but {who}. "
        "Change the pattern or the positions (“Varies” fits any pattern)."
    )


def first_session(couple: Couple) -> tuple[datetime.date, int] | None:
    """The date and number of the couple's earliest current (not withdrawn) session."""
    row = (
        couple.sessions.current().order_by("starts_at").values_list("starts_at", "ordinal").first()
    )
    if row is None:
        return None
    return timezone.localtime(row[0]).date(), row[1]


class CoupleForm(VersionedForm, CreateForm):
    """Open a couple's record, or correct its header: partners, pattern, step, status."""

    partner_a_name = forms.CharField(
        label="Partner A: display name", max_length=100, help_text="A pseudonym is fine."
    )
    partner_a_pronouns = forms.CharField(label="Partner A: pronouns", max_length=40, required=False)
    # A new record opens on the most common cycle, pursue–withdraw, with positions that fit
    # it (never two pursuers under a pursue–withdraw pattern).
    partner_a_position = forms.ChoiceField(
        label="Partner A: position in the cycle",
        choices=CyclePosition.choices,
        initial=CyclePosition.PURSUER,
    )
    partner_b_name = forms.CharField(
        label="Partner B: display name", max_length=100, help_text="A pseudonym is fine."
    )
    partner_b_pronouns = forms.CharField(label="Partner B: pronouns", max_length=40, required=False)
    partner_b_position = forms.ChoiceField(
        label="Partner B: position in the cycle",
        choices=CyclePosition.choices,
        initial=CyclePosition.WITHDRAWER,
    )
    cycle_pattern = forms.ChoiceField(
        label="Cycle pattern", choices=CyclePattern.choices, initial=CyclePattern.PURSUE_WITHDRAW
    )
    eft_step = forms.TypedChoiceField(
        label="EFT step",
        choices=EFTStep.choices,
        coerce=int,
        help_text="Where the work starts. Each session that records a step moves the case there.",
    )
    # Typed in the practice's date format, or ISO (core.dates).
    started_on = DateTextField(label="Start date")

    def __init__(self, *args: Any, with_status: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The couple being corrected, which `initial_for` passes in; None for a new record.
        self.couple: Couple | None = self.initial.get("couple")
        if with_status:
            # Closing a case has its own form, with a reason and a date (DischargeForm).
            self.fields["status"] = forms.ChoiceField(
                label="Status",
                choices=[c for c in CoupleStatus.choices if c[0] not in CLOSED_STATUSES],
            )

    def clean_started_on(self) -> Any:
        started_on = self.cleaned_data["started_on"]
        if started_on > timezone.localdate():
            raise forms.ValidationError("The start date can't be in the future.")
        first = first_session(self.couple) if self.couple is not None else None
        if first is not None and started_on > first[0]:
            on, number = dates.show(first[0]), first[1]
            raise forms.ValidationError(
                f"The first session on record (session {number}) was on {on}: "
                "the start date can't be after it."
            )
        return started_on

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        a, b = cleaned.get("partner_a_name", ""), cleaned.get("partner_b_name", "")
        if a and b and a.strip().lower() == b.strip().lower():
            self.add_error("partner_b_name", "Give the partners different display names.")
        self._check_pattern(cleaned)
        return cleaned

    def _check_pattern(self, cleaned: dict[str, Any]) -> None:
        """Refuse a pattern the partners' positions contradict, beside the pattern."""
        keys = ("cycle_pattern", "partner_a_position", "partner_b_position")
        if any(key not in cleaned for key in keys):
            return  # one of them is already refused beside its own field
        positions = {
            label: (cleaned.get(f"partner_{label.lower()}_name", ""), cleaned[key])
            for label, key in (("A", keys[1]), ("B", keys[2]))
        }
        message = pattern_contradiction(cleaned["cycle_pattern"], positions)
        if message:
            self.add_error("cycle_pattern", message)

    @staticmethod
    def initial_for(couple: Couple) -> dict[str, Any]:
        partners = {p.label: p for p in couple.partners.all()}
        initial: dict[str, Any] = {
            "couple": couple,
            "cycle_pattern": couple.cycle_pattern,
            "eft_step": couple.eft_step,
            "started_on": couple.started_on,
            "status": couple.status,
            "version": couple.version,
        }
        for label in ("A", "B"):
            key = label.lower()
            initial[f"partner_{key}_name"] = partners[label].display_name
            initial[f"partner_{key}_pronouns"] = partners[label].pronouns
            initial[f"partner_{key}_position"] = partners[label].position
        return initial


class DischargeForm(VersionedForm):
    """Close a case: why (completed, dropped out, referred on, other with its words) and when
    (not before the first session, not in the future)."""

    reason = forms.ChoiceField(
        label="Why the case is closing",
        choices=[c for c in CoupleStatus.choices if c[0] in CLOSED_STATUSES],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose why the case is closing.",
            "invalid_choice": "Choose one of the reasons listed.",
        },
    )
    other_reason = forms.CharField(
        label="The other reason", max_length=500, required=False, widget=forms.Textarea({"rows": 2})
    )
    closed_on = DateTextField(label="Discharge date")

    def __init__(self, *args: Any, couple: Couple, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.couple = couple

    def clean_closed_on(self) -> Any:
        closed_on = self.cleaned_data["closed_on"]
        if closed_on > timezone.localdate():
            raise forms.ValidationError("The discharge date can't be in the future.")
        first = first_session(self.couple)
        if first is not None and closed_on < first[0]:
            on, number = dates.show(first[0]), first[1]
            raise forms.ValidationError(
                f"The first session on record (session {number}) was on {on}: "
                "the discharge date can't be before it."
            )
        if first is None and closed_on < self.couple.started_on:
            on = dates.show(self.couple.started_on)
            raise forms.ValidationError(
                f"The treatment started on {on}: the discharge date can't be before it."
            )
        return closed_on

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        other = cleaned.get("other_reason", "").strip()
        cleaned["other_reason"] = other
        if cleaned.get("reason") == CoupleStatus.CLOSED_OTHER and not other:
            self.add_error("other_reason", "Say what the other reason is.")
        return cleaned


class ReopenForm(VersionedForm):
    """Reopen a closed case, saying why."""

    why = forms.CharField(
        label="Why the case is reopening",
        max_length=500,
        widget=forms.Textarea({"rows": 2}),
        error_messages={"required": "Say why the case is reopening."},
    )

    def clean_why(self) -> str:
        why = str(self.cleaned_data["why"]).strip()
        if not why:
            raise forms.ValidationError("Say why the case is reopening.")
        return why


class CoTherapistForm(VersionedForm):
    """Set, change or end the case's co-therapist (docs/domain.md#co-therapy)."""

    co_therapist = forms.CharField(label="Co-therapist", required=False)
    why = forms.CharField(
        label="Why",
        max_length=500,
        widget=forms.Textarea({"rows": 2}),
        error_messages={"required": "Say why the co-therapy changes."},
    )

    def __init__(self, *args: Any, targets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets = targets
        self.fields["co_therapist"].widget = forms.Select(
            choices=[("", "No co-therapist"), *((t.pk, str(t)) for t in targets)]
        )

    def clean_co_therapist(self) -> Any:
        value = str(self.cleaned_data["co_therapist"] or "").strip()
        if not value:
            return None
        chosen = next((t for t in self.targets if str(t.pk) == value), None)
        if chosen is None:
            raise forms.ValidationError(
                "Choose another therapist of this practice: only they can share a case."
            )
        return chosen


class TransferForm(VersionedForm):
    """Move a case to another therapist of the practice. The admin who moves it sees the case
    code and the therapists' names only."""

    to_therapist = forms.CharField(
        label="Move the case to",
        error_messages={"required": "Choose the therapist the case moves to."},
    )
    why = forms.CharField(
        label="Why it moves",
        max_length=500,
        widget=forms.Textarea({"rows": 2}),
        error_messages={"required": "Say why the case moves."},
    )

    def __init__(self, *args: Any, targets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets = targets
        self.fields["to_therapist"].widget = forms.Select(
            choices=[("", "Choose a therapist…"), *((t.pk, str(t)) for t in targets)]
        )

    def clean_to_therapist(self) -> Any:
        value = str(self.cleaned_data["to_therapist"]).strip()
        chosen = next((t for t in self.targets if str(t.pk) == value), None)
        if chosen is None:
            raise forms.ValidationError(
                "Choose another therapist of this practice: a case can only move to one of them."
            )
        return chosen

    def clean_why(self) -> str:
        why = str(self.cleaned_data["why"]).strip()
        if not why:
            raise forms.ValidationError("Say why the case moves.")
        return why


# What a step's words can hold: the length of CycleStep.text.
STEP_WORDS_MAX = 300
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
    # A textarea as wide as the chain, so a phrase is seen whole while it is typed.
    text = forms.CharField(
        label="In their words",
        max_length=STEP_WORDS_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "step-words"}),
    )
    move = forms.ChoiceField(label="Move", choices=MOVE_CHOICES, required=False)
    # One of EFT's chain slots a new map opens with: dropped on saving if left unsaid.
    # Always "1" or "" in a form that is shown or saved (editor.rows_of reads it so), so never
    # an error beside a field the therapist cannot see.
    starter = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, vocabulary: dict[str, EmotionTerm], **kwargs: Any) -> None:
        self.vocabulary = vocabulary
        super().__init__(*args, **kwargs)

    @property
    def shows_emotion(self) -> bool:
        """Whether the editor draws the emotion field: on emotion steps, on a step whose kind
        is not chosen yet, and wherever an emotion was typed (so nothing typed is hidden)."""
        kind = str(self["kind"].value() or "")
        return not kind or kind in EMOTION_STEP_KINDS or bool(self["term"].value())

    @property
    def shows_move(self) -> bool:
        """Whether the editor draws the move field: on actions, on a step whose kind is not
        chosen yet, and wherever a move was chosen."""
        kind = str(self["kind"].value() or "")
        return not kind or kind == StepKind.ACTION or bool(self["move"].value())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind", "")
        term = (cleaned.get("term") or "").strip()
        text = (cleaned.get("text") or "").strip()
        if term and kind and kind not in EMOTION_STEP_KINDS:
            self.add_error("term", "Only emotion steps take an emotion; use the words field.")
        if kind in EMOTION_STEP_KINDS and term and term.lower() not in self.vocabulary:
            # Free text beside the vocabulary: kept as the step's words.
            self._check_words_fit(term, text)
            text = f"{term} — {text}" if text else term
            term = ""
        if kind and not term and not text:
            self.add_error("text", "Say what this step is: an emotion or a few words.")
        if cleaned.get("move") and kind != StepKind.ACTION:
            self.add_error("move", "Only an action has a pursuing or withdrawing move.")
        cleaned["term"], cleaned["text"] = term, text
        cleaned["emotion"] = self.vocabulary.get(term.lower()) if term else None
        return cleaned

    def _check_words_fit(self, term: str, text: str) -> None:
        """An emotion word of one's own is kept in front of the words ("term — text"): refuse,
        beside the words, a step that would then be longer than a step can hold."""
        if not text or "text" not in self.cleaned_data:
            return  # no words to add to, or the words are already refused on their own
        length = len(f"{term} — {text}")
        over = length - STEP_WORDS_MAX
        if over > 0:
            characters = "character" if over == 1 else "characters"
            self.add_error(
                "text",
                f"With your own emotion word “{term}” kept in front, this step comes to "
                f"{length} characters, {over} {characters} over the {STEP_WORDS_MAX} a step "
                "can hold. Shorten the words, or choose an emotion from the vocabulary.",
            )


# How many steps one partner's chain may hold: "Add a step" stops there, and a post claiming
# more is read as this many (the formset's absolute_max, so a forged count can't make the
# server build thousands of forms).
MAX_STEPS_PER_CHAIN = 20


class BaseStepFormSet(_StepFormSetBase):
    """One partner's chain in the editor: a StepForm per step, prefixed with the partner's
    label, so partner A's fields post as "A-0-kind" beside the management form's
    "A-TOTAL_FORMS" and "A-INITIAL_FORMS"."""

    # What the editor shows beside the chain when a post can't be read as one (a page opened
    # before an upgrade, or a forged post); the editor saves nothing then (editor.Chain.valid).
    default_error_messages = {
        "missing_management_form": (
            "This partner's steps could not be read from the form, so nothing was saved. "
            "Open the editor again to go on."
        ),
        "too_many_forms": f"A chain holds at most {MAX_STEPS_PER_CHAIN} steps.",
    }

    def __init__(self, *args: Any, vocabulary: dict[str, EmotionTerm], **kwargs: Any) -> None:
        self.vocabulary = vocabulary
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = {**super().get_form_kwargs(index), "vocabulary": self.vocabulary}
        if index is not None:  # None is `empty_form`, which sets these itself
            # Every row is a step of the draft, never an optional extra form (the editor drops
            # blank rows itself: editor.drop_blank_rows), so its kind stays `required`.
            kwargs |= {"empty_permitted": False, "use_required_attribute": True}
        return kwargs


# The factory's annotation forgets the subclass (and its `vocabulary` argument): cast back.
StepFormSet = cast(
    "type[BaseStepFormSet]",
    forms.formset_factory(
        StepForm,
        formset=BaseStepFormSet,
        extra=0,
        max_num=MAX_STEPS_PER_CHAIN,
        absolute_max=MAX_STEPS_PER_CHAIN,
    ),
)


class CycleMapMetaForm(forms.Form):
    base_revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    change_note = forms.CharField(label="What changed (optional)", max_length=200, required=False)


class RetentionForm(VersionedForm):
    """The practice's retention period: years a closed record is kept after discharge."""

    years = forms.IntegerField(
        label="Years a closed record is kept after its discharge date",
        min_value=1,
        max_value=100,
        error_messages={
            "required": "Give a number of years, 1 to 100.",
            "invalid": "Give a whole number of years, 1 to 100.",
            "min_value": "Keep records at least 1 year.",
            "max_value": "Give at most 100 years.",
        },
    )
