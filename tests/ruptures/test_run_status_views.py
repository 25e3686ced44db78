"""The practice admin's nightly-runs page: recent runs, progress, start now, overdue warning.

Only a practice admin sees it, and only their own practice's runs; everyone else signed in
gets a 404 (GET, htmx and POST alike) and the anonymous are sent to sign in. The progress
region polls only while a run is waiting or running. "Now" is fixed with time_machine: the
overdue warning depends on the hour in the practice's time zone.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from people.models import SignalThresholds
from ruptures.models import NightlyRun, RunStatus
from tests.factories import World, make_couple, make_practice, make_user

if TYPE_CHECKING:
    from django.test import Client

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
RUNS = reverse("ruptures:runs")
START = reverse("ruptures:run_start")
HTMX = {"HX-Request": "true"}
POLLING = 'hx-trigger="every 2s"'
OVERDUE = "Last night's run has not finished"
# 10 February 2026 in London (GMT): the day just ended is the 9th.
MORNING = datetime.datetime(2026, 2, 10, 3, 59, tzinfo=UTC)
LATER = datetime.datetime(2026, 2, 10, 4, 0, tzinfo=UTC)
YESTERDAY = datetime.date(2026, 2, 9)


@pytest.fixture
def world() -> World:
    return World.build()


@pytest.fixture
def admin_client(client: Client, world: World) -> Client:
    client.force_login(world.practice_admin)
    return client


def run_for(world: World, day: datetime.date, status: str, **fields: object) -> NightlyRun:
    return NightlyRun.objects.create(practice=world.practice, for_date=day, status=status, **fields)


def test_admin_sees_the_practices_recent_runs(admin_client, world):
    run_for(
        world,
        YESTERDAY,
        RunStatus.FINISHED,
        couples_total=4,
        couples_done=4,
        finished_at=datetime.datetime(2026, 2, 10, 2, 5, tzinfo=UTC),
    )
    run_for(
        world,
        YESTERDAY - datetime.timedelta(days=1),
        RunStatus.FAILED,
        error="OperationalError (see the worker log)",
    )
    elsewhere = make_practice("Elsewhere")
    NightlyRun.objects.create(practice=elsewhere, for_date=datetime.date(2026, 1, 1))

    with time_machine.travel(LATER, tick=False):
        response = admin_client.get(RUNS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "9 Feb 2026" in page
    assert "4 of 4 couples" in page
    assert "OperationalError (see the worker log)" in page
    assert "1 Jan 2026" not in page  # another practice's run
    # The day just ended has run: no button that would do nothing, but when it finished.
    assert "Run now" not in page
    assert "The run for 9 Feb 2026 finished 10 Feb 2026, 02:05." in page
    assert world.couple.case_code not in page  # runs, never clinical content


def test_run_now_is_offered_while_the_day_just_ended_has_not_run(admin_client, world):
    run_for(world, YESTERDAY - datetime.timedelta(days=1), RunStatus.FINISHED)
    with time_machine.travel(LATER, tick=False):
        page = admin_client.get(RUNS).content.decode()
    assert "Run now for 9 Feb 2026" in page
    run_for(world, YESTERDAY, RunStatus.FAILED, error="OperationalError (see the worker log)")
    with time_machine.travel(LATER, tick=False):
        page = admin_client.get(RUNS).content.decode()
    assert "Run now for 9 Feb 2026" in page  # a failed run is resumed from its cursor


def test_starting_a_day_that_has_already_run_says_so_and_queues_nothing(
    admin_client, world, django_capture_on_commit_callbacks
):
    run_for(world, YESTERDAY, RunStatus.FINISHED)
    with (
        time_machine.travel(LATER, tick=False),
        django_capture_on_commit_callbacks() as queued,
    ):
        response = admin_client.post(START, follow=True)

    assert queued == []
    assert "The summaries for 9 Feb 2026 have already run" in response.content.decode()
    assert "Started the summaries" not in response.content.decode()


def test_admin_starts_the_run_for_the_day_just_ended(
    admin_client, world, eager_celery, django_capture_on_commit_callbacks
):
    with time_machine.travel(LATER, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(START)

    assert response.status_code == 302
    assert response["Location"] == RUNS
    run = NightlyRun.objects.get()
    assert (run.practice, run.for_date, run.started_by) == (
        world.practice,
        YESTERDAY,
        world.practice_admin,
    )
    assert run.status == RunStatus.FINISHED


def test_starting_twice_resumes_the_same_run(
    admin_client, world, django_capture_on_commit_callbacks
):
    with time_machine.travel(LATER, tick=False):
        with django_capture_on_commit_callbacks() as first:
            admin_client.post(START)
        with django_capture_on_commit_callbacks() as second:
            admin_client.post(START)

    assert NightlyRun.objects.count() == 1
    assert len(first) == len(second) == 1  # each start queues the run's next chunk


def test_progress_region_is_the_partial_and_polls_while_a_run_is_in_progress(admin_client, world):
    run_for(world, YESTERDAY, RunStatus.RUNNING, couples_total=10, couples_done=4)

    with time_machine.travel(LATER, tick=False):
        response = admin_client.get(RUNS, headers=HTMX)

    region = response.content.decode().strip()
    assert response.status_code == 200
    assert region.startswith('<section class="card" id="runs"')
    assert "<html" not in region
    assert POLLING in region
    assert "4 of 10 couples" in region


@pytest.mark.parametrize("status", [RunStatus.FINISHED, RunStatus.FAILED])
def test_progress_region_stops_polling_when_no_run_is_in_progress(admin_client, world, status):
    run_for(world, YESTERDAY, status)
    with time_machine.travel(LATER, tick=False):
        region = admin_client.get(RUNS, headers=HTMX).content.decode()
    assert POLLING not in region


def test_pending_run_polls_too(admin_client, world):
    run_for(world, YESTERDAY, RunStatus.PENDING)
    with time_machine.travel(LATER, tick=False):
        assert POLLING in admin_client.get(RUNS, headers=HTMX).content.decode()


@pytest.mark.parametrize(
    ("now", "last_night", "overdue"),
    [
        (MORNING, None, False),  # 03:59: two hours after 02:00 have not passed
        (LATER, None, True),  # 04:00 and no run for the 9th
        (LATER, RunStatus.RUNNING, True),
        (LATER, RunStatus.FAILED, True),
        (LATER, RunStatus.FINISHED, False),
    ],
)
def test_overdue_warning_when_last_nights_run_has_not_finished(
    admin_client, world, now, last_night, overdue
):
    if last_night:
        run_for(world, YESTERDAY, last_night)
    with time_machine.travel(now, tick=False):
        page = admin_client.get(RUNS).content.decode()
    assert (OVERDUE in page) is overdue


def test_overdue_follows_the_practices_hour_and_time_zone(admin_client, world):
    """New York, run hour 20: the run for the 9th is due at 20:00 on the 10th there, and
    overdue from 22:00 (03:00 UTC on the 11th, when London's own clock says 03:00)."""
    world.practice.time_zone = "America/New_York"
    world.practice.save()
    SignalThresholds.objects.create(practice=world.practice, nightly_run_hour=20)
    before = datetime.datetime(2026, 2, 11, 2, 59, tzinfo=UTC)
    after = datetime.datetime(2026, 2, 11, 3, 0, tzinfo=UTC)

    with time_machine.travel(before, tick=False):
        assert OVERDUE not in admin_client.get(RUNS).content.decode()
    with time_machine.travel(after, tick=False):
        page = admin_client.get(RUNS).content.decode()
    assert OVERDUE in page
    assert "Run now for 9 Feb 2026" in page

    run_for(world, YESTERDAY, RunStatus.FINISHED)
    with time_machine.travel(after, tick=False):
        assert OVERDUE not in admin_client.get(RUNS).content.decode()


@pytest.mark.parametrize(
    "role", ["owner", "colleague", "supervisor", "other_supervisor", "group_member", "outsider"]
)
def test_everyone_but_the_practice_admin_gets_404(client, world, role):
    client.force_login(getattr(world, role))
    with time_machine.travel(LATER, tick=False):
        assert client.get(RUNS).status_code == 404
        assert client.get(RUNS, headers=HTMX).status_code == 404
        assert client.post(START).status_code == 404
    assert not NightlyRun.objects.exists()


def test_admin_of_another_practice_sees_only_their_own_runs(client, world):
    other_admin = make_user(make_practice("Elsewhere"), "Other Admin", practice_admin=True)
    make_couple(make_user(other_admin.practice, therapist=True))
    run_for(world, YESTERDAY, RunStatus.FINISHED)
    client.force_login(other_admin)

    with time_machine.travel(LATER, tick=False):
        page = client.get(RUNS).content.decode()

    assert "No runs yet." in page


def test_anonymous_is_sent_to_sign_in(client, world):
    login = resolve_url(settings.LOGIN_URL)
    for response in (client.get(RUNS), client.get(RUNS, headers=HTMX), client.post(START)):
        assert response.status_code == 302
        assert response["Location"].startswith(login)
    assert not NightlyRun.objects.exists()


def test_starting_needs_a_post(admin_client):
    assert admin_client.get(START).status_code == 405
