"""A nightly run is safe to repeat, to race and to tick twice (in-process; Celery eager).

- Repeated: starting a finished run again, redoing the whole run, or a chunk delivered twice
  leaves every summary, flag and roll-up exactly as it was, and mails nobody a second time.
- Raced: two starts at once share one run and write every couple once; a chunk started while
  another connection holds the run's row steps aside (SELECT ... FOR UPDATE SKIP LOCKED).
- Beat: `start_due_runs` starts a practice's run once its local hour has come, a doubled tick
  makes no second run, and a finished run is not started again.
"""

from __future__ import annotations

import datetime
import threading
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.db import connections

from cycles.models import Couple
from flags import runs, tasks
from people.models import ChangeEvent, Practice, SignalThresholds, Supervision
from ruptures.codes import RuptureStatus, RuptureType
from ruptures.models import (
    CaseloadSummary,
    DigestLog,
    Flag,
    NightlyRun,
    RunStatus,
    RuptureSummary,
)
from ruptures.services import rupture_repair
from sessions.models import AllianceRating
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.db.models import QuerySet

LONDON = ZoneInfo("Europe/London")
UTC = datetime.UTC
F = datetime.date(2026, 2, 9)


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=LONDON)


def caseload(practice: Practice | None = None, couples: int = 7) -> Practice:
    """Two therapists (one supervised) whose couples raise most kinds of flag."""
    practice = practice or make_practice()
    owner = make_user(practice, "Owner", therapist=True)
    colleague = make_user(practice, "Colleague", therapist=True)
    supervisor = make_user(practice, "Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=owner)
    for n in range(couples):
        couple = make_couple(owner if n % 2 == 0 else colleague)
        first = make_session(
            couple,
            starts_at=at(F - datetime.timedelta(days=14 + n)),
            **({"attendance": "ended_early", "left_early": "partner_a"} if n % 3 == 0 else {}),
        )
        second = make_session(couple, starts_at=at(F - datetime.timedelta(days=7)))
        rupture = make_rupture(
            first,
            rupture_type=RuptureType.CONFRONTATION if n % 2 else RuptureType.WITHDRAWAL,
            therapist_contribution=1 + n % 5,
        )
        make_rupture(second)
        if n % 4 == 1:
            rupture_repair(rupture=rupture, repaired_in=second, status=RuptureStatus.RESOLVED)
        for session, a in ((first, 9), (second, 6 if n % 2 else 9)):
            AllianceRating.objects.create(
                session=session,
                partner="A",
                bond=a,
                goals=a,
                tasks=a,
                fit=a,
                entered_by="therapist",
            )
    return practice


def rows(queryset: QuerySet[Any], *fields: str) -> list[tuple[Any, ...]]:
    return sorted(queryset.values_list(*fields), key=repr)


def snapshot(practice: Practice) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored result of the practice's runs, by value."""
    return {
        "summaries": rows(
            RuptureSummary.objects.filter(couple__practice=practice),
            "couple_id",
            "period",
            "on_date",
            "data",
            "computed_at",
        ),
        "flags": rows(
            Flag.objects.filter(couple__practice=practice),
            "pk",
            "couple_id",
            "kind",
            "key",
            "opened_on",
            "closed_on",
            "detail",
            "evidence",
        ),
        "rollups": rows(
            CaseloadSummary.objects.filter(practice=practice),
            "person_id",
            "role",
            "on_date",
            "data",
            "computed_at",
        ),
        "digests": rows(
            DigestLog.objects.filter(person__practice=practice),
            "person_id",
            "for_date",
            "sent_at",
            "flags_open",
        ),
    }


# -- repeated ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_starting_a_finished_run_again_changes_nothing_and_mails_nobody(run_nightly, settings):
    settings.NIGHTLY_CHUNK_SIZE = 2
    practice = caseload()
    first = run_nightly(practice, F)
    before, sent = snapshot(practice), len(mail.outbox)
    assert before["flags"]
    assert sent

    again = run_nightly(practice, F)

    assert again.pk == first.pk
    assert (again.finished_at, again.chunks) == (first.finished_at, first.chunks)
    assert NightlyRun.objects.count() == 1
    assert snapshot(practice) == before
    assert len(mail.outbox) == sent


@pytest.mark.django_db
def test_redoing_a_whole_run_rewrites_identical_rows_and_mails_nobody_twice(run_nightly, settings):
    settings.NIGHTLY_CHUNK_SIZE = 2
    practice = caseload()
    run_nightly(practice, F)
    before, sent = snapshot(practice), len(mail.outbox)

    NightlyRun.objects.all().delete()
    run_nightly(practice, F)

    assert snapshot(practice) == before  # computed_at and flag ids included: updated in place
    assert len(mail.outbox) == sent


@pytest.mark.django_db
def test_chunks_delivered_twice_rewrite_the_same_rows(run_nightly, settings, eager_celery):
    settings.NIGHTLY_CHUNK_SIZE = 3
    practice = caseload()
    run = run_nightly(practice, F)
    before, sent = snapshot(practice), len(mail.outbox)

    # As if every chunk's task were redelivered from the start (a lost acknowledgement).
    NightlyRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, cursor=0, couples_done=0, chunks=0, finished_at=None
    )
    tasks.process_run_chunk.delay(run.pk)

    run.refresh_from_db()
    assert (run.status, run.couples_done, run.chunks) == (RunStatus.FINISHED, 7, 3)
    assert snapshot(practice) == before
    assert len(mail.outbox) == sent


