"""An export job never waits for a dead worker or a lost message (exports.jobs.resume_stalled,
the export watchdog's round), in-process: tasks run eagerly unless a broker is named, so a job
queued again is built at once. test_export_worker.py does the same with real workers.

- a running job silent past the lease (its worker died) is claimed again and built; a pending
  one whose message was lost, too; one within its lease, an expired one, a finished one: never;
- a build replaced by a later attempt stores nothing and reports nothing;
- a job that lost its worker three times fails, and says so;
- two rounds queue a stalled job once; with the broker down nothing is claimed.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import redis
import time_machine
from django.test import Client
from django.urls import reverse

from config.celery import app as celery_app
from exports import jobs
from exports.models import ExportJob, ExportStatus
from supervision import review
from tests.exports import job_of
from tests.exports.test_export_jobs import rows
from tests.factories import World
from tests.processes import free_port
from tests.ruptures.conftest import celery_conf

pytestmark = pytest.mark.django_db

LEASE = datetime.timedelta(seconds=30)
SECOND = datetime.timedelta(seconds=1)


@pytest.fixture
def world() -> World:
    return World.build()


def queued(world: World) -> ExportJob:
    """A ruptures CSV job as the start leaves it: pending, its message sent (or lost: the
    on-commit callback that sends it never runs here)."""
    client = Client()
    client.force_login(world.supervisor)
    return job_of(client.post(reverse("supervision:ruptures_csv")))


def claimed(world: World) -> ExportJob:
    """A job a worker claimed and then died in: running, attempt 1, no file."""
    job = jobs.claim(queued(world).pk)
    assert job is not None
    assert (job.status, job.attempts) == (ExportStatus.RUNNING, 1)
    return job


def later(job: ExportJob, by: datetime.timedelta) -> Any:
    return time_machine.travel(job.heartbeat_at + by, tick=False)


def current(job: ExportJob) -> ExportJob:
    return ExportJob.objects.get(pk=job.pk)


def test_a_running_job_silent_past_the_lease_is_built_again(world):
    job = claimed(world)
    with later(job, LEASE + SECOND):
        assert jobs.resume_stalled() == [job.pk]
    job = current(job)
    assert (job.status, job.attempts, job.progress) == (ExportStatus.DONE, 2, 100)
    assert rows(bytes(job.content))[0] == review.CSV_HEADER
    assert job.size == len(job.content)


def test_a_pending_job_whose_message_was_lost_is_queued_again(world):
    job = queued(world)
    with later(job, LEASE + SECOND):
        assert jobs.resume_stalled() == [job.pk]
    assert (current(job).status, current(job).attempts) == (ExportStatus.DONE, 1)


def test_a_job_within_its_lease_an_expired_one_and_a_finished_one_are_left_alone(world):
    fresh = claimed(world)
    with later(fresh, LEASE - SECOND):
        assert jobs.resume_stalled() == []
    assert current(fresh).status == ExportStatus.RUNNING

    expired = queued(world)
    with time_machine.travel(expired.expires_at + SECOND, tick=False):
        assert fresh.pk not in jobs.resume_stalled()
        assert expired.pk not in jobs.resume_stalled()
    assert current(expired).status == ExportStatus.PENDING

    jobs.finish(fresh.pk, b"file", attempt=1)
    with later(fresh, LEASE + SECOND):
        assert fresh.pk not in jobs.resume_stalled()
    assert bytes(current(fresh).content) == b"file"


def test_progress_is_a_sign_of_life(world):
    job = claimed(world)
    with later(job, LEASE - SECOND):
        jobs.report_progress(job.pk, 1, 4, attempt=1)
    with later(job, LEASE + SECOND):
        assert jobs.resume_stalled() == []
    assert (current(job).status, current(job).progress) == (ExportStatus.RUNNING, 25)


def test_a_build_replaced_by_a_later_attempt_stores_nothing(world):
    job = claimed(world)
    with later(job, LEASE + SECOND):
        jobs.resume_stalled()  # attempt 2 builds and stores the file
    stored = current(job)
    # The first worker was only slow, not dead: what it does now changes nothing.
    jobs.report_progress(job.pk, 1, 2, attempt=1)
    assert not jobs.finish(job.pk, b"a second file", attempt=1)
    jobs.fail(job.pk, ValueError(), attempt=1)
    after = current(job)
    assert (after.status, after.attempts, after.progress) == (ExportStatus.DONE, 2, 100)
    assert (bytes(after.content), after.finished_at) == (bytes(stored.content), stored.finished_at)


def test_a_slow_build_queued_again_but_not_yet_reclaimed_may_still_finish(world):
    """Whichever build of the current attempt ends first stores the file; the message queued
    again then finds the job done and builds nothing."""
    job = claimed(world)
    with (
        later(job, LEASE + SECOND),
        celery_conf(celery_app, broker_url="memory://", task_always_eager=False),
    ):
        assert jobs.resume_stalled() == [job.pk]  # sent, not run
    assert current(job).status == ExportStatus.PENDING
    assert jobs.finish(job.pk, b"the slow one's file", attempt=1)
    assert jobs.claim(job.pk) is None  # the message queued again
    assert bytes(current(job).content) == b"the slow one's file"


def test_a_job_that_lost_its_worker_three_times_fails_and_says_so(world):
    job = claimed(world)
    ExportJob.objects.filter(pk=job.pk).update(attempts=jobs.MAX_ATTEMPTS)
    with later(job, LEASE + SECOND):
        assert jobs.resume_stalled() == []
    job = current(job)
    assert (job.status, job.error, job.content) == (ExportStatus.FAILED, "WorkerLost", None)
    client = Client()
    client.force_login(world.supervisor)
    page = client.get(reverse("exports:status", args=[job.token])).content.decode()
    assert "could not be prepared" in page


def test_two_rounds_queue_a_stalled_job_once(world, celery_broker):
    job = claimed(world)
    with later(job, LEASE + SECOND):
        assert jobs.resume_stalled() == [job.pk]
        assert jobs.resume_stalled() == []  # another worker's watchdog, the same instant
    client = redis.Redis.from_url(celery_broker.url)
    try:
        assert client.llen("celery") == 1
    finally:
        client.close()
    assert current(job).status == ExportStatus.PENDING


def test_with_the_broker_down_nothing_is_claimed(world):
    job = claimed(world)
    down = f"redis://127.0.0.1:{free_port()}/0"
    with (
        later(job, LEASE + SECOND),
        celery_conf(celery_app, broker_url=down, task_always_eager=False),
    ):
        assert jobs.resume_stalled() == []
    after = current(job)
    # Its heartbeat given back: the first round after the broker returns takes it.
    assert (after.heartbeat_at, after.status) == (job.heartbeat_at, ExportStatus.PENDING)
    with later(job, LEASE + 2 * SECOND):
        assert jobs.resume_stalled() == [job.pk]
    assert current(job).status == ExportStatus.DONE
