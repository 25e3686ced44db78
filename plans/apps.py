from __future__ import annotations

from django.apps import AppConfig


class PlansConfig(AppConfig):
    """The couple's treatment plan: goals tied to the cycle map and the EFT stages."""

    name = "plans"
    verbose_name = "Treatment plans"
