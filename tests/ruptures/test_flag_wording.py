"""What each flag says, as the couple page renders it: true in the zero and one cases, singular
and plural right, one sentence when two things happened in one session (issue 18: "unresolved
after 0 later sessions", "confrontation rupture in session 1, then a walk-out in session 1")."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.html import escape

from flags import rules
from people.models import SignalThresholds
from ruptures.codes import RuptureType, WithdrawalMarker
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Callable

    from cycles.models import Couple
    from people.models import User
    from ruptures.models import NightlyRun
    from sessions.models import TherapySession

pytestmark = [pytest.mark.django_db]

LONDON = ZoneInfo("Europe/London")
D = datetime.date(2026, 1, 5)
WEEK = datetime.timedelta(days=7)


def session(couple: Couple, day: datetime.date, **fields: Any) -> TherapySession:
    starts_at = datetime.datetime.combine(day, datetime.time(10), tzinfo=LONDON)
    return make_session(couple, starts_at=starts_at, **fields)


@pytest.fixture
def therapist() -> User:
    return make_user(make_practice(), "Worded Therapist", therapist=True)


@pytest.fixture
def couple(therapist: User) -> Couple:
    return make_couple(therapist)


@pytest.fixture
def run(run_nightly: Callable[..., NightlyRun], therapist: User) -> Callable[..., NightlyRun]:
    return lambda for_date: run_nightly(therapist.practice, for_date)


def flags_card(client, therapist: User, couple: Couple) -> str:
    """The couple page's flags card, as the therapist reads it."""
    client.force_login(therapist)
    page = client.get(reverse("cycles:detail", args=[couple.case_code])).text
    return page[page.index('id="flags-head"') : page.index('id="summary-head"')]


def test_an_unresolved_rupture_with_no_session_since_says_so(client, therapist, couple, run):
    make_rupture(session(couple, D))
    run(D)
    card = flags_card(client, therapist, couple)
    assert "Withdrawal rupture in session 1: not yet repaired; no session held since." in card
    assert "0 later sessions" not in card


def test_an_unresolved_rupture_counts_one_later_session_in_the_singular(
    client, therapist, couple, run
):
    make_rupture(session(couple, D))
    session(couple, D + WEEK)
    session(couple, D + 2 * WEEK, attendance="no_show")  # not held: not counted
    run(D + 2 * WEEK)
    card = flags_card(client, therapist, couple)
    assert "Withdrawal rupture in session 1: still unresolved after 1 later session held." in card


def test_a_confrontation_and_walk_out_in_one_session_is_one_sentence(
    client, therapist, couple, run
):
    walked_out = session(couple, D, attendance="ended_early", left_early="partner_a")
    make_rupture(walked_out, rupture_type=RuptureType.CONFRONTATION)
    run(D)
    card = flags_card(client, therapist, couple)
    assert "A confrontation rupture and a walk-out in session 1." in card
    assert "then a walk-out in session 1" not in card


def test_a_no_show_after_a_confrontation_names_both_sessions(client, therapist, couple, run):
    make_rupture(session(couple, D), rupture_type=RuptureType.CONFRONTATION)
    session(couple, D + WEEK, attendance="no_show")
    run(D + WEEK)
    card = flags_card(client, therapist, couple)
    assert "Confrontation rupture in session 1, then a no-show in session 2." in card


def test_a_recurring_marker_lists_its_sessions_as_a_person_would(client, therapist, couple, run):
    for week in range(3):
        make_rupture(
            session(couple, D + week * WEEK), withdrawal_markers=WithdrawalMarker.MINIMAL_RESPONSE
        )
    run(D + 2 * WEEK)
    card = flags_card(client, therapist, couple)
    assert escape("Marker “Minimal response” in sessions 1, 2 and 3.") in card


def test_gone_quiet_and_stuck_count_in_the_singular_at_a_threshold_of_one(
    client, therapist, couple, run
):
    SignalThresholds.objects.create(
        practice=therapist.practice, gone_quiet_days=1, stuck_stage_one_sessions=1
    )
    make_rupture(session(couple, D))
    run(D + datetime.timedelta(days=1))
    card = flags_card(client, therapist, couple)
    assert "No session held in the 1 day since the rupture in session 1." in card
    assert "Still in stage 1 (de-escalation) after 1 session held; no de-escalation" in card


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("A", 30, 2, 25, 2), "Partner A's alliance fell to 25 in session 2, from 30."),
        (
            ("B", 30, 2, 24, 4),
            "Partner B's alliance is 24 in session 4, still down from 30 before session 2.",
        ),
        (("A", 27.5, 3, 20, 3), "Partner A's alliance fell to 20 in session 3, from 27.5."),
    ],
)
def test_an_alliance_drop_says_where_the_partner_stands_and_since_when(args, said):
    assert rules.alliance_drop_text(*args) == said


@pytest.mark.parametrize(
    ("later", "said"),
    [
        (0, "Confrontation rupture in session 4: not yet repaired; no session held since."),
        (1, "Confrontation rupture in session 4: still unresolved after 1 later session held."),
        (3, "Confrontation rupture in session 4: still unresolved after 3 later sessions held."),
    ],
)
def test_unresolved_wording_at_zero_one_and_many(later, said):
    assert rules.unresolved_text("Confrontation", 4, later) == said
