from __future__ import annotations

from django.apps import AppConfig


class CyclesConfig(AppConfig):
    """Couples, their partners and the negative cycle each partner is caught in."""

    name = "cycles"
    verbose_name = "Couples and cycle maps"

    def ready(self) -> None:
        from cycles import signals

        signals.connect()
