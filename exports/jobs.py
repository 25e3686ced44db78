"""Starting an export job and moving it along: pending, running, done or failed.

The web starts a job and returns at once; a worker builds the file (exports.tasks, through
exports.services). Without a broker (REDIS_URL unset) the task runs in the process that
queued it, after the commit, so the same flow works on a laptop.

Each step is one conditional UPDATE in its own commit, so the status page's poll sees the
progress while the file is built, and a job run twice is built once.
"""

from __future__ import annotations

import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from exports.models import ExportJob, ExportKind, ExportStatus

if TYPE_CHECKING:
    from celery import Task

    from people.models import User

BUILD_TASK = "exports.tasks.build_export"
# How long a finished file may be downloaded, from when it is ready.
DOWNLOAD_LIFETIME = datetime.timedelta(minutes=15)
# How long a job may wait for, and spend with, a worker before it is given up as expired:
# beyond Celery's hard time limit (config/settings.py, 15 minutes) no worker still holds it.
WAIT_LIFETIME = datetime.timedelta(minutes=30)


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
        expires_at=now + WAIT_LIFETIME,
    )
    transaction.on_commit(lambda: build_task().delay(job.pk))
    return job


def claim(job_id: int) -> ExportJob | None:
    """Pending to running; None when another run of the task got there first or it expired."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(
        pk=job_id, status=ExportStatus.PENDING, expires_at__gt=now
    ).update(status=ExportStatus.RUNNING, started_at=now, progress=0)
    if not claimed:
        return None
    return ExportJob.objects.select_related("requested_by").get(pk=job_id)


def report_progress(job_id: int, done: int, total: int) -> None:
    """The share done, in percent; 99 at most until the file is stored."""
    percent = min(99, done * 100 // total) if total else 0
    ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING, progress__lt=percent).update(
        progress=percent
    )


def finish(job_id: int, content: bytes) -> None:
    now = timezone.now()
    ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE,
        content=content,
        size=len(content),
        progress=100,
        finished_at=now,
        expires_at=now + DOWNLOAD_LIFETIME,
    )


def fail(job_id: int, error: BaseException) -> None:
    """Recorded by the error's type only: a message could quote clinical text."""
    ExportJob.objects.filter(pk=job_id).exclude(status=ExportStatus.DONE).update(
        status=ExportStatus.FAILED,
        error=type(error).__name__[:300],
        finished_at=timezone.now(),
    )


def purge_expired(now: datetime.datetime | None = None) -> int:
    """Drop the bytes of every expired job (the row stays, without them); the count purged.

    Run on every start and download and after every build, so no file outlives its link by
    more than the next export anyone starts."""
    return ExportJob.objects.expired(now).filter(content__isnull=False).update(content=None, size=0)
