"""The supervision log and the counting rules of licensure hours (docs/domain.md, "Supervision
log and hours").

A supervisor records each supervision meeting: when, how long, individual or group, the
supervisees present (theirs only), the cases discussed (links to couples, never copied text),
whether observable data was used, and their notes. Each supervisee present confirms the entry
on their own log; the hours count confirmed and unconfirmed apart (supervision.hours).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.concurrency import request_token_field, version_field

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from people.models import User

# Longer than a working day is a typing slip, not a meeting (the form says so).
MEETING_MAX_MINUTES = 480


class MeetingFormat(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    GROUP = "group", "Group"


class ObservableData(models.TextChoices):
    """Whether the supervisor saw the work itself, which boards count apart."""

    NONE = "", "None (case report only)"
    RECORDING = "recording", "Recording (audio or video)"
    LIVE = "live", "Live observation"


class MeetingQuerySet(models.QuerySet["SupervisionMeeting"]):
    def led_by(self, user: User | AnonymousUser) -> MeetingQuerySet:
        """The meetings the supervisor recorded (nothing for anyone else)."""
        if not user.is_authenticated or not user.is_supervisor or user.practice_id is None:
            return self.none()
        return self.filter(supervisor=user, practice_id=user.practice_id)


class SupervisionMeeting(models.Model):
    """One supervision meeting, as its supervisor recorded it."""

    practice = models.ForeignKey("people.Practice", on_delete=models.PROTECT, related_name="+")
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="meetings_led"
    )
    starts_at = models.DateTimeField("start")
    duration_minutes = models.PositiveSmallIntegerField(
        "duration (minutes)",
        validators=[MinValueValidator(1), MaxValueValidator(MEETING_MAX_MINUTES)],
    )
    format = models.CharField(max_length=10, choices=MeetingFormat.choices)
    observable_data = models.CharField(
        "observable data", max_length=10, choices=ObservableData.choices, blank=True
    )
    supervisees = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="MeetingAttendance",
        through_fields=("meeting", "supervisee"),
        related_name="meetings_attended",
    )
    # Links to the couples discussed, by case code on screen: never their text.
    cases = models.ManyToManyField("cycles.Couple", related_name="+", blank=True)
    notes = models.TextField(blank=True, max_length=4000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    version = version_field()
    request_token = request_token_field()  # a double click logs one meeting

    objects = MeetingQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                name="meeting_duration_range",
                condition=Q(duration_minutes__gte=1, duration_minutes__lte=MEETING_MAX_MINUTES),
            ),
        ]

    def __str__(self) -> str:
        return f"Supervision meeting #{self.pk}"

    @property
    def ends_at(self) -> datetime.datetime:
        return self.starts_at + datetime.timedelta(minutes=self.duration_minutes)


class AttendanceQuerySet(models.QuerySet["MeetingAttendance"]):
    def of_supervisee(self, user: User | AnonymousUser) -> AttendanceQuerySet:
        """The supervisee's own entries of the log."""
        if not user.is_authenticated or user.practice_id is None:
            return self.none()
        return self.filter(supervisee=user, meeting__practice_id=user.practice_id)


class MeetingAttendance(models.Model):
    """A supervisee present at a meeting, and their confirmation of the entry."""

    meeting = models.ForeignKey(
        SupervisionMeeting, on_delete=models.CASCADE, related_name="attendances"
    )
    supervisee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    objects = AttendanceQuerySet.as_manager()

    class Meta:
        ordering = ["meeting", "supervisee"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "supervisee"], name="attendance_once"),
            models.CheckConstraint(
                name="attendance_confirmed_with_who",
                condition=Q(confirmed_at__isnull=True, confirmed_by__isnull=True)
                | Q(confirmed_at__isnull=False, confirmed_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Attendance of meeting #{self.meeting_id}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class HoursRules(models.Model):
    """A practice's counting rules for licensure hours: targets, what individual and group
    supervision mean, and the weekly ratio rule. Boards and programmes differ, so each
    practice sets its own; a practice with no row counts by the defaults (`for_practice`)."""

    practice = models.OneToOneField(
        "people.Practice", on_delete=models.CASCADE, related_name="hours_rules"
    )
    direct_target_hours = models.PositiveSmallIntegerField(
        "direct client-contact hours target",
        default=500,
        validators=[MaxValueValidator(10000)],
        help_text=(
            "Direct client-contact hours the board or programme asks for (COAMFTE: 500); "
            "0 where it sets none."
        ),
    )
    relational_target_hours = models.PositiveSmallIntegerField(
        "relational hours target",
        default=250,
        validators=[MaxValueValidator(10000)],
        help_text=(
            "Of them, hours with couples or families in the room (COAMFTE: 250); "
            "0 where relational hours aren't counted apart."
        ),
    )
    supervision_target_hours = models.PositiveSmallIntegerField(
        "supervision hours target",
        default=100,
        validators=[MaxValueValidator(10000)],
        help_text="Supervision hours asked for (COAMFTE: 100).",
    )
    observable_target_hours = models.PositiveSmallIntegerField(
        "supervision with observable data target",
        default=50,
        validators=[MaxValueValidator(10000)],
        help_text=(
            "Of them, hours of supervision on a recording or live observation (COAMFTE: 50); "
            "0 where they aren't counted apart."
        ),
    )
    individual_max_supervisees = models.PositiveSmallIntegerField(
        "individual supervision: most supervisees",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(8)],
        help_text="Individual supervision is one supervisor with at most this many supervisees.",
    )
    group_max_supervisees = models.PositiveSmallIntegerField(
        "group supervision: most supervisees",
        default=8,
        validators=[MinValueValidator(2), MaxValueValidator(30)],
        help_text="A group meeting has at most this many supervisees.",
    )
    weekly_base_units = models.PositiveSmallIntegerField(
        "supervision units every week",
        default=1,
        validators=[MaxValueValidator(10)],
        help_text="Units of supervision due in any week with client contact.",
    )
    client_hours_per_extra_unit = models.PositiveSmallIntegerField(
        "client-contact hours per extra unit",
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="One more unit is due for every this many client-contact hours in the week.",
    )
    individual_unit_minutes = models.PositiveSmallIntegerField(
        "minutes of individual supervision per unit",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(MEETING_MAX_MINUTES)],
    )
    group_unit_minutes = models.PositiveSmallIntegerField(
        "minutes of group supervision per unit",
        default=120,
        validators=[MinValueValidator(1), MaxValueValidator(MEETING_MAX_MINUTES)],
    )
    version = version_field()

    class Meta:
        verbose_name_plural = "hours rules"
        constraints = [
            models.CheckConstraint(
                name="hours_rules_group_larger_than_individual",
                condition=Q(group_max_supervisees__gte=models.F("individual_max_supervisees")),
            ),
            models.CheckConstraint(
                name="hours_rules_units_positive",
                condition=Q(
                    client_hours_per_extra_unit__gte=1,
                    individual_unit_minutes__gte=1,
                    group_unit_minutes__gte=1,
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Hours rules of practice #{self.practice_id}"

    @classmethod
    def for_practice(cls, practice_id: int) -> HoursRules:
        """The practice's rules, or the defaults (unsaved) when it has set none."""
        found = cls.objects.filter(practice_id=practice_id).first()
        return found or cls(practice_id=practice_id)
