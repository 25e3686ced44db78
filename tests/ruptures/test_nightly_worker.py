"""The nightly run on a real Celery worker process and a real Redis broker (not eager).

The worker (`celery -A config worker --pool=solo`, see conftest.start_worker) reads the test
database pytest-django made, and a Redis database of these tests' own; this process's Celery
app is pointed at the same Redis (conftest.celery_broker explains how). Tests are transactional
so the worker sees what they write. The kill test kills the worker with SIGKILL in the middle
of a chunk (made to wait there, deterministically, on a row lock this test holds), starts a new
worker, resumes, and compares every stored result with a clean in-process run of the same data.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from cycles.models import Couple
from flags import runs, tasks
from people.models import SignalThresholds, Supervision
from ruptures.codes import ConfrontationMarker, RuptureStatus, RuptureType, WhoMoved
from ruptures.models import (
    CaseloadSummary,
    DigestLog,
    Flag,
    FlagKind,
    NightlyRun,
    RunStatus,
    RuptureSummary,
)
from ruptures.services import rupture_repair
from sessions.models import AllianceRating, PostSessionReport
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from people.models import Practice, User

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONDON = ZoneInfo("Europe/London")
F = datetime.date(2026, 2, 9)
RUN_SECONDS = 90  # bounded waits; a healthy run of 40 couples takes a few seconds


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=LONDON)


def before(n: int) -> datetime.date:
    return F - datetime.timedelta(days=n)


def seed_case(therapist: User) -> Couple:
    """docs/domain.md's seed case: a walk-out after a confrontation (contribution 4), a no-show."""
    couple = make_couple(therapist)
    walked_out = make_session(
        couple, starts_at=at(before(7)), attendance="ended_early", left_early="partner_a"
    )
    make_rupture(
        walked_out,
        rupture_type=RuptureType.CONFRONTATION,
        who_moved=WhoMoved.PARTNER_A,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
        significance=5,
        therapist_contribution=4,
    )
    make_session(couple, starts_at=at(F), attendance="no_show")
    return couple


def varied_couple(therapist: User, n: int) -> Couple:
    """A couple whose record gives a different mix of summaries and flags for each `n`."""
    couple = make_couple(therapist)
    first = make_session(
        couple,
        starts_at=at(before(15 + n % 20)),
        **({"attendance": "ended_early", "left_early": "partner_b"} if n % 5 == 0 else {}),
    )
    second = make_session(
        couple,
        starts_at=at(before(8)),
        **({"attendance": "no_show"} if n % 3 == 0 else {}),
    )
    rupture = make_rupture(
        first,
        rupture_type=RuptureType.CONFRONTATION if n % 2 else RuptureType.WITHDRAWAL,
        therapist_contribution=1 + n % 5,
    )
    if n % 4 == 1:
        make_rupture(second)
    if n % 4 == 2:
        rupture_repair(rupture=rupture, repaired_in=second, status=RuptureStatus.RESOLVED)
    for session, total in ((first, 8), (second, 8 - n % 3)):
        AllianceRating.objects.create(
            session=session,
            partner="A",
            bond=total,
            goals=total,
            tasks=total,
            fit=total,
            entered_by="therapist",
        )
    if n % 6 == 4:
        PostSessionReport.objects.create(
            session=second,
            respondent="partner_b",
            tension=True,
            upsetting=2,
            resolved=2,
            entered_by="therapist",
        )
    return couple