@pytest.mark.django_db
def test_the_change_trail_has_each_derived_row_once_and_nothing_from_a_redelivered_run(
    run_nightly, settings, eager_celery
):
    """The nightly's tables are audited per statement (people 0007), still one trail row per
    row written: each summary and flag inserted once, labelled as the nightly job's, with its
    couple's case code; chunks redelivered rewrite nothing, so the trail gains nothing."""
    settings.NIGHTLY_CHUNK_SIZE = 3
    practice = caseload()
    run = run_nightly(practice, F)

    def trail(table: str) -> list[tuple[Any, ...]]:
        return rows(
            ChangeEvent.objects.filter(table_name=table, practice=practice),
            "row_id",
            "operation",
            "couple_id",
            "case_code",
            "actor_label",
        )

    summaries = rows(RuptureSummary.objects.filter(couple__practice=practice), "pk", "couple")
    flags = rows(Flag.objects.filter(couple__practice=practice), "pk", "couple")
    codes = dict(Couple.objects.filter(practice=practice).values_list("pk", "case_code"))
    expected = {
        table: sorted(
            ((pk, "INSERT", couple, codes[couple], "nightly") for pk, couple in written), key=repr
        )
        for table, written in (("ruptures_rupturesummary", summaries), ("ruptures_flag", flags))
    }
    assert {table: trail(table) for table in expected} == expected

    NightlyRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, cursor=0, couples_done=0, chunks=0, finished_at=None
    )
    tasks.process_run_chunk.delay(run.pk)

    assert {table: trail(table) for table in expected} == expected


@pytest.mark.django_db
def test_a_later_date_keeps_the_earlier_dates_rows(run_nightly):
    practice = caseload()
    run_nightly(practice, F)
    earlier = snapshot(practice)["summaries"]

    run_nightly(practice, F + datetime.timedelta(days=1))

    summaries = snapshot(practice)["summaries"]
    assert [r for r in summaries if r[2] == F] == earlier
    assert len(summaries) == 2 * len(earlier)


# -- raced ---------------------------------------------------------------------------------------


