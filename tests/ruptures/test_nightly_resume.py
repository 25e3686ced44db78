"""A nightly run resumes within a minute, by itself, after a worker is SIGKILLed mid-chunk or
the broker dies mid-run: real worker processes, a redis-server of this module's own (killed
and started again on its port, empty), no beat process, nobody calling start_run again.

Mid-run is made deterministic as in test_nightly_worker: another transaction holds the row the
fifth chunk's upsert needs, so that chunk waits, mid-transaction, until the test lets go. The
run must then finish with each person's digest sent once, and every summary and flag identical
to a clean run of the same data. The seconds measured are printed (pytest -s shows them).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse

from config import settings as configured
from flags import runs
from ruptures.models import CaseloadSummary, DigestLog, Flag, NightlyRun, RunStatus, RuptureSummary
from tests.ruptures.test_nightly_worker import F, current, finished, practice_with, results

if TYPE_CHECKING:
    from people.models import Practice
    from tests.processes import RedisServer
    from tests.ruptures.conftest import Broker, Worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHUNK = 4
COUPLES = 40
RESUME_SECONDS = 60  # the promise: finished within a minute, with no beat tick
CONSOLE = {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
PEOPLE = 3  # practice_with's two therapists and the supervisor: one digest each
SUBJECT = "Subject: Cycles:"  # each digest, as the console backend writes it to the worker log


@pytest.fixture
def broker_url(redis_server: RedisServer) -> str:
    """Both tests use a redis-server of their own: one of them kills it."""
    return redis_server.url


@pytest.fixture
def health(client: Any, settings: Any) -> Any:
    """/health/ in this process, reading the database cache the workers write their heartbeat
    to (the test settings keep this process's own cache in memory)."""
    settings.CACHES = configured.CACHES

    def get(query: str = "") -> tuple[int, dict[str, Any]]:
        response = client.get(reverse("health") + query)
        return response.status_code, response.json()

    return get


def hold_fifth_chunk(couples: list[Any]) -> Any:
    blocked = couples[4 * CHUNK]  # first couple of the fifth chunk
    return lambda: RuptureSummary.objects.create(couple=blocked, period="day", on_date=F)


def clean_run(practice: Practice, broker: Broker) -> dict[str, list[tuple[Any, ...]]]:
    """The same data from nothing, in this process, in one go."""
    for model in (RuptureSummary, Flag, CaseloadSummary, DigestLog, NightlyRun):
        model.objects.all().delete()
    with broker.eager():
        run = NightlyRun.objects.create(practice=practice, for_date=F, couples_total=COUPLES)
        while runs.process_chunk(run.pk, digests=False):
            pass
    assert current(run).status == RunStatus.FINISHED
    return results(practice)


def digests_sent(*workers: Worker) -> int:
    return sum(worker.log().count(SUBJECT) for worker in workers)


def test_a_run_whose_worker_was_killed_finishes_on_a_new_worker_within_a_minute(
    start_worker, celery_broker, other_connection, poll, health
):
    practice, couples = practice_with(COUPLES)
    with other_connection.hold(hold_fifth_chunk(couples)):
        first = start_worker(chunk_size=CHUNK, **CONSOLE)
        run = runs.start_run(practice=practice, for_date=F)
        poll(
            lambda: current(run).couples_done == 4 * CHUNK and other_connection.lock_waiters(),
            timeout=RESUME_SECONDS,
            what="the worker to do four chunks and wait inside the fifth",
            explain=first.log,
        )
        first.kill()  # SIGKILL: its message stays unacknowledged in Redis for an hour
        killed = time.monotonic()

    second = start_worker(chunk_size=CHUNK, **CONSOLE)
    done = poll(
        lambda: finished(run),
        timeout=RESUME_SECONDS,
        what="the new worker's watchdog to resume and finish the run",
        explain=second.log,
    )
    took = time.monotonic() - killed
    print(f"\nfinished {took:.1f} s after the SIGKILL")
    assert took < RESUME_SECONDS
    assert "had stalled since" in second.log()  # the watchdog, not beat or a second start
    assert (done.couples_done, done.couples_total, done.chunks) == (COUPLES, COUPLES, 10)
    status, body = health("?strict")
    assert (status, body["broker"]["status"], body["worker"]["status"]) == (200, "ok", "ok")

    poll(lambda: digests_sent(second) >= PEOPLE, timeout=30, what="the digests", explain=second.log)
    second.stop()  # warm: anything still queued is done first
    assert DigestLog.objects.filter(for_date=F).count() == PEOPLE
    assert digests_sent(first, second) == PEOPLE  # each sent once
    resumed = results(practice)
    assert resumed["flags"]
    assert clean_run(practice, celery_broker) == resumed


def test_a_run_cut_off_by_a_broker_outage_finishes_within_a_minute_of_its_return(
    redis_server, start_worker, celery_broker, other_connection, poll, health
):
    practice, couples = practice_with(COUPLES)
    with other_connection.hold(hold_fifth_chunk(couples)):
        worker = start_worker(chunk_size=CHUNK, **CONSOLE)
        run = runs.start_run(practice=practice, for_date=F)
        poll(
            lambda: current(run).couples_done == 4 * CHUNK and other_connection.lock_waiters(),
            timeout=RESUME_SECONDS,
            what="the worker to do four chunks and wait inside the fifth",
            explain=worker.log,
        )
        redis_server.stop()  # killed: every message in it is lost

    # The fifth chunk commits; the sixth can't be queued, and the chain is broken.
    poll(
        lambda: "left to the watchdog" in worker.log(),
        timeout=30,
        what="the worker to find the broker gone",
        explain=worker.log,
    )
    assert current(run).couples_done == 5 * CHUNK
    # Meanwhile the worker's heartbeat goes on (it is in the database); the broker is down.
    status, body = health("?strict")
    assert (status, body["broker"]["status"], body["worker"]["status"]) == (503, "down", "ok")
    redis_server.start()  # the same port, empty
    back = time.monotonic()

    done = poll(
        lambda: finished(run),
        timeout=RESUME_SECONDS,
        what="the run to finish once the broker is back",
        explain=worker.log,
    )
    took = time.monotonic() - back
    print(f"\nfinished {took:.1f} s after the broker came back")
    assert took < RESUME_SECONDS
    assert worker.alive()  # the same worker: it reconnected by itself
    assert "had stalled since" in worker.log()
    assert (done.couples_done, done.chunks) == (COUPLES, 10)

    poll(lambda: digests_sent(worker) >= PEOPLE, timeout=30, what="the digests", explain=worker.log)
    worker.stop()
    assert DigestLog.objects.filter(for_date=F).count() == PEOPLE
    assert digests_sent(worker) == PEOPLE
    resumed = results(practice)
    assert clean_run(practice, celery_broker) == resumed
