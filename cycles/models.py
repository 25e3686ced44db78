"""The couple, its partners and the negative cycle (docs/domain.md#the-negative-cycle).

A cycle map is kept as revisions: each `CycleMap` row is one revision of a couple's map,
numbered from 1, never changed after it is saved, so de-escalation can be read over time.
"""

from __future__ import annotations

import datetime
import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from core.concurrency import request_token_field, version_field
from people.access import readable_couples, therapist_of, writable_couples

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from people.models import User

# Case codes avoid letters and digits that read alike (0/O, 1/I/L) and carry no meaning.
CASE_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_case_code() -> str:
    """A random, non-identifying code such as "C-7KQ2M9"."""
    return "C-" + "".join(secrets.choice(CASE_CODE_ALPHABET) for _ in range(6))


def new_share_code() -> str:
    """A consultation group's own code for a shared case, unlinkable to the case code."""
    return "S-" + "".join(secrets.choice(CASE_CODE_ALPHABET) for _ in range(6))


class CyclePattern(models.TextChoices):
    PURSUE_WITHDRAW = "pursue_withdraw", "Pursue–withdraw (protest polka)"
    PURSUE_PURSUE = "pursue_pursue", "Pursue–pursue / attack–attack (find the bad guy)"
    WITHDRAW_WITHDRAW = "withdraw_withdraw", "Withdraw–withdraw (freeze and flee)"


class EFTStage(models.IntegerChoices):
    DE_ESCALATION = 1, "Stage 1: de-escalation"
    RESTRUCTURING = 2, "Stage 2: restructuring"
    CONSOLIDATION = 3, "Stage 3: consolidation"


class EFTStep(models.IntegerChoices):
    ALLIANCE_ASSESSMENT = 1, "1. Alliance and assessment"
    IDENTIFY_CYCLE = 2, "2. Identify the negative cycle"
    ACCESS_EMOTIONS = 3, "3. Access underlying emotions"
    REFRAME = 4, "4. Reframe the problem as the cycle and attachment needs"
    OWN_NEEDS = 5, "5. Own disowned needs"
    ACCEPT_PARTNER = 6, "6. Accept the partner's new experience"
    EXPRESS_NEEDS = 7, "7. Express needs and wants, creating bonding events"
    NEW_SOLUTIONS = 8, "8. New solutions to old problems"
    CONSOLIDATE = 9, "9. Consolidate new positions"

    @classmethod
    def stage_of(cls, step: int) -> int:
        """Johnson (2004): steps 1–4 are stage 1, 5–7 stage 2, 8–9 stage 3."""
        return 1 if step <= 4 else 2 if step <= 7 else 3


# The database refuses a stage that does not contain the step (see Couple.Meta).
STAGE_HOLDS_STEP = (
    Q(eft_stage=1, eft_step__gte=1, eft_step__lte=4)
    | Q(eft_stage=2, eft_step__gte=5, eft_step__lte=7)
    | Q(eft_stage=3, eft_step__gte=8, eft_step__lte=9)
)


class CoupleStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    DROPPED_OUT = "dropped_out", "Dropped out"
    REFERRED = "referred", "Referred on"
    CLOSED_OTHER = "closed_other", "Closed (other reason)"


# A closed case (discharged): out of the active caseload, the nightly flags and the consultation
# groups' counts of active cases, still readable. Its status is the reason it was closed.
CLOSED_STATUSES = (
    CoupleStatus.COMPLETED,
    CoupleStatus.DROPPED_OUT,
    CoupleStatus.REFERRED,
    CoupleStatus.CLOSED_OTHER,
)


# The parts of a couple's record that other apps hold, by the related name of their foreign key.
RECORD_PARTS = ("sessions", "ruptures", "flags")


def reached(model: type[models.Model], related_name: str) -> Any:
    """The default manager of the model whose foreign key reaches `model` as `related_name`."""
    return model._meta.get_field(related_name).related_model._default_manager  # type: ignore[union-attr]


