from __future__ import annotations

from django.apps import AppConfig


class RupturesConfig(AppConfig):
    """Alliance ruptures, their repair, and the nightly resolution summaries."""

    name = "ruptures"
    verbose_name = "Alliance ruptures"
