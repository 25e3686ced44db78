"""Alliance ruptures (DOMAIN.md section 3) and the nightly summaries' table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from people.access import readable_couples, writable_couples
from ruptures.codes import (
    ConfrontationMarker,
    MetacommunicationPrinciple,
    ResolutionStage,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    SummaryPeriod,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.fields import FlagSetField, LabelledFlag

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from people.models import User


class RuptureQuerySet(models.QuerySet["Rupture"]):
    def visible_to(self, user: User | AnonymousUser) -> RuptureQuerySet:
        return self.filter(readable_couples(user, "couple__"))

    def editable_by(self, user: User | AnonymousUser) -> RuptureQuerySet:
        return self.filter(writable_couples(user, "couple__"))

    def current(self) -> RuptureQuerySet:
        """Ruptures not withdrawn as logged by mistake, in sessions not withdrawn."""
        return self.filter(withdrawn_at__isnull=True, session__withdrawn_at__isnull=True)

    def open(self) -> RuptureQuerySet:
        return self.current().exclude(status=RuptureStatus.RESOLVED)


class Rupture(models.Model):
    """A strain or breakdown in the collaboration, seen in one session.

    The database also refuses (migration 0002's triggers) a session of another couple, and a
    repairing session of another couple or one that is not later than the rupture's.
    """

    couple = models.ForeignKey("cycles.Couple", on_delete=models.PROTECT, related_name="ruptures")
    session = models.ForeignKey(
        "therapy_sessions.TherapySession", on_delete=models.PROTECT, related_name="ruptures"
    )
    minute = models.PositiveSmallIntegerField("minute into the session", null=True, blank=True)
    rupture_type = models.CharField("type", max_length=14, choices=RuptureType.choices)
    who_moved = models.CharField(max_length=10, choices=WhoMoved.choices)
    toward = models.CharField("toward whom", max_length=14, choices=Toward.choices)
    withdrawal_markers = FlagSetField(flag=WithdrawalMarker)
    confrontation_markers = FlagSetField(flag=ConfrontationMarker)
    significance = models.PositiveSmallIntegerField(
        help_text="Impact on the collaboration: 1 barely noticed, 5 a breakdown."
    )
    therapist_contribution = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1 little, 5 a large part."
    )
    strategies = FlagSetField("resolution strategies used", flag=ResolutionStrategy)
    principles = FlagSetField(
        "metacommunication principles followed", flag=MetacommunicationPrinciple
    )
    resolution_stage = models.PositiveSmallIntegerField(
        "resolution stage reached", choices=ResolutionStage.choices, default=ResolutionStage.NONE
    )
    status = models.CharField(
        max_length=16, choices=RuptureStatus.choices, default=RuptureStatus.UNRESOLVED
    )
    repaired_in = models.ForeignKey(
        "therapy_sessions.TherapySession",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="repairs",
        verbose_name="repaired in session",
    )
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True, editable=False)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    withdrawal_reason = models.CharField(max_length=300, blank=True, editable=False)

    objects = RuptureQuerySet.as_manager()

    class Meta:
        ordering = ["session__starts_at", "minute", "pk"]
        constraints = [
            models.CheckConstraint(
                name="rupture_significance_1_to_5",
                condition=Q(significance__gte=1, significance__lte=5),
            ),
            models.CheckConstraint(
                name="rupture_contribution_1_to_5",
                condition=Q(therapist_contribution__isnull=True)
                | Q(therapist_contribution__gte=1, therapist_contribution__lte=5),
            ),
            models.CheckConstraint(
                name="rupture_stage_0_to_4",
                condition=Q(resolution_stage__gte=0, resolution_stage__lte=4),
            ),
            models.CheckConstraint(
                name="rupture_minute_range",
                condition=Q(minute__isnull=True) | Q(minute__lte=480),
            ),
            models.CheckConstraint(
                name="rupture_markers_of_its_type",
                condition=Q(
                    rupture_type=RuptureType.WITHDRAWAL,
                    confrontation_markers=0,
                    withdrawal_markers__lte=WithdrawalMarker.all_bits(),
                )
                | Q(
                    rupture_type=RuptureType.CONFRONTATION,
                    withdrawal_markers=0,
                    confrontation_markers__lte=ConfrontationMarker.all_bits(),
                ),
            ),
            models.CheckConstraint(
                name="rupture_strategies_known",
                condition=Q(strategies__lte=ResolutionStrategy.all_bits())
                & Q(principles__lte=MetacommunicationPrinciple.all_bits()),
            ),
            models.CheckConstraint(
                name="rupture_mover_is_not_target",
                condition=~Q(who_moved=WhoMoved.THERAPIST, toward=Toward.THERAPIST)
                & ~Q(who_moved=WhoMoved.PARTNER_A, toward=Toward.PARTNER_A)
                & ~Q(who_moved=WhoMoved.PARTNER_B, toward=Toward.PARTNER_B)
                & ~Q(who_moved=WhoMoved.BOTH, toward=Toward.BOTH_PARTNERS),
            ),
            models.CheckConstraint(
                name="rupture_repaired_is_not_unresolved",
                condition=Q(repaired_in__isnull=True) | ~Q(status=RuptureStatus.UNRESOLVED),
            ),
            models.CheckConstraint(
                name="rupture_repaired_in_other_session",
                condition=Q(repaired_in__isnull=True) | ~Q(repaired_in=models.F("session")),
            ),
            models.CheckConstraint(
                name="rupture_withdrawal_has_reason",
                condition=Q(withdrawn_at__isnull=True)
                | (Q(withdrawn_by__isnull=False) & ~Q(withdrawal_reason="")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_rupture_type_display()} rupture in {self.session}"

    @property
    def markers(self) -> LabelledFlag:
        """The markers seen, of whichever type this rupture is."""
        if self.rupture_type == RuptureType.WITHDRAWAL:
            return self.withdrawal_markers
        return self.confrontation_markers

    @property
    def is_open(self) -> bool:
        return self.status != RuptureStatus.RESOLVED


class RuptureSummaryQuerySet(models.QuerySet["RuptureSummary"]):
    def visible_to(self, user: User | AnonymousUser) -> RuptureSummaryQuerySet:
        return self.filter(readable_couples(user, "couple__"))


class RuptureSummary(models.Model):
    """One couple's rupture-resolution summary for one period ending on one date.

    Filled by the nightly job with one bulk upsert on (couple, period, on_date): running it
    twice for a date rewrites the same rows, never adds more.
    """

    couple = models.ForeignKey("cycles.Couple", on_delete=models.CASCADE, related_name="summaries")
    period = models.CharField(max_length=12, choices=SummaryPeriod.choices)
    on_date = models.DateField("for the day ending")
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    objects = RuptureSummaryQuerySet.as_manager()

    class Meta:
        ordering = ["couple", "-on_date", "period"]
        verbose_name_plural = "rupture summaries"
        constraints = [
            models.UniqueConstraint(
                fields=["couple", "period", "on_date"], name="summary_once_per_period_and_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.couple} {self.period} summary to {self.on_date}"
