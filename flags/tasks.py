"""Celery tasks: thin, by id, safe to run twice (the work is in flags); and the
watchdog each worker runs beside them (config.celery starts it)."""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from flags import digests, runs, same_day
from flags.worker import broker_answers, record_worker_heartbeat
from people.audit_db import acting_as
from ruptures.models import NightlyRun

TRANSIENT = (OperationalError, InterfaceError)
log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def start_due_runs() -> list[int]:
    """Beat, every quarter hour: start or resume each practice's run that is due."""
    with acting_as("nightly"):
        return runs.start_due_runs()


@shared_task(
    bind=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=6,
)
def process_run_chunk(self, run_id: int) -> None:  # type: ignore[no-untyped-def]
    """One chunk of couples; queues the next until the run is finished."""
    with acting_as("nightly"):  # the change trail names the nightly job as the author
        try:
            more = runs.process_chunk(run_id)
        except runs.BrokerError:
            # The digests could not be queued, so the last chunk rolled back: the run is as
            # it was, and the watchdog finishes it once the broker answers.
            runs.chain_broken(run_id)
            log.warning("nightly run %s: the broker is not answering; left to the watchdog", run_id)
            return
        except TRANSIENT as error:
            if self.request.retries >= self.max_retries:
                runs.record_failure(run_id, error)  # out of retries: say so on the run
            raise  # otherwise retried with backoff
        except Exception as error:
            runs.record_failure(run_id, error)
            raise
    if more:
        try:
            runs.queue_chunk(run_id)
        except runs.BackgroundWorkUnavailable:
            # The chunk is committed; the watchdog resumes from the cursor once the broker is back.
            runs.chain_broken(run_id)
            log.warning("nightly run %s: the broker is not answering; left to the watchdog", run_id)


@shared_task(ignore_result=True, autoretry_for=TRANSIENT, retry_backoff=2, max_retries=6)
def recheck_couples(couple_ids: list[int]) -> int:
    """After a clinician's save: the couples' summaries and flags for today (flags.same_day)."""
    with acting_as("same-day recheck"):
        return same_day.recheck(couple_ids)


@shared_task(ignore_result=True, autoretry_for=TRANSIENT, retry_backoff=2, max_retries=6)
def recheck_practice(practice_id: int) -> int:
    """The practice admin's "Recheck today": every couple, for today (flags.same_day)."""
    with acting_as("same-day recheck"):
        return same_day.recheck_practice(practice_id)


@shared_task(ignore_result=True, autoretry_for=TRANSIENT, retry_backoff=2, max_retries=6)
def send_digests(run_id: int) -> int:
    run = NightlyRun.objects.filter(pk=run_id).first()
    return digests.send(run) if run else 0


class Watchdog(threading.Thread):
    """In each worker, every WORKER_WATCHDOG_SECONDS from its start: write the worker
    heartbeat (/health/ reads it from the database cache, Redis or not), and resume the
    nightly runs that have stalled (runs.resume_stalled) while the broker answers.

    A thread of the worker's main process, so it keeps time while a task runs (a solo pool
    runs tasks in the main thread; a prefork pool's parent does none). Its first round is at
    once: a worker started after a crash resumes what the crash left, once the lease is past.
    """

    def __init__(self) -> None:
        super().__init__(name="cycles-watchdog", daemon=True)
        self.stopped = threading.Event()
        self.interval = float(getattr(settings, "WORKER_WATCHDOG_SECONDS", 10))

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.round()
            except Exception:  # a round that fails must not end the watchdog
                log.exception("the worker's watchdog round failed")
            finally:
                close_old_connections()
            self.stopped.wait(self.interval)

    def round(self) -> None:
        close_old_connections()  # a connection the database dropped since the last round
        try:
            record_worker_heartbeat()
        except Exception:  # e.g. the cache table missing: resuming runs matters more
            log.exception("the worker's heartbeat could not be written")
        if broker_answers():
            with acting_as("nightly"):
                runs.resume_stalled()

    def stop(self) -> None:
        self.stopped.set()
