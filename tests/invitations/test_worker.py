"""The links on a real Celery worker and Redis, and an SMTP sink process (issue 22, item 4).

Redis losing the send's message (a restart without persistence: the queue flushed) loses
nothing: the link was saved first and waits; a worker's watchdog sends it (its first round
runs at the worker's start). The partner answers, and the worker's same-day recheck opens the
alliance-drop flag within the test's wait. A broker that refuses the send outright leaves the
link waiting too, and the therapist sees no error.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from invitations.models import Invitation, InvitationStatus, Purpose
from ruptures.models import Flag, FlagKind
from tests.invitations.conftest import LINK, answer_url, rated_world, set_addresses
from tests.processes import free_port
from tests.ruptures.conftest import (  # noqa: F401  (fixtures)
    broker_url,
    celery_broker,
    celery_conf,
    poll,
    start_worker,
)

if TYPE_CHECKING:
    from tests.smtp_sink import SmtpSink

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 60  # bounded; the watchdog's first round runs as the worker starts


def test_a_link_whose_message_redis_lost_is_mailed_by_the_worker_watchdog(
    client: Client,
    sink: SmtpSink,
    start_worker: Any,  # noqa: F811
    celery_broker: Any,  # noqa: F811
    poll: Any,  # noqa: F811
) -> None:
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    response = client.post(
        reverse("invitations:send", args=[world.couple.case_code]),
        {"partner": "A", "purpose": Purpose.SESSION},
    )
    assert response.status_code == 302
    celery_broker.flush()  # Redis restarted without persistence: the message is gone
    invitation = Invitation.objects.get(couple=world.couple)
    assert invitation.status == InvitationStatus.WAITING
    assert not sink.messages()
    # A minute on (the send lease), a worker starts.
    Invitation.objects.filter(pk=invitation.pk).update(
        heartbeat_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    worker = start_worker(
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(sink.port),
        EMAIL_USE_TLS="false",
        EMAIL_BACKEND="",
    )

    message = sink.wait_for(1, seconds=WAIT_SECONDS)[0]
    token = LINK.search(message.get_content()).group(1)  # type: ignore[union-attr]
    poll(
        lambda: Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.SENT).exists(),
        timeout=WAIT_SECONDS,
        what="the link to be marked sent",
        explain=worker.log,
    )

    partner = Client()
    assert partner.get(answer_url(token)).status_code == 200
    answers = {f"alliance-A-{item}": "1" for item in ("bond", "goals", "tasks", "fit")}
    answers["report-partner_a-tension"] = "no"
    assert "Thank you" in partner.post(answer_url(token), answers).content.decode()
    poll(
        lambda: (
            Flag.objects.open().filter(couple=world.couple, kind=FlagKind.ALLIANCE_DROP).exists()
        ),
        timeout=WAIT_SECONDS,
        what="the worker's same-day recheck to open the alliance-drop flag",
        explain=worker.log,
    )


def test_a_broker_that_refuses_the_send_leaves_the_link_waiting_and_the_therapist_unbothered(
    client: Client,
    celery_broker: Any,  # noqa: F811
) -> None:
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with celery_conf(celery_app, broker_url=dead, task_always_eager=False):
        response = client.post(
            reverse("invitations:send", args=[world.couple.case_code]),
            {"partner": "A", "purpose": Purpose.SESSION},
            follow=True,
        )
    assert response.status_code == 200
    assert "A link is on its way to partner A" in response.content.decode()
    invitation = Invitation.objects.get(couple=world.couple)
    assert invitation.status == InvitationStatus.WAITING
