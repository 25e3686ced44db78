"""People and access: the practice (tenant), its clinicians and their roles, supervision,
and consultation groups.

Who may see which clinical record is decided in one place, `people.access`, from the
relations defined here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from core import dates

if TYPE_CHECKING:
    from collections.abc import Iterable


class Practice(models.Model):
    """A clinic or group practice: the tenant. Nobody sees another practice's data."""

    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="Europe/London")
    # How the practice's pages show dates and read typed ones (core.dates).
    date_format = models.CharField(
        "date format",
        max_length=10,
        choices=dates.CHOICES,
        default=dates.DEFAULT,
        db_default=dates.DEFAULT,
        help_text="How dates are shown and typed on every page of the practice.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserQuerySet(models.QuerySet["User"]):
    def visible_to(self, user: User) -> UserQuerySet:
        """People of the user's own practice; nobody else's."""
        if not user.is_authenticated or user.practice_id is None:
            return self.none()
        return self.filter(practice_id=user.practice_id)

    def therapists(self) -> UserQuerySet:
        return self.filter(is_therapist=True, is_active=True)


class PeopleManager(UserManager["User"]):
    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def visible_to(self, user: User) -> UserQuerySet:
        return self.get_queryset().visible_to(user)


class User(AbstractUser):
    """A person who signs in. One person may hold several roles in their practice."""

    practice = models.ForeignKey(
        Practice, on_delete=models.PROTECT, null=True, blank=True, related_name="people"
    )
    display_name = models.CharField(max_length=150, blank=True)
    is_therapist = models.BooleanField("therapist", default=False)
    is_supervisor = models.BooleanField("supervisor", default=False)
    is_practice_admin = models.BooleanField("practice admin", default=False)

    objects: ClassVar[PeopleManager] = PeopleManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["display_name", "username"]
        constraints = [
            models.CheckConstraint(
                name="roles_need_a_practice",
                condition=Q(practice__isnull=False)
                | Q(is_therapist=False, is_supervisor=False, is_practice_admin=False),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def roles(self) -> list[str]:
        named = [
            ("therapist", self.is_therapist),
            ("supervisor", self.is_supervisor),
            ("practice admin", self.is_practice_admin),
        ]
        return [name for name, held in named if held]

    def supervisee_ids(self) -> Iterable[int]:
        """Ids of the therapists this person supervises (empty unless a supervisor)."""
        if not self.is_supervisor:
            return []
        return Supervision.objects.filter(supervisor=self).values_list("therapist_id", flat=True)


class Supervision(models.Model):
    """A supervisor reads (never writes) the records of the therapists they supervise."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    supervisor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="supervisions")
    therapist = models.ForeignKey(User, on_delete=models.CASCADE, related_name="supervised_by")
    started_on = models.DateField(default=timezone.localdate)
    # A trainee's or associate's signed notes wait for this supervisor's co-signature
    # (docs/domain.md, "Signing"); set by the practice admin or the supervisor.
    notes_need_cosign = models.BooleanField(
        "notes need co-signing",
        default=False,
        help_text="The therapist's signed session records wait for this supervisor's co-signature.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["supervisor", "therapist"], name="supervision_once"),
            models.CheckConstraint(
                name="supervision_not_self", condition=~Q(supervisor=models.F("therapist"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supervisor} supervises {self.therapist}"

    def set_cosigning(self, needed: bool) -> bool:
        """Whether the therapist's signed notes wait for this supervisor's co-signature; the
        one way the practice admin and the supervisor set it. True when it changed."""
        changed = (
            Supervision.objects.filter(pk=self.pk)
            .exclude(notes_need_cosign=needed)
            .update(notes_need_cosign=needed)
        )
        self.notes_need_cosign = needed
        return bool(changed)


class ConsultationGroup(models.Model):
    """A peer consultation group: members see only de-identified cases shared into it."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(
        User, through="GroupMembership", related_name="consultation_groups"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "name"], name="group_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class GroupMembership(models.Model):
    group = models.ForeignKey(ConsultationGroup, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="membership_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


class SignalThresholds(models.Model):
    """The numbers behind every derived signal and supervisor flag, tunable per practice.

    The exact definitions these numbers feed are in docs/signals.md; a practice without a row
    uses the defaults below.
    """

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="thresholds")
    split_window_sessions = models.PositiveSmallIntegerField(
        "split alliance: sessions in the trend",
        default=3,
        help_text="How many of the latest sessions rated by both partners make the trend.",
    )
    split_min_increase = models.PositiveSmallIntegerField(
        "split alliance: least widening",
        default=4,
        help_text="Points (of 40) the gap must grow across those sessions, never narrowing.",
    )
    unsigned_notes_after_days = models.PositiveSmallIntegerField(
        "unsigned notes: days",
        default=3,
        help_text="A session record still unsigned this many days after the session is listed "
        "in the therapist's and supervisor's morning digest (counts and case codes only).",
    )
    alliance_drop_points = models.PositiveSmallIntegerField(
        "alliance drop: points",
        default=5,
        help_text="A partner's total falling by at least this from their previous session.",
    )
    unresolved_after_sessions = models.PositiveSmallIntegerField(
        "unresolved rupture: later sessions",
        default=0,
        help_text="Flag a rupture still unresolved after this many later sessions (0: at once).",
    )
    recurring_marker_sessions = models.PositiveSmallIntegerField(
        "recurring rupture: sessions",
        default=3,
        help_text="The same marker in at least this many sessions.",
    )
    high_contribution = models.PositiveSmallIntegerField(
        "high therapist contribution",
        default=4,
        help_text="A contribution rated at least this (1–5).",
    )
    contribution_rise = models.DecimalField(
        "therapist contribution: rise",
        max_digits=2,
        decimal_places=1,
        default=Decimal("1.0"),
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("4"))],
        help_text=(
            "A therapist's mean rated contribution (1–5) over the last four weeks this much "
            "above the four weeks before, with at least three rated ruptures in each."
        ),
    )
    gone_quiet_days = models.PositiveSmallIntegerField(
        "gone quiet: days",
        default=21,
        help_text="Days without a session after a rupture.",
    )
    stuck_stage_one_sessions = models.PositiveSmallIntegerField(
        "stuck in stage 1: sessions",
        default=12,
        help_text="Sessions attended while still in EFT stage 1.",
    )
    nightly_run_hour = models.PositiveSmallIntegerField(
        "nightly summaries: hour",
        default=2,
        help_text="Local hour (0–23, the practice's time zone) the nightly summaries run.",
    )

    class Meta:
        verbose_name_plural = "signal thresholds"
        constraints = [
            models.CheckConstraint(
                name="thresholds_window_at_least_2", condition=Q(split_window_sessions__gte=2)
            ),
            models.CheckConstraint(
                name="thresholds_contribution_1_to_5",
                condition=Q(high_contribution__gte=1, high_contribution__lte=5),
            ),
            models.CheckConstraint(
                name="thresholds_hour_0_to_23", condition=Q(nightly_run_hour__lte=23)
            ),
            models.CheckConstraint(
                name="thresholds_contribution_rise_0_1_to_4",
                condition=Q(contribution_rise__gte=Decimal("0.1"), contribution_rise__lte=4),
            ),
        ]

    def __str__(self) -> str:
        return f"Thresholds of {self.practice}"

    @classmethod
    def for_practice(cls, practice_id: int) -> SignalThresholds:
        """The practice's thresholds, or the defaults when it has set none."""
        found = cls.objects.filter(practice_id=practice_id).first()
        return found or cls(practice_id=practice_id)


