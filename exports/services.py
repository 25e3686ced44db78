"""Building an export job's file in the worker: claim the job, build, store, purge.

1. Claim it (pending to running, one conditional UPDATE, a new attempt): a second run of the
   task, or a job that expired waiting, stops here.
2. Build the file with the builder of its kind (exports.build_views), in the time zone and
   date format (core.dates) of the practice of whoever asked, reporting progress as it goes.
3. Store the bytes and the download's expiry, if the job is still at this attempt (a build
   the watchdog gave up on and queued again stores nothing once a new one has claimed it);
   or, on any error, mark the job failed (the error's type only: its message could quote
   clinical text) without raising, so an eager run never turns the request that queued it
   into an error page.
4. Drop the bytes of every job whose download expired.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from django.utils import timezone

from core import dates
from exports import build_views, jobs

log = logging.getLogger(__name__)


def build(job_id: int) -> None:
    job = jobs.claim(job_id)
    if job is None:
        return
    attempt = job.attempts
    practice = job.requested_by.practice
    zone = ZoneInfo(practice.time_zone) if practice is not None else timezone.get_current_timezone()
    date_format = practice.date_format if practice is not None else None
    try:
        with timezone.override(zone), dates.override(date_format):
            content = build_views.build(
                job,
                lambda done, total: jobs.report_progress(job_id, done, total, attempt=attempt),
            )
    except Exception as error:
        jobs.fail(job_id, error, attempt=attempt)
        log.warning("export job %s failed: %s", job_id, type(error).__name__)
    else:
        if not jobs.finish(job_id, content, attempt=attempt):
            log.warning("export job %s: a later attempt replaced this build; not stored", job_id)
    jobs.purge_expired()
