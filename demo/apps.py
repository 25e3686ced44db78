from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The invented demo practice: the only app allowed to import every other app."""

    name = "demo"
    verbose_name = "Demo practice"
