"""Per-partner measures (docs/domain.md#measures) and the post-session rupture report
(docs/domain.md#alliance-ruptures-3rs).

- Session alliance: our own short form on Bordin's components, each 0–10, rated by each
  partner every session (not a licensed instrument).
- Post-session report: each partner and the therapist say whether there was tension, how
  upsetting it was and how far it was resolved by the end.
- Questionnaires as data: a `MeasureDefinition` describes items, ranges and scoring; the CSI-4
  ships as one (Funk & Rogge 2007, free for clinical use), and a practice can add the measures
  it is licensed for without code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from people.access import readable_couples, writable_couples

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from people.models import User

ALLIANCE_ITEMS = ("bond", "goals", "tasks", "fit")
ALLIANCE_MAX = 40


class Respondent(models.TextChoices):
    PARTNER_A = "partner_a", "Partner A"
    PARTNER_B = "partner_b", "Partner B"
    THERAPIST = "therapist", "Therapist"


class EnteredBy(models.TextChoices):
    THERAPIST = "therapist", "Entered by the therapist"
    PARTNER = "partner", "Entered by the partner on the partner screen"
    PARTNER_REMOTE = "partner_remote", "Entered by the partner, remotely"


# Wide enough for every EnteredBy value ("partner_remote" is 14).
ENTERED_BY_LENGTH = 20


class MeasureKind(models.TextChoices):
    """What a measure definition is for. A safety screen is never a session's questionnaire:
    its answers are kept apart (sessions.models.safety.SafetyScreen) and never shown to the
    other partner, a consultation group or a digest (sessions/safety.py)."""

    QUESTIONNAIRE = "questionnaire", "Questionnaire"
    SAFETY_SCREEN = "safety_screen", "Safety screen"


class SessionRecordQuerySet(models.QuerySet[Any]):
    def visible_to(self, user: User | AnonymousUser) -> SessionRecordQuerySet:
        return self.filter(readable_couples(user, "session__couple__"))

    def editable_by(self, user: User | AnonymousUser) -> SessionRecordQuerySet:
        return self.filter(writable_couples(user, "session__couple__"))


def _zero_to_ten(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        name=f"alliance_{name}_0_to_10", condition=Q(**{f"{name}__gte": 0, f"{name}__lte": 10})
    )


class AllianceRating(models.Model):
    """One partner's alliance with the therapist at the end of one session."""

    session = models.ForeignKey(
        "therapy_sessions.TherapySession", on_delete=models.CASCADE, related_name="alliance"
    )
    partner = models.CharField(max_length=1, choices=[("A", "Partner A"), ("B", "Partner B")])
    bond = models.PositiveSmallIntegerField(help_text="The bond with the therapist, 0–10.")
    goals = models.PositiveSmallIntegerField("agreement on goals", help_text="0–10.")
    tasks = models.PositiveSmallIntegerField("agreement on tasks", help_text="0–10.")
    fit = models.PositiveSmallIntegerField("overall fit", help_text="0–10.")
    entered_by = models.CharField(max_length=ENTERED_BY_LENGTH, choices=EnteredBy.choices)
    absent_but_recorded = models.BooleanField(
        default=False, help_text="The partner wasn't in this session and the therapist said so."
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = SessionRecordQuerySet.as_manager()

    class Meta:
        ordering = ["session", "partner"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "partner"], name="alliance_once_per_partner"
            ),
            models.CheckConstraint(
                name="alliance_partner_a_or_b", condition=Q(partner__in=["A", "B"])
            ),
            *[_zero_to_ten(name) for name in ALLIANCE_ITEMS],
        ]

    def __str__(self) -> str:
        return f"Alliance of partner {self.partner}, session #{self.session_id}"

    @property
    def total(self) -> int:
        return self.bond + self.goals + self.tasks + self.fit


