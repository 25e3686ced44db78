"""Running the nightly summaries for a practice and a date: safe to repeat, safe to kill.

1. `start_run` creates the practice's run for the date (unique), or finds it, and queues the
   next chunk unless it has finished: a second start, or a start after a crash, resumes.
2. `process_chunk` locks the run row (SKIP LOCKED: a duplicate task steps aside), reads the
   next chunk after the cursor, writes its summaries (one bulk upsert on the unique key) and
   flags, and advances the cursor, all in one transaction. A worker killed half-way loses
   only that uncommitted chunk; the next start does it again from the cursor.
3. After the last chunk, `finish` writes the therapists' and supervisors' roll-ups, marks the
   run finished and queues the morning digests.
4. Each worker's watchdog (flags.tasks.Watchdog) calls `resume_stalled` every few seconds:
   a run that no chunk holds and whose heartbeat is older than the lease (its worker was
   killed, or a broker outage lost the message of its next chunk) gets its next chunk queued
   again, from the cursor. A conditional claim (SKIP LOCKED, then a fresh heartbeat) lets one
   watchdog only resume it; a chunk queued twice all the same steps aside or finds the run
   further on (step 2), so nothing is written twice.
"""

from __future__ import annotations

import datetime
import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from celery import Task, current_app
from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from flags import rollups
from flags import rules as flags
from flags.measure_signals import derive
from flags.snapshot import couple_ids_after, load_chunk
from flags.summaries import summarize
from people.models import Practice, SignalThresholds
from ruptures.models import NightlyRun, RunStatus, RuptureSummary

if TYPE_CHECKING:
    from collections.abc import Mapping

    from people.models import User

log = logging.getLogger(__name__)

# The tasks that carry a run on (flags/tasks.py), named rather than imported: the tasks call
# this module, and a module that queued them by import would close a circle.
PROCESS_RUN_CHUNK = "flags.tasks.process_run_chunk"
SEND_DIGESTS = "flags.tasks.send_digests"


def task(name: str) -> Task:
    """A registered task by name: `.delay()` runs it in-process when there is no broker, like
    the task itself. Its module is loaded first, as Celery's autodiscovery would in a worker,
    for the processes (the web, a script) where autodiscovery hasn't run yet."""
    import_module(name.rpartition(".")[0])
    return current_app.tasks[name]


# Last night's run should be finished this long after its hour (the admin's overdue warning).
OVERDUE_AFTER = datetime.timedelta(hours=2)
# Unfinished runs of this many recent days are resumed (by the watchdog, and beat's next tick).
RESUME_WITHIN = datetime.timedelta(days=3)


class BackgroundWorkUnavailable(Exception):
    """The broker refused the run's next chunk: nothing was started (Run now says so)."""


def chunk_size() -> int:
    return int(getattr(settings, "NIGHTLY_CHUNK_SIZE", 250))


def lease() -> datetime.timedelta:
    """How long a run may sit unheld without progress before the watchdog resumes it."""
    return datetime.timedelta(seconds=getattr(settings, "NIGHTLY_LEASE_SECONDS", 30))


def day_just_ended(practice: Practice, now: datetime.datetime | None = None) -> datetime.date:
    local = (now or timezone.now()).astimezone(ZoneInfo(practice.time_zone))
    return local.date() - datetime.timedelta(days=1)


def is_due(practice: Practice, thresholds: SignalThresholds, now: datetime.datetime) -> bool:
    return now.astimezone(ZoneInfo(practice.time_zone)).hour >= thresholds.nightly_run_hour


def start_run(
    *, practice: Practice, for_date: datetime.date, started_by: User | None = None
) -> NightlyRun:
    """Create or resume the practice's run for the date, and queue its next chunk.

    Raises BackgroundWorkUnavailable when the broker refuses the chunk; a run this call
    created is then removed again, so no run waits for a message that was never sent.
    """
    with transaction.atomic():
        run, created = NightlyRun.objects.get_or_create(
            practice=practice,
            for_date=for_date,
            defaults={
                "started_by": started_by,
                "couples_total": practice_couple_count(practice.pk),
            },
        )
        if run.status != RunStatus.FINISHED:
            transaction.on_commit(lambda: queue_chunk(run.pk, created=created))
    if created:
        log.info("nightly run %s created for practice %s, %s", run.pk, practice.pk, for_date)
    return run


