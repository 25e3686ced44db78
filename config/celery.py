"""The Celery app (Celery's Django recipe): settings come from CELERY_* in config.settings."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

from config.env import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
settings_or_exit()

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_unsafe_database_role(**_: Any) -> None:
    """A worker whose database role could erase the audit trail stops before it takes a task
    (people.db_roles); at worker start, not at import: `celery report`, beat and the web
    import this module too."""
    from people.db_roles import refuse_unsafe_database_role as refuse

    refuse()
