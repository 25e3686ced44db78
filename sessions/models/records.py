"""Therapy sessions (docs/domain.md#sessions-and-eft-steps) and private psychotherapy notes.

The private note is kept apart from the session record, in its own table, readable by its
author only: supervisors, summaries, dashboards, exports and digests never reach it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.concurrency import request_token_field, version_field
from core.fields import FlagSetField, LabelledFlag
from core.records import Withdrawable
from cycles.models import EFTStep
from people.access import readable_couples, writable_couples
from sessions.encryption import EncryptedTextField

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from people.models import User


class SessionFormat(models.TextChoices):
    CONJOINT = "conjoint", "Conjoint"
    INDIVIDUAL_A = "individual_a", "Individual with partner A"
    INDIVIDUAL_B = "individual_b", "Individual with partner B"


class Attendance(models.TextChoices):
    ATTENDED = "attended", "Attended"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"
    ENDED_EARLY = "ended_early", "Ended early / walked out"

    @property
    def brief(self) -> str:
        """The label without its gloss ("Ended early"), where room is short: the shared case."""
        return str(self.label).split(" / ")[0]


# The attendances of a session that took place: what is "held" in counts and signals.
TOOK_PLACE = (Attendance.ATTENDED, Attendance.ENDED_EARLY)


class CancelledBy(models.TextChoices):
    PARTNER_A = "partner_a", "Partner A"
    PARTNER_B = "partner_b", "Partner B"
    BOTH = "both", "Both partners"
    THERAPIST = "therapist", "Therapist"


class LeftBy(models.TextChoices):
    PARTNER_A = "partner_a", "Partner A"
    PARTNER_B = "partner_b", "Partner B"
    BOTH = "both", "Both partners"


def _who(choice: CancelledBy | LeftBy) -> str:
    """Who, as it reads inside a sentence: "Partner A", "both partners", "the therapist"."""
    if choice == CancelledBy.THERAPIST:
        return "the therapist"
    if choice == CancelledBy.BOTH:
        return "both partners"
    return str(choice.label)


class Horseman(LabelledFlag):
    """Gottman's Four Horsemen, an observation checklist per session
    (docs/domain.md#the-negative-cycle)."""

    CRITICISM = 1, "Criticism"
    CONTEMPT = 2, "Contempt"
    DEFENSIVENESS = 4, "Defensiveness"
    STONEWALLING = 8, "Stonewalling"


# Contempt and stonewalling are the warning signs among them.
WARNING_HORSEMEN = Horseman.CONTEMPT | Horseman.STONEWALLING


class EFTChangeEvent(LabelledFlag):
    """EFT's change events worth recording (Johnson 2004; docs/domain.md#the-negative-cycle),
    and the attachment injury that can block them."""

    DE_ESCALATION = 1, "De-escalation"
    WITHDRAWER_REENGAGEMENT = 2, "Withdrawer re-engagement"
    BLAMER_SOFTENING = 4, "Blamer softening"
    ATTACHMENT_INJURY = 8, "Attachment injury surfaced"


class TherapySessionQuerySet(models.QuerySet["TherapySession"]):
    def visible_to(self, user: User | AnonymousUser) -> TherapySessionQuerySet:
        return self.filter(readable_couples(user, "couple__"))

    def editable_by(self, user: User | AnonymousUser) -> TherapySessionQuerySet:
        return self.filter(writable_couples(user, "couple__"))

    def current(self) -> TherapySessionQuerySet:
        """Sessions not withdrawn as logged by mistake."""
        return self.filter(withdrawn_at__isnull=True)

    def unsigned(self) -> TherapySessionQuerySet:
        """Current sessions that took place and whose record is not signed yet: what a
        therapist has to sign (a cancelled session or a no-show has no record to sign)."""
        return self.current().filter(attendance__in=TOOK_PLACE, signed_at__isnull=True)


class CosignState(models.TextChoices):
    """Where a signed record stands with the supervisor (docs/domain.md, "Signing")."""

    NOT_NEEDED = "", "Not needed"
    AWAITING = "awaiting", "Awaiting co-signature"
    COSIGNED = "cosigned", "Co-signed"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"


class TherapySession(Withdrawable):
    """One session of one couple with one therapist."""

    couple = models.ForeignKey("cycles.Couple", on_delete=models.PROTECT, related_name="sessions")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="therapy_sessions"
    )
    starts_at = models.DateTimeField("start")
    duration_minutes = models.PositiveSmallIntegerField("duration (minutes)", default=50)
    ordinal = models.PositiveSmallIntegerField(
        "session number", help_text="Its number in the treatment: 1 for the first session."
    )
    format = models.CharField(
        max_length=14, choices=SessionFormat.choices, default=SessionFormat.CONJOINT
    )
    attendance = models.CharField(
        max_length=12, choices=Attendance.choices, default=Attendance.ATTENDED
    )
    cancelled_by = models.CharField(max_length=10, choices=CancelledBy.choices, blank=True)
    left_early = models.CharField(
        "who left early", max_length=10, choices=LeftBy.choices, blank=True
    )
    eft_step = models.PositiveSmallIntegerField(
        "EFT step worked on", null=True, blank=True, choices=EFTStep.choices
    )
    horsemen = FlagSetField("Four Horsemen observed", flag=Horseman)
    change_events = FlagSetField("EFT change events", flag=EFTChangeEvent)
    progress_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # The session form (with the author's private note) is checked against this.
    version = version_field()
    request_token = request_token_field()
    # Signed, the record is locked: the database refuses a change to its content except
    # through an amendment (sessions.signing; migration 0010's triggers).
    signed_at = models.DateTimeField(null=True, blank=True, editable=False)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    cosign_state = models.CharField(
        "co-signature", max_length=20, choices=CosignState.choices, blank=True
    )

    objects = TherapySessionQuerySet.as_manager()

    class Meta:
        ordering = ["couple", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["couple", "ordinal"],
                condition=Q(withdrawn_at__isnull=True),
                name="session_number_once_per_couple",
            ),
            models.CheckConstraint(name="session_ordinal_positive", condition=Q(ordinal__gte=1)),
            models.CheckConstraint(
                name="session_duration_range",
                condition=Q(duration_minutes__gte=1, duration_minutes__lte=480),
            ),
            models.CheckConstraint(
                name="session_horsemen_known", condition=Q(horsemen__lte=Horseman.all_bits())
            ),
            models.CheckConstraint(
                name="session_change_events_known",
                condition=Q(change_events__lte=EFTChangeEvent.all_bits()),
            ),
            models.CheckConstraint(
                name="session_observations_only_when_it_took_place",
                condition=Q(attendance__in=["attended", "ended_early"])
                | Q(horsemen=0, change_events=0),
            ),
            models.CheckConstraint(
                name="session_eft_step_range",
                condition=Q(eft_step__isnull=True) | Q(eft_step__gte=1, eft_step__lte=9),
            ),
            models.CheckConstraint(
                name="session_cancelled_by_when_cancelled",
                condition=Q(attendance=Attendance.CANCELLED, cancelled_by__gt="")
                | (~Q(attendance=Attendance.CANCELLED) & Q(cancelled_by="")),
            ),
            models.CheckConstraint(
                name="session_who_left_when_ended_early",
                condition=Q(attendance=Attendance.ENDED_EARLY, left_early__gt="")
                | (~Q(attendance=Attendance.ENDED_EARLY) & Q(left_early="")),
            ),
            models.CheckConstraint(
                name="session_withdrawal_has_reason",
                condition=Q(withdrawn_at__isnull=True)
                | (Q(withdrawn_by__isnull=False) & ~Q(withdrawal_reason="")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.couple} session {self.ordinal}"

    def observations(self) -> list[tuple[str, str]]:
        """The change events and horsemen observed, each with its badge tone: an attachment
        injury, contempt and stonewalling are warnings."""
        events = EFTChangeEvent(self.change_events)
        horsemen = Horseman(self.horsemen)
        found = [
            (e.label, "warn" if e == EFTChangeEvent.ATTACHMENT_INJURY else "ok")
            for e in EFTChangeEvent
            if e in events
        ]
        found += [
            (h.label, "warn" if h & WARNING_HORSEMEN else "") for h in Horseman if h in horsemen
        ]
        return found

    @property
    def took_place(self) -> bool:
        return self.attendance in TOOK_PLACE

    @property
    def attendance_text(self) -> str:
        """Attendance as the record says it, naming who: "Cancelled by Partner A",
        "Ended early / walked out (Both partners left)". The one place for this phrase."""
        label = str(Attendance(self.attendance).label)
        if self.attendance == Attendance.CANCELLED and self.cancelled_by:
            return f"{label} by {_who(CancelledBy(self.cancelled_by))}"
        if self.attendance == Attendance.ENDED_EARLY and self.left_early:
            who = _who(LeftBy(self.left_early))
            return f"{label} ({who[0].upper()}{who[1:]} left)"
        return label

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class NoteKind(models.TextChoices):
    PSYCHOTHERAPY_NOTE = "psychotherapy_note", "Psychotherapy note"
    RUPTURE_REFLECTION = "rupture_reflection", "Reflection on my contribution"


class PrivateNoteQuerySet(models.QuerySet["PrivateNote"]):
    def visible_to(self, user: User | AnonymousUser) -> PrivateNoteQuerySet:
        """Its author's alone: not the supervisor, not the practice admin, not a superuser."""
        if not user.is_authenticated or user.practice_id is None:
            return self.none()
        same_practice = Q(session__couple__practice_id=user.practice_id) | Q(
            rupture__couple__practice_id=user.practice_id
        )
        return self.filter(same_practice, author=user)


class PrivateNote(models.Model):
    """A therapist's private process note on a session, or reflection on a rupture.

    Kept apart from the record and readable by its author only. Exactly one of `session`
    or `rupture` is set.
    """

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=NoteKind.choices)
    # One per author: a case with two therapists (a co-therapist, or a case transferred) has
    # one for each who writes one, each readable by its author alone.
    session = models.ForeignKey(
        TherapySession,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="private_notes",
    )
    rupture = models.ForeignKey(
        "ruptures.Rupture",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="private_reflections",
    )
    text = EncryptedTextField()  # ciphertext in the database: PRIVATE_NOTE_KEYS, never SECRET_KEY
    updated_at = models.DateTimeField(auto_now=True)

    objects = PrivateNoteQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="private_note_on_one_thing",
                condition=Q(
                    kind=NoteKind.PSYCHOTHERAPY_NOTE, session__isnull=False, rupture__isnull=True
                )
                | Q(kind=NoteKind.RUPTURE_REFLECTION, session__isnull=True, rupture__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["session", "author"],
                condition=Q(session__isnull=False),
                name="private_note_once_per_author_and_session",
            ),
            models.UniqueConstraint(
                fields=["rupture", "author"],
                condition=Q(rupture__isnull=False),
                name="private_reflection_once_per_author_and_rupture",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"  # never the text