def in_threads(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run `work` in `count` threads released at the same instant; each has its own
    database connection, closed when it ends."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            barrier.wait(10)
            results.append(work())
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_two_starts_at_once_make_one_run_and_write_each_couple_once(eager_celery, settings):
    settings.NIGHTLY_CHUNK_SIZE = 2
    practice = caseload()

    started = in_threads(2, lambda: runs.start_run(practice=practice, for_date=F).pk)

    assert len(set(started)) == 1
    run = NightlyRun.objects.get()
    assert (run.status, run.couples_done, run.couples_total) == (RunStatus.FINISHED, 7, 7)
    raced = snapshot(practice)
    keys = [(couple, period) for couple, period, *_ in raced["summaries"]]
    assert len(keys) == len(set(keys)) == 7 * 3
    recipients = [to for message in mail.outbox for to in message.to]
    assert len(recipients) == len(set(recipients)) == len(raced["digests"])

    # The same data run once, alone, from nothing: the race changed no result.
    for model in (RuptureSummary, Flag, CaseloadSummary, DigestLog, NightlyRun):
        model.objects.all().delete()
    runs.start_run(practice=practice, for_date=F)
    alone = snapshot(practice)
    for table, fields in (
        ("summaries", slice(0, 4)),
        ("flags", slice(1, None)),
        ("rollups", slice(0, 4)),
    ):
        assert sorted((r[fields] for r in raced[table]), key=repr) == sorted(
            (r[fields] for r in alone[table]), key=repr
        )


@pytest.mark.django_db(transaction=True)
def test_chunk_steps_aside_while_another_connection_holds_the_run(eager_celery, other_connection):
    practice = caseload(couples=2)
    run = NightlyRun.objects.create(practice=practice, for_date=F, couples_total=2)

    with other_connection.hold(lambda: NightlyRun.objects.select_for_update().get(pk=run.pk)):
        assert runs.process_chunk(run.pk) is False

    assert not RuptureSummary.objects.exists()
    assert not Flag.objects.exists()
    run.refresh_from_db()
    assert (run.status, run.cursor, run.couples_done, run.chunks) == (RunStatus.PENDING, 0, 0, 0)

    assert runs.process_chunk(run.pk) is True  # lock released: the work goes ahead
    assert RuptureSummary.objects.count() == 2 * 3


@pytest.mark.django_db(transaction=True)
def test_second_chunk_steps_aside_while_the_first_is_still_writing(
    eager_celery, settings, other_connection, poll
):
    """Chunk A locks the run and waits, mid-transaction, on a row another transaction holds;
    chunk B, started meanwhile, returns at once without doing anything."""
    settings.NIGHTLY_CHUNK_SIZE = 2
    practice = caseload(couples=4)
    couples = list(practice_couples(practice))
    run = NightlyRun.objects.create(practice=practice, for_date=F, couples_total=4)

    with other_connection.hold(
        lambda: RuptureSummary.objects.create(couple_id=couples[0], period="day", on_date=F)
    ):
        first: list[bool] = []
        chunk_a = threading.Thread(target=lambda: closing(first, run.pk))
        chunk_a.start()
        poll(other_connection.lock_waiters, timeout=20, what="chunk A to wait on the lock")

        assert runs.process_chunk(run.pk) is False  # chunk B
        assert chunk_a.is_alive()
    chunk_a.join(30)

    assert first == [True]
    run.refresh_from_db()
    assert (run.cursor, run.couples_done, run.chunks) == (couples[1], 2, 1)
    assert sorted(RuptureSummary.objects.values_list("couple_id", flat=True)) == sorted(
        couples[:2] * 3
    )


def practice_couples(practice: Practice) -> list[int]:
    from cycles.models import Couple

    return list(
        Couple.objects.filter(practice=practice).order_by("pk").values_list("pk", flat=True)
    )


def closing(results: list[bool], run_id: int) -> None:
    try:
        results.append(runs.process_chunk(run_id))
    finally:
        connections.close_all()


# -- beat ----------------------------------------------------------------------------------------


def practice_in(zone: str, name: str) -> Practice:
    practice = make_practice(name)
    practice.time_zone = zone
    practice.save()
    return practice


def tick(when: datetime.datetime, capture: Any, *, execute: bool = True) -> list[Any]:
    """One beat tick at `when` (UTC), the queued chunks executed or only collected."""
    with time_machine.travel(when, tick=False), capture(execute=execute) as queued:
        tasks.start_due_runs.delay()
    return queued


def started(practice: Practice) -> list[tuple[datetime.date, str]]:
    return list(NightlyRun.objects.filter(practice=practice).values_list("for_date", "status"))


@pytest.mark.django_db
def test_beat_starts_each_practice_once_its_local_hour_has_come(
    eager_celery, django_capture_on_commit_callbacks
):
    london = practice_in("Europe/London", "London")
    new_york = practice_in("America/New_York", "New York")

    day_before = F - datetime.timedelta(days=1)

    tick(datetime.datetime(2026, 2, 10, 1, 45, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert started(london) == []  # 01:45 in London: its hour (2) has not come
    assert started(new_york) == [(day_before, RunStatus.FINISHED)]  # 20:45 on the 9th there

    tick(datetime.datetime(2026, 2, 10, 5, 30, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert started(london) == [(F, RunStatus.FINISHED)]
    assert len(started(new_york)) == 1  # 00:30 on the 10th in New York: not yet

    tick(datetime.datetime(2026, 2, 10, 6, 59, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert len(started(new_york)) == 1  # 01:59

    tick(datetime.datetime(2026, 2, 10, 7, 0, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert sorted(started(new_york)) == [
        (day_before, RunStatus.FINISHED),
        (F, RunStatus.FINISHED),  # 02:00 on the 10th: the 9th, New York's day just ended
    ]
    assert len(started(london)) == 1


@pytest.mark.django_db
def test_practices_own_run_hour_decides_when_it_is_due(
    eager_celery, django_capture_on_commit_callbacks
):
    london = practice_in("Europe/London", "London")
    SignalThresholds.objects.create(practice=london, nightly_run_hour=7)

    tick(datetime.datetime(2026, 2, 10, 6, 59, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert started(london) == []
    tick(datetime.datetime(2026, 2, 10, 7, 0, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert started(london) == [(F, RunStatus.FINISHED)]


@pytest.mark.django_db
def test_a_doubled_tick_makes_no_second_run(eager_celery, django_capture_on_commit_callbacks):
    practice = caseload(practice_in("Europe/London", "London"), couples=2)
    when = datetime.datetime(2026, 2, 10, 3, 0, tzinfo=UTC)

    first = tick(when, django_capture_on_commit_callbacks, execute=False)
    second = tick(when, django_capture_on_commit_callbacks, execute=False)
    assert started(practice) == [(F, RunStatus.PENDING)]
    assert len(first) == len(second) == 1  # each tick queues the (same) run's next chunk

    with django_capture_on_commit_callbacks(execute=True):
        for queued in (*first, *second):
            queued()
    run = NightlyRun.objects.get()
    assert (run.status, run.couples_done) == (RunStatus.FINISHED, 2)
    assert RuptureSummary.objects.count() == 2 * 3


@pytest.mark.django_db
def test_a_finished_run_is_not_started_again(eager_celery, django_capture_on_commit_callbacks):
    practice = caseload(practice_in("Europe/London", "London"), couples=2)
    tick(datetime.datetime(2026, 2, 10, 3, 0, tzinfo=UTC), django_capture_on_commit_callbacks)
    run = NightlyRun.objects.get()
    assert run.status == RunStatus.FINISHED

    later = datetime.datetime(2026, 2, 10, 9, 0, tzinfo=UTC)
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks() as queued:
        assert runs.start_due_runs() == []
    assert queued == []
    assert NightlyRun.objects.get().finished_at == run.finished_at
    assert started(practice) == [(F, RunStatus.FINISHED)]


@pytest.mark.django_db
def test_a_failed_run_is_resumed_by_the_next_tick(
    eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.NIGHTLY_CHUNK_SIZE = 2
    practice = caseload(practice_in("Europe/London", "London"), couples=5)
    run = NightlyRun.objects.create(practice=practice, for_date=F, couples_total=5)
    assert runs.process_chunk(run.pk) is True
    runs.record_failure(run.pk, RuntimeError("the database went away"))
    run.refresh_from_db()
    assert (run.status, run.cursor) == (RunStatus.FAILED, practice_couples(practice)[1])
    assert run.error == "RuntimeError (see the worker log)"

    tick(datetime.datetime(2026, 2, 10, 3, 0, tzinfo=UTC), django_capture_on_commit_callbacks)

    run.refresh_from_db()
    assert (run.status, run.error, run.couples_done, run.chunks) == (
        RunStatus.FINISHED,
        "",
        5,
        3,
    )


def test_beat_schedule_ticks_start_due_runs_every_quarter_hour():
    entry = django_settings.CELERY_BEAT_SCHEDULE["nightly-summaries"]
    assert entry["task"] == "flags.tasks.start_due_runs"
    assert entry["schedule"].minute == {0, 15, 30, 45}
    assert entry["schedule"].hour == set(range(24))