def queue_chunk(run_id: int, *, created: bool = False) -> None:
    """Queue the run's next chunk (after the commit that made or found the run)."""
    try:
        task(PROCESS_RUN_CHUNK).delay(run_id)
    except BrokerError as error:
        if created:  # untouched by any worker: as if never started
            NightlyRun.objects.filter(pk=run_id, status=RunStatus.PENDING, chunks=0).delete()
        raise BackgroundWorkUnavailable(str(error)) from error


def practice_couple_count(practice_id: int) -> int:
    from cycles.models import Couple

    return Couple.objects.filter(practice_id=practice_id).count()


def process_chunk(run_id: int, *, digests: bool = True) -> bool:
    """Do the run's next chunk; True when more remain (queue another), False when done."""
    with transaction.atomic():
        run = (
            NightlyRun.objects.select_for_update(skip_locked=True)
            .select_related("practice")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.status == RunStatus.FINISHED:
            return False  # finished, or another worker holds it and carries the chain on
        if run.status != RunStatus.RUNNING:
            run.status, run.error = RunStatus.RUNNING, ""
            run.started_at = run.started_at or timezone.now()
        couples = couple_ids_after(run.practice_id, run.cursor, chunk_size())
        if not couples:
            finish(run, digests=digests)
            return False
        summarise_chunk(run, couples)
        run.cursor = couples[-1][0]
        run.couples_total = max(run.couples_total, run.couples_done + len(couples))
        run.couples_done = run.couples_done + len(couples)
        run.chunks += 1
        run.heartbeat_at = timezone.now()
        run.save()
        return True


def summarise_chunk(run: NightlyRun, couples: list[tuple[int, int, str, int, str]]) -> None:
    evaluate(run.practice_id, run.practice.time_zone, couples, run.for_date)


def evaluate(
    practice_id: int,
    time_zone: str,
    couples: list[tuple[int, int, str, int, str]],
    for_date: datetime.date,
) -> None:
    """Write these couples' summaries for the date and open, close or reword their flags.

    The nightly run calls it for the day just ended, a chunk at a time; the same-day recheck
    (flags/same_day.py) for today, after a clinician saves. The couples' rows are locked first
    (in id order, as every caller takes them), so the two never write one couple's flags at
    once. A couple already evaluated for a later date keeps the flags of that later look: a run
    catching up on an earlier day writes its summaries but never reopens a flag closed since,
    nor opens one that the later look found untrue.
    """
    from cycles.models import Couple

    ids = [couple[0] for couple in couples]
    list(Couple.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
    looked_at_later = set(
        RuptureSummary.objects.filter(couple_id__in=ids, on_date__gt=for_date)
        .values_list("couple_id", flat=True)
        .distinct()
    )
    thresholds = SignalThresholds.for_practice(practice_id)
    chunk = load_chunk(couples, for_date, time_zone)
    rows, wanted = [], {}
    for couple in chunk:
        signals = derive(couple.points, couple.satisfaction, thresholds)
        for period, data in summarize(couple, for_date, signals).items():
            rows.append(
                RuptureSummary(couple_id=couple.pk, period=period, on_date=for_date, data=data)
            )
        if couple.pk not in looked_at_later:
            wanted[couple.pk] = flags.desired(couple, signals, for_date, thresholds)
    # The unique key makes a second run rewrite the same rows; computed_at keeps the first.
    RuptureSummary.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["couple", "period", "on_date"],
        update_fields=["data"],
    )
    flags.reconcile(wanted, for_date)


def finish(run: NightlyRun, *, digests: bool = True) -> None:
    """Roll up, mark finished and queue the digests, in the last chunk's transaction.

    The digests are queued before the commit, not after it: they read only flags that earlier
    chunks committed, and DigestLog's unique key sends each person one a date, so a digest task
    that runs early or twice is harmless. Queued after the commit, a broker outage (or a kill)
    between the two would leave a finished run whose digests never go; queued before, the
    outage raises here, the transaction rolls back, and the watchdog finishes the run again.
    """
    rollups.write(run.practice_id, run.for_date)
    run.status = RunStatus.FINISHED
    run.finished_at = run.heartbeat_at = timezone.now()
    run.couples_done = run.couples_total = max(run.couples_done, run.couples_total)
    run.save()
    if digests:
        task(SEND_DIGESTS).delay(run.pk)
    log.info(
        "nightly run %s finished: %s couples in %s chunks", run.pk, run.couples_done, run.chunks
    )


def run_now(practice: Practice, for_date: datetime.date, *, digests: bool = False) -> NightlyRun:
    """Do a whole run in this process, without a broker: for the demo's history and tools."""
    run, _ = NightlyRun.objects.get_or_create(
        practice=practice,
        for_date=for_date,
        defaults={"couples_total": practice_couple_count(practice.pk)},
    )
    while process_chunk(run.pk, digests=digests):
        pass
    run.refresh_from_db()
    return run


def record_failure(run_id: int, error: BaseException) -> None:
    """Mark the run failed with the error's type only: messages may quote clinical data."""
    NightlyRun.objects.filter(pk=run_id).exclude(status=RunStatus.FINISHED).update(
        status=RunStatus.FAILED, error=f"{type(error).__name__} (see the worker log)"
    )


def start_due_runs(now: datetime.datetime | None = None) -> list[int]:
    """Beat calls this every quarter hour: start (or resume) each practice's run that is due.

    A missed tick is caught up by the next; a doubled one finds the run already there.
    """
    now = now or timezone.now()
    started = []
    for practice in Practice.objects.all():
        thresholds = SignalThresholds.for_practice(practice.pk)
        if not is_due(practice, thresholds, now):
            continue
        for_date = day_just_ended(practice, now)
        done = NightlyRun.objects.filter(
            practice=practice, for_date=for_date, status=RunStatus.FINISHED
        ).exists()
        if not done:
            started.append(start_run(practice=practice, for_date=for_date).pk)
    # Runs of the last few days that a crash left unfinished are resumed too.
    recent = timezone.localdate(now) - RESUME_WITHIN
    for run in (
        NightlyRun.objects.filter(for_date__gte=recent)
        .exclude(status=RunStatus.FINISHED)
        .exclude(pk__in=started)
        .select_related("practice")
    ):
        started.append(start_run(practice=run.practice, for_date=run.for_date).pk)
    return started


def last_due(
    practice: Practice, thresholds: SignalThresholds, now: datetime.datetime
) -> datetime.datetime:
    """When the practice's latest nightly run fell due, in its own time zone."""
    local = now.astimezone(ZoneInfo(practice.time_zone))
    due = local.replace(hour=thresholds.nightly_run_hour, minute=0, second=0, microsecond=0)
    return due if due <= local else due - datetime.timedelta(days=1)


def overdue(practice: Practice, now: datetime.datetime | None = None) -> bool:
    """The run that last fell due should have finished within two hours of its hour."""
    now = now or timezone.now()
    due = last_due(practice, SignalThresholds.for_practice(practice.pk), now)
    if now < due + OVERDUE_AFTER:
        return False
    for_date = due.date() - datetime.timedelta(days=1)
    return not NightlyRun.objects.filter(
        practice=practice, for_date=for_date, status=RunStatus.FINISHED
    ).exists()


def chain_broken(run_id: int) -> None:
    """The run's next step could not be queued (the broker is down): its lease ends now, so
    the watchdog's first round with the broker back resumes it, not one a lease later."""
    NightlyRun.objects.filter(pk=run_id, status__in=[RunStatus.PENDING, RunStatus.RUNNING]).update(
        heartbeat_at=timezone.now() - lease()
    )


def resume_stalled(now: datetime.datetime | None = None) -> list[int]:
    """The watchdog's round: queue the next chunk of every recent run that has stalled.

    Stalled: pending or running, made in the last few days (whatever day it is for), its row
    held by no chunk (SKIP LOCKED leaves out a run whose chunk is still writing, however long
    that takes), and no heartbeat (made, chunk committed, resumed) for longer than the lease.
    The claim is a fresh heartbeat written in the same transaction, so a second watchdog skips
    the row while it is held and finds it fresh after. A failed run waits for Run now or
    beat's next tick: it failed for a reason.
    """
    now = now or timezone.now()
    with transaction.atomic():
        stalled = dict(
            NightlyRun.objects.select_for_update(skip_locked=True)
            .filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING])
            .filter(created_at__gte=now - RESUME_WITHIN, heartbeat_at__lt=now - lease())
            .order_by("pk")
            .values_list("pk", "heartbeat_at")
        )
        NightlyRun.objects.filter(pk__in=stalled).update(heartbeat_at=now)
    resumed: list[int] = []
    for run_id, heartbeat_at in stalled.items():
        try:
            queue_chunk(run_id)
        except BackgroundWorkUnavailable:
            give_back(stalled, claimed_at=now, skip=resumed)
            log.warning("nightly runs %s have stalled; the broker is not answering", list(stalled))
            break
        log.warning("nightly run %s had stalled since %s: resumed", run_id, heartbeat_at)
        resumed.append(run_id)
    return resumed


