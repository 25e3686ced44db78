"""Forms of the remote answer links: the therapist's (addresses, a link to send) and the
partner's questions, which are the partner screen's forms (sessions.measure_forms) without
the therapist's "record anyway": a link is only made for what the partner may answer."""

from __future__ import annotations

from typing import Any

from django import forms

from invitations.models import PARTNERS, Purpose
from sessions.measure_forms import AllianceForm, MeasureForm, ReportForm

# The session forms ask about "today"; a link is answered days later.
REMOTE_ALLIANCE_QUESTIONS = {
    "bond": "How connected did you feel with the therapist in the session?",
    "goals": "How much did you and the therapist agree on what you are working toward?",
    "tasks": "How much did you agree with how you worked together in the session?",
    "fit": "Overall, how well did the session fit you?",
}
REMOTE_TENSION = "Was there tension or disagreement in the session?"


class ContactForm(forms.Form):
    """Both partners' addresses; an empty one is forgotten."""

    email_a = forms.EmailField(label="Partner A's e-mail address", required=False)
    after_a = forms.BooleanField(
        label="After each session partner A attends, send them a link about it",
        required=False,
    )
    email_b = forms.EmailField(label="Partner B's e-mail address", required=False)
    after_b = forms.BooleanField(
        label="After each session partner B attends, send them a link about it",
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for partner in ("a", "b"):
            if cleaned.get(f"after_{partner}") and not cleaned.get(f"email_{partner}"):
                self.add_error(
                    f"after_{partner}",
                    f"Give partner {partner.upper()}'s address to send them a link after "
                    "each session.",
                )
        return cleaned


BOTH = "both"


class SendForm(forms.Form):
    """Who gets a link (each partner their own, "both" makes two) and what it asks."""

    partner = forms.ChoiceField(choices=[*PARTNERS, (BOTH, "Both partners, a link each")])
    purpose = forms.ChoiceField(label="Questions", choices=Purpose.choices)


class _NoAbsenceCheck:
    """A link asks only what its partner may answer (invitations.services._questions), so
    the therapist's "record anyway" has no place on the partner's own phone."""

    fields: dict[str, Any]

    def check_absence(self, cleaned: dict[str, Any], answered: bool) -> None:
        return None

    def drop_record_anyway(self) -> None:
        self.fields.pop("record_anyway", None)


class RemoteAllianceForm(_NoAbsenceCheck, AllianceForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partner_wording=True, **kwargs)
        self.drop_record_anyway()
        for name, question in REMOTE_ALLIANCE_QUESTIONS.items():
            self.fields[name].label = question


class RemoteReportForm(_NoAbsenceCheck, ReportForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drop_record_anyway()
        self.fields["tension"].label = REMOTE_TENSION


class RemoteMeasureForm(_NoAbsenceCheck, MeasureForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drop_record_anyway()
