"""`/health/`: what a load balancer and a monitor ask, anonymously (README, Production).

In the project package, not an app: it reports on every part of the deployment (the database,
the cache, the broker, the workers, each practice's nightly run), so it may import them all.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from flags.worker import broker_answers, runs_in_process, worker_last_seen

WORKER_STALE = datetime.timedelta(minutes=1)  # six missed watchdog rounds (every 10 s)


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitors, anonymously: the state of each dependency, and each
    practice's latest nightly run (its id, dates and status: no name, no clinical content).

    503 when this process can't sign anyone in: the database, or the cache that holds the
    sign-in throttle (a database table), is down. The background work (the broker and a worker
    heartbeat, where REDIS_URL makes them part of the deployment; "not used" otherwise) is
    reported, and fails the answer only with `?strict`: a load balancer asks /health/ and keeps
    serving sign-in through a Redis outage, a monitor asks /health/?strict and is told.
    """
    strict = "strict" in request.GET
    checks: dict[str, dict[str, Any]] = {"database": _database_check()}
    checks["cache"], last_seen = _cache_check()
    checks["broker"], checks["worker"] = _background_checks(last_seen)
    serving = all(checks[name]["status"] == "ok" for name in ("database", "cache"))
    background = all(checks[name]["status"] in ("ok", "not used") for name in ("broker", "worker"))
    body: dict[str, Any] = {
        "status": ("ok" if background else "degraded") if serving else "down",
        **checks,
    }
    if checks["database"]["status"] == "ok":
        for name, section in settings.HEALTH_SECTIONS.items():
            body[name] = import_string(section)()
    ok = serving and (background or not strict)
    return JsonResponse(body, status=200 if ok else 503)


def _database_check() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return {"status": "down"}
    return {"status": "ok"}


def _cache_check() -> tuple[dict[str, Any], datetime.datetime | None]:
    """The cache answers (one read: the workers' heartbeat, which it holds)."""
    try:
        last_seen = worker_last_seen()
    except Exception:  # the backend's own errors (a missing table, a lost connection)
        return {"status": "down"}, None
    return {"status": "ok"}, last_seen


def _background_checks(
    last_seen: datetime.datetime | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    if runs_in_process():  # no broker by design: tasks run in-process
        return {"status": "not used"}, {"status": "not used"}
    broker = {"status": "ok" if broker_answers() else "down"}
    if last_seen is None:
        return broker, {"status": "not seen"}
    age = timezone.now() - last_seen
    worker = {
        "status": "ok" if age <= WORKER_STALE else "not seen",
        "last_seen": last_seen.isoformat(timespec="seconds"),
        "seconds_ago": max(0, round(age.total_seconds())),
    }
    return broker, worker