def give_back(
    claimed: dict[int, datetime.datetime], *, claimed_at: datetime.datetime, skip: list[int]
) -> None:
    """Undo the claim on runs not resumed after all (the broker is down), so the first round
    after it is back resumes them, not one a whole lease later."""
    for run_id, heartbeat_at in claimed.items():
        if run_id not in skip:
            NightlyRun.objects.filter(pk=run_id, heartbeat_at=claimed_at).update(
                heartbeat_at=heartbeat_at
            )


def health(now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """/health/'s nightly section: each practice's latest run, by practice id (two queries).

    Ids, dates, statuses and times only: anonymous callers read it. `overdue` is the admin
    page's warning: the run that last fell due has not finished within two hours of its hour.
    """
    now = now or timezone.now()
    runs_of = NightlyRun.objects.filter(practice=OuterRef("pk")).order_by("-for_date", "-pk")
    practices = Practice.objects.order_by("pk").annotate(
        last_run=Subquery(runs_of.values("pk")[:1]),
        last_finished=Subquery(runs_of.filter(status=RunStatus.FINISHED).values("for_date")[:1]),
        run_hour=Coalesce(
            Subquery(
                SignalThresholds.objects.filter(practice=OuterRef("pk")).values("nightly_run_hour")[
                    :1
                ]
            ),
            SignalThresholds._meta.get_field("nightly_run_hour").get_default(),
        ),
    )
    rows = list(practices.values("pk", "time_zone", "last_run", "last_finished", "run_hour"))
    latest = NightlyRun.objects.in_bulk([row["last_run"] for row in rows if row["last_run"]])
    return [_health_row(row, latest.get(row["last_run"]), now) for row in rows]


def _health_row(
    row: Mapping[str, Any], run: NightlyRun | None, now: datetime.datetime
) -> dict[str, Any]:
    local = now.astimezone(ZoneInfo(row["time_zone"]))
    due = local.replace(hour=row["run_hour"], minute=0, second=0, microsecond=0)
    due = due if due <= local else due - datetime.timedelta(days=1)
    expected = due.date() - datetime.timedelta(days=1)
    finished = row["last_finished"] is not None and row["last_finished"] >= expected
    report: dict[str, Any] = {
        "practice": row["pk"],
        "overdue": now >= due + OVERDUE_AFTER and not finished,
        "last_run": None,
    }
    if run is not None:
        report["last_run"] = {
            "for_date": run.for_date.isoformat(),
            "status": run.status,
            **{
                field: value.isoformat(timespec="seconds") if value else None
                for field, value in (
                    ("started_at", run.started_at),
                    ("finished_at", run.finished_at),
                    ("heartbeat_at", run.heartbeat_at),
                )
            },
        }
    return report
