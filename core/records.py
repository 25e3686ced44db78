"""What every kind of clinical record shares: it is withdrawn, never deleted (docs/domain.md).

A session, rupture or repair logged by mistake is withdrawn with who did it and why: hidden
from views and summaries, kept in the record and the audit trail.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Withdrawable(models.Model):
    """The withdrawn-at/by/reason trio and its one writer, `withdraw`."""

    withdrawn_at = models.DateTimeField(null=True, blank=True, editable=False)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    withdrawal_reason = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def withdraw(self, *, by: Any, reason: str) -> None:
        """Withdraw it now, saying who and why (saved: these fields and `updated_at`)."""
        self.withdrawn_at = timezone.now()
        self.withdrawn_by = by
        self.withdrawal_reason = reason
        fields = ["withdrawn_at", "withdrawn_by", "withdrawal_reason"]
        if any(field.name == "updated_at" for field in self._meta.concrete_fields):
            fields.append("updated_at")
        self.save(update_fields=fields)
