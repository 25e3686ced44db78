"""The same-day recheck on a real Celery worker and a real Redis (flags/same_day.py).

A therapist logs the no-show that follows a walk-out, through the real view; the save commits,
the recheck is queued on Redis, a `celery worker` process picks it up, and the supervisor's
flag is open within the test's wait, the same day. With the broker gone, the save still works
and the recheck is left to the night.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from ruptures.models import Flag, FlagKind
from sessions.models import TherapySession
from tests.factories import World
from tests.ruptures.conftest import celery_conf
from tests.ruptures.test_same_day import session_form, walk_out

if TYPE_CHECKING:
    from django.test import Client

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECHECK_SECONDS = 60  # bounded wait; a worker picks the task up in well under a second


def test_a_logged_no_show_after_a_walk_out_reaches_the_supervisor_within_the_wait(
    client: Client, start_worker: Any, celery_broker: Any, poll: Any
) -> None:
    assert not celery_broker.app.conf.task_always_eager
    world = World.build()
    walk_out(world.couple, days_ago=3)
    worker = start_worker()
    client.force_login(world.owner)
    logged_at = time.monotonic()

    response = client.post(
        reverse("therapy_sessions:new", args=[world.couple.case_code]), session_form(days_ago=0)
    )

    assert response.status_code == 302
    flag = poll(
        lambda: (
            Flag.objects.open()
            .filter(couple=world.couple, kind=FlagKind.CONFRONTATION_THEN_ABSENCE)
            .first()
        ),
        timeout=RECHECK_SECONDS,
        what="the same-day recheck to open the flag",
        explain=worker.log,
    )
    waited = time.monotonic() - logged_at
    assert flag.opened_on == timezone.localdate()
    print(f"flag open {waited:.2f} s after the save")
    client.force_login(world.supervisor)
    review = client.get(reverse("supervision:review")).content.decode()
    assert FlagKind.CONFRONTATION_THEN_ABSENCE.label in review


def test_with_the_broker_gone_the_session_is_saved_and_the_recheck_left_to_the_night(
    client: Client, redis_server: Any, caplog: Any
) -> None:
    world = World.build()
    walk_out(world.couple, days_ago=3)
    client.force_login(world.owner)
    with celery_conf(celery_app, broker_url=redis_server.url, task_always_eager=False):
        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="flags.same_day"):
            response = client.post(
                reverse("therapy_sessions:new", args=[world.couple.case_code]),
                session_form(days_ago=0),
            )

    assert response.status_code == 302
    assert TherapySession.objects.filter(couple=world.couple, attendance="no_show").exists()
    assert "the next nightly run covers them" in caplog.text
    assert world.couple.case_code not in caplog.text
    assert not Flag.objects.open().filter(kind=FlagKind.CONFRONTATION_THEN_ABSENCE).exists()
