"""Sending a link by e-mail, and making sure no saved link is left unsent.

The web saves the invitation first, then queues its sending after the commit
(`queue_send`); a broker that is down loses nothing, since the row waits as "waiting to be
sent" and each worker's watchdog (invitations.tasks.InvitationWatchdog) queues again every
waiting or half-sent link silent past the lease (`resume_unsent`), as the export watchdog
does for export jobs.

`send` is the task's work, safe to run twice:

1. Claim the link (waiting to sending, one conditional UPDATE) and mint its token there: only
   the token's SHA-256 is written. A second run, or a link revoked or expired meanwhile,
   stops here. The token lives only in this function and the e-mail: never in the broker's
   message, the database or a log.
2. Mail it through Django's mailer (SMTP in production).
3. Sending to sent. On an SMTP or network error the link goes back to waiting, its hash
   cleared (that token was maybe never delivered), and the error is raised for the task's
   retry with backoff; after the last retry it is failed, with the error's type only.

The e-mail names nobody and no clinic and carries no clinical content, whatever the purpose:
a partner's inbox may be read by the other partner (a safety screen's link reads the same).
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from flags import runs
from flags.worker import runs_in_process
from invitations.links import HIT_WINDOW, link_lifetime, mint_token
from invitations.models import LIVE, Invitation, InvitationStatus, LinkHit, PartnerContact

log = logging.getLogger(__name__)

SEND_TASK = "invitations.tasks.send_invitation"
SUBJECT = "A short questionnaire from your therapist"
BODY = (
    "You have a short questionnaire from your therapist.\n\n"
    "Open this private link to answer it:\n{url}\n\n"
    "The link is for you alone. It works once, for {hours} hours. If you weren't expecting "
    "this message, you can ignore it.\n"
)


def lease() -> datetime.timedelta:
    """How long a link may wait, or be half-sent, before the watchdog queues it again: far
    beyond one SMTP conversation, and short enough that a lost message costs a minute."""
    return datetime.timedelta(seconds=getattr(settings, "INVITATION_SEND_LEASE_SECONDS", 60))


def queue_send(invitation_id: int) -> bool:
    """Queue the send; False when the broker doesn't answer (the watchdog sends it later).

    Without a broker by design (`make run`: tasks run in-process) there is no worker to retry
    with backoff, and a web request can't wait for one: the one try is the last, and an SMTP
    refusal leaves the link failed, for the therapist to send again."""
    if runs_in_process():
        try:
            return send(invitation_id, last_try=True)
        except SendFailed:
            return False
    try:
        runs.task(SEND_TASK).delay(invitation_id)
    except BrokerError:
        log.warning(
            "invitation %s not queued: the task queue is not answering; the watchdog sends it",
            invitation_id,
        )
        return False
    return True


def link_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("invitations:answer", args=[token])


class SendFailed(Exception):
    """The link could not be mailed this time (the task retries)."""


def send(invitation_id: int, *, last_try: bool = False) -> bool:
    """Mail the link (see the module's steps); True when this run sent it."""
    now = timezone.now()
    token, token_hash = mint_token()
    claimed = Invitation.objects.filter(
        pk=invitation_id, status=InvitationStatus.WAITING, expires_at__gt=now
    ).update(
        status=InvitationStatus.SENDING,
        token_hash=token_hash,
        heartbeat_at=now,
        send_attempts=F("send_attempts") + 1,
    )
    if not claimed:
        return False
    invitation = Invitation.objects.get(pk=invitation_id)
    contact = PartnerContact.objects.filter(
        couple_id=invitation.couple_id, partner=invitation.partner
    ).first()
    if contact is None:  # the address was removed after the link was made
        _fail(invitation_id, "NoAddress")
        return False
    hours = int(link_lifetime().total_seconds() // 3600)
    try:
        send_mail(
            SUBJECT,
            BODY.format(url=link_url(token), hours=hours),
            None,
            [contact.email],
            fail_silently=False,
        )
    except Exception as error:
        name = type(error).__name__
        if last_try:
            _fail(invitation_id, name)
        else:
            Invitation.objects.filter(pk=invitation_id, status=InvitationStatus.SENDING).update(
                status=InvitationStatus.WAITING, token_hash="", heartbeat_at=timezone.now()
            )
        log.warning("invitation %s not sent: %s", invitation_id, name)
        raise SendFailed(name) from None
    Invitation.objects.filter(pk=invitation_id, status=InvitationStatus.SENDING).update(
        status=InvitationStatus.SENT, sent_at=timezone.now(), heartbeat_at=timezone.now()
    )
    return True


def _fail(invitation_id: int, error: str) -> None:
    Invitation.objects.filter(pk=invitation_id, status=InvitationStatus.SENDING).update(
        status=InvitationStatus.FAILED, error=error[:100], failed_at=timezone.now(), token_hash=""
    )


def resume_unsent(now: datetime.datetime | None = None) -> list[int]:
    """The watchdog's round: expire the live links past their expiry, then queue again each
    waiting or sending link silent past the lease (claimed by its heartbeat, so of two
    watchdogs one queues it). Stops at the first refusal of the broker. The ids queued."""
    now = now or timezone.now()
    Invitation.objects.filter(status__in=LIVE, expires_at__lte=now).update(
        status=InvitationStatus.EXPIRED, token_hash=""
    )
    stalled = list(
        Invitation.objects.filter(
            status__in=(InvitationStatus.WAITING, InvitationStatus.SENDING),
            heartbeat_at__lt=now - lease(),
        )
        .order_by("pk")
        .values_list("pk", "status", "heartbeat_at")
    )
    queued = []
    for pk, status, heartbeat_at in stalled:
        # A sending link whose worker died: its token may never have left, so a new one.
        if not Invitation.objects.filter(pk=pk, status=status, heartbeat_at=heartbeat_at).update(
            status=InvitationStatus.WAITING, token_hash="", heartbeat_at=now
        ):
            continue
        if not queue_send(pk):
            Invitation.objects.filter(
                pk=pk, status=InvitationStatus.WAITING, heartbeat_at=now
            ).update(heartbeat_at=heartbeat_at)
            break
        queued.append(pk)
    return queued


def purge_hits(now: datetime.datetime | None = None) -> int:
    """Drop the page-hit rows older than any limit's window reads."""
    now = now or timezone.now()
    deleted, _ = LinkHit.objects.filter(at__lt=now - 4 * HIT_WINDOW).delete()
    return deleted
