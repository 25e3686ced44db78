"""What a nightly summary holds, on a crafted record, and what one chunk of it costs in queries.

One couple's record, built so each figure has one right answer (ordinals in brackets):

    F-28  [1] attended   withdrawal, partner B, minimal response + denial, clarifies;
                         repaired (resolved) in session 2
    F-27  [2] attended   confrontation, partner A, rejects intervention, contribution 2,
                         gives rationale + invites discussion; resolved in its own session
    F-13  [3] no-show
    F-6   [4] attended   confrontation, both, complaints about progress, contribution 4,
                         redirects; repaired in session 6 (after F: unresolved as of F);
                         and a rupture withdrawn as logged by mistake
    F-3   —   withdrawn session (logged by mistake), with a rupture
    F     [5] attended at 23:30, withdrawal, partner A, avoidant storytelling, partly resolved
    F+1   [6] attended at 00:30, after the day ended: repairs session 4's rupture, has its own

F is 31 March 2026 in a London practice. Four weeks are F and the 27 days before it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from cycles.models import Couple
from flags import runs
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.models import Flag, NightlyRun, Rupture, RuptureSummary
from ruptures.services import rupture_repair, rupture_withdraw
from sessions.models import (
    AllianceRating,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    TherapySession,
)
from sessions.services import session_withdraw
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from people.models import Practice, User

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
F = datetime.date(2026, 3, 31)
NO_SIGNALS = {
    "latest_gap": None,
    "split_widening": 0,
    "alliance_drops": 0,
    "report_mismatches": 0,
    "below_cutoff": [],
    "reliable_change": {},
}


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def at(day: datetime.date, hour: int = 10, minute: int = 0, zone: ZoneInfo = LONDON) -> Any:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=zone)


@dataclass
class Record:
    practice: Practice
    therapist: User
    couple: Couple
    sessions: dict[int, TherapySession]
    ruptures: dict[str, Rupture]


@pytest.fixture
def record() -> Record:
    practice = make_practice()
    therapist = make_user(practice, "Summary Therapist", therapist=True)
    couple = make_couple(therapist)

    def session(day: datetime.date, hour: int = 10, minute: int = 0, **fields: Any) -> Any:
        return make_session(couple, starts_at=at(day, hour, minute), **fields)

    s1 = session(F - days(28))
    s2 = session(F - days(27))
    s3 = session(F - days(13), attendance="no_show")
    s4 = session(F - days(6))
    mistaken = session(F - days(3))
    s5 = session(F, 23, 30)
    s6 = session(F + days(1), 0, 30)

    r1 = make_rupture(
        s1,
        who_moved=WhoMoved.PARTNER_B,
        withdrawal_markers=WithdrawalMarker.MINIMAL_RESPONSE | WithdrawalMarker.DENIAL,
        strategies=ResolutionStrategy.CLARIFIES_MISUNDERSTANDING,
    )
    rupture_repair(rupture=r1, repaired_in=s2, status=RuptureStatus.RESOLVED)
    r2 = make_rupture(
        s2,
        rupture_type=RuptureType.CONFRONTATION,
        who_moved=WhoMoved.PARTNER_A,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
        therapist_contribution=2,
        strategies=ResolutionStrategy.GIVES_RATIONALE | ResolutionStrategy.INVITES_DISCUSSION,
        status=RuptureStatus.RESOLVED,
    )
    r4 = make_rupture(
        s4,
        rupture_type=RuptureType.CONFRONTATION,
        who_moved=WhoMoved.BOTH,
        confrontation_markers=ConfrontationMarker.COMPLAINS_ABOUT_PROGRESS,
        therapist_contribution=4,
        strategies=ResolutionStrategy.REDIRECTS,
    )
    rupture_withdraw(
        rupture=make_rupture(s4, withdrawal_markers=WithdrawalMarker.SELF_CRITICISM),
        by=therapist,
        reason="Logged twice.",
    )
    make_rupture(mistaken, withdrawal_markers=WithdrawalMarker.SELF_CRITICISM)
    session_withdraw(session=mistaken, by=therapist, reason="Logged on the wrong couple.")
    r5 = make_rupture(
        s5,
        who_moved=WhoMoved.PARTNER_A,
        toward=Toward.PARTNER_B,
        withdrawal_markers=WithdrawalMarker.AVOIDANT_STORYTELLING,
        status=RuptureStatus.PARTLY_RESOLVED,
    )
    rupture_repair(rupture=r4, repaired_in=s6, status=RuptureStatus.RESOLVED)
    r6 = make_rupture(s6, withdrawal_markers=WithdrawalMarker.SELF_CRITICISM)
    sessions = {1: s1, 2: s2, 3: s3, 4: s4, 5: s5, 6: s6}
    for n, s in sessions.items():
        s.refresh_from_db()
        assert s.ordinal == n
    return Record(
        practice,
        therapist,
        couple,
        sessions,
        {"r1": r1, "r2": r2, "r4": r4, "r5": r5, "r6": r6},
    )


def summary(couple: Couple, period: str, on_date: datetime.date = F) -> dict[str, Any]:
    return RuptureSummary.objects.get(couple=couple, period=period, on_date=on_date).data


def test_treatment_summary_counts_everything_up_to_the_end_of_the_date(record, run_nightly):
    run_nightly(record.practice, F)
    assert summary(record.couple, "treatment") == {
        "sessions": 5,
        "sessions_held": 4,
        "ruptures": 4,
        "by_type": {"withdrawal": 2, "confrontation": 2},
        "by_who_moved": {"partner_b": 1, "partner_a": 2, "both": 1},
        "by_marker": {
            "MINIMAL_RESPONSE": 1,
            "DENIAL": 1,
            "REJECTS_INTERVENTION": 1,
            "COMPLAINS_ABOUT_PROGRESS": 1,
            "AVOIDANT_STORYTELLING": 1,
        },
        "by_status": {"resolved": 2, "unresolved": 1, "partly_resolved": 1},
        "sessions_to_resolution": [0, 1],
        "median_sessions_to_resolution": 0.5,
        "strategies_used": {
            "CLARIFIES_MISUNDERSTANDING": 1,
            "GIVES_RATIONALE": 1,
            "INVITES_DISCUSSION": 1,
            "REDIRECTS": 1,
        },
        "strategies_in_resolutions": {
            "CLARIFIES_MISUNDERSTANDING": 1,
            "GIVES_RATIONALE": 1,
            "INVITES_DISCUSSION": 1,
        },
        "ruptures_per_session": 1.0,
        "attendance_after_ruptures": {"attended": 2, "no_show": 1, "no_session_yet": 1},
        "contribution_sum": 6,
        "contribution_rated": 2,
        "signals": NO_SIGNALS,
    }


def test_four_weeks_are_the_date_and_the_27_days_before_it(record, run_nightly):
    run_nightly(record.practice, F)
    assert summary(record.couple, "four_weeks") == {
        "sessions": 4,
        "sessions_held": 3,
        "ruptures": 3,
        "by_type": {"confrontation": 2, "withdrawal": 1},
        "by_who_moved": {"partner_a": 2, "both": 1},
        "by_marker": {
            "REJECTS_INTERVENTION": 1,
            "COMPLAINS_ABOUT_PROGRESS": 1,
            "AVOIDANT_STORYTELLING": 1,
        },
        "by_status": {"resolved": 1, "unresolved": 1, "partly_resolved": 1},
        "sessions_to_resolution": [0],
        "median_sessions_to_resolution": 0,
        "strategies_used": {"GIVES_RATIONALE": 1, "INVITES_DISCUSSION": 1, "REDIRECTS": 1},
        "strategies_in_resolutions": {"GIVES_RATIONALE": 1, "INVITES_DISCUSSION": 1},
        "ruptures_per_session": 1.0,
        "attendance_after_ruptures": {"no_show": 1, "attended": 1, "no_session_yet": 1},
        "contribution_sum": 6,
        "contribution_rated": 2,
        "signals": NO_SIGNALS,
    }


def test_day_summary_holds_only_that_days_session(record, run_nightly):
    run_nightly(record.practice, F)
    assert summary(record.couple, "day") == {
        "sessions": 1,
        "sessions_held": 1,
        "ruptures": 1,
        "by_type": {"withdrawal": 1},
        "by_who_moved": {"partner_a": 1},
        "by_marker": {"AVOIDANT_STORYTELLING": 1},
        "by_status": {"partly_resolved": 1},
        "sessions_to_resolution": [],
        "median_sessions_to_resolution": None,
        "strategies_used": {},
        "strategies_in_resolutions": {},
        "ruptures_per_session": 1.0,
        "attendance_after_ruptures": {"no_session_yet": 1},
        "contribution_sum": 0,
        "contribution_rated": 0,
        "signals": NO_SIGNALS,
    }


def test_a_repair_after_the_date_counts_from_its_own_session_on(record, run_nightly):
    run_nightly(record.practice, F)
    run_nightly(record.practice, F + days(1))

    before = summary(record.couple, "treatment", F)
    after = summary(record.couple, "treatment", F + days(1))
    assert before["by_status"] == {"resolved": 2, "unresolved": 1, "partly_resolved": 1}
    assert after["by_status"] == {"resolved": 3, "unresolved": 1, "partly_resolved": 1}
    assert after["sessions_to_resolution"] == [0, 1, 2]  # session 4's, repaired in session 6
    assert after["median_sessions_to_resolution"] == 1
    assert (after["sessions"], after["ruptures"]) == (6, 5)
    assert after["attendance_after_ruptures"] == {
        "attended": 3,
        "no_show": 1,
        "no_session_yet": 1,
    }
    assert summary(record.couple, "day", F + days(1))["by_marker"] == {"SELF_CRITICISM": 1}


def test_strategies_of_a_repair_after_the_date_are_not_counted_on_the_date(run_nightly):
    """The repair took place after the day ended: its strategies weren't used by then."""
    practice = make_practice()
    couple = make_couple(make_user(practice, therapist=True))
    rupture = make_rupture(
        make_session(couple, starts_at=at(F - days(7))),
        strategies=ResolutionStrategy.REDIRECTS,
    )
    rupture_repair(
        rupture=rupture,
        repaired_in=make_session(couple, starts_at=at(F + days(1))),
        status=RuptureStatus.RESOLVED,
        strategies=ResolutionStrategy.ACKNOWLEDGES_CONTRIBUTION,
    )

    run_nightly(practice, F)

    treatment = summary(couple, "treatment")
    assert treatment["by_status"] == {"unresolved": 1}
    assert treatment["strategies_used"] == {"REDIRECTS": 1}