class AccessEventQuerySet(models.QuerySet["AccessEvent"]):
    def visible_to(self, user: User) -> AccessEventQuerySet:
        """The practice admin reads their practice's trail; nobody else does."""
        if not user.is_authenticated or not user.is_practice_admin:
            return self.none()
        return self.filter(practice_id=user.practice_id)


class AccessEvent(models.Model):
    """Who read, changed, exported or shared what, when, from where: append-only.

    `object_type` and `object_id` name the record (e.g. "couple", 12); `detail` carries codes
    and counts only, never clinical text.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    practice = models.ForeignKey(
        Practice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    case_code = models.CharField(max_length=12, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    objects = AccessEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id}"


class ChangeEventQuerySet(models.QuerySet["ChangeEvent"]):
    def visible_to(self, user: User) -> ChangeEventQuerySet:
        """The practice admin reads their practice's trail; nobody else does."""
        if not user.is_authenticated or not user.is_practice_admin:
            return self.none()
        return self.filter(practice_id=user.practice_id)


class ChangeEvent(models.Model):
    """One row inserted, updated or deleted in a clinical table: append-only.

    Written only by the database: the trigger function `audit_clinical_change` (migration
    people 0005) on every clinical table, so bulk writes, upserts and raw SQL are caught too.
    `changed_columns` holds column names only, never values: notes must not reach the trail.
    The actor comes from the connection's `app.user_id` / `app.actor` settings
    (people.audit_db); `db_user` is the database role, for changes made outside the app.

    `actor` and `practice` are foreign keys without a database constraint: a stale setting
    must never make a clinical write fail, and the trail keeps ids of deleted people.
    """

    at = models.DateTimeField(db_default=Now(), db_index=True)
    table_name = models.CharField(max_length=63)
    row_id = models.BigIntegerField()
    operation = models.CharField(max_length=6)  # INSERT, UPDATE or DELETE
    changed_columns = models.JSONField(default=list)
    couple_id = models.BigIntegerField(null=True, blank=True)
    case_code = models.CharField(max_length=12, blank=True, db_index=True)
    actor = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(max_length=40, blank=True)
    db_user = models.CharField(max_length=63, blank=True)
    practice = models.ForeignKey(
        Practice,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = ChangeEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["practice", "-at"], name="changeevent_practice_at"),
            models.Index(fields=["table_name", "row_id"], name="changeevent_row"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name} {self.row_id}"
