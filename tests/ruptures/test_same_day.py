"""Flags follow the record the same day (flags/same_day.py, docs/signals.md "Same-day recheck").

A save by the therapist rechecks that couple's summaries and flags for today, with the nightly
run's rules; the nightly run then agrees with it, and a run catching up on an earlier day
never undoes what the same-day look found.
"""

from __future__ import annotations

import datetime
import html
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse
from django.utils import timezone

from flags import runs, same_day
from ruptures.codes import ConfrontationMarker, RuptureStatus, RuptureType, WhoMoved
from ruptures.models import Flag, FlagKind, RuptureSummary
from ruptures.services import rupture_repair
from sessions.models import Attendance, SessionFormat
from tests.factories import World, make_couple, make_rupture, make_session

if TYPE_CHECKING:
    from django.test import Client

    from cycles.models import Couple
    from ruptures.models import Rupture

pytestmark = pytest.mark.django_db

INCIDENT_KINDS = {
    FlagKind.CONFRONTATION_THEN_ABSENCE,
    FlagKind.HIGH_THERAPIST_CONTRIBUTION,
    FlagKind.UNRESOLVED_RUPTURE,
}


def walk_out(couple: Couple, days_ago: int = 1) -> Rupture:
    """A confrontation in which the therapist had a large part, then partner A walked out."""
    session = make_session(
        couple,
        days_ago=days_ago,
        attendance=Attendance.ENDED_EARLY,
        left_early="partner_a",
    )
    return make_rupture(
        session,
        rupture_type=RuptureType.CONFRONTATION,
        who_moved=WhoMoved.PARTNER_A,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
        significance=5,
        therapist_contribution=4,
    )


def open_kinds(couple: Couple) -> set[str]:
    return set(Flag.objects.open().filter(couple=couple).values_list("kind", flat=True))


def session_form(days_ago: int, **overrides: str) -> dict[str, str]:
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    return {
        "date": day.isoformat(),
        "start_time": "08:00",
        "end_time": "08:50",
        "format": SessionFormat.CONJOINT,
        "attendance": Attendance.NO_SHOW,
        "cancelled_by": "",
        "left_early": "",
        "eft_step": "",
        "progress_note": "",
        "private_note": "",
    } | overrides


def test_a_recheck_opens_todays_flags_without_waiting_for_the_night() -> None:
    world = World.build()
    walk_out(world.couple, days_ago=3)
    make_session(world.couple, days_ago=1, attendance=Attendance.NO_SHOW)
    assert open_kinds(world.couple) == set()

    assert same_day.recheck([world.couple.pk]) == 1

    today = timezone.localdate()
    assert open_kinds(world.couple) >= INCIDENT_KINDS
    assert set(
        Flag.objects.open().filter(couple=world.couple).values_list("opened_on", flat=True)
    ) == {today}
    assert RuptureSummary.objects.filter(couple=world.couple, on_date=today).exists()


def test_logging_a_session_rechecks_the_couple_and_the_supervisor_sees_the_flag_that_day(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    world = World.build()
    walk_out(world.couple, days_ago=3)
    client.force_login(world.owner)

    # The recheck runs after the save commits (Celery is eager in these tests).
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("therapy_sessions:new", args=[world.couple.case_code]),
            session_form(days_ago=0),
            follow=True,
        )

    assert response.status_code == 200
    assert same_day.WHEN_SUPERVISOR_SEES in html.unescape(response.content.decode())
    assert FlagKind.CONFRONTATION_THEN_ABSENCE in open_kinds(world.couple)
    client.force_login(world.supervisor)
    review = html.unescape(client.get(reverse("supervision:review")).content.decode())
    assert world.couple.case_code in review
    assert FlagKind.CONFRONTATION_THEN_ABSENCE.label in review


def test_a_run_catching_up_on_yesterday_never_reopens_what_todays_recheck_closed() -> None:
    world = World.build()
    couple = make_couple(world.owner)
    rupture = walk_out(couple, days_ago=3)
    same_day.recheck([couple.pk])
    assert FlagKind.UNRESOLVED_RUPTURE in open_kinds(couple)
    today_session = make_session(couple, days_ago=0)
    rupture_repair(rupture=rupture, repaired_in=today_session, status=RuptureStatus.RESOLVED)
    same_day.recheck([couple.pk])
    assert FlagKind.UNRESOLVED_RUPTURE not in open_kinds(couple)
    after_recheck = open_kinds(couple)

    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    runs.run_now(world.practice, yesterday)

    # As of yesterday the rupture was unrepaired, but today's look is the later one.
    assert open_kinds(couple) == after_recheck
    # Yesterday's summaries are still written: the run did its day's work.
    assert RuptureSummary.objects.filter(couple=couple, on_date=yesterday).exists()