def test_a_partial_repair_by_the_date_counts_even_when_completed_after_it(run_nightly):
    """Partly resolved in session 2 (before the date), resolved in session 3 (after it): as
    of the date the rupture was partly resolved, not unresolved."""
    practice = make_practice()
    couple = make_couple(make_user(practice, therapist=True))
    rupture = make_rupture(make_session(couple, starts_at=at(F - days(14))))
    partly = make_session(couple, starts_at=at(F - days(7)))
    rupture_repair(rupture=rupture, repaired_in=partly, status=RuptureStatus.PARTLY_RESOLVED)
    run_nightly(practice, F - days(7))
    assert summary(couple, "treatment", F - days(7))["by_status"] == {"partly_resolved": 1}

    fully = make_session(couple, starts_at=at(F + days(1)))
    rupture_repair(rupture=rupture, repaired_in=fully, status=RuptureStatus.RESOLVED)
    run_nightly(practice, F)

    assert summary(couple, "treatment")["by_status"] == {"partly_resolved": 1}


def test_withdrawn_sessions_and_ruptures_count_nowhere(record, run_nightly):
    run_nightly(record.practice, F)
    for period in ("day", "four_weeks", "treatment"):
        assert "SELF_CRITICISM" not in summary(record.couple, period)["by_marker"]


