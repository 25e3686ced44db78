"""Celery tasks of the exports: thin, by id, safe to run twice (exports.services); and the
export watchdog each worker runs beside them (config.celery starts it)."""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections

from exports import jobs, services
from flags.tasks import Watchdog
from flags.worker import broker_answers


@shared_task(ignore_result=True)
def build_export(job_id: int) -> None:
    """Build one export job's file (a second run finds it claimed and does nothing)."""
    services.build(job_id)


class ExportWatchdog(Watchdog):
    """In each worker, every WORKER_WATCHDOG_SECONDS from its start: queue again the export
    jobs that have stalled (exports.jobs.resume_stalled) while the broker answers.

    The nightly watchdog's loop (flags.tasks.Watchdog: its own thread, a failed round logged
    and survived, the first round at once), with a round of its own: flags is a lower floor
    and never reaches up to exports. A thread apart from the nightly one, so neither's round
    waits for the other's.
    """

    def __init__(self) -> None:
        super().__init__()
        self.name = "cycles-export-watchdog"

    def round(self) -> None:
        close_old_connections()  # a connection the database dropped since the last round
        if broker_answers():
            jobs.resume_stalled()
