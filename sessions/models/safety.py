"""The safety screen each partner takes alone (docs/domain.md, "Safety screen").

A partner's answers to a safety-screen definition (MeasureDefinition.kind) are kept here, not
as a session's MeasureResponse: a screen may be taken at intake before any session, or on the
partner's own phone between sessions, and nothing that reads a session's measures (charts,
the shared case, the per-partner copy of the other partner) may ever reach it. Readable by the
couple's therapist and supervisor only (`visible_to`); the other partner, a consultation group
and a digest never see a screen, nor whether one was sent or answered.

A review (`SafetyReview`) is the therapist's or supervisor's word that the concern raised by a
partner's positive screen has been assessed, seeing that partner alone; with a later negative
screen taken in person, it is what closes the safety concern flag (flags/rules.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.concurrency import request_token_field
from people.access import readable_couples
from sessions.models.measures import ENTERED_BY_LENGTH, EnteredBy

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from people.models import User

PARTNERS = [("A", "Partner A"), ("B", "Partner B")]

# A screen entered in the room (by the therapist, or by the partner on the hand-over screen):
# only such a negative screen closes a concern. A negative answer from a phone, where the
# other partner may be watching, is kept but does not by itself close it.
IN_PERSON = (EnteredBy.THERAPIST, EnteredBy.PARTNER)


class SafetyQuerySet(models.QuerySet["SafetyScreen"]):
    def visible_to(self, user: User | AnonymousUser) -> SafetyQuerySet:
        """The couple's therapist and supervisor (readable couples; never a group)."""
        return self.filter(readable_couples(user, "couple__"))


class SafetyScreen(models.Model):
    """One partner's answers to one safety screen, with the rule's result as it stood then."""

    couple = models.ForeignKey(
        "cycles.Couple", on_delete=models.CASCADE, related_name="safety_screens"
    )
    partner = models.CharField(max_length=1, choices=PARTNERS)
    definition = models.ForeignKey(
        "therapy_sessions.MeasureDefinition", on_delete=models.PROTECT, related_name="screens"
    )
    session = models.ForeignKey(
        "therapy_sessions.TherapySession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="safety_screens",
        help_text="The session it was taken at, if any (none at intake or remotely).",
    )
    answers = models.JSONField()
    total = models.DecimalField(max_digits=7, decimal_places=2)
    # The definition's rule as it read the answers when they were given: a practice editing
    # its screen later doesn't rewrite what a past screen meant.
    positive = models.BooleanField()
    entered_by = models.CharField(max_length=ENTERED_BY_LENGTH, choices=EnteredBy.choices)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    request_token = request_token_field()

    objects = SafetyQuerySet.as_manager()

    class Meta:
        ordering = ["couple", "partner", "recorded_at", "pk"]
        constraints = [
            models.CheckConstraint(
                name="safety_screen_partner_a_or_b", condition=Q(partner__in=["A", "B"])
            ),
        ]
        indexes = [models.Index(fields=["couple", "recorded_at"], name="safety_screen_by_couple")]

    def __str__(self) -> str:
        return f"Safety screen of partner {self.partner}, couple #{self.couple_id}"

    @property
    def in_person(self) -> bool:
        return self.entered_by in IN_PERSON


class SafetyOutcome(models.TextChoices):
    """What the clinician found, seeing the partner alone. No free text: the choice is the
    record (what was said belongs in the session's note or the therapist's private note)."""

    CONJOINT_CAN_CONTINUE = (
        "conjoint_can_continue",
        "Assessed with the partner alone: conjoint sessions can continue",
    )
    INDIVIDUAL_WORK = (
        "individual_work",
        "Assessed with the partner alone: individual work instead of conjoint sessions",
    )
    REFERRED = "referred", "Assessed with the partner alone: referred for specialist support"


class SafetyReviewQuerySet(models.QuerySet["SafetyReview"]):
    def visible_to(self, user: User | AnonymousUser) -> SafetyReviewQuerySet:
        """The couple's therapists and supervisor, who may also record one."""
        return self.filter(readable_couples(user, "couple__"))


class SafetyReview(models.Model):
    """The therapist's or supervisor's word that a partner's safety concern was assessed."""

    couple = models.ForeignKey(
        "cycles.Couple", on_delete=models.CASCADE, related_name="safety_reviews"
    )
    partner = models.CharField(max_length=1, choices=PARTNERS)
    outcome = models.CharField(max_length=30, choices=SafetyOutcome.choices)
    reviewed_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    request_token = request_token_field()

    objects = SafetyReviewQuerySet.as_manager()

    class Meta:
        ordering = ["couple", "partner", "reviewed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                name="safety_review_partner_a_or_b", condition=Q(partner__in=["A", "B"])
            ),
        ]

    def __str__(self) -> str:
        return f"Safety review of partner {self.partner}, couple #{self.couple_id}"
