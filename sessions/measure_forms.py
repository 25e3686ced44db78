"""Forms for the per-partner measures, used by the therapist and on the partner screen.

All-or-none: a partly answered questionnaire is refused with a message, never half-stored.
A partner who wasn't in the session (an individual session with the other partner, or a
cancellation or no-show) can't be scored unless the therapist ticks that they know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from sessions.models import Attendance, MeasureDefinition, SessionFormat

if TYPE_CHECKING:
    from sessions.models import TherapySession

ZERO_TO_TEN = [(n, str(n)) for n in range(11)]
ONE_TO_FIVE = [(n, str(n)) for n in range(1, 6)]
TENSION_CHOICES = [("", "Not answered"), ("yes", "Yes"), ("no", "No")]

ALLIANCE_QUESTIONS = {
    "bond": "How connected did you feel with the therapist today?",
    "goals": "How much did you and the therapist agree on what you are working toward?",
    "tasks": "How much did you agree with how you worked together today?",
    "fit": "Overall, how well did today's session fit you?",
}


def absence_reason(session: TherapySession, partner: str) -> str:
    """Why this partner wasn't in the session, or "" if they were."""
    if session.attendance == Attendance.CANCELLED:
        return "the session was cancelled"
    if session.attendance == Attendance.NO_SHOW:
        return "the session was a no-show"
    other = {"A": SessionFormat.INDIVIDUAL_B, "B": SessionFormat.INDIVIDUAL_A}[partner]
    if session.format == other:
        return f"it was an {session.get_format_display().lower()}"
    return ""


class AbsenceCheckMixin(forms.Form):
    """Refuse scores for an absent partner unless the therapist confirms they know."""

    session: TherapySession
    partner: str

    def check_absence(self, cleaned: dict[str, Any], answered: bool) -> None:
        reason = absence_reason(self.session, self.partner) if self.partner else ""
        if answered and reason and not cleaned.get("record_anyway"):
            self.add_error(
                "record_anyway",
                f"Partner {self.partner} wasn't in this session ({reason}). "
                "Tick this box to record their answers anyway.",
            )


def scale_field(label: str, choices: list[tuple[int, str]] = ZERO_TO_TEN) -> forms.Field:
    """One question answered on a scale: optional, as a whole form is all-or-none. Its last
    choice, "Not answered", takes back an answer clicked by mistake (no script needed)."""
    return forms.TypedChoiceField(
        label=label,
        choices=[*choices, ("", "Not answered")],
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect(attrs={"class": "scale"}),
    )


class AllianceForm(AbsenceCheckMixin):
    """One partner's session alliance: bond, goals, tasks, fit, each 0–10; all or none."""

    bond = scale_field("Bond")
    goals = scale_field("Agreement on goals")
    tasks = scale_field("Agreement on tasks")
    fit = scale_field("Overall fit")
    record_anyway = forms.BooleanField(label="Record anyway", required=False)

    def __init__(
        self,
        *args: Any,
        session: TherapySession,
        partner: str,
        partner_wording: bool = False,
        **kwargs: Any,
    ) -> None:
        self.session, self.partner = session, partner
        super().__init__(*args, **kwargs)
        if partner_wording:
            for name, question in ALLIANCE_QUESTIONS.items():
                self.fields[name].label = question
        if not absence_reason(session, partner):
            del self.fields["record_anyway"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = [cleaned.get(name) for name in ALLIANCE_QUESTIONS]
        answered = [v for v in values if v is not None]
        if answered and len(answered) < len(values):
            for name in ALLIANCE_QUESTIONS:
                if cleaned.get(name) is None and name not in self.errors:
                    self.add_error(name, "Answer all four, or none.")
        self.check_absence(cleaned, bool(answered))
        cleaned["answered"] = len(answered) == len(values)
        return cleaned


class ReportForm(AbsenceCheckMixin):
    """The post-session rupture report of one respondent (a partner or the therapist)."""

    tension = forms.ChoiceField(
        label="Was there tension or disagreement today?",
        choices=TENSION_CHOICES,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "inline-choices"}),
    )
    upsetting = forms.TypedChoiceField(
        label="How upsetting was it? (1 not at all, 5 very)",
        choices=[("", "—"), *ONE_TO_FIVE],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "inline-choices"}),
    )
    resolved = forms.TypedChoiceField(
        label="How far was it resolved by the end? (1 not at all, 5 fully)",
        choices=[("", "—"), *ONE_TO_FIVE],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "inline-choices"}),
    )
    record_anyway = forms.BooleanField(label="Record anyway", required=False)

    def __init__(
        self, *args: Any, session: TherapySession, partner: str = "", **kwargs: Any
    ) -> None:
        self.session, self.partner = session, partner
        super().__init__(*args, **kwargs)
        if not partner or not absence_reason(session, partner):
            del self.fields["record_anyway"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tension = cleaned.get("tension")
        if tension == "yes":
            for name in ("upsetting", "resolved"):
                if cleaned.get(name) is None and name not in self.errors:
                    self.add_error(name, "Answer this when there was tension.")
        elif tension == "no" and (cleaned.get("upsetting") or cleaned.get("resolved")):
            self.add_error(
                "tension", "With no tension, leave how upsetting and how resolved empty."
            )
        elif cleaned.get("upsetting") or cleaned.get("resolved"):
            self.add_error(
                "tension",
                "Say whether there was tension before rating how upsetting or resolved it was.",
            )
        if tension == "no":
            cleaned["upsetting"] = cleaned["resolved"] = None
        self.check_absence(cleaned, bool(tension))
        cleaned["answered"] = bool(tension)
        return cleaned


class MeasureForm(AbsenceCheckMixin):
    """A questionnaire built from its MeasureDefinition's items; all items or none."""

    def __init__(
        self,
        *args: Any,
        definition: MeasureDefinition,
        session: TherapySession,
        partner: str,
        **kwargs: Any,
    ) -> None:
        self.definition, self.session, self.partner = definition, session, partner
        super().__init__(*args, **kwargs)
        for item in definition.items:
            low, high = int(item["min"]), int(item["max"])
            anchors = item.get("anchors", {})
            choices = [
                (n, f"{n} {anchors[str(n)]}" if str(n) in anchors else str(n))
                for n in range(low, high + 1)
            ]
            self.fields[item["key"]] = scale_field(item["text"], choices)
        if absence_reason(session, partner):
            self.fields["record_anyway"] = forms.BooleanField(label="Record anyway", required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        keys = [item["key"] for item in self.definition.items]
        answered = [k for k in keys if cleaned.get(k) is not None]
        if answered and len(answered) < len(keys):
            for key in keys:
                if cleaned.get(key) is None and key not in self.errors:
                    self.add_error(key, "Answer every question, or none.")
        self.check_absence(cleaned, bool(answered))
        cleaned["answered"] = len(answered) == len(keys)
        cleaned["answers"] = {k: cleaned[k] for k in answered}
        return cleaned
