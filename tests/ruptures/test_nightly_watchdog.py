"""The watchdog's decisions and a broker that is down, in-process (tasks eager unless a broker
is named; test_nightly_resume.py runs the same with real workers and a real outage):

- resume_stalled resumes a run no chunk holds whose heartbeat is older than the lease, from its
  cursor, and claims it once however many watchdogs race; it leaves alone a run whose chunk is
  still writing, a fresh run, a finished or failed one, and one made days ago;
- with the broker down it claims nothing it can't queue; a chunk that can't queue the next
  one ends the lease at once; a last chunk that can't queue the digests rolls back, so the
  run is finished (and mailed) once, when the broker is back;
- Run now with the broker down says so and leaves no run; a run it did not make is kept;
- /health/: each dependency's state, the nightly section in two queries.
"""

from __future__ import annotations

import datetime
import threading
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from flags import runs
from ruptures.models import CaseloadSummary, DigestLog, NightlyRun, RunStatus
from tests.factories import make_practice, make_user
from tests.processes import free_port
from tests.ruptures.conftest import celery_conf
from tests.ruptures.test_nightly_worker import F, practice_with

if TYPE_CHECKING:
    from collections.abc import Iterator

    from people.models import Practice

LEASE = datetime.timedelta(seconds=30)
HEALTH = reverse("health")


@pytest.fixture
def broker_down() -> Iterator[None]:
    """This process's Celery app sends to a port where no Redis answers."""
    with celery_conf(
        celery_app, broker_url=f"redis://127.0.0.1:{free_port()}/0", task_always_eager=False
    ):
        yield


def stale(practice: Practice, *, status: str = RunStatus.RUNNING, **fields: Any) -> NightlyRun:
    """A run whose heartbeat is older than the lease."""
    fields.setdefault("heartbeat_at", timezone.now() - LEASE - datetime.timedelta(seconds=1))
    return NightlyRun.objects.create(practice=practice, for_date=F, status=status, **fields)


def heartbeat(run: NightlyRun) -> datetime.datetime:
    return NightlyRun.objects.values_list("heartbeat_at", flat=True).get(pk=run.pk)


# -- resuming ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_stalled_run_resumes_from_its_cursor_and_two_watchdogs_claim_it_once(
    eager_celery, settings
):
    settings.NIGHTLY_CHUNK_SIZE = 2
    practice, _ = practice_with(5)
    run = stale(practice, couples_total=5)
    assert runs.process_chunk(run.pk) is True  # two couples done; then its worker died
    NightlyRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - 2 * LEASE)

    barrier = threading.Barrier(2)
    resumed: list[list[int]] = []

    def watchdog() -> None:
        try:
            barrier.wait(10)
            resumed.append(runs.resume_stalled())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=watchdog) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(resumed) == [[], [run.pk]]
    run.refresh_from_db()
    assert (run.status, run.couples_done, run.chunks) == (RunStatus.FINISHED, 5, 3)


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_chunk_is_still_writing_is_left_alone_however_long(
    eager_celery, other_connection
):
    run = stale(make_practice())
    before = heartbeat(run)
    with other_connection.hold(lambda: NightlyRun.objects.select_for_update().get(pk=run.pk)):
        assert runs.resume_stalled() == []
    assert heartbeat(run) == before


@pytest.mark.django_db
def test_only_unfinished_recent_runs_past_their_lease_are_resumed(eager_celery):
    practice = make_practice()
    resumable = stale(practice, status=RunStatus.PENDING)
    for fields in [
        {"heartbeat_at": timezone.now() - LEASE + datetime.timedelta(seconds=5)},
        {"status": RunStatus.FINISHED},
        {"status": RunStatus.FAILED},
        {"created_at": timezone.now() - datetime.timedelta(days=4)},  # left to beat and people
    ]:
        stale(make_practice(), **fields)

    assert runs.resume_stalled() == [resumable.pk]
    assert runs.resume_stalled() == []  # claimed: fresh now


@pytest.mark.django_db
def test_with_the_broker_down_the_claim_is_given_back(broker_down):
    run = stale(make_practice())
    before = heartbeat(run)

    assert runs.resume_stalled() == []

    assert heartbeat(run) == before  # the first round with the broker back resumes it


@pytest.mark.django_db
def test_a_chunk_that_cannot_queue_the_next_ends_the_lease_at_once(eager_celery):
    run = NightlyRun.objects.create(practice=make_practice(), for_date=F, status="running")
    assert runs.resume_stalled() == []  # its heartbeat is fresh

    runs.chain_broken(run.pk)

    assert runs.resume_stalled() == [run.pk]