def test_tonights_run_for_today_agrees_with_the_recheck() -> None:
    world = World.build()
    walk_out(world.couple, days_ago=2)
    same_day.recheck([world.couple.pk])
    before = sorted(
        Flag.objects.filter(couple=world.couple).values_list("kind", "key", "opened_on", "detail")
    )

    runs.run_now(world.practice, timezone.localdate())

    after = sorted(
        Flag.objects.filter(couple=world.couple).values_list("kind", "key", "opened_on", "detail")
    )
    assert after == before


def test_a_practice_admin_rechecks_every_couple_today_after_late_edits(client: Client) -> None:
    world = World.build()
    quiet_then_walk_out = make_couple(world.colleague)
    walk_out(world.couple, days_ago=3)
    walk_out(quiet_then_walk_out, days_ago=2)
    assert open_kinds(world.couple) == open_kinds(quiet_then_walk_out) == set()

    client.force_login(world.practice_admin)
    response = client.post(reverse("ruptures:recheck_today"), follow=True)

    assert "Rechecking today's summaries and flags for every couple" in html.unescape(
        response.content.decode()
    )
    assert open_kinds(world.couple) >= INCIDENT_KINDS
    assert open_kinds(quiet_then_walk_out) >= INCIDENT_KINDS
    assert not Flag.objects.exclude(opened_on=timezone.localdate()).exists()


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_only_the_practice_admin_rechecks_the_practice(client: Client, role: str) -> None:
    world = World.build()
    walk_out(world.couple, days_ago=3)
    client.force_login(getattr(world, role))

    assert client.post(reverse("ruptures:recheck_today")).status_code == 404
    assert open_kinds(world.couple) == set()


def test_adding_a_rupture_rechecks_the_couple_and_says_when_the_supervisor_sees_it(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.ruptures.test_rupture_views import add_url, rupture_data

    world = World.build()
    session = make_session(world.couple, days_ago=0)
    client.force_login(world.owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            add_url(session), rupture_data(therapist_contribution="5"), follow=True
        )

    assert same_day.WHEN_SUPERVISOR_SEES in html.unescape(response.content.decode())
    assert FlagKind.HIGH_THERAPIST_CONTRIBUTION in open_kinds(world.couple)


def test_saving_in_room_measures_rechecks_the_couple_and_says_when_the_supervisor_sees_it(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.factories import measures_stamp_of

    world = World.build()
    session = make_session(world.couple, days_ago=0)
    client.force_login(world.owner)
    # Partner A reports a tense moment in a session with no rupture recorded: a mismatch.
    answers = {
        "report-partner_a-tension": "yes",
        "report-partner_a-upsetting": "4",
        "report-partner_a-resolved": "1",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("therapy_sessions:measures", args=[session.pk]),
            answers | measures_stamp_of(session),
            follow=True,
        )

    assert same_day.WHEN_SUPERVISOR_SEES in html.unescape(response.content.decode())
    assert FlagKind.REPORT_MISMATCH in open_kinds(world.couple)


def test_a_repair_rechecks_the_couple_and_closes_its_flag_the_same_day(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.ruptures.test_rupture_views import repair_data, repair_url

    world = World.build()
    rupture = walk_out(world.couple, days_ago=3)
    same_day.recheck([world.couple.pk])
    walk_out_flag = Flag.objects.open().filter(
        couple=world.couple, kind=FlagKind.UNRESOLVED_RUPTURE, key=f"rupture:{rupture.pk}"
    )
    assert walk_out_flag.exists()
    later = make_session(world.couple, days_ago=0)
    client.force_login(world.owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(repair_url(later, rupture), repair_data(rupture))

    assert response.status_code in (200, 302)
    assert not walk_out_flag.exists()
    closed = Flag.objects.get(
        couple=world.couple, kind=FlagKind.UNRESOLVED_RUPTURE, key=f"rupture:{rupture.pk}"
    )
    assert closed.closed_on == timezone.localdate()
