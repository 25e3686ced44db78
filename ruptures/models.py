"""Alliance ruptures (docs/domain.md#alliance-ruptures-3rs) and the nightly summaries' table."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.concurrency import request_token_field, version_field
from core.fields import FlagSetField, LabelledFlag
from core.records import Withdrawable
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

    def with_repair_note(self) -> RuptureQuerySet:
        """Each rupture with `repair_note`: the note of the repair standing in the session
        that repaired it ("" when none), read in the same query."""
        standing = (
            RuptureRepair.objects.current()
            .filter(rupture=OuterRef("pk"), session=OuterRef("repaired_in"))
            .order_by("-recorded_at", "-pk")
            .values("note")[:1]
        )
        return self.annotate(
            repair_note=Coalesce(Subquery(standing), Value(""), output_field=models.TextField())
        )


class Rupture(Withdrawable):
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
    # The correction and repair forms are checked against this (core/concurrency.py).
    version = version_field()
    request_token = request_token_field()

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
            return WithdrawalMarker(self.withdrawal_markers)
        return ConfrontationMarker(self.confrontation_markers)

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


class FlagKind(models.TextChoices):
    """The signals a supervisor wants flagged (docs/domain.md#flags; docs/signals.md)."""

    UNRESOLVED_RUPTURE = "unresolved_rupture", "Unresolved rupture"
    CONFRONTATION_THEN_ABSENCE = "confrontation_then_absence", "Confrontation then absence"
    RECURRING_RUPTURE = "recurring_rupture", "Recurring rupture"
    HIGH_THERAPIST_CONTRIBUTION = "high_therapist_contribution", "High therapist contribution"
    SPLIT_ALLIANCE_WIDENING = "split_alliance_widening", "Split alliance widening"
    ALLIANCE_DROP = "alliance_drop", "Alliance drop"
    REPORT_MISMATCH = "report_mismatch", "Report mismatch"
    GONE_QUIET = "gone_quiet", "Gone quiet"
    STUCK_IN_STAGE_ONE = "stuck_in_stage_one", "Stuck in stage 1"
    # For the therapist and supervisor only: never shown to the other partner, a consultation
    # group or in a digest beyond a count (sessions/safety.py; docs/security.md).
    SAFETY_CONCERN = "safety_concern", "Safety concern"


# Kinds never shown outside the couple's own therapist and supervisor: not in a shared or
# de-identified case, not in a per-partner copy of the record, not named in a digest.
PRIVATE_FLAG_KINDS = frozenset({FlagKind.SAFETY_CONCERN})


class FlagQuerySet(models.QuerySet["Flag"]):
    def visible_to(self, user: User | AnonymousUser) -> FlagQuerySet:
        return self.filter(readable_couples(user, "couple__"))

    def open(self) -> FlagQuerySet:
        return self.filter(closed_on__isnull=True)


class Flag(models.Model):
    """A prompt to review a couple, with its evidence. Never deleted: closed when no longer
    true, so the history stays; if it becomes true again, a new flag opens.

    `key` tells apart flags of one kind on one couple (e.g. "rupture:17" for each unresolved
    rupture); `detail` is built from codes and session numbers only, never names or notes.
    """

    couple = models.ForeignKey("cycles.Couple", on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=32, choices=FlagKind.choices)
    key = models.CharField(max_length=40, blank=True)
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    detail = models.CharField(max_length=300)
    evidence = models.JSONField(default=dict)

    objects = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["couple", "-opened_on", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["couple", "kind", "key"],
                condition=Q(closed_on__isnull=True),
                name="one_open_flag_per_couple_kind_key",
            ),
            models.CheckConstraint(
                name="flag_closes_after_it_opens",
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=models.F("opened_on")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.couple}"

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class RunStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class NightlyRunQuerySet(models.QuerySet["NightlyRun"]):
    def visible_to(self, user: User | AnonymousUser) -> NightlyRunQuerySet:
        """Run status is for the practice admin: no clinical content in it."""
        if not user.is_authenticated or not getattr(user, "is_practice_admin", False):
            return self.none()
        return self.filter(practice_id=user.practice_id)


class NightlyRun(models.Model):
    """One practice's nightly summaries for one date, processed in chunks of couples.

    `cursor` is the highest couple id done: a worker killed mid-chunk loses only that chunk's
    uncommitted transaction, and the next run for the date resumes after the cursor. One run
    per practice and date (unique), so two starts at once share the same row and its lock.
    """

    practice = models.ForeignKey("people.Practice", on_delete=models.CASCADE, related_name="+")
    for_date = models.DateField("for the day ending")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    couples_total = models.PositiveIntegerField(default=0)
    couples_done = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Last sign of life: made, a chunk committed, resumed. The workers' watchdog resumes a run
    # no chunk holds whose heartbeat is older than the lease (flags.runs).
    heartbeat_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = NightlyRunQuerySet.as_manager()

    class Meta:
        ordering = ["-for_date", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "for_date"], name="one_run_per_practice_and_date"
            ),
            models.CheckConstraint(
                name="run_done_within_total",
                condition=Q(couples_done__lte=models.F("couples_total")),
            ),
        ]

    def __str__(self) -> str:
        return f"Nightly run of {self.practice} for {self.for_date}"

    @property
    def duration(self) -> datetime.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def percent_done(self) -> int:
        if not self.couples_total:
            return 100 if self.status == RunStatus.FINISHED else 0
        return round(100 * self.couples_done / self.couples_total)


