"""The couple's treatment plan (docs/domain.md#treatment-plan).

A plan is kept as revisions, like the cycle map: each `PlanRevision` row is one saved version
of the whole plan with all its goals (`PlanGoal`), numbered from 1 per couple and never changed
after it is saved, so the history of the plan can be read and compared revision by revision.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Count, Min, Q
from django.utils import timezone

from core.concurrency import request_token_field
from cycles.models import EFTStage
from people.access import readable_couples, writable_couples
from sessions.models import EFTChangeEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from people.models import User


class Evidence(models.TextChoices):
    """What in the record will show that a goal is met (plans.progress reads each)."""

    DE_ESCALATION = "de_escalation", "De-escalation (change event)"
    WITHDRAWER_REENGAGEMENT = "withdrawer_reengagement", "Withdrawer re-engagement (change event)"
    BLAMER_SOFTENING = "blamer_softening", "Blamer softening (change event)"
    CSI4_ABOVE_CUTOFF = "csi4_above_cutoff", "CSI-4 above the distress cut-off for both partners"
    ALLIANCE_GAP_NARROWING = "alliance_gap_narrowing", "Alliance gap between the partners narrowing"
    RUPTURES_RESOLVED = "ruptures_resolved", "Ruptures resolved"


# The evidence kinds that are EFT change events, and the event each waits for.
CHANGE_EVENT_OF: dict[str, EFTChangeEvent] = {
    Evidence.DE_ESCALATION: EFTChangeEvent.DE_ESCALATION,
    Evidence.WITHDRAWER_REENGAGEMENT: EFTChangeEvent.WITHDRAWER_REENGAGEMENT,
    Evidence.BLAMER_SOFTENING: EFTChangeEvent.BLAMER_SOFTENING,
}


class GoalStatus(models.TextChoices):
    OPEN = "open", "Open"
    MET = "met", "Met"
    REVISED = "revised", "Revised"
    DROPPED = "dropped", "Dropped"


class PlanCosignState(models.TextChoices):
    """Where a revision stands with the supervisor, when its author's notes need co-signing
    (docs/domain.md, "Signing"; plans.signing). Only the plan's latest revision awaits or is
    sent back: saving a newer one replaces an awaiting one."""

    NOT_NEEDED = "", "Not needed"
    AWAITING = "awaiting", "Awaiting co-signature"
    COSIGNED = "cosigned", "Co-signed"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    SUPERSEDED = "superseded", "Replaced by a later revision before co-signing"


# The two outcomes of a supervisor's review: the states that name a reviewer and a time.
REVIEWED = (PlanCosignState.COSIGNED, PlanCosignState.CHANGES_REQUESTED)


class PlanRevisionQuerySet(models.QuerySet["PlanRevision"]):
    def visible_to(self, user: User | AnonymousUser) -> PlanRevisionQuerySet:
        return self.filter(readable_couples(user, "couple__"))

    def editable_by(self, user: User | AnonymousUser) -> PlanRevisionQuerySet:
        return self.filter(writable_couples(user, "couple__"))

    def with_goal_review(self) -> PlanRevisionQuerySet:
        """Each revision with its open goals' first review date (`next_review` reads it)."""
        return self.annotate(
            goal_review=Min("goals__review_on", filter=Q(goals__status=GoalStatus.OPEN))
        )

    def summarised(self) -> PlanRevisionQuerySet:
        """Each revision with its goals counted (open, met), the lowest stage of its open
        goals (the stage focus) and its open goals' first review date: one query."""
        is_open = Q(goals__status=GoalStatus.OPEN)
        return self.with_goal_review().annotate(
            open_goals=Count("goals", filter=is_open),
            met_goals=Count("goals", filter=Q(goals__status=GoalStatus.MET)),
            focus_stage=Min("goals__stage", filter=is_open),
        )


