from __future__ import annotations

from django.apps import AppConfig


class PeopleConfig(AppConfig):
    """Practices, clinicians and their roles, supervision and consultation groups."""

    name = "people"
    verbose_name = "People and access"

    def ready(self) -> None:
        from people import signals

        signals.connect()
