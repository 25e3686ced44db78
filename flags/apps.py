from __future__ import annotations

from django.apps import AppConfig


class FlagsConfig(AppConfig):
    """Every signal and flag rule, the nightly summaries, roll-ups and digests."""

    name = "flags"
    verbose_name = "Signals, flags and the nightly run"
