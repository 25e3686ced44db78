from __future__ import annotations

from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Exports built in the background (CSV and PDF), downloaded by whoever asked for them."""

    name = "exports"
    verbose_name = "Exports"
