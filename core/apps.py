from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Small helpers every app may use and that know no clinical app (docs/architecture.md)."""

    name = "core"
    verbose_name = "Shared helpers"
