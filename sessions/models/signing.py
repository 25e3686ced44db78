"""Signing a session's record, co-signing it, and amending it once signed
(docs/domain.md, "Signing")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SignOffKind(models.TextChoices):
    SIGNED = "signed", "Signed"
    COSIGNED = "cosigned", "Co-signed"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    AMENDED = "amended", "Amended"


class SignOffEvent(models.Model):
    """One step of a record's sign-off: signed, co-signed, sent back, amended. Never changed."""

    session = models.ForeignKey(
        "therapy_sessions.TherapySession", on_delete=models.PROTECT, related_name="signoff_events"
    )
    kind = models.CharField(max_length=20, choices=SignOffKind.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.session} {self.get_kind_display().lower()}"


class Amendment(models.Model):
    """A change to a signed record: what changed (each field's words before and after), why,
    by whom and when. The original stays readable here; the record shows the amended words.

    `applying` is true only inside the amendment's own transaction, while its change is
    written: the database's lock on signed records lets through only an update made while its
    session has an amendment applying (migration 0010), which no other transaction can see.
    """

    session = models.ForeignKey(
        "therapy_sessions.TherapySession", on_delete=models.PROTECT, related_name="amendments"
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()
    # {"what": "Session" or "Rupture 2", "field": label, "before": text, "after": text} rows.
    changes = models.JSONField(default=list)
    applying = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(name="amendment_has_reason", condition=~models.Q(reason="")),
        ]

    def __str__(self) -> str:
        return f"Amendment to {self.session}"
