"""Starting an export job and moving it along: pending, running, done or failed.

The web starts a job and returns at once; a worker builds the file (exports.tasks, through
exports.services). Without a broker (REDIS_URL unset) the task runs in the process that
queued it, after the commit, so the same flow works on a laptop.

Each step is one conditional UPDATE in its own commit, so the status page's poll sees the
progress while the file is built, and a job run twice is built once.

A worker killed mid-build, or a message the broker lost, strands no job: every step writes the
job's heartbeat, and each worker's export watchdog (exports.tasks.ExportWatchdog) queues again
any pending or running job silent for longer than the lease (resume_stalled). Each claim counts
an attempt, and a build writes only while the job is still at its attempt, so a worker presumed
dead that wakes up later stores nothing over the build that replaced it.
"""

from __future__ import annotations

import datetime
import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from exports.models import ExportJob, ExportKind, ExportStatus

if TYPE_CHECKING:
    from celery import Task

    from people.models import User

log = logging.getLogger(__name__)
BUILD_TASK = "exports.tasks.build_export"
# How long a finished file may be downloaded, from when it is ready.
DOWNLOAD_LIFETIME = datetime.timedelta(minutes=15)
# How long a job may wait for, and spend with, a worker before it is given up as expired:
# beyond Celery's hard time limit (config/settings.py, 15 minutes) no worker still holds it.
WAIT_LIFETIME = datetime.timedelta(minutes=30)
# A job that a worker dies in this many times is given up as failed, not queued again: the
# export itself may be what kills it (e.g. out of memory).
MAX_ATTEMPTS = 3
LIVE = (ExportStatus.PENDING, ExportStatus.RUNNING)


def lease() -> datetime.timedelta:
    """How long a pending or running job may go without a sign of life before it is queued
    again. Progress is reported every few thousand CSV lines (exports.build_views), far more
    often; the PDF's one silent phase, its rendering, takes seconds (docs/benchmarks.md)."""
    return datetime.timedelta(seconds=getattr(settings, "EXPORT_LEASE_SECONDS", 30))


def build_task() -> Task:
    """The build task by name, its module loaded first (as flags.runs.task does): exports.tasks
    reaches the builders, which reach the screens that start jobs, so no import of it here."""
    import_module(BUILD_TASK.rpartition(".")[0])
    return current_app.tasks[BUILD_TASK]


def start(
    *,
    user: User,
    kind: ExportKind,
    filename: str,
    content_type: str,
    params: dict[str, Any] | None = None,
) -> ExportJob:
    """Make the job and queue its build once the caller's transaction commits."""
    now = timezone.now()
    purge_expired(now)
    job = ExportJob.objects.create(
        requested_by=user,
        kind=kind,
        params=params or {},
        filename=filename,
        content_type=content_type,
        created_at=now,
        heartbeat_at=now,
        expires_at=now + WAIT_LIFETIME,
    )
    transaction.on_commit(lambda: build_task().delay(job.pk))
    return job


def claim(job_id: int) -> ExportJob | None:
    """Pending to running, as a new attempt; None when another run of the task got there
    first, or the job is finished or expired. The job returned carries its attempt, which
    every later write of this build names."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(
        pk=job_id, status=ExportStatus.PENDING, expires_at__gt=now
    ).update(
        status=ExportStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        progress=0,
    )
    if not claimed:
        return None
    return ExportJob.objects.select_related("requested_by").get(pk=job_id)


def report_progress(job_id: int, done: int, total: int, *, attempt: int) -> None:
    """The share done, in percent (99 at most until the file is stored), and a heartbeat."""
    percent = min(99, done * 100 // total) if total else 0
    ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING, attempts=attempt).update(
        progress=Greatest("progress", percent), heartbeat_at=timezone.now()
    )


def finish(job_id: int, content: bytes, *, attempt: int) -> bool:
    """Store the file, once: whichever build of the job's current attempt ends first (a build
    whose job was queued again but not yet claimed still counts). False when it was not."""
    now = timezone.now()
    return bool(
        ExportJob.objects.filter(pk=job_id, status__in=LIVE, attempts=attempt).update(
            status=ExportStatus.DONE,
            content=content,
            size=len(content),
            progress=100,
            heartbeat_at=now,
            finished_at=now,
            expires_at=now + DOWNLOAD_LIFETIME,
        )
    )


def fail(job_id: int, error: BaseException | str, *, attempt: int | None = None) -> None:
    """Recorded by the error's type only: a message could quote clinical text."""
    name = error if isinstance(error, str) else type(error).__name__
    unfinished = ExportJob.objects.filter(pk=job_id, status__in=LIVE)
    if attempt is not None:
        unfinished = unfinished.filter(attempts=attempt)
    unfinished.update(status=ExportStatus.FAILED, error=name[:300], finished_at=timezone.now())


def resume_stalled(now: datetime.datetime | None = None) -> list[int]:
    """The export watchdog's round: queue again every unexpired job silent past the lease.

    1. Find the pending and running jobs whose heartbeat is older than the lease: a running
       one's worker died mid-build (a SIGKILL, a lost machine), a pending one's message was
       lost (a broker outage) or its worker died before the claim.
    2. Claim each with one conditional UPDATE on the heartbeat read (and, for a running job,
       back to pending), so of two watchdogs racing only one queues it. A job that has already
       had MAX_ATTEMPTS claims is failed instead ("WorkerLost").
    3. Queue its build. When the broker refuses, give the heartbeat back (so the first round
       after the broker returns takes it, not one a lease later) and stop the round.

    Returns the ids queued.
    """
    now = now or timezone.now()
    stalled = list(
        ExportJob.objects.filter(
            status__in=LIVE, heartbeat_at__lt=now - lease(), expires_at__gt=now
        )
        .order_by("pk")
        .values_list("pk", "status", "heartbeat_at", "attempts")
    )
    queued: list[int] = []
    for job_id, status, heartbeat_at, attempts in stalled:
        same = ExportJob.objects.filter(pk=job_id, status=status, heartbeat_at=heartbeat_at)
        if status == ExportStatus.RUNNING and attempts >= MAX_ATTEMPTS:
            if same.update(
                status=ExportStatus.FAILED, error="WorkerLost", finished_at=now, heartbeat_at=now
            ):
                log.warning("export job %s lost its worker %s times: failed", job_id, attempts)
            continue
        if not same.update(status=ExportStatus.PENDING, heartbeat_at=now):
            continue  # another watchdog, or the build itself, moved it meanwhile
        try:
            build_task().delay(job_id)
        except BrokerError:
            ExportJob.objects.filter(
                pk=job_id, status=ExportStatus.PENDING, heartbeat_at=now
            ).update(heartbeat_at=heartbeat_at)
            log.warning("export job %s has stalled; the broker is not answering", job_id)
            break
        log.warning("export job %s had stalled since %s: queued again", job_id, heartbeat_at)
        queued.append(job_id)
    return queued


def purge_expired(now: datetime.datetime | None = None) -> int:
    """Drop the bytes of every expired job (the row stays, without them); the count purged.

    Run on every start and download and after every build, so no file outlives its link by
    more than the next export anyone starts."""
    return ExportJob.objects.expired(now).filter(content__isnull=False).update(content=None, size=0)