def practice_with(couples: int) -> tuple[Practice, list[Couple]]:
    practice = make_practice()
    owner = make_user(practice, "Owner", therapist=True)
    colleague = make_user(practice, "Colleague", therapist=True)
    supervisor = make_user(practice, "Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=owner)
    made = [seed_case(owner)]
    made += [varied_couple(owner if n % 2 else colleague, n) for n in range(couples - 1)]
    return practice, sorted(made, key=lambda c: c.pk)


def current(run: NightlyRun) -> NightlyRun:
    return NightlyRun.objects.get(pk=run.pk)


def finished(run: NightlyRun) -> NightlyRun | None:
    found = current(run)
    if found.status == RunStatus.FAILED:
        pytest.fail(f"the run failed: {found.error}")
    return found if found.status == RunStatus.FINISHED else None


def results(practice: Practice) -> dict[str, list[tuple[Any, ...]]]:
    """Every summary and flag of the practice, by value (ids and timestamps left out)."""
    summaries = RuptureSummary.objects.filter(couple__practice=practice).values_list(
        "couple_id", "period", "on_date", "data"
    )
    flags = Flag.objects.filter(couple__practice=practice).values_list(
        "couple_id", "kind", "key", "opened_on", "closed_on", "detail", "evidence"
    )
    return {"summaries": sorted(summaries, key=repr), "flags": sorted(flags, key=repr)}


def test_worker_runs_the_nightly_summaries_end_to_end(start_worker, celery_broker, poll):
    """A run started here is done by the worker; then beat's task, queued here, makes the
    worker start and finish the run for the day just ended on its own."""
    assert not celery_broker.app.conf.task_always_eager
    practice, couples = practice_with(6)
    seed = couples[0]
    worker = start_worker(chunk_size=2)

    run = runs.start_run(practice=practice, for_date=F)  # queued on Redis when it commits

    done = poll(
        lambda: finished(run), timeout=RUN_SECONDS, what="the run to finish", explain=worker.log
    )
    assert (done.couples_done, done.couples_total, done.chunks) == (6, 6, 3)
    assert done.started_at is not None
    assert done.finished_at is not None
    summaries = RuptureSummary.objects.filter(on_date=F)
    assert sorted(summaries.values_list("couple_id", "period")) == sorted(
        (c.pk, p) for c in couples for p in ("day", "four_weeks", "treatment")
    )
    seed_flags = set(Flag.objects.open().filter(couple=seed).values_list("kind", flat=True))
    assert {
        FlagKind.CONFRONTATION_THEN_ABSENCE,
        FlagKind.HIGH_THERAPIST_CONTRIBUTION,
        FlagKind.UNRESOLVED_RUPTURE,
    } <= seed_flags
    seed_summary = summaries.get(couple=seed, period="treatment").data
    assert seed_summary["by_type"] == {"confrontation": 1}
    assert seed_summary["attendance_after_ruptures"] == {"no_show": 1}
    assert set(CaseloadSummary.objects.values_list("role", flat=True)) == {
        "therapist",
        "supervisor",
    }
    # The digests are the worker's too: queued by the run's last chunk, sent there.
    poll(
        lambda: DigestLog.objects.filter(for_date=F).count() == 3,
        timeout=RUN_SECONDS,
        what="the worker to send the digests",
        explain=worker.log,
    )
    assert mail.outbox == []  # nothing ran in this process

    SignalThresholds.objects.create(practice=practice, nightly_run_hour=0)  # due at any hour
    day = runs.day_just_ended(practice)
    tasks.start_due_runs.delay()

    nightly = poll(
        lambda: (
            NightlyRun.objects.filter(practice=practice, status=RunStatus.FINISHED)
            .exclude(pk=run.pk)
            .first()
        ),
        timeout=RUN_SECONDS,
        what="beat's task to start and finish the run for the day just ended",
        explain=worker.log,
    )
    assert nightly.for_date in {day, runs.day_just_ended(practice)}  # if midnight passed
    assert nightly.couples_done == 6
    assert RuptureSummary.objects.filter(on_date=nightly.for_date).count() == 6 * 3
    log = worker.log()
    assert "Task flags.tasks.start_due_runs[" in log
    assert "Task flags.tasks.send_digests[" in log
    assert log.count("Task flags.tasks.process_run_chunk[") >= 2 * (4 + 4)  # received, done


def test_killed_worker_leaves_the_run_at_its_cursor_and_a_new_one_finishes_it_identically(
    start_worker, celery_broker, other_connection, poll
):
    practice, couples = practice_with(40)
    chunk = 4
    blocked = couples[4 * chunk]  # first couple of the fifth chunk

    # Another transaction writes (uncommitted) the summary row the fifth chunk's upsert will
    # need: that chunk waits there, mid-transaction, holding the run's row lock, until this
    # test lets go. The worker is killed while it waits.
    with other_connection.hold(
        lambda: RuptureSummary.objects.create(couple=blocked, period="day", on_date=F)
    ):
        worker = start_worker(chunk_size=chunk)
        run = runs.start_run(practice=practice, for_date=F)
        poll(
            lambda: current(run).couples_done == 4 * chunk and other_connection.lock_waiters(),
            timeout=RUN_SECONDS,
            what="the worker to do four chunks and wait inside the fifth",
            explain=worker.log,
        )
        # --pool=solo: the chunks run in the worker's own process (it has no pool children),
        # so that is the process to kill.
        assert worker.children() == []
        worker.kill()
        assert not worker.alive()

    # Its connection gone, the killed chunk's transaction is rolled back and the lock freed.
    poll(lambda: other_connection.run_unlocked(run.pk), timeout=30, what="the lock to go")
    left = current(run)
    assert left.status == RunStatus.RUNNING
    assert left.finished_at is None
    assert (left.cursor, left.couples_done, left.chunks) == (couples[4 * chunk - 1].pk, 16, 4)
    assert sorted(
        set(RuptureSummary.objects.filter(on_date=F).values_list("couple_id", flat=True))
    ) == [c.pk for c in couples[:16]]
    assert set(Flag.objects.values_list("couple_id", flat=True)) <= {c.pk for c in couples[:16]}

    second = start_worker(chunk_size=chunk)
    again = runs.start_run(practice=practice, for_date=F)
    assert again.pk == run.pk
    done = poll(
        lambda: finished(run),
        timeout=RUN_SECONDS,
        what="the resumed run to finish",
        explain=second.log,
    )
    assert (done.couples_done, done.couples_total, done.chunks) == (40, 40, 10)
    resumed = results(practice)

    keys = [(couple, period) for couple, period, *_ in resumed["summaries"]]
    assert len(keys) == len(set(keys)) == 40 * 3
    assert {couple for couple, _ in keys} == {c.pk for c in couples}
    open_keys = [(c, kind, key) for c, kind, key, _, closed, *_ in resumed["flags"] if not closed]
    assert len(open_keys) == len(set(open_keys))
    assert resumed["flags"]

    # A clean run of the same data from nothing, in this process: identical results.
    second.stop()  # warm: lets it finish sending the digests first
    for model in (RuptureSummary, Flag, CaseloadSummary, DigestLog, NightlyRun):
        model.objects.all().delete()
    with celery_broker.eager():
        clean = NightlyRun.objects.create(practice=practice, for_date=F, couples_total=40)
        while runs.process_chunk(clean.pk):
            pass
    assert current(clean).status == RunStatus.FINISHED
    assert results(practice) == resumed