class CoupleQuerySet(models.QuerySet["Couple"]):
    def visible_to(self, user: User | AnonymousUser) -> CoupleQuerySet:
        return self.filter(readable_couples(user))

    def editable_by(self, user: User | AnonymousUser) -> CoupleQuerySet:
        return self.filter(writable_couples(user))

    def open(self) -> CoupleQuerySet:
        """Cases not closed (active or paused)."""
        return self.exclude(status__in=CLOSED_STATUSES)

    def closed(self) -> CoupleQuerySet:
        return self.filter(status__in=CLOSED_STATUSES)

    def for_caseload(self) -> CoupleQuerySet:
        """Everything a caseload row shows, in one query: partners' names, the last session
        and the count of open ruptures come in as subqueries, never one query per row.

        Sessions, ruptures and flags are reached through the foreign keys those apps declare
        to the couple (`related_model`), not by importing them: they sit above this app
        (docs/architecture.md)."""
        sessions, ruptures, flags = (reached(self.model, name) for name in RECORD_PARTS)

        def partner(label: str, field: str) -> Subquery:
            return Subquery(
                Partner.objects.filter(couple=OuterRef("pk"), label=label).values(field)[:1]
            )

        last_session = (
            sessions.current()
            .filter(couple=OuterRef("pk"))
            .order_by("-starts_at")
            .values("starts_at")[:1]
        )
        open_ruptures = (
            ruptures.open()
            .filter(couple=OuterRef("pk"))
            .values("couple")
            .annotate(n=Count("pk"))
            .values("n")
        )
        open_flags = (
            flags.open()
            .filter(couple=OuterRef("pk"))
            .values("couple")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.select_related("therapist", "co_therapist").annotate(
            open_flag_count=Coalesce(Subquery(open_flags), 0),
            partner_a_name=partner("A", "display_name"),
            partner_b_name=partner("B", "display_name"),
            last_session_at=Subquery(last_session),
            open_rupture_count=Coalesce(Subquery(open_ruptures), 0),
        )

    def search(self, text: str) -> CoupleQuerySet:
        """Case code or either partner's display name, case-insensitive."""
        text = text.strip()
        if not text:
            return self
        return self.filter(
            Q(case_code__icontains=text) | Q(partners__display_name__icontains=text)
        ).distinct()


class Couple(models.Model):
    """The unit of care: one record holding two partners."""

    practice = models.ForeignKey("people.Practice", on_delete=models.PROTECT, related_name="+")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="couples"
    )
    # A second therapist with the same rights on the shared record (docs/domain.md#co-therapy);
    # each keeps their own private notes. Set by the practice admin or a supervisor.
    co_therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="co_therapy_couples",
        verbose_name="co-therapist",
    )
    case_code = models.CharField(max_length=12, unique=True, default=new_case_code, editable=False)
    cycle_pattern = models.CharField(
        max_length=20, choices=CyclePattern.choices, default=CyclePattern.PURSUE_WITHDRAW
    )
    eft_stage = models.PositiveSmallIntegerField(
        "EFT stage", choices=EFTStage.choices, default=EFTStage.DE_ESCALATION
    )
    eft_step = models.PositiveSmallIntegerField(
        "EFT step", choices=EFTStep.choices, default=EFTStep.ALLIANCE_ASSESSMENT
    )
    status = models.CharField(
        max_length=12, choices=CoupleStatus.choices, default=CoupleStatus.ACTIVE
    )
    started_on = models.DateField("start date", default=timezone.localdate)
    # The discharge date of a closed case (its reason is the status); empty while open.
    closed_on = models.DateField("closed on", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Its couple form (with the partners) is checked against this; its create is made once.
    version = version_field()
    request_token = request_token_field()

    objects = CoupleQuerySet.as_manager()

    class Meta:
        ordering = ["case_code"]
        constraints = [
            models.CheckConstraint(name="couple_stage_holds_step", condition=STAGE_HOLDS_STEP),
            models.CheckConstraint(
                name="co_therapist_is_another_therapist",
                condition=~Q(co_therapist=models.F("therapist")),
            ),
        ]

    def __str__(self) -> str:
        return self.case_code

    def save(self, *args: object, **kwargs: object) -> None:
        self.eft_stage = EFTStep.stage_of(self.eft_step)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("cycles:detail", kwargs={"case_code": self.case_code})

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


class PartnerLabel(models.TextChoices):
    A = "A", "Partner A"
    B = "B", "Partner B"


class CyclePosition(models.TextChoices):
    PURSUER = "pursuer", "Pursuer"
    WITHDRAWER = "withdrawer", "Withdrawer"
    VARIES = "varies", "Varies"


class PartnerQuerySet(models.QuerySet["Partner"]):
    def visible_to(self, user: User | AnonymousUser) -> PartnerQuerySet:
        return self.filter(readable_couples(user, "couple__"))


class Partner(models.Model):
    """One of the couple's two partners, labelled A and B (the database allows no third)."""

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="partners")
    label = models.CharField(max_length=1, choices=PartnerLabel.choices)
    display_name = models.CharField(max_length=100, help_text="A pseudonym is fine.")
    pronouns = models.CharField(max_length=40, blank=True)
    position = models.CharField(
        "position in the cycle", max_length=12, choices=CyclePosition.choices
    )

    objects = PartnerQuerySet.as_manager()

    class Meta:
        ordering = ["couple", "label"]
        constraints = [
            models.UniqueConstraint(fields=["couple", "label"], name="two_partners_per_couple"),
            models.CheckConstraint(name="partner_label_a_or_b", condition=Q(label__in=["A", "B"])),
        ]

    def __str__(self) -> str:
        return self.display_name


