"""Running the nightly summaries for a practice and a date: safe to repeat, safe to kill.

1. `start_run` creates the practice's run for the date (unique), or finds it, and queues the
   next chunk unless it has finished: a second start, or a start after a crash, resumes.
2. `process_chunk` locks the run row (SKIP LOCKED: a duplicate task steps aside), reads the
   next chunk after the cursor, writes its summaries (one bulk upsert on the unique key) and
   flags, and advances the cursor, all in one transaction. A worker killed half-way loses
   only that uncommitted chunk; the next start does it again from the cursor.
3. After the last chunk, `finish` writes the therapists' and supervisors' roll-ups, marks the
   run finished and queues the morning digests.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from people.models import Practice, SignalThresholds
from ruptures.models import NightlyRun, RunStatus, RuptureSummary
from ruptures.nightly import flags, rollups
from ruptures.nightly.snapshot import couple_ids_after, load_chunk
from ruptures.nightly.summaries import summarize
from sessions.measures import derive

if TYPE_CHECKING:
    from people.models import User

log = logging.getLogger(__name__)

# Last night's run should be finished this long after its hour (the admin's overdue warning).
OVERDUE_AFTER = datetime.timedelta(hours=2)
# Unfinished runs of this many recent days are resumed by beat's next tick.
RESUME_WITHIN = datetime.timedelta(days=3)


def chunk_size() -> int:
    return int(getattr(settings, "NIGHTLY_CHUNK_SIZE", 250))


def day_just_ended(practice: Practice, now: datetime.datetime | None = None) -> datetime.date:
    local = (now or timezone.now()).astimezone(ZoneInfo(practice.time_zone))
    return local.date() - datetime.timedelta(days=1)


def is_due(practice: Practice, thresholds: SignalThresholds, now: datetime.datetime) -> bool:
    return now.astimezone(ZoneInfo(practice.time_zone)).hour >= thresholds.nightly_run_hour


def start_run(
    *, practice: Practice, for_date: datetime.date, started_by: User | None = None
) -> NightlyRun:
    """Create or resume the practice's run for the date, and queue its next chunk."""
    from ruptures.tasks import process_run_chunk

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
            process_run_chunk.delay_on_commit(run.pk)
    if created:
        log.info("nightly run %s created for practice %s, %s", run.pk, practice.pk, for_date)
    return run


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
        run.save()
        return True


def summarise_chunk(run: NightlyRun, couples: list[tuple[int, int, str, int, str]]) -> None:
    thresholds = SignalThresholds.for_practice(run.practice_id)
    chunk = load_chunk(couples, run.for_date, run.practice.time_zone)
    rows, wanted = [], {}
    for couple in chunk:
        signals = derive(couple.points, couple.satisfaction, thresholds)
        for period, data in summarize(couple, run.for_date, signals).items():
            rows.append(
                RuptureSummary(couple_id=couple.pk, period=period, on_date=run.for_date, data=data)
            )
        wanted[couple.pk] = flags.desired(couple, signals, run.for_date, thresholds)
    # The unique key makes a second run rewrite the same rows; computed_at keeps the first.
    RuptureSummary.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["couple", "period", "on_date"],
        update_fields=["data"],
    )
    flags.reconcile(wanted, run.for_date)


def finish(run: NightlyRun, *, digests: bool = True) -> None:
    from ruptures.tasks import send_digests

    rollups.write(run.practice_id, run.for_date)
    run.status = RunStatus.FINISHED
    run.finished_at = timezone.now()
    run.couples_done = run.couples_total = max(run.couples_done, run.couples_total)
    run.save()
    if digests:
        send_digests.delay_on_commit(run.pk)
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
