"""The Celery app (Celery's Django recipe): settings come from CELERY_* in config.settings."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutdown

from core.env import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

if TYPE_CHECKING:
    from flags.tasks import Watchdog

app = Celery("config")


@app.on_configure.connect
def _settings_or_exit(**_: Any) -> None:
    """A missing production variable stops `celery -A config ...` in one line. On first use of
    the app's configuration, not at import: manage.py and config/wsgi.py import this module
    (through config/__init__.py) and stop with their own exit code first."""
    settings_or_exit()


app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_watchdog: list[Watchdog] = []


@worker_ready.connect
def start_watchdog(**_: Any) -> None:
    """Each worker writes its heartbeat and resumes stalled nightly runs (flags.tasks), and
    queues again the export jobs a killed worker or a lost message left (exports.tasks), and
    the partners' links left unsent (invitations.tasks)."""
    from exports.tasks import ExportWatchdog
    from flags.tasks import Watchdog
    from invitations.tasks import InvitationWatchdog

    for watchdog in (Watchdog(), ExportWatchdog(), InvitationWatchdog()):
        watchdog.start()
        _watchdog.append(watchdog)


@worker_shutdown.connect
def stop_watchdog(**_: Any) -> None:
    while _watchdog:
        _watchdog.pop().stop()


@worker_init.connect
def refuse_unsafe_database_role(**_: Any) -> None:
    """A worker whose database role could erase the audit trail stops before it takes a task
    (people.db_roles); at worker start, not at import: `celery report`, beat and the web
    import this module too."""
    from people.db_roles import refuse_unsafe_database_role as refuse

    refuse()