class EmotionKind(models.TextChoices):
    PRIMARY = "primary", "Primary (underlying)"
    SECONDARY = "secondary", "Secondary (reactive)"


class EmotionTermQuerySet(models.QuerySet["EmotionTerm"]):
    def visible_to(self, user: User | AnonymousUser) -> EmotionTermQuerySet:
        """The shared vocabulary plus the user's own practice's additions."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(practice__isnull=True) | Q(practice_id=user.practice_id))


class EmotionTerm(models.Model):
    """The controlled emotion vocabulary, each term tagged primary or secondary.

    Terms with no practice are the shared EFT vocabulary; a practice may add its own.
    """

    practice = models.ForeignKey(
        "people.Practice", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=10, choices=EmotionKind.choices)

    objects = EmotionTermQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(practice__isnull=True), name="shared_emotion_once"
            ),
            models.UniqueConstraint(
                fields=["practice", "name"],
                condition=Q(practice__isnull=False),
                name="practice_emotion_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class CycleMapQuerySet(models.QuerySet["CycleMap"]):
    def visible_to(self, user: User | AnonymousUser) -> CycleMapQuerySet:
        return self.filter(readable_couples(user, "couple__"))

    def editable_by(self, user: User | AnonymousUser) -> CycleMapQuerySet:
        return self.filter(writable_couples(user, "couple__"))


class CycleMap(models.Model):
    """One saved revision of a couple's cycle map: who wrote it, when, and its steps.

    Revisions are numbered 1, 2, 3… per couple; the unique number is what refuses the second
    of two concurrent saves made from the same base revision.
    """

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="cycle_maps")
    revision = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    change_note = models.CharField(max_length=200, blank=True)

    objects = CycleMapQuerySet.as_manager()

    class Meta:
        ordering = ["couple", "-revision"]
        get_latest_by = "revision"
        constraints = [
            models.UniqueConstraint(fields=["couple", "revision"], name="cycle_map_revision_once"),
            models.CheckConstraint(
                name="cycle_map_revision_positive", condition=Q(revision__gte=1)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.couple} cycle map, revision {self.revision}"


class StepKind(models.TextChoices):
    """The links of one partner's chain, in the order EFT maps them."""

    TRIGGER = "trigger", "Trigger / cue"
    PERCEPTION = "perception", "Perception / meaning"
    BODY = "body", "Body response"
    SECONDARY_EMOTION = "secondary_emotion", "Secondary (reactive) emotion"
    PRIMARY_EMOTION = "primary_emotion", "Primary (underlying) emotion"
    ATTACHMENT_NEED = "attachment_need", "Attachment fear and longing / need"
    ACTION = "action", "Action / move"


class MoveDirection(models.TextChoices):
    PURSUING = "pursuing", "Pursuing"
    WITHDRAWING = "withdrawing", "Withdrawing"


EMOTION_STEP_KINDS = (StepKind.SECONDARY_EMOTION, StepKind.PRIMARY_EMOTION)


class CycleStepQuerySet(models.QuerySet["CycleStep"]):
    def visible_to(self, user: User | AnonymousUser) -> CycleStepQuerySet:
        return self.filter(readable_couples(user, "cycle_map__couple__"))