class CaseloadSummaryQuerySet(models.QuerySet["CaseloadSummary"]):
    def visible_to(self, user: User | AnonymousUser) -> CaseloadSummaryQuerySet:
        """Your own caseload's roll-up, and a supervisor's view of their supervisees'."""
        if not user.is_authenticated or user.practice_id is None:
            return self.none()
        from people.models import Supervision

        supervisees = Supervision.objects.filter(supervisor=user).values("therapist_id")
        return self.filter(practice_id=user.practice_id).filter(
            Q(person=user) | Q(person_id__in=supervisees, role="therapist")
        )


class CaseloadSummary(models.Model):
    """A therapist's or supervisor's roll-up of the stored couple summaries for one date."""

    practice = models.ForeignKey("people.Practice", on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(
        max_length=12, choices=[("therapist", "Therapist"), ("supervisor", "Supervisor")]
    )
    on_date = models.DateField()
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    objects = CaseloadSummaryQuerySet.as_manager()

    class Meta:
        ordering = ["-on_date", "person"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "role", "on_date"], name="rollup_once_per_person_role_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} roll-up of {self.person} for {self.on_date}"


class DigestLog(models.Model):
    """The morning digest sent to one person for one date: at most one, ever."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    for_date = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)
    flags_open = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "for_date"], name="one_digest_per_person_and_date"
            ),
        ]

    def __str__(self) -> str:
        return f"Digest for {self.person} on {self.for_date}"


class FlagAcknowledgement(models.Model):
    """A supervisor's acknowledgement of a flag, with a comment and a follow-up date.

    The therapist sees it on the couple page. It belongs to that flag row: a flag that closes
    and later opens again is a new row, shown as new.
    """

    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="acknowledgements")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(max_length=2000)
    follow_up_on = models.DateField("follow up on", null=True, blank=True)
    request_token = request_token_field()  # a double click acknowledges once

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"Acknowledgement of flag #{self.flag_id}"


class RuptureRepairQuerySet(models.QuerySet["RuptureRepair"]):
    def current(self) -> RuptureRepairQuerySet:
        """Repairs not undone as recorded by mistake."""
        return self.filter(withdrawn_at__isnull=True)


class RuptureRepair(Withdrawable):
    """One repair of a rupture in a later session, with the rupture's state just before it.

    The rupture row holds its current state; this log lets the nightly summaries see how a
    rupture stood at the end of any earlier date (flags.snapshot), so a run started
    late, or resumed, counts a repair only from its session on.
    """

    rupture = models.ForeignKey(Rupture, on_delete=models.CASCADE, related_name="repair_log")
    session = models.ForeignKey(
        "therapy_sessions.TherapySession", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=RuptureStatus.choices)
    strategies = FlagSetField("strategies used in the repair", flag=ResolutionStrategy)
    resolution_stage = models.PositiveSmallIntegerField(choices=ResolutionStage.choices)
    status_before = models.CharField(max_length=16, choices=RuptureStatus.choices)
    strategies_before = FlagSetField(flag=ResolutionStrategy)
    stage_before = models.PositiveSmallIntegerField(choices=ResolutionStage.choices)
    repaired_in_before = models.ForeignKey(
        "therapy_sessions.TherapySession",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    # Record content, like the progress note (so stored as plain text, not encrypted as the
    # private notes are): shown with the repair to whoever may read the record and in the
    # couple PDF, never in a consultation group's case (consultation/deidentify.py allow-list).
    # db_default: the bench's COPY columns come from the model (bench/practice.py).
    note = models.TextField(
        "what I acknowledged, how we repaired it", blank=True, default="", db_default=""
    )
    # A repair recorded by mistake is undone, never deleted: the rupture goes back to its
    # state before (the fields above) and this row stays, withdrawn.
    request_token = request_token_field()

    objects = RuptureRepairQuerySet.as_manager()

    class Meta:
        ordering = ["rupture", "recorded_at"]
        constraints = [
            models.CheckConstraint(
                name="repair_withdrawal_has_reason",
                condition=Q(withdrawn_at__isnull=True)
                | (Q(withdrawn_by__isnull=False) & ~Q(withdrawal_reason="")),
            ),
        ]

    def __str__(self) -> str:
        return f"Repair of rupture #{self.rupture_id} in session #{self.session_id}"
