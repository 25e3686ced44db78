"""Private links that let a partner answer from their own phone (docs/domain.md, "Remote
answers"; docs/security.md, "Remote answer links").

- `PartnerContact`: a partner's e-mail address, optional, encrypted like the private notes.
- `Invitation`: one link to one partner for one set of questions, with the statuses it went
  through (waiting, sent, opened, answered, expired, revoked, failed). The token itself is
  never stored: only its SHA-256, written by the send task at the moment it mails the link.
- `LinkHit`: each request to a link's page, the count the per-link and per-address limits read
  (in the database, so the limits hold across processes and without Redis).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from people.access import readable_couples, writable_couples
from sessions.encryption import EncryptedTextField

if TYPE_CHECKING:
    import datetime

    from django.contrib.auth.models import AnonymousUser

    from people.models import User

PARTNERS = [("A", "Partner A"), ("B", "Partner B")]


class Purpose(models.TextChoices):
    SATISFACTION = "satisfaction", "Questionnaires, before the next session"
    SESSION = "session", "About the last session: alliance and post-session report"
    SAFETY = "safety", "Safety screen, taken alone"


class InvitationStatus(models.TextChoices):
    WAITING = "waiting", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    OPENED = "opened", "Opened"
    ANSWERED = "answered", "Answered"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    FAILED = "failed", "Failed to send"


# A link that may still be answered (once it has been mailed) or revoked.
LIVE = (
    InvitationStatus.WAITING,
    InvitationStatus.SENDING,
    InvitationStatus.SENT,
    InvitationStatus.OPENED,
)
# A link whose page shows the questions.
ANSWERABLE = (InvitationStatus.SENT, InvitationStatus.OPENED)


class PartnerContactQuerySet(models.QuerySet["PartnerContact"]):
    def editable_by(self, user: User | AnonymousUser) -> PartnerContactQuerySet:
        return self.filter(writable_couples(user, "couple__"))


class PartnerContact(models.Model):
    """Where a partner's links are sent: their own address, kept encrypted at rest."""

    couple = models.ForeignKey("cycles.Couple", on_delete=models.CASCADE, related_name="+")
    partner = models.CharField(max_length=1, choices=PARTNERS)
    email = EncryptedTextField()
    # The therapist's standing choice: a link about each session this partner attends goes
    # out as the session is logged (invitations.services.after_session_logged).
    after_each_session = models.BooleanField(
        "send a link after each session", default=False, db_default=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartnerContactQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["couple", "partner"], name="contact_once_per_partner"),
            models.CheckConstraint(
                name="contact_partner_a_or_b", condition=Q(partner__in=["A", "B"])
            ),
        ]

    def __str__(self) -> str:
        return f"Contact of partner {self.partner}, couple #{self.couple_id}"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def visible_to(self, user: User | AnonymousUser) -> InvitationQuerySet:
        return self.filter(readable_couples(user, "couple__"))

    def editable_by(self, user: User | AnonymousUser) -> InvitationQuerySet:
        return self.filter(writable_couples(user, "couple__"))


class Invitation(models.Model):
    """One private link to one partner, for one set of questions."""

    couple = models.ForeignKey(
        "cycles.Couple", on_delete=models.CASCADE, related_name="invitations"
    )
    partner = models.CharField(max_length=1, choices=PARTNERS)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    # The session the answers are kept with (docs/domain.md, "Remote answers"); none for a
    # safety screen taken before any session.
    session = models.ForeignKey(
        "therapy_sessions.TherapySession",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    # The questionnaires asked (MeasureDefinition codes), fixed when the link was made.
    measure_codes = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.WAITING
    )
    # SHA-256 of the token in the link (hex); empty until the send task mints the token.
    token_hash = models.CharField(max_length=64, blank=True, default="")
    # An HMAC of the address it was sent to, for the per-address limit (never the address).
    address_digest = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Moved at every step of the send; the watchdog queues again a waiting or sending link
    # silent past its lease (invitations.sending.resume_unsent).
    heartbeat_at = models.DateTimeField(default=timezone.now)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    failed_at = models.DateTimeField(null=True, blank=True)
    # The error's type only: an SMTP message could quote the address.
    error = models.CharField(max_length=100, blank=True)
    request_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["token_hash"],
                condition=~Q(token_hash=""),
                name="invitation_token_hash_unique",
            ),
            models.CheckConstraint(
                name="invitation_partner_a_or_b", condition=Q(partner__in=["A", "B"])
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="invitation_due")]

    def __str__(self) -> str:
        return f"Invitation #{self.pk} to partner {self.partner}"

    def status_at(self) -> datetime.datetime | None:
        """When the link reached its status as shown (for the panel): sent, opened, answered...
        and for a live link past its expiry, when it expired."""
        if self.status in LIVE and self.expires_at <= timezone.now():
            return self.expires_at
        moments = {
            InvitationStatus.SENT: self.sent_at,
            InvitationStatus.OPENED: self.opened_at,
            InvitationStatus.ANSWERED: self.answered_at,
            InvitationStatus.REVOKED: self.revoked_at,
            InvitationStatus.FAILED: self.failed_at,
            InvitationStatus.EXPIRED: self.expires_at,
        }
        return moments.get(InvitationStatus(self.status), self.created_at)

    def shown_status(self, now: object = None) -> str:
        """The status as the therapist's panel says it: a live link past its expiry is expired
        even before anything wrote so."""
        moment = now or timezone.now()
        if self.status in LIVE and self.expires_at <= moment:  # type: ignore[operator]
            return str(InvitationStatus.EXPIRED.label)
        return str(InvitationStatus(self.status).label)


class LinkHit(models.Model):
    """One request to a link's page: `invitation` when the token was known, else none (a
    guess), with the address it came from. The throttles count these rows."""

    invitation = models.ForeignKey(
        Invitation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["ip", "at"], name="linkhit_ip_at")]

    def __str__(self) -> str:
        return f"Link hit at {self.at:%Y-%m-%d %H:%M}"