class CycleStep(models.Model):
    """One link of one partner's chain in one revision of the map.

    An emotion step names a term from the controlled vocabulary, free text, or both; every
    other step is free text. An action carries its direction (pursuing or withdrawing) and
    `leads_to` the other partner's trigger, which closes the loop.
    """

    cycle_map = models.ForeignKey(CycleMap, on_delete=models.CASCADE, related_name="steps")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    emotion = models.ForeignKey(
        EmotionTerm, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    text = models.CharField(max_length=300, blank=True)
    move = models.CharField(max_length=12, choices=MoveDirection.choices, blank=True)
    leads_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = CycleStepQuerySet.as_manager()

    class Meta:
        ordering = ["cycle_map", "partner__label", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle_map", "partner", "position"], name="cycle_step_position_once"
            ),
            models.CheckConstraint(
                name="cycle_step_says_something",
                condition=~Q(text="") | Q(emotion__isnull=False),
            ),
            models.CheckConstraint(
                name="cycle_step_emotion_only_on_emotion_steps",
                condition=Q(emotion__isnull=True) | Q(kind__in=list(EMOTION_STEP_KINDS)),
            ),
            models.CheckConstraint(
                name="cycle_step_move_only_on_actions",
                condition=Q(move="") | Q(kind=StepKind.ACTION),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.label}"

    @property
    def label(self) -> str:
        """What the step says: the vocabulary term, free text, or both."""
        if self.emotion_id and self.text:
            return f"{self.emotion.name} — {self.text}"  # type: ignore[union-attr]
        if self.emotion_id:
            return self.emotion.name  # type: ignore[union-attr]
        return self.text


class CaseShareQuerySet(models.QuerySet["CaseShare"]):
    def active(self) -> CaseShareQuerySet:
        return self.filter(withdrawn_at__isnull=True)

    def visible_to(self, user: User | AnonymousUser) -> CaseShareQuerySet:
        """A therapist sees the shares of their own couples; a member, what is in their groups.

        The shared case itself is only ever shown de-identified (consultation views).
        """
        if not user.is_authenticated or user.practice_id is None:
            return self.none()
        return (
            self.filter(group__practice_id=user.practice_id)
            .filter(
                therapist_of(user, "couple__") | Q(withdrawn_at__isnull=True, group__members=user)
            )
            .distinct()
        )


class CaseShare(models.Model):
    """A therapist's choice to share one of their couples into a consultation group."""

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="shares")
    # PROTECT: who shared which case with which group is a record of disclosure, kept even
    # when a group ends; a group that ever received a case can't be deleted.
    group = models.ForeignKey(
        "people.ConsultationGroup", on_delete=models.PROTECT, related_name="shares"
    )
    code = models.CharField(max_length=12, unique=True, default=new_share_code, editable=False)
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    shared_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = CaseShareQuerySet.as_manager()

    class Meta:
        ordering = ["-shared_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["couple", "group"],
                condition=Q(withdrawn_at__isnull=True),
                name="case_shared_once_per_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.couple} shared into {self.group}"


class CaseEventKind(models.TextChoices):
    DISCHARGED = "discharged", "Closed"
    REOPENED = "reopened", "Reopened"
    TRANSFERRED = "transferred", "Transferred"
    CO_THERAPIST_JOINED = "co_joined", "Co-therapist joined"
    CO_THERAPIST_LEFT = "co_left", "Co-therapist left"


class CaseEvent(models.Model):
    """One closing, reopening or transfer of a case, with its reason: the case's history.

    `note` is what the person wrote (the "other" reason, why it was reopened or moved); it
    stays on the record, never in the access trail (people.audit keeps no clinical text).
    """

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="case_events")
    kind = models.CharField(max_length=12, choices=CaseEventKind.choices)
    on_date = models.DateField()
    reason = models.CharField(max_length=12, choices=CoupleStatus.choices, blank=True)
    note = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    # A transfer is told to each therapist once more at their next sign-in (cycles.signals).
    old_therapist_told_at = models.DateTimeField(null=True, blank=True)
    new_therapist_told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["couple", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.couple} {self.get_kind_display().lower()} on {self.on_date}"


def add_years(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` later (or earlier); 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


DEFAULT_RETENTION_YEARS = 7


class RetentionPolicy(models.Model):
    """How long a practice keeps a closed record after its discharge date (one row per
    practice; a practice without one keeps records DEFAULT_RETENTION_YEARS years)."""

    practice = models.OneToOneField("people.Practice", on_delete=models.CASCADE, related_name="+")
    years = models.PositiveSmallIntegerField(
        "years kept after discharge",
        default=DEFAULT_RETENTION_YEARS,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    version = version_field()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="retention_1_to_100_years", condition=Q(years__gte=1, years__lte=100)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.years} years after discharge"

    @classmethod
    def for_practice(cls, practice_id: int) -> RetentionPolicy:
        found = cls.objects.filter(practice_id=practice_id).first()
        return found or cls(practice_id=practice_id)

    def kept_until(self, closed_on: datetime.date) -> datetime.date:
        """The first day a record closed on `closed_on` is past retention."""
        return add_years(closed_on, self.years)


class DestructionRequest(models.Model):
    """Destroying a closed record past retention: the practice admin requests it, the
    couple's therapist or their supervisor confirms it (a different person). Once confirmed,
    the couple's clinical rows are deleted and this row stays as the tombstone: the case code,
    its dates, who requested and who confirmed."""

    practice = models.ForeignKey("people.Practice", on_delete=models.PROTECT, related_name="+")
    couple = models.ForeignKey(
        Couple, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case_code = models.CharField(max_length=12)
    started_on = models.DateField()
    closed_on = models.DateField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["couple"],
                condition=Q(destroyed_at__isnull=True),
                name="one_destruction_request_per_record",
            ),
            models.CheckConstraint(
                name="destruction_needs_two_people",
                condition=Q(confirmed_by__isnull=True) | ~Q(confirmed_by=models.F("requested_by")),
            ),
        ]

    def __str__(self) -> str:
        return f"Destruction of {self.case_code}"
