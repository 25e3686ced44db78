"""Rupture forms: record one as it happened, correct it, or mark an earlier one repaired."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms

from core.concurrency import CreateForm, VersionedForm
from core.fields import FlagSetFormField
from ruptures.codes import (
    ResolutionStage,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
)
from ruptures.models import Rupture

if TYPE_CHECKING:
    from sessions.models import TherapySession

ONE_TO_FIVE = [(n, str(n)) for n in range(1, 6)]

# Who may not be the target of their own move (mirrors Rupture.Meta's constraint).
SELF_TARGETS = {
    WhoMoved.THERAPIST: Toward.THERAPIST,
    WhoMoved.PARTNER_A: Toward.PARTNER_A,
    WhoMoved.PARTNER_B: Toward.PARTNER_B,
    WhoMoved.BOTH: Toward.BOTH_PARTNERS,
}

# Who was not in an individual session, so can't have moved in it.
ABSENT_FROM = {
    "individual_a": (WhoMoved.PARTNER_B, WhoMoved.BOTH),
    "individual_b": (WhoMoved.PARTNER_A, WhoMoved.BOTH),
}
# The partner who was there: in an individual session a new rupture starts with them as the
# one who moved (a click saved; the therapist is still one click away).
PRESENT_IN = {
    "individual_a": WhoMoved.PARTNER_A,
    "individual_b": WhoMoved.PARTNER_B,
}


class RuptureForm(VersionedForm, CreateForm, forms.ModelForm):
    """Type first; then only that type's markers count (the database refuses the others)."""

    reflection = forms.CharField(
        label="Private reflection on my contribution",
        help_text="Yours alone: never shown to your supervisor, in summaries or exports.",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
    )

    class Meta:
        model = Rupture
        fields = [
            "rupture_type",
            "withdrawal_markers",
            "confrontation_markers",
            "who_moved",
            "toward",
            "minute",
            "significance",
            "therapist_contribution",
            "strategies",
            "principles",
            "resolution_stage",
            "status",
            "note",
        ]
        widgets = {
            "rupture_type": forms.RadioSelect,
            "who_moved": forms.RadioSelect,
            "toward": forms.RadioSelect,
            "status": forms.RadioSelect,
            "note": forms.Textarea(attrs={"rows": 3}),
            "minute": forms.NumberInput(attrs={"min": 0, "max": 480, "inputmode": "numeric"}),
        }
        labels = {
            "withdrawal_markers": "Withdrawal markers",
            "confrontation_markers": "Confrontation markers",
        }

    def __init__(self, *args: Any, session: TherapySession | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("toward", Toward.THERAPIST)
        if session is not None and session.format in PRESENT_IN:
            kwargs["initial"].setdefault("who_moved", PRESENT_IN[session.format])
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:  # a correction is checked against what it read
            self.initial.setdefault("version", self.instance.version)
        # The session the rupture is in: given for a new one, the instance's for a correction.
        self.session = session or (self.instance.session if self.instance.session_id else None)
        cast(forms.ChoiceField, self.fields["rupture_type"]).choices = RuptureType.choices
        cast(forms.ChoiceField, self.fields["who_moved"]).choices = WhoMoved.choices
        cast(forms.ChoiceField, self.fields["toward"]).choices = Toward.choices
        self.fields["significance"] = forms.TypedChoiceField(
            label="Significance",
            choices=ONE_TO_FIVE,
            coerce=int,
            widget=forms.RadioSelect(attrs={"class": "inline-choices"}),
            help_text="Impact on the collaboration: 1 barely noticed, 5 a breakdown.",
        )
        self.fields["therapist_contribution"] = forms.TypedChoiceField(
            label="My contribution",
            choices=[("", "Not rated"), *ONE_TO_FIVE],
            coerce=int,
            empty_value=None,
            required=False,
            widget=forms.RadioSelect(attrs={"class": "inline-choices"}),
            help_text="1 little, 5 a large part.",
        )
        cast(forms.ChoiceField, self.fields["resolution_stage"]).choices = ResolutionStage.choices
        cast(forms.ChoiceField, self.fields["status"]).choices = RuptureStatus.choices
        self.fields["status"].help_text = (
            "As it stood at the end of this session. A repair in a later session is recorded "
            "on that session's page, under “Repairs in this session”."
        )
        self.fields["minute"] = forms.IntegerField(
            label="Minute into the session",
            min_value=0,
            max_value=480,
            required=False,
            widget=forms.NumberInput(attrs={"min": 0, "max": 480, "inputmode": "numeric"}),
        )

    def validate_constraints(self) -> None:
        """The database enforces Rupture's check constraints; clean() gives the same rules
        as messages beside their fields (and spares a query per constraint)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("rupture_type")
        if kind == RuptureType.WITHDRAWAL and cleaned.get("confrontation_markers"):
            self.add_error(
                "confrontation_markers",
                "These are confrontation markers; this rupture is a withdrawal.",
            )
        if kind == RuptureType.CONFRONTATION and cleaned.get("withdrawal_markers"):
            self.add_error(
                "withdrawal_markers",
                "These are withdrawal markers; this rupture is a confrontation.",
            )
        mover, target = cleaned.get("who_moved"), cleaned.get("toward")
        if mover and SELF_TARGETS.get(mover) == target:
            self.add_error("toward", "Choose who the move was toward: not the one who moved.")
        if (
            self.instance.repaired_in_id is not None
            and cleaned.get("status") == RuptureStatus.UNRESOLVED
        ):
            self.add_error(
                "status",
                "This rupture was marked repaired in a later session: choose partly resolved or "
                "resolved, or undo the repair on that session's page.",
            )
        self.check_against_session(cleaned)
        if self.newly_resolved(cleaned) and (
            cleaned.get("resolution_stage") == ResolutionStage.NONE
        ):
            self.add_error(
                "resolution_stage",
                "A resolved rupture was at least noticed: choose the stage reached.",
            )
        return cleaned

    def check_against_session(self, cleaned: dict[str, Any]) -> None:
        """A minute within the session's length; a mover who was in the session."""
        session = self.session
        if session is None:
            return
        minute = cleaned.get("minute")
        if minute is not None and minute > session.duration_minutes:
            self.add_error(
                "minute",
                f"This session lasted {session.duration_minutes} minutes: give a minute within it.",
            )
        mover = cleaned.get("who_moved")
        if mover in ABSENT_FROM.get(session.format, ()):
            self.add_error(
                "who_moved",
                f"This was an individual session ({session.get_format_display().lower()}): "
                "choose who was there.",
            )

    def newly_resolved(self, cleaned: dict[str, Any]) -> bool:
        """Recorded as resolved now: a new rupture, or one whose status this edit changes
        (an earlier record keeps what it had, so other corrections still save)."""
        if cleaned.get("status") != RuptureStatus.RESOLVED:
            return False
        return self.instance.pk is None or "status" in self.changed_data


class RepairForm(VersionedForm, CreateForm):
    """Mark an earlier rupture repaired, fully or partly, in this later session.

    Carries the rupture's version (a correction or repair since is refused) and a token (a
    double click records one repair)."""

    status = forms.ChoiceField(
        choices=[
            (RuptureStatus.RESOLVED, "Resolved"),
            (RuptureStatus.PARTLY_RESOLVED, "Partly resolved"),
        ],
        widget=forms.RadioSelect,
        initial=RuptureStatus.RESOLVED,
    )
    strategies = FlagSetFormField(flag=ResolutionStrategy, label="Strategies used")
    resolution_stage = forms.TypedChoiceField(
        label="Stage reached",
        choices=ResolutionStage.choices[1:],
        coerce=int,
        initial=ResolutionStage.EXPLORED,
    )
    note = forms.CharField(
        label="Note on the repair",
        help_text=(
            "What you acknowledged and how you repaired it together. Part of the record: "
            "your supervisor reads it; a consultation group never does."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
    )


class UndoRepairForm(forms.Form):
    """Why a repair recorded in this session is being undone (kept in the record)."""

    reason = forms.CharField(
        label="Why undo it?",
        max_length=300,
        help_text="The rupture goes back to how it stood before; the repair stays in the record.",
    )
