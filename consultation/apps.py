from __future__ import annotations

from django.apps import AppConfig


class ConsultationConfig(AppConfig):
    """Cases a therapist shares into a consultation group, de-identified."""

    name = "consultation"
    verbose_name = "Consultation groups"
