"""What the web and the workers know of the background work: its broker and its heartbeat.

Through Celery's current app (config/celery.py makes it), so this app never imports the
project package: config imports flags, never the reverse (docs/architecture.md).
"""

from __future__ import annotations

import datetime
import time

from celery import current_app
from kombu.exceptions import OperationalError as KombuOperationalError

# The newest worker heartbeat (a Unix time), in the database cache so /health/ reads it with
# Redis down; every worker's watchdog writes it each round (flags.tasks.Watchdog).
WORKER_HEARTBEAT_KEY = "cycles:worker-heartbeat"
BROKER_PING_SECONDS = 1.0


def runs_in_process() -> bool:
    """No broker by design (REDIS_URL unset): tasks run in the process that queues them."""
    return bool(current_app.conf.task_always_eager)


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
    with current_app.connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=0, timeout=timeout)
        except (KombuOperationalError, OSError, *connection.connection_errors):
            return False
        return True
