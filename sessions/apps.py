from __future__ import annotations

from django.apps import AppConfig


class TherapySessionsConfig(AppConfig):
    """Therapy sessions and their private psychotherapy notes.

    The label is `therapy_sessions`, not `sessions`: Django's own `django.contrib.sessions`
    holds that label. Management commands take the label (`makemigrations therapy_sessions`).
    """

    name = "sessions"
    label = "therapy_sessions"
    verbose_name = "Therapy sessions"
