from __future__ import annotations

from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    """A supervisor's review of their supervisees' caseloads: flags, acknowledgements, trends."""

    name = "supervision"
    verbose_name = "Supervision"
