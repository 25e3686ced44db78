"""The session form: when it was, who came, what was worked on, and the private note."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone

from core import dates
from core.concurrency import CreateForm, VersionedForm
from core.dates import DateTextField
from core.fields import FlagSetFormField
from cycles.models import EFTStep
from sessions.models import (
    TOOK_PLACE,
    Attendance,
    CancelledBy,
    EFTChangeEvent,
    Horseman,
    LeftBy,
    SessionFormat,
    TherapySession,
)

if TYPE_CHECKING:
    from cycles.models import Couple

MAX_SESSION_MINUTES = 480
DATE_HELP = "The day it was held."


class SessionForm(VersionedForm, CreateForm):
    # The day in the practice's format (or ISO), typed; the times in the browser's inputs.
    date = DateTextField(help_text=DATE_HELP)
    start_time = forms.TimeField(
        label="Start", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end_time = forms.TimeField(
        label="End", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    format = forms.ChoiceField(choices=SessionFormat.choices, widget=forms.RadioSelect)
    attendance = forms.ChoiceField(choices=Attendance.choices, widget=forms.RadioSelect)
    cancelled_by = forms.ChoiceField(
        label="Cancelled by", choices=[("", "—"), *CancelledBy.choices], required=False
    )
    left_early = forms.ChoiceField(
        label="Who left early", choices=[("", "—"), *LeftBy.choices], required=False
    )
    eft_step = forms.TypedChoiceField(
        label="EFT step worked on",
        choices=[("", "—"), *EFTStep.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    change_events = FlagSetFormField(
        flag=EFTChangeEvent,
        label="EFT change events",
        help_text="What shifted in the session, if anything.",
    )
    horsemen = FlagSetFormField(
        flag=Horseman,
        label="Four Horsemen observed",
        help_text="Contempt and stonewalling are the warning signs.",
    )
    progress_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), required=False, max_length=20000
    )
    private_note = forms.CharField(
        label="Private psychotherapy note",
        help_text="Yours alone: never shown to your supervisor, in summaries or exports.",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=20000,
    )

    def __init__(
        self, *args: Any, couple: Couple, session: TherapySession | None = None, **kwargs: Any
    ) -> None:
        """`couple`: whose session it is; `session`: the one being corrected, if any.

        Dates and times are read in the active time zone: the signed-in person's practice's
        (people.middleware.PracticeTimeZoneMiddleware).
        """
        super().__init__(*args, **kwargs)
        self.couple = couple
        self.session = session
        zone = timezone.get_current_timezone_name()
        self.fields["start_time"].help_text = f"Practice time ({zone})."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._check_times(cleaned)
        self._check_attendance(cleaned)
        return cleaned

    def _check_times(self, cleaned: dict[str, Any]) -> None:
        date, start, end = cleaned.get("date"), cleaned.get("start_time"), cleaned.get("end_time")
        if not (date and start) or not self._check_date(date):
            return
        starts_at = self._aware(date, start)
        if starts_at is None:
            return
        if starts_at > timezone.now():
            self.add_error("date", "A session can't be logged before it has happened.")
            return
        cleaned["starts_at"] = starts_at
        if end is None:
            return
        if end <= start:
            self.add_error("end_time", "The end must be after the start.")
            return
        minutes = datetime.datetime.combine(date, end) - datetime.datetime.combine(date, start)
        cleaned["duration_minutes"] = int(minutes.total_seconds() // 60)
        if cleaned["duration_minutes"] > MAX_SESSION_MINUTES:
            self.add_error("end_time", "A session can't be longer than 8 hours.")
            return
        self._check_overlap(starts_at, cleaned["duration_minutes"])

    def _check_date(self, date: datetime.date) -> bool:
        """A date within the treatment: not before the couple's start date, not after today."""
        if date > timezone.localdate():
            self.add_error("date", "A session can't be logged before it has happened.")
            return False
        if date < self.couple.started_on:
            started = dates.show(self.couple.started_on)
            self.add_error(
                "date",
                f"This couple's treatment started on {started}: a session can't be dated "
                "before it. If the start date is wrong, correct it on the couple's record first.",
            )
            return False
        return True

    def _aware(self, date: datetime.date, time: datetime.time) -> datetime.datetime | None:
        """The moment, in the active zone; None (refused beside the date) for one so early
        it has no UTC equivalent (a start date of year 1 would let one through)."""
        starts_at = timezone.make_aware(datetime.datetime.combine(date, time))
        try:
            starts_at.astimezone(datetime.UTC)
        except OverflowError:
            self.add_error("date", "Enter a date within the treatment.")
            return None
        return starts_at

    def _check_overlap(self, starts_at: datetime.datetime, minutes: int) -> None:
        """Refuse a time that overlaps another current session of the couple (a session logged
        twice, or a wrong time): the session being corrected doesn't count."""
        start = starts_at.astimezone(datetime.UTC)
        end = start + datetime.timedelta(minutes=minutes)
        others = (
            TherapySession.objects.current()
            .filter(couple=self.couple, starts_at__lt=end)
            # No session is longer than MAX_SESSION_MINUTES: none starting earlier reaches here.
            .filter(starts_at__gt=start - datetime.timedelta(minutes=MAX_SESSION_MINUTES))
            .order_by("starts_at")
        )
        if self.session is not None:
            others = others.exclude(pk=self.session.pk)
        rows = others.values_list("ordinal", "starts_at", "duration_minutes")
        for ordinal, other_start, other_minutes in rows:
            other_end = other_start + datetime.timedelta(minutes=other_minutes)
            if other_end > start:
                self.add_error("start_time", self._overlap_message(ordinal, other_start, other_end))
                return

    @staticmethod
    def _overlap_message(
        ordinal: int, starts_at: datetime.datetime, ends_at: datetime.datetime
    ) -> str:
        local_start, local_end = timezone.localtime(starts_at), timezone.localtime(ends_at)
        when = f"{dates.show(local_start)}, {local_start:%H:%M}–{local_end:%H:%M}"
        return (
            f"Session {ordinal} of this couple is already logged for {when}: this time "
            f"overlaps it. If it is the same session, correct session {ordinal} instead."
        )

    def _check_attendance(self, cleaned: dict[str, Any]) -> None:
        attendance = cleaned.get("attendance")
        if attendance == Attendance.CANCELLED and not cleaned.get("cancelled_by"):
            self.add_error("cancelled_by", "Say who cancelled.")
        if attendance != Attendance.CANCELLED and cleaned.get("cancelled_by"):
            self.add_error("cancelled_by", "Only a cancelled session has someone who cancelled.")
        if attendance == Attendance.ENDED_EARLY and not cleaned.get("left_early"):
            self.add_error("left_early", "Say who left.")
        if attendance != Attendance.ENDED_EARLY and cleaned.get("left_early"):
            self.add_error("left_early", "Only a session that ended early has someone who left.")
        individual = {
            SessionFormat.INDIVIDUAL_A: "partner_b",
            SessionFormat.INDIVIDUAL_B: "partner_a",
        }
        absent = individual.get(cleaned.get("format", ""))
        if absent and cleaned.get("left_early") in (absent, LeftBy.BOTH):
            self.add_error("left_early", "That partner wasn't in this individual session.")
        if attendance and attendance not in TOOK_PLACE:
            for name in ("change_events", "horsemen"):
                if cleaned.get(name):
                    self.add_error(name, "Only a session that took place has observations.")

    def session_fields(self) -> dict[str, Any]:
        """The cleaned values that belong on the TherapySession row."""
        data = self.cleaned_data
        return {
            "starts_at": data["starts_at"],
            "duration_minutes": data["duration_minutes"],
            "format": data["format"],
            "attendance": data["attendance"],
            "cancelled_by": data["cancelled_by"],
            "left_early": data["left_early"],
            "eft_step": data["eft_step"],
            "change_events": data["change_events"],
            "horsemen": data["horsemen"],
            "progress_note": data["progress_note"],
        }

    @staticmethod
    def initial_for(session: TherapySession, private_note: str) -> dict[str, Any]:
        local = timezone.localtime(session.starts_at)
        end = local + datetime.timedelta(minutes=session.duration_minutes)
        return {
            "date": local.date(),
            "start_time": local.time().replace(second=0, microsecond=0),
            "end_time": end.time().replace(second=0, microsecond=0),
            "format": session.format,
            "attendance": session.attendance,
            "cancelled_by": session.cancelled_by,
            "left_early": session.left_early,
            "eft_step": session.eft_step,
            "change_events": session.change_events,
            "horsemen": session.horsemen,
            "progress_note": session.progress_note,
            "private_note": private_note,
            "version": session.version,
        }

    @staticmethod
    def initial_new() -> dict[str, Any]:
        """Defaults for a session that just ended: 50 minutes, ending now."""
        now = timezone.localtime().replace(second=0, microsecond=0)
        end = now - datetime.timedelta(minutes=now.minute % 5)
        start = end - datetime.timedelta(minutes=50)
        return {
            "date": start.date(),
            "start_time": start.time(),
            "end_time": end.time(),
            "format": SessionFormat.CONJOINT,
            "attendance": Attendance.ATTENDED,
        }


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why withdraw it?",
        max_length=300,
        help_text="It will be hidden from views and summaries but kept in the record.",
    )


class AmendmentForm(forms.Form):
    """Why a signed record is changed (sessions.signing.amend): asked only when it changes."""

    amendment_reason = forms.CharField(
        label="Reason for the amendment",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="This record is signed: the original stays readable beside your change.",
    )
