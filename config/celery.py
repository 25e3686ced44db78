"""The Celery app (Celery's Django recipe): settings come from CELERY_* in config.settings."""

from __future__ import annotations

import datetime
import os
import time
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutdown
from kombu.exceptions import OperationalError as KombuOperationalError

from config.env import settings_or_exit

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

# The newest worker heartbeat (a Unix time), in the database cache so /health/ reads it with
# Redis down; every worker's watchdog writes it each round (flags.tasks.Watchdog).
WORKER_HEARTBEAT_KEY = "cycles:worker-heartbeat"
BROKER_PING_SECONDS = 1.0


def record_worker_heartbeat() -> None:
    from django.core.cache import cache

    cache.set(WORKER_HEARTBEAT_KEY, time.time(), timeout=None)


def worker_last_seen() -> datetime.datetime | None:
    """When a worker last wrote its heartbeat, if one ever did."""
    from django.core.cache import cache

    seen = cache.get(WORKER_HEARTBEAT_KEY)
    return None if seen is None else datetime.datetime.fromtimestamp(seen, datetime.UTC)


def broker_answers(timeout: float = BROKER_PING_SECONDS) -> bool:
    """Whether the broker takes a connection now (one attempt, `timeout` seconds at most)."""
    with app.connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=0, timeout=timeout)
        except (KombuOperationalError, OSError, *connection.connection_errors):
            return False
        return True


_watchdog: list[Watchdog] = []


@worker_ready.connect
def start_watchdog(**_: Any) -> None:
    """Each worker writes its heartbeat and resumes stalled nightly runs (flags.tasks)."""
    from flags.tasks import Watchdog

    watchdog = Watchdog()
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