class PlanRevision(models.Model):
    """One saved revision of a couple's treatment plan: its date, review date and goals.

    The unique (couple, revision) is what refuses the second of two saves made from the same
    base revision; `request_token` makes a double submit save once (plans.services.plan_save).
    """

    couple = models.ForeignKey(
        "cycles.Couple", on_delete=models.CASCADE, related_name="plan_revisions"
    )
    revision = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    plan_date = models.DateField("plan date")
    review_on = models.DateField("plan review date")
    change_note = models.CharField("what changed", max_length=200, blank=True)
    request_token = request_token_field()
    # The supervisor's co-signature (plans.signing): the plan's content above is never
    # changed; only where it stands with the supervisor moves, once, as it is reviewed.
    cosign_state = models.CharField(
        "co-signature",
        max_length=20,
        choices=PlanCosignState.choices,
        blank=True,
        default=PlanCosignState.NOT_NEEDED,
        db_default=PlanCosignState.NOT_NEEDED,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="co-signed or sent back by",
    )
    reviewed_at = models.DateTimeField("co-signed or sent back at", null=True, blank=True)
    review_comment = models.TextField("supervisor's comment", blank=True, default="", db_default="")

    objects = PlanRevisionQuerySet.as_manager()

    class Meta:
        ordering = ["couple", "-revision"]
        get_latest_by = "revision"
        constraints = [
            models.UniqueConstraint(fields=["couple", "revision"], name="plan_revision_once"),
            models.CheckConstraint(name="plan_revision_positive", condition=Q(revision__gte=1)),
            models.CheckConstraint(
                name="plan_review_not_before_plan",
                condition=Q(review_on__gte=models.F("plan_date")),
            ),
            models.CheckConstraint(
                name="plan_cosign_state_known", condition=Q(cosign_state__in=PlanCosignState.values)
            ),
            # A reviewed revision names who reviewed it and when; no other does.
            models.CheckConstraint(
                name="plan_reviewer_iff_reviewed",
                condition=(
                    Q(
                        cosign_state__in=REVIEWED,
                        reviewed_by__isnull=False,
                        reviewed_at__isnull=False,
                    )
                    | (
                        ~Q(cosign_state__in=REVIEWED)
                        & Q(reviewed_by__isnull=True, reviewed_at__isnull=True)
                    )
                ),
            ),
            models.CheckConstraint(
                name="plan_changes_requested_say_what",
                condition=~Q(cosign_state=PlanCosignState.CHANGES_REQUESTED)
                | ~Q(review_comment=""),
            ),
        ]
        indexes = [
            # The sign-off queues' rows: few among many revisions (plans.signing).
            models.Index(
                fields=["cosign_state"],
                name="plan_awaiting_or_sent_back",
                condition=Q(
                    cosign_state__in=[PlanCosignState.AWAITING, PlanCosignState.CHANGES_REQUESTED]
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.couple} plan, revision {self.revision}"

    @property
    def next_review(self) -> datetime.date:
        """The plan's review date or an open goal's, whichever comes first (`summarised`)."""
        goal_review = getattr(self, "goal_review", None)
        return min(self.review_on, goal_review) if goal_review else self.review_on

    @property
    def focus_label(self) -> str:
        stage = getattr(self, "focus_stage", None)
        return str(EFTStage(stage).label) if stage else ""


class PlanGoal(models.Model):
    """One goal of one revision of the plan.

    `targets` is a snapshot of the cycle-map steps the goal names, as they read when the goal
    was saved: [{"step": pk, "partner": "A", "kind": StepKind, "words": "..."}]. A later map
    revision can't change what an earlier plan said it targeted.
    """

    plan = models.ForeignKey(PlanRevision, on_delete=models.CASCADE, related_name="goals")
    position = models.PositiveSmallIntegerField()
    stage = models.PositiveSmallIntegerField("EFT stage", choices=EFTStage.choices)
    targets = models.JSONField("cycle-map elements targeted", default=list, blank=True)
    interventions = models.TextField("interventions intended")
    evidence = models.CharField("evidence it is met", max_length=30, choices=Evidence.choices)
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.OPEN)
    review_on = models.DateField("goal review date")

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="plan_goal_position_once"),
            models.CheckConstraint(
                name="plan_goal_stage_1_to_3", condition=Q(stage__gte=1, stage__lte=3)
            ),
            models.CheckConstraint(
                name="plan_goal_evidence_known", condition=Q(evidence__in=Evidence.values)
            ),
            models.CheckConstraint(
                name="plan_goal_status_known", condition=Q(status__in=GoalStatus.values)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan}, goal {self.position}"

    @property
    def is_open(self) -> bool:
        return self.status == GoalStatus.OPEN
