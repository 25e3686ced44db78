"""Celery tasks of the remote answer links: thin, by id, safe to run twice
(invitations.sending); and the watchdog each worker runs beside them (config.celery)."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task
from django.db import close_old_connections

from flags.tasks import Watchdog
from flags.worker import broker_answers
from invitations import sending


@shared_task(
    bind=True,
    ignore_result=True,
    autoretry_for=(sending.SendFailed, SMTPException, OSError),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def send_invitation(self, invitation_id: int) -> None:  # type: ignore[no-untyped-def]
    """Mail one link; on an SMTP error retried with backoff, failed after the last try."""
    sending.send(invitation_id, last_try=self.request.retries >= self.max_retries)


class InvitationWatchdog(Watchdog):
    """In each worker, every WORKER_WATCHDOG_SECONDS: expire links past their time, queue
    again the links a lost message or a killed worker left unsent, drop old page hits.

    The nightly watchdog's loop (flags.tasks.Watchdog) with a round of its own, in a thread
    apart, as the export watchdog is.
    """

    def __init__(self) -> None:
        super().__init__()
        self.name = "cycles-invitation-watchdog"

    def round(self) -> None:
        close_old_connections()
        if broker_answers():
            sending.resume_unsent()
        sending.purge_hits()
