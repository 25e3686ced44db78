"""Export jobs with real processes (issue 17): a Celery worker subprocess builds the file the
web queued on Redis; a worker SIGKILLed mid-build strands nothing, because a new worker's
export watchdog queues the job again once its lease (30 s) is past, within a minute, with no
one polling and no beat process.

Mid-build is made deterministic as in tests/ruptures/test_nightly_resume.py: another
transaction holds the rupture table in ACCESS EXCLUSIVE mode, so the build, having claimed
the job, waits in its first query until the test lets go. The seconds measured are printed
(pytest -s shows them).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from exports import jobs
from exports.models import ExportJob, ExportKind, ExportStatus
from ruptures.models import Rupture
from supervision import review
from tests.exports import job_of
from tests.exports.test_export_jobs import rows
from tests.factories import World, make_rupture, make_session

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RESUME_SECONDS = 60  # the promise: built within a minute of the SIGKILL, by itself
BUILD_SECONDS = 30


def supervisor_client(world: World) -> Client:
    client = Client()
    client.force_login(world.supervisor)
    return client


def current(job: ExportJob) -> ExportJob:
    return ExportJob.objects.get(pk=job.pk)


def done(job: ExportJob) -> ExportJob | None:
    found = current(job)
    assert found.status != ExportStatus.FAILED, found.error
    return found if found.status == ExportStatus.DONE else None


def with_ruptures(world: World) -> World:
    for days in (4, 3, 2):
        make_rupture(make_session(world.couple, days_ago=days))
    return world


def downloaded(client: Client, job: ExportJob) -> list[list[str]]:
    page = client.get(reverse("exports:status", args=[job.token]))
    assert page.context["downloadable"]
    download = client.get(reverse("exports:download", args=[job.token]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{job.filename}"'
    return rows(download.content)


def test_an_export_started_with_a_worker_running_is_built_and_downloadable(start_worker, poll):
    world = with_ruptures(World.build())
    worker = start_worker()
    client = supervisor_client(world)
    job = job_of(client.post(reverse("supervision:ruptures_csv")))  # queued on Redis
    built = poll(lambda: done(job), timeout=BUILD_SECONDS, what="the build", explain=worker.log)
    assert (built.attempts, built.progress, built.size) == (1, 100, len(built.content))
    csv_rows = downloaded(client, job)
    assert csv_rows[0] == review.CSV_HEADER
    assert len(csv_rows) == 1 + Rupture.objects.count()


def hold_rupture_table() -> Any:
    """The other transaction's work: every read of the rupture table waits until it ends."""

    def lock() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Rupture._meta.db_table} IN ACCESS EXCLUSIVE MODE")

    return lock


def test_a_build_whose_worker_was_killed_finishes_on_a_new_worker_within_a_minute(
    start_worker, other_connection, poll
):
    world = with_ruptures(World.build())
    client = supervisor_client(world)
    with other_connection.hold(hold_rupture_table()):
        # Started first: a solo worker busy with a build answers no ping. The job through
        # exports.jobs.start, as the start view does after it counts the rows (a read of the
        # held table); its message is sent at once (no transaction around it here).
        first = start_worker()
        job = jobs.start(
            user=world.supervisor,
            kind=ExportKind.RUPTURES_CSV,
            filename="rupture-codes.csv",
            content_type="text/csv; charset=utf-8",
        )
        poll(
            lambda: current(job).status == ExportStatus.RUNNING and other_connection.lock_waiters(),
            timeout=BUILD_SECONDS,
            what="the worker to claim the job and wait inside its build",
            explain=first.log,
        )
        first.kill()  # SIGKILL: its message stays unacknowledged in Redis for an hour
        killed = time.monotonic()
    assert (current(job).status, current(job).attempts) == (ExportStatus.RUNNING, 1)

    second = start_worker()
    built = poll(
        lambda: done(job),
        timeout=RESUME_SECONDS,
        what="the new worker's export watchdog to queue the job again and build it",
        explain=second.log,
    )
    took = time.monotonic() - killed
    print(f"\nexport built {took:.1f} s after the SIGKILL")
    assert took < RESUME_SECONDS
    assert "had stalled since" in second.log()  # the watchdog, not a retry or a second start
    assert (built.attempts, built.size) == (2, len(built.content))
    assert ExportJob.objects.count() == 1
    csv_rows = downloaded(client, job)
    assert len(csv_rows) == 1 + Rupture.objects.count()
