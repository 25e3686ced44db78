"""Progress read from the record (plans.progress) on crafted records: what counts for each kind
of evidence, from when, and what never counts; in a fixed number of queries."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans.models import Evidence
from plans.progress import plan_progress
from ruptures.codes import ResolutionStage, RuptureStatus
from ruptures.services import rupture_repair
from sessions.models import AllianceRating, EFTChangeEvent, MeasureDefinition, MeasureResponse
from tests.factories import World, make_rupture, make_session
from tests.plans.conftest import PLAN_DAYS_AGO, goal, save_plan


def progress_of(couple: Any, evidence: str) -> Any:
    plan = save_plan(couple, [goal(evidence)])
    [found] = plan_progress(plan, list(plan.goals.all()))
    return found


def csi4(session: Any, partner: str, total: str) -> None:
    MeasureResponse.objects.create(
        definition=MeasureDefinition.objects.get(code="csi4", practice=None),
        session=session,
        partner=partner,
        answers={},
        total=Decimal(total),
        entered_by="therapist",
    )


def alliance(session: Any, a: int, b: int) -> None:
    for partner, total in (("A", a), ("B", b)):
        bond, goals, tasks, fit = (min(10, max(0, total - 10 * i)) for i in range(4))
        AllianceRating.objects.create(
            session=session,
            partner=partner,
            bond=bond,
            goals=goals,
            tasks=tasks,
            fit=fit,
            entered_by="therapist",
        )


def test_a_change_event_since_the_plan_meets_the_goal_with_a_link(world: World) -> None:
    make_session(world.couple, days_ago=40, change_events=EFTChangeEvent.DE_ESCALATION)
    found = progress_of(world.couple, Evidence.DE_ESCALATION)
    assert not found.met  # before the plan's date: not this plan's evidence
    assert found.summary == "No de-escalation recorded since the plan's date."
    later = make_session(world.couple, days_ago=5, change_events=EFTChangeEvent.DE_ESCALATION)
    found = progress_of(world.couple, Evidence.DE_ESCALATION)
    assert found.met
    [item] = found.items
    assert item.text.startswith(f"Session {later.ordinal} (")
    assert item.url == reverse("therapy_sessions:detail", args=[later.pk])


def test_a_withdrawn_session_and_another_event_never_count(world: World) -> None:
    mistaken = make_session(world.couple, days_ago=6, change_events=EFTChangeEvent.DE_ESCALATION)
    mistaken.withdraw(by=world.owner, reason="Logged by mistake.")
    make_session(world.couple, days_ago=5, change_events=EFTChangeEvent.BLAMER_SOFTENING)
    assert not progress_of(world.couple, Evidence.DE_ESCALATION).met
    assert progress_of(world.couple, Evidence.BLAMER_SOFTENING).met
    assert not progress_of(world.couple, Evidence.WITHDRAWER_REENGAGEMENT).met


def test_csi4_is_met_when_both_partners_latest_are_above_the_cut_off(world: World) -> None:
    early = make_session(world.couple, days_ago=20)
    csi4(early, "A", "15")
    csi4(early, "B", "9")
    found = progress_of(world.couple, Evidence.CSI4_ABOVE_CUTOFF)
    assert not found.met
    assert found.summary == "Latest CSI-4 not above the distress cut-off (13.5): Partner B."
    late = make_session(world.couple, days_ago=4)
    csi4(late, "A", "16")
    csi4(late, "B", "14")
    found = progress_of(world.couple, Evidence.CSI4_ABOVE_CUTOFF)
    assert found.met
    assert [i.text for i in found.items][-2:] == [
        "Session 3: Partner A 16",
        "Session 3: Partner B 14",
    ]


def test_csi4_answered_before_the_plan_does_not_count(world: World) -> None:
    before = make_session(world.couple, days_ago=PLAN_DAYS_AGO + 5)
    csi4(before, "A", "18")
    csi4(before, "B", "18")
    found = progress_of(world.couple, Evidence.CSI4_ABOVE_CUTOFF)
    assert not found.met
    assert found.summary == "No CSI-4 answered since the plan's date."


def test_the_alliance_gap_is_measured_against_the_plans_start(world: World) -> None:
    alliance(make_session(world.couple, days_ago=PLAN_DAYS_AGO + 3), 36, 20)  # gap 16 at start
    alliance(make_session(world.couple, days_ago=10), 34, 22)
    found = progress_of(world.couple, Evidence.ALLIANCE_GAP_NARROWING)
    assert found.met
    assert found.summary == "Gap narrowed: 16 at the plan's start, 12 now."
    # Sessions are numbered by date: the one before the plan's date is session 1.
    assert found.items[0].text.startswith("Session 1 (the plan's start): gap 16")
    alliance(make_session(world.couple, days_ago=3), 38, 18)
    found = progress_of(world.couple, Evidence.ALLIANCE_GAP_NARROWING)
    assert not found.met
    assert found.summary == "Gap not narrowed: 16 at the plan's start, 20 now."


def test_ruptures_open_at_the_plans_date_must_resolve(world: World) -> None:
    # The world's rupture (10 days ago) is unresolved and logged since the plan's date.
    resolved_before = make_rupture(
        make_session(world.couple, days_ago=PLAN_DAYS_AGO + 10), status=RuptureStatus.RESOLVED
    )
    found = progress_of(world.couple, Evidence.RUPTURES_RESOLVED)
    assert not found.met
    assert found.summary == "1 of 1 ruptures since the plan's date still open."
    assert all(f"Session {resolved_before.session.ordinal}:" not in i.text for i in found.items)
    mender = make_session(world.couple, days_ago=2)
    rupture_repair(
        rupture=world.rupture,
        repaired_in=mender,
        status=RuptureStatus.RESOLVED,
        resolution_stage=ResolutionStage.EXPLORED,
    )
    found = progress_of(world.couple, Evidence.RUPTURES_RESOLVED)
    assert found.met
    [item] = found.items
    # Sessions are numbered by date: the one before the plan's date is now session 1.
    world.session.refresh_from_db()
    mender.refresh_from_db()
    assert item.text == (
        f"Session {world.session.ordinal}: Withdrawal (moving away) — "
        f"Resolved in session {mender.ordinal}"
    )


def test_progress_runs_at_most_four_queries_however_long_the_record(world: World) -> None:
    def queries() -> int:
        plan = save_plan(world.couple, [goal(kind) for kind in Evidence.values])
        goals = list(plan.goals.all())
        with CaptureQueriesContext(connection) as captured:
            plan_progress(plan, goals)
        return len(captured)

    few = queries()
    for days in range(3, 23):
        session = make_session(
            world.couple, days_ago=days, change_events=EFTChangeEvent.all_bits() & ~8
        )
        alliance(session, 30, 20)
        csi4(session, "A", "12")
        make_rupture(session)
    assert few == queries() == 4


def test_a_plan_dated_today_counts_a_session_logged_today(world: World) -> None:
    plan = save_plan(world.couple, [goal(Evidence.DE_ESCALATION)], plan_date=datetime.date.today())
    make_session(world.couple, days_ago=0, change_events=EFTChangeEvent.DE_ESCALATION)
    [found] = plan_progress(plan, list(plan.goals.all()))
    assert found.met