@pytest.mark.django_db
def test_a_last_chunk_that_cannot_queue_the_digests_rolls_back_and_mails_once_later(
    broker_down, settings
):
    settings.NIGHTLY_CHUNK_SIZE = 10
    practice, _ = practice_with(3)
    run = NightlyRun.objects.create(practice=practice, for_date=F, couples_total=3)
    assert runs.process_chunk(run.pk) is True

    with pytest.raises(runs.BrokerError):
        runs.process_chunk(run.pk)  # no couples left: finish, then the digests can't go

    run.refresh_from_db()
    assert (run.status, run.finished_at) == (RunStatus.RUNNING, None)
    assert not CaseloadSummary.objects.exists()
    with celery_conf(celery_app, task_always_eager=True):
        assert runs.process_chunk(run.pk) is False
        assert runs.process_chunk(run.pk) is False  # a duplicate finds it finished
    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED
    recipients = [to for message in mail.outbox for to in message.to]
    assert recipients
    assert len(recipients) == len(set(recipients)) == DigestLog.objects.count()


# -- Run now -------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client: Any) -> Any:
    client.force_login(make_user(make_practice(), "Ada Admin", practice_admin=True))
    return client


@pytest.mark.django_db(transaction=True)  # the chunk is queued once the run is committed
def test_run_now_with_the_broker_down_says_so_and_leaves_no_run(admin_client, broker_down):
    response = admin_client.post(reverse("ruptures:run_start"), follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Background work is unavailable right now, so the summaries for" in page
    assert 'id="background-down"' in page
    assert not NightlyRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_start_with_the_broker_down_keeps_a_run_it_did_not_make(broker_down):
    practice = make_practice()
    failed = stale(practice, status=RunStatus.FAILED, cursor=7, chunks=1)

    with pytest.raises(runs.BackgroundWorkUnavailable):
        runs.start_run(practice=practice, for_date=F)

    kept = NightlyRun.objects.get()
    assert (kept.pk, kept.status, kept.cursor) == (failed.pk, RunStatus.FAILED, 7)


# -- /health/ ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_health_without_a_broker_by_design_is_ok(client, eager_celery):
    response = client.get(HEALTH)
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert (body["broker"], body["worker"]) == ({"status": "not used"}, {"status": "not used"})
    assert client.get(HEALTH + "?strict").status_code == 200


@pytest.mark.django_db
def test_health_with_the_broker_down_is_degraded_and_fails_when_strict(client, broker_down):
    response = client.get(HEALTH)
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["broker"] == {"status": "down"}
    assert response.json()["worker"] == {"status": "not seen"}
    assert client.get(HEALTH + "?strict").status_code == 503


@pytest.mark.django_db
def test_health_says_when_the_worker_was_last_seen(client, celery_broker):
    from flags.worker import record_worker_heartbeat

    with time_machine.travel(timezone.now() - datetime.timedelta(minutes=2), tick=False):
        record_worker_heartbeat()
    worker = client.get(HEALTH).json()["worker"]
    assert worker["status"] == "not seen"
    assert 115 <= worker["seconds_ago"] <= 130
    assert client.get(HEALTH + "?strict").status_code == 503

    record_worker_heartbeat()
    assert client.get(HEALTH).json()["worker"]["status"] == "ok"
    assert client.get(HEALTH + "?strict").status_code == 200


@pytest.mark.django_db
def test_health_nightly_section_is_each_practices_latest_run_in_two_queries(
    django_assert_num_queries,
):
    # 10 Feb 2026, 05:00 in London: the run for the 9th fell due at 02:00, overdue since 04:00.
    now = datetime.datetime(2026, 2, 10, 5, 0, tzinfo=datetime.UTC)
    practices = [make_practice() for _ in range(30)]
    finished, late = practices[0], practices[1]
    NightlyRun.objects.create(practice=finished, for_date=F - datetime.timedelta(days=1))
    NightlyRun.objects.create(practice=finished, for_date=F, status=RunStatus.FINISHED)
    NightlyRun.objects.create(practice=late, for_date=F, status=RunStatus.RUNNING)

    with django_assert_num_queries(2):
        section = runs.health(now)

    by_practice = {row["practice"]: row for row in section}
    assert len(by_practice) == 30
    assert by_practice[finished.pk]["overdue"] is False
    assert by_practice[finished.pk]["last_run"]["status"] == "finished"
    assert by_practice[finished.pk]["last_run"]["for_date"] == F.isoformat()
    assert by_practice[late.pk]["overdue"] is True
    assert by_practice[late.pk]["last_run"]["status"] == "running"
    assert by_practice[practices[2].pk] == {
        "practice": practices[2].pk,
        "overdue": True,
        "last_run": None,
    }
    with django_assert_num_queries(2):
        runs.health(now - datetime.timedelta(hours=2))  # 03:00: nothing overdue yet
    assert not any(row["overdue"] for row in runs.health(now - datetime.timedelta(hours=2)))
