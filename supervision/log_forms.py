"""The supervision meeting form and the practice's hours rules form.

Bad input is refused beside its field, with what was typed kept: a future meeting (the
date), a start overlapping another of the supervisor's meetings (the start time), a duration
below one minute or past eight hours, a supervisee not theirs, too many supervisees for
individual or group supervision, a case of a supervisee who wasn't there.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils import timezone

from core import dates
from core.concurrency import CreateForm, VersionedForm
from core.dates import DateTextField
from supervision.log import clashing_meeting
from supervision.models import (
    MEETING_MAX_MINUTES,
    HoursRules,
    MeetingFormat,
    ObservableData,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from zoneinfo import ZoneInfo

    from cycles.models import Couple
    from people.models import User


def clash_message(
    meeting: Any, tz: ZoneInfo, supervisor: User, supervisees: Iterable[User] = ()
) -> str:
    """What the supervisor reads beside the time: their own meeting then, or who of this
    meeting's people was already at another meeting then."""
    start = timezone.localtime(meeting.starts_at, tz)
    end = timezone.localtime(meeting.ends_at, tz)
    when = f"{dates.show(start.date())}, {start:%H:%M}–{end:%H:%M}"
    if meeting.supervisor_id == supervisor.pk:
        return f"This overlaps your meeting of {when}: choose another time or duration."
    there = {meeting.supervisor_id, *meeting.attendances.values_list("supervisee_id", flat=True)}
    if supervisor.pk in there:
        return f"You were in another supervision meeting on {when}: choose another time."
    names = " and ".join(str(p) for p in supervisees if p.pk in there) or "A supervisee"
    return (
        f"{names} already had supervision with another supervisor on {when}: "
        "choose another time or duration."
    )


class MeetingForm(CreateForm):
    """Read from the POST: only these fields. The supervisor is the signed-in person; the
    supervisees and cases offered are theirs (`people`, `couples`)."""

    held_on = DateTextField(
        label="Date", error_messages={"required": "Enter the date of the meeting."}
    )
    starts_at_time = forms.TimeField(
        label="Start time",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={
            "required": "Enter the time the meeting started.",
            "invalid": "Enter a time such as 14:30.",
        },
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)",
        min_value=1,
        max_value=MEETING_MAX_MINUTES,
        error_messages={
            "required": "Enter how many minutes the meeting lasted.",
            "invalid": "Enter the duration as a whole number of minutes.",
            "min_value": "A duration is at least 1 minute.",
            "max_value": "More than 8 hours (480 minutes) is not one meeting: check the duration.",
        },
    )
    format = forms.ChoiceField(
        label="Kind of supervision",
        choices=MeetingFormat.choices,
        widget=forms.RadioSelect,
        initial=MeetingFormat.INDIVIDUAL,
        error_messages={"required": "Choose individual or group supervision."},
    )
    observable_data = forms.ChoiceField(
        label="Observable data",
        choices=ObservableData.choices,
        widget=forms.RadioSelect,
        required=False,
        initial=ObservableData.NONE,
    )
    supervisees = forms.MultipleChoiceField(
        label="Supervisees present",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose the supervisees who were present.",
            "invalid_choice": "Choose among your own supervisees.",
        },
    )
    cases = forms.MultipleChoiceField(
        label="Cases discussed",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose among your supervisees' cases."},
    )
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Your own notes of the meeting: only you and the supervisees present read them.",
    )

    def __init__(
        self,
        *args: Any,
        supervisor: User,
        people: list[User],
        couples: list[Couple],
        rules: HoursRules,
        tz: ZoneInfo,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.supervisor = supervisor
        self.rules = rules
        self.tz = tz
        self.people = {str(p.pk): p for p in people}
        self.couples = {c.case_code: c for c in couples}
        supervisees = cast("forms.MultipleChoiceField", self.fields["supervisees"])
        supervisees.choices = [(str(p.pk), str(p)) for p in people]
        cases = cast("forms.MultipleChoiceField", self.fields["cases"])
        cases.choices = [(c.case_code, c.case_code) for c in couples]

    def clean_supervisees(self) -> list[User]:
        return [self.people[pk] for pk in self.cleaned_data["supervisees"]]

    def clean_cases(self) -> list[Couple]:
        return [self.couples[code] for code in self.cleaned_data["cases"]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        held_on, at = data.get("held_on"), data.get("starts_at_time")
        minutes = data.get("duration_minutes")
        starts_at = None
        if held_on is not None and at is not None:
            starts_at = timezone.make_aware(datetime.datetime.combine(held_on, at), self.tz)
            if starts_at > timezone.now():
                self.add_error(
                    "held_on",
                    "This meeting is in the future: log a meeting once it has taken place.",
                )
                starts_at = None
        data["starts_at"] = starts_at
        if starts_at is not None and minutes is not None:
            people = data.get("supervisees") or []
            clash = clashing_meeting(self.supervisor, starts_at, minutes, people)
            if clash is not None:
                message = clash_message(clash, self.tz, self.supervisor, people)
                self.add_error("starts_at_time", message)
        people = data.get("supervisees")
        kind = data.get("format")
        if people and kind == MeetingFormat.INDIVIDUAL:
            most = self.rules.individual_max_supervisees
            if len(people) > most:
                self.add_error(
                    "supervisees",
                    f"Individual supervision is one supervisor with at most {most} "
                    f"supervisee{'s' if most != 1 else ''}: you chose {len(people)}. "
                    "Choose group supervision, or fewer supervisees.",
                )
        if people and kind == MeetingFormat.GROUP:
            most = self.rules.group_max_supervisees
            if len(people) > most:
                self.add_error(
                    "supervisees",
                    f"Group supervision has at most {most} supervisees: you chose {len(people)}.",
                )
        cases = data.get("cases")
        if cases and people:
            present = {p.pk for p in people}
            absent = [
                c.case_code for c in cases if not present & {c.therapist_id, c.co_therapist_id}
            ]
            if absent:
                self.add_error(
                    "cases",
                    f"{', '.join(absent)}: the case of a supervisee not at this meeting. "
                    "Tick its therapist among those present, or untick the case.",
                )
        return data


class HoursRulesForm(VersionedForm, forms.ModelForm):  # type: ignore[misc]
    """The practice's counting rules, checked against the version it was read at."""

    class Meta:
        model = HoursRules
        fields = [
            "direct_target_hours",
            "relational_target_hours",
            "supervision_target_hours",
            "observable_target_hours",
            "individual_max_supervisees",
            "group_max_supervisees",
            "weekly_base_units",
            "client_hours_per_extra_unit",
            "individual_unit_minutes",
            "group_unit_minutes",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for part, whole, message in (
            ("relational_target_hours", "direct_target_hours", "direct client-contact"),
            ("observable_target_hours", "supervision_target_hours", "supervision"),
        ):
            if (data.get(part) or 0) > (data.get(whole) or 0):
                self.add_error(part, f"This is part of the {message} target: at most that.")
        individual = data.get("individual_max_supervisees")
        group = data.get("group_max_supervisees")
        if individual is not None and group is not None and group < individual:
            self.add_error(
                "group_max_supervisees",
                "A group may not be smaller than the largest individual supervision.",
            )
        return data
