"""An export built in the background: who asked, what, how far along, and the file.

The file's bytes live in the row until the download expires (exports.jobs.purge_expired); the
row stays, naming who exported what and when, without the bytes.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

if TYPE_CHECKING:
    import datetime

    from django.contrib.auth.models import AnonymousUser

    from people.models import User


class ExportKind(models.TextChoices):
    RUPTURES_CSV = "ruptures_csv", "Rupture codes (CSV)"
    AUDIT_CSV = "audit_csv", "Audit trail (CSV)"
    COUPLE_PDF = "couple_pdf", "Case formulation (PDF)"
    WHOLE_RECORD = "whole_record", "Whole record (ZIP: PDF, JSON, CSV)"


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Waiting to start"
    RUNNING = "running", "Being prepared"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


def new_token() -> str:
    """The job's name in its URLs: 256 random bits, so a link can't be guessed or counted."""
    return secrets.token_urlsafe(32)


class ExportJobQuerySet(models.QuerySet["ExportJob"]):
    def visible_to(self, user: User | AnonymousUser) -> ExportJobQuerySet:
        """Only the person who asked sees a job: not their supervisor, not their admin."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(requested_by_id=user.pk)

    def expired(self, now: datetime.datetime | None = None) -> ExportJobQuerySet:
        return self.filter(expires_at__lte=now or timezone.now())


class ExportJob(models.Model):
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=ExportKind.choices)
    # What the builder needs, ids and codes only (exports.build_views): never clinical text.
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    content = models.BinaryField(null=True, blank=True, editable=False)
    filename = models.CharField(max_length=120)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # The job's last sign of life: queued, claimed by a worker, progress reported. A pending or
    # running job silent for longer than the lease is queued again (exports.jobs.resume_stalled).
    heartbeat_at = models.DateTimeField(default=timezone.now)
    # Claims so far: each build writes only while the job is still its own attempt, so a worker
    # presumed dead that wakes up stores nothing over a later build (exports.jobs).
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Pending and running jobs expire too (a job no worker took), and a finished one's link
    # lives a short while after it is ready (exports.jobs.DOWNLOAD_LIFETIME).
    expires_at = models.DateTimeField()

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["expires_at"], name="export_expires_idx"),
            # The watchdog's scan for stalled jobs reads only the few unfinished rows.
            models.Index(
                fields=["heartbeat_at"],
                name="export_live_heartbeat_idx",
                condition=Q(status__in=["pending", "running"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(name="export_progress_percent", condition=Q(progress__lte=100)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.requested_by_id} ({self.status})"

    @property
    def in_progress(self) -> bool:
        return self.status in (ExportStatus.PENDING, ExportStatus.RUNNING)

    def downloadable(self, now: datetime.datetime | None = None) -> bool:
        return (
            self.status == ExportStatus.DONE
            and self.content is not None
            and self.expires_at > (now or timezone.now())
        )