def test_every_couple_of_the_practice_gets_three_summaries_even_with_no_sessions(
    record, run_nightly
):
    empty = make_couple(record.therapist)
    run_nightly(record.practice, F)
    assert sorted(
        RuptureSummary.objects.filter(on_date=F).values_list("couple_id", "period")
    ) == sorted(
        (couple.pk, period)
        for couple in (record.couple, empty)
        for period in ("day", "four_weeks", "treatment")
    )
    assert summary(empty, "treatment")["sessions"] == 0
    assert summary(empty, "treatment")["ruptures_per_session"] is None
    assert summary(empty, "treatment")["median_sessions_to_resolution"] is None


def test_the_day_ends_at_midnight_in_the_practices_time_zone(run_nightly):
    new_york = ZoneInfo("America/New_York")
    practice = make_practice()
    practice.time_zone = "America/New_York"
    practice.save()
    couple = make_couple(make_user(practice, therapist=True))
    late = make_session(couple, starts_at=at(F, 22, 0, new_york))  # 02:00 UTC on F+1
    make_rupture(late)
    make_session(couple, starts_at=at(F + days(1), 0, 30, new_york))

    run_nightly(practice, F)

    day = summary(couple, "day")
    assert (day["sessions"], day["ruptures"]) == (1, 1)
    assert day["attendance_after_ruptures"] == {"no_session_yet": 1}
    assert summary(couple, "treatment")["sessions"] == 1