class PostSessionReport(models.Model):
    """Was there tension or disagreement today, how upsetting, how far resolved by the end."""

    session = models.ForeignKey(
        "therapy_sessions.TherapySession", on_delete=models.CASCADE, related_name="reports"
    )
    respondent = models.CharField(max_length=10, choices=Respondent.choices)
    tension = models.BooleanField("tension or disagreement")
    upsetting = models.PositiveSmallIntegerField("how upsetting", null=True, blank=True)
    resolved = models.PositiveSmallIntegerField(
        "how far resolved by the end", null=True, blank=True
    )
    entered_by = models.CharField(max_length=ENTERED_BY_LENGTH, choices=EnteredBy.choices)
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = SessionRecordQuerySet.as_manager()

    class Meta:
        ordering = ["session", "respondent"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "respondent"], name="report_once_per_respondent"
            ),
            models.CheckConstraint(
                name="report_ratings_only_with_tension",
                condition=Q(
                    tension=True,
                    upsetting__gte=1,
                    upsetting__lte=5,
                    resolved__gte=1,
                    resolved__lte=5,
                )
                | Q(tension=False, upsetting__isnull=True, resolved__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Post-session report of {self.respondent}, session #{self.session_id}"


class MeasureDefinitionQuerySet(models.QuerySet["MeasureDefinition"]):
    def visible_to(self, user: User | AnonymousUser) -> MeasureDefinitionQuerySet:
        """The questionnaires a session's measures page offers: never a safety screen, which
        is taken by one partner alone (sessions/safety.py)."""
        if not user.is_authenticated:
            return self.none()
        return self.for_practice(user.practice_id).filter(kind=MeasureKind.QUESTIONNAIRE)

    def for_practice(self, practice_id: int | None) -> MeasureDefinitionQuerySet:
        """The active definitions of every kind the practice uses: shared ones and its own."""
        return self.filter(Q(practice__isnull=True) | Q(practice_id=practice_id), active=True)

    def safety_screens(self) -> MeasureDefinitionQuerySet:
        return self.filter(kind=MeasureKind.SAFETY_SCREEN)


class MeasureDefinition(models.Model):
    """A questionnaire described as data: items with their ranges, summed to a total.

    `items` is a list of {"key", "text", "min", "max"}; the total is the sum. A lower total
    than `cutoff` is flagged when `lower_is_worse` (as for the CSI, where below 13.5 suggests
    distress). `reliable_change` is the smallest change of total counted as reliable.

    A safety screen (`kind`) is positive when any item's answer is at or above that item's
    own "positive_at", or when the total is at or above `cutoff` (`screen_positive`); it
    needs at least one of the two, and `lower_is_worse` off (the admin checks both).
    """

    practice = models.ForeignKey(
        "people.Practice", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=120)
    citation = models.CharField(max_length=300, blank=True)
    kind = models.CharField(
        max_length=20,
        choices=MeasureKind.choices,
        default=MeasureKind.QUESTIONNAIRE,
        db_default=MeasureKind.QUESTIONNAIRE,
        help_text="A safety screen is taken by each partner alone and opens a safety concern "
        "when positive; it is never a session's questionnaire.",
    )
    items = models.JSONField()
    cutoff = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    lower_is_worse = models.BooleanField(default=True)
    reliable_change = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    active = models.BooleanField(default=True)

    objects = MeasureDefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=Q(practice__isnull=True), name="shared_measure_code_once"
            ),
            models.UniqueConstraint(
                fields=["practice", "code"],
                condition=Q(practice__isnull=False),
                name="practice_measure_code_once",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def total_range(self) -> tuple[int, int]:
        return (sum(int(i["min"]) for i in self.items), sum(int(i["max"]) for i in self.items))

    @property
    def is_safety_screen(self) -> bool:
        return self.kind == MeasureKind.SAFETY_SCREEN

    def screen_positive(self, answers: dict[str, int]) -> bool:
        """A safety screen's rule: any item at or above its "positive_at", or the total at or
        above the cut-off. Answers to keys the definition doesn't have are ignored."""
        by_key = {item["key"]: item for item in self.items}
        for key, value in answers.items():
            threshold = by_key.get(key, {}).get("positive_at")
            if threshold is not None and value is not None and int(value) >= int(threshold):
                return True
        total = sum(int(v) for k, v in answers.items() if k in by_key and v is not None)
        return self.cutoff is not None and total >= self.cutoff


class MeasureResponse(models.Model):
    """One partner's answers to one measure, given at (or around) one session."""

    definition = models.ForeignKey(
        MeasureDefinition, on_delete=models.PROTECT, related_name="responses"
    )
    session = models.ForeignKey(
        "therapy_sessions.TherapySession",
        on_delete=models.CASCADE,
        related_name="measure_responses",
    )
    partner = models.CharField(max_length=1, choices=[("A", "Partner A"), ("B", "Partner B")])
    answers = models.JSONField()
    total = models.DecimalField(max_digits=7, decimal_places=2)
    entered_by = models.CharField(max_length=ENTERED_BY_LENGTH, choices=EnteredBy.choices)
    absent_but_recorded = models.BooleanField(default=False)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    objects = SessionRecordQuerySet.as_manager()

    class Meta:
        ordering = ["session", "definition", "partner"]
        constraints = [
            models.UniqueConstraint(
                fields=["definition", "session", "partner"],
                name="measure_once_per_partner_and_session",
            ),
            models.CheckConstraint(
                name="measure_partner_a_or_b", condition=Q(partner__in=["A", "B"])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.definition.code} of partner {self.partner}, session #{self.session_id}"
