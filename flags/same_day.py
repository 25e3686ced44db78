"""Flags follow the record the same day (docs/signals.md, "Same-day recheck").

After a clinician saves a session, a rupture, a repair or a session's measures, the view asks
for that couple to be looked at again (`recheck_after_commit`): once the save has committed, a
background task (flags.tasks.recheck_couples) writes the couple's summaries for today and opens,
closes or rewords its flags, with the rules the nightly run uses (`runs.evaluate`). A new flag
is on the supervisor's review within minutes, not after the next night's run.

The nightly run still looks at every couple for the day just ended: the time-driven flags
(gone quiet, recurring in a window) and the morning digests are its work. The two agree: both
evaluate through `runs.evaluate`, which locks the couples' rows, and a run catching up on an
earlier day never undoes what a later look found.

When the task queue does not answer, the save stands and nothing is lost: the recheck is
skipped with a warning in the log (couple ids only), and the next nightly run covers it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from flags import runs

log = logging.getLogger(__name__)

RECHECK_COUPLES = "flags.tasks.recheck_couples"

# What the therapist is told after a save (sessions and ruptures views).
WHEN_SUPERVISOR_SEES = (
    "Flags for this couple are rechecked in the background within a few minutes; a new flag "
    "is then on your supervisor's review, and in their next morning digest."
)


def recheck_after_commit(couple_id: int) -> None:
    """Queue the couple's recheck once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: queue_recheck([couple_id]), robust=True)


def queue_recheck(couple_ids: list[int]) -> bool:
    """Queue the recheck; False when the task queue did not take it (tonight's run covers it)."""
    try:
        runs.task(RECHECK_COUPLES).delay(couple_ids)
    except BrokerError:
        log.warning(
            "same-day recheck of couples %s not queued: the task queue is not answering; "
            "the next nightly run covers them",
            couple_ids,
        )
        return False
    return True


def recheck(couple_ids: list[int]) -> int:
    """Evaluate these couples for today in their practice's time zone; returns how many."""
    from cycles.models import Couple

    by_practice: dict[tuple[int, str], list[tuple[int, int, str, int, str]]] = defaultdict(list)
    rows = (
        Couple.objects.filter(pk__in=couple_ids)
        .order_by("pk")
        .values_list(
            "practice_id",
            "practice__time_zone",
            "pk",
            "therapist_id",
            "case_code",
            "eft_stage",
            "status",
        )
    )
    for practice_id, time_zone, *couple in rows:
        by_practice[(practice_id, time_zone)].append(tuple(couple))  # type: ignore[arg-type]
    for (practice_id, time_zone), couples in by_practice.items():
        today = timezone.now().astimezone(ZoneInfo(time_zone)).date()
        with transaction.atomic():
            runs.evaluate(practice_id, time_zone, couples, today)
    return sum(len(couples) for couples in by_practice.values())


RECHECK_PRACTICE = "flags.tasks.recheck_practice"


def queue_practice_recheck(practice_id: int) -> None:
    """The practice admin's "Recheck today": every couple of the practice, in the background.
    Raises runs.BackgroundWorkUnavailable when the task queue doesn't take it."""
    try:
        runs.task(RECHECK_PRACTICE).delay(practice_id)
    except BrokerError as error:
        raise runs.BackgroundWorkUnavailable(str(error)) from error


def recheck_practice(practice_id: int) -> int:
    """Recheck every couple of the practice for today, a chunk of couples per transaction
    (the nightly run's chunk size): after late edits, the admin needn't wait for the night."""
    from cycles.models import Couple

    done, after = 0, 0
    while True:
        ids = list(
            Couple.objects.filter(practice_id=practice_id, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[: runs.chunk_size()]
        )
        if not ids:
            return done
        done += recheck(ids)
        after = ids[-1]