def test_summary_carries_the_measure_signals_as_of_the_date(record, run_nightly):
    s = record.sessions
    for n, (a, b) in {1: (30, 30), 2: (30, 27), 4: (30, 24), 5: (22, 24)}.items():
        for partner, total in (("A", a), ("B", b)):
            AllianceRating.objects.create(
                session=s[n],
                partner=partner,
                bond=total // 4,
                goals=total // 4,
                tasks=total // 4,
                fit=total - 3 * (total // 4),
                entered_by="therapist",
            )
    PostSessionReport.objects.create(
        session=s[3],
        respondent="partner_a",
        tension=True,
        upsetting=2,
        resolved=2,
        entered_by="therapist",
    )
    run_nightly(record.practice, F)

    treatment = summary(record.couple, "treatment")["signals"]
    assert treatment["latest_gap"] == 2
    assert treatment["split_widening"] == 1  # gaps 0, 3, 6 at sessions 1, 2, 4
    assert treatment["alliance_drops"] == 1  # partner A: 30 to 22 at session 5
    assert treatment["report_mismatches"] == 1  # tension reported at the no-show, no rupture
    day = summary(record.couple, "day")["signals"]
    assert (day["split_widening"], day["alliance_drops"], day["report_mismatches"]) == (0, 1, 0)


# -- queries per chunk ---------------------------------------------------------------------------

# One chunk: SAVEPOINT, lock the run, the chunk's couple ids, the thresholds, the eight reads of
# snapshot.load_chunk (sessions, ruptures, repairs after the date, alliance ratings, reports,
# questionnaires and their measures, safety screens and reviews), the summaries' upsert, the
# open flags, the new flags, rewriting those whose wording changed (later nights), closing the
# others (later nights), the run's update, RELEASE SAVEPOINT (the test runs inside a
# transaction, so process_chunk's atomic block is a savepoint). Flags still true and worded
# the same are not written. And runs.evaluate's two: the couples' rows locked (against a
# same-day recheck at the same time), and which of them a later look has already seen.
# Pinned: a count that grows with the chunk is an N+1.
FIRST_CHUNK_QUERIES = 19
LATER_CHUNK_QUERIES = 21


def caseload(size: int) -> Practice:
    """`size` couples each with two flagged ruptures, alliance ratings and a questionnaire, written
    in bulk (a handful of queries, whatever the size)."""
    practice = make_practice()
    therapist = make_user(practice, therapist=True)
    couples = Couple.objects.bulk_create(
        Couple(practice=practice, therapist=therapist) for _ in range(size)
    )
    first = TherapySession.objects.bulk_create(
        TherapySession(couple=c, therapist=therapist, starts_at=at(F - days(14)), ordinal=1)
        for c in couples
    )
    second = TherapySession.objects.bulk_create(
        TherapySession(couple=c, therapist=therapist, starts_at=at(F - days(7)), ordinal=2)
        for c in couples
    )
    common = {"created_by": therapist, "significance": 3, "toward": Toward.THERAPIST}
    Rupture.objects.bulk_create(
        [
            Rupture(
                couple=s.couple,
                session=s,
                rupture_type=RuptureType.CONFRONTATION,
                who_moved=WhoMoved.PARTNER_A,
                confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
                therapist_contribution=5,
                **common,
            )
            for s in first
        ]
        + [
            Rupture(
                couple=s.couple,
                session=s,
                rupture_type=RuptureType.WITHDRAWAL,
                who_moved=WhoMoved.PARTNER_B,
                withdrawal_markers=WithdrawalMarker.DENIAL,
                **common,
            )
            for s in first
        ]
    )
    AllianceRating.objects.bulk_create(
        AllianceRating(
            session=s, partner="A", bond=b, goals=b, tasks=b, fit=b, entered_by="therapist"
        )
        for pair in zip(first, second, strict=True)
        for s, b in zip(pair, (8, 5), strict=True)
    )
    csi4 = MeasureDefinition.objects.get(practice=None, code="csi4")
    MeasureResponse.objects.bulk_create(
        MeasureResponse(
            definition=csi4,
            session=s,
            partner="B",
            answers={"happiness": 3, "warm": 2, "rewarding": 2, "satisfied": 2},
            total=9,
            entered_by="therapist",
        )
        for s in first
    )
    return practice


def later_day_changes(practice: Practice) -> None:
    """Before the next date: every confrontation is resolved (its flags close), a third
    session is held (the withdrawal's flag is refreshed) where partner A reports tension
    with no rupture logged (a mismatch flag opens)."""
    Rupture.objects.filter(
        couple__practice=practice, rupture_type=RuptureType.CONFRONTATION
    ).update(status=RuptureStatus.RESOLVED)
    third = TherapySession.objects.bulk_create(
        TherapySession(couple=c, therapist=c.therapist, starts_at=at(F + days(1)), ordinal=3)
        for c in Couple.objects.filter(practice=practice).select_related("therapist")
    )
    PostSessionReport.objects.bulk_create(
        PostSessionReport(
            session=s,
            respondent="partner_a",
            tension=True,
            upsetting=2,
            resolved=1,
            entered_by="therapist",
        )
        for s in third
    )


@pytest.mark.parametrize("size", [5, 50])
def test_a_chunk_takes_the_same_number_of_queries_whatever_its_size(
    size, settings, django_assert_num_queries
):
    settings.NIGHTLY_CHUNK_SIZE = size
    practice = caseload(size + 1)  # one more than a chunk: the chunk is full
    run = NightlyRun.objects.create(practice=practice, for_date=F)

    with django_assert_num_queries(FIRST_CHUNK_QUERIES):
        assert runs.process_chunk(run.pk) is True

    assert RuptureSummary.objects.filter(on_date=F).count() == 3 * size
    # per couple: unresolved x2, confrontation's high contribution, alliance drop
    assert Flag.objects.open().count() == 4 * size


@pytest.mark.parametrize("size", [5, 50])
def test_a_chunk_opening_refreshing_and_closing_flags_takes_the_same_number_of_queries(
    size, settings, django_assert_num_queries
):
    settings.NIGHTLY_CHUNK_SIZE = size
    practice = caseload(size)
    first = NightlyRun.objects.create(practice=practice, for_date=F)
    while runs.process_chunk(first.pk):
        pass
    later_day_changes(practice)
    run = NightlyRun.objects.create(practice=practice, for_date=F + days(1))

    with django_assert_num_queries(LATER_CHUNK_QUERIES):
        assert runs.process_chunk(run.pk) is True

    flags = Flag.objects.filter(couple__practice=practice)
    assert flags.filter(closed_on=F + days(1)).count() == 2 * size
    assert flags.filter(opened_on=F + days(1), kind="report_mismatch").count() == size
    # Still true and worded the same: left as they were, open since the first night.
    assert flags.filter(opened_on=F, closed_on=None, kind="unresolved_rupture").count() == size
