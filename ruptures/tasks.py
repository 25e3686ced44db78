"""Celery tasks: thin, by id, safe to run twice (the work is in ruptures.nightly)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from people.audit_db import acting_as
from ruptures.models import NightlyRun
from ruptures.nightly import digests, runs

TRANSIENT = (OperationalError, InterfaceError)


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
        except TRANSIENT as error:
            if self.request.retries >= self.max_retries:
                runs.record_failure(run_id, error)  # out of retries: say so on the run
            raise  # otherwise retried with backoff
        except Exception as error:
            runs.record_failure(run_id, error)
            raise
    if more:
        process_run_chunk.delay(run_id)


@shared_task(ignore_result=True, autoretry_for=TRANSIENT, retry_backoff=2, max_retries=6)
def send_digests(run_id: int) -> int:
    run = NightlyRun.objects.filter(pk=run_id).first()
    return digests.send(run) if run else 0
