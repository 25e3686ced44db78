"""The nine supervisor flags, on crafted records, exactly as flags/rules.py defines them.

Each flag is checked where it should open, one step short of that (a session early, a day early,
the threshold minus one) where it must not, where it closes (closed_on set on that run's date,
the row kept) and, where the data allows, that a flag true again opens a new row rather than
reopening the old one. Runs go through the real path (`start_run`, eager Celery, on-commit
callbacks executed), one run per date, in date order as the nightly schedule would do them.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from cycles.models import Couple, CoupleStatus
from people.models import SignalThresholds
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.models import Flag, FlagKind
from ruptures.services import rupture_repair, rupture_withdraw
from sessions.models import AllianceRating, EFTChangeEvent, PostSessionReport, TherapySession
from sessions.services import session_withdraw
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Callable

    from people.models import Practice, User
    from ruptures.models import NightlyRun, Rupture
    from sessions.models import TherapySession

pytestmark = [pytest.mark.django_db]

LONDON = ZoneInfo("Europe/London")
D = datetime.date(2026, 1, 5)  # a Monday; every date below is counted from it
WEEK = datetime.timedelta(days=7)


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=LONDON)


def session(couple: Couple, day: datetime.date, **fields: Any) -> TherapySession:
    return make_session(couple, starts_at=at(day), **fields)


def confrontation(session: TherapySession, **fields: Any) -> Rupture:
    return make_rupture(session, rupture_type=RuptureType.CONFRONTATION, **fields)


def flags(couple: Couple, kind: str) -> list[Flag]:
    """Every flag of the kind on the couple, open or closed, oldest first."""
    return list(Flag.objects.filter(couple=couple, kind=kind).order_by("opened_on", "pk"))


def open_flags(couple: Couple, kind: str) -> list[Flag]:
    return [f for f in flags(couple, kind) if f.closed_on is None]


def set_thresholds(practice: Practice, **values: int) -> SignalThresholds:
    return SignalThresholds.objects.create(practice=practice, **values)


def rate(session: TherapySession, **totals: int) -> None:
    """Alliance totals (0–40) per partner, spread over the four 0–10 items."""
    for partner, total in totals.items():
        q, r = divmod(total, 4)
        items = [q + (1 if i < r else 0) for i in range(4)]
        AllianceRating.objects.create(
            session=session,
            partner=partner,
            bond=items[0],
            goals=items[1],
            tasks=items[2],
            fit=items[3],
            entered_by="therapist",
        )


def report(session: TherapySession, respondent: str, *, tension: bool) -> None:
    PostSessionReport.objects.create(
        session=session,
        respondent=respondent,
        tension=tension,
        upsetting=3 if tension else None,
        resolved=2 if tension else None,
        entered_by="therapist",
    )


@pytest.fixture
def therapist() -> User:
    return make_user(make_practice(), "Flag Therapist", therapist=True)


@pytest.fixture
def practice(therapist: User) -> Practice:
    assert therapist.practice is not None
    return therapist.practice


@pytest.fixture
def couple(therapist: User) -> Couple:
    return make_couple(therapist)


@pytest.fixture
def run(
    run_nightly: Callable[..., NightlyRun], practice: Practice
) -> Callable[[datetime.date], NightlyRun]:
    return lambda for_date: run_nightly(practice, for_date)


# -- the docs/domain.md seed case
# ---------------------------------------------------------------------


def test_seed_case_walk_out_and_no_show_flag_then_the_apology_closes_both(couple, run, therapist):
    """A pursuing partner rejects a grounding exercise, the therapist raises her voice (her
    contribution rated 4), the partner walks out and misses the next week; two weeks later
    the therapist opens by owning her part and the work resumes."""
    walked_out = session(couple, D, attendance="ended_early", left_early="partner_a")
    rupture = confrontation(
        walked_out,
        who_moved=WhoMoved.PARTNER_A,
        toward=Toward.THERAPIST,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
        significance=5,
        therapist_contribution=4,
    )
    session(couple, D + WEEK, attendance="no_show")

    run(D + WEEK)

    (absence,) = open_flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE)
    (contribution,) = open_flags(couple, FlagKind.HIGH_THERAPIST_CONTRIBUTION)
    assert absence.key == contribution.key == f"rupture:{rupture.pk}"
    assert absence.evidence == {"ruptures": [rupture.pk], "sessions": [1]}
    assert absence.detail == "A confrontation rupture and a walk-out in session 1."
    assert contribution.detail == "Therapist contribution rated 4/5 in session 1."
    assert contribution.evidence == {"ruptures": [rupture.pk], "sessions": [1]}

    repair = session(couple, D + 3 * WEEK)
    rupture_repair(
        rupture=rupture,
        repaired_in=repair,
        status=RuptureStatus.RESOLVED,
        strategies=ResolutionStrategy.ACKNOWLEDGES_CONTRIBUTION
        | ResolutionStrategy.DISCLOSES_EXPERIENCE
        | ResolutionStrategy.LINKS_TO_THERAPY_PATTERN
        | ResolutionStrategy.INVITES_DISCUSSION,
    )
    run(D + 3 * WEEK + days(1))

    for kind in (FlagKind.CONFRONTATION_THEN_ABSENCE, FlagKind.HIGH_THERAPIST_CONTRIBUTION):
        (kept,) = flags(couple, kind)
        assert kept.opened_on == D + WEEK
        assert kept.closed_on == D + 3 * WEEK + days(1)


# -- 1. unresolved rupture -----------------------------------------------------------------------


def test_unresolved_rupture_opens_on_its_sessions_date_by_default(couple, run):
    rupture = make_rupture(session(couple, D))

    run(D - days(1))
    assert flags(couple, FlagKind.UNRESOLVED_RUPTURE) == []

    run(D)
    (flag,) = open_flags(couple, FlagKind.UNRESOLVED_RUPTURE)
    assert flag.key == f"rupture:{rupture.pk}"
    assert flag.opened_on == D
    assert flag.detail == (
        "Withdrawal rupture in session 1: not yet repaired; no session held since."
    )
    assert flag.evidence == {"ruptures": [rupture.pk], "sessions": [1]}


def test_unresolved_rupture_waits_for_the_practices_number_of_later_sessions_held(
    couple, practice, run
):
    set_thresholds(practice, unresolved_after_sessions=2)
    make_rupture(session(couple, D))
    session(couple, D + WEEK)
    session(couple, D + 2 * WEEK, attendance="no_show")  # not held: doesn't count
    session(couple, D + 3 * WEEK)

    run(D + WEEK)
    run(D + 2 * WEEK)
    assert flags(couple, FlagKind.UNRESOLVED_RUPTURE) == []

    run(D + 3 * WEEK)
    (flag,) = open_flags(couple, FlagKind.UNRESOLVED_RUPTURE)
    assert flag.opened_on == D + 3 * WEEK
    assert flag.detail == (
        "Withdrawal rupture in session 1: still unresolved after 2 later sessions held."
    )


@pytest.mark.parametrize("status", [RuptureStatus.RESOLVED, RuptureStatus.PARTLY_RESOLVED])
def test_unresolved_rupture_closes_when_repaired_and_the_row_is_kept(couple, run, status):
    rupture = make_rupture(session(couple, D))
    later = session(couple, D + WEEK)
    run(D)

    rupture_repair(rupture=rupture, repaired_in=later, status=status)
    run(D + WEEK)

    (flag,) = flags(couple, FlagKind.UNRESOLVED_RUPTURE)
    assert (flag.opened_on, flag.closed_on) == (D, D + WEEK)


def test_unresolved_rupture_closes_when_the_rupture_is_withdrawn(couple, run, therapist):
    rupture = make_rupture(session(couple, D))
    run(D)

    rupture_withdraw(rupture=rupture, by=therapist, reason="Logged on the wrong couple.")
    run(D + days(1))

    (flag,) = flags(couple, FlagKind.UNRESOLVED_RUPTURE)
    assert flag.closed_on == D + days(1)


def test_unresolved_rupture_true_again_opens_a_new_flag(couple, run, therapist):
    """The repairing session is withdrawn (logged by mistake): unrepaired again, a new flag."""
    rupture = make_rupture(session(couple, D))
    repair = session(couple, D + WEEK)
    run(D)
    rupture_repair(rupture=rupture, repaired_in=repair, status=RuptureStatus.RESOLVED)
    run(D + WEEK)

    session_withdraw(session=repair, by=therapist, reason="Logged on the wrong couple.")
    run(D + WEEK + days(1))

    first, second = flags(couple, FlagKind.UNRESOLVED_RUPTURE)
    assert (first.opened_on, first.closed_on) == (D, D + WEEK)
    assert (second.opened_on, second.closed_on) == (D + WEEK + days(1), None)
    assert first.key == second.key == f"rupture:{rupture.pk}"


# -- 2. confrontation then absence ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("attendance", "fields", "said"),
    [
        ("no_show", {}, "a no-show"),
        ("cancelled", {"cancelled_by": "partner_b"}, "a cancellation"),
        ("ended_early", {"left_early": "both"}, "a walk-out"),
    ],
)
def test_confrontation_then_absence_opens_when_the_next_session_is_missed(
    couple, run, attendance, fields, said
):
    rupture = confrontation(session(couple, D))
    session(couple, D + WEEK, attendance=attendance, **fields)

    run(D)
    assert flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE) == []

    run(D + WEEK)
    (flag,) = open_flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE)
    assert flag.detail == f"Confrontation rupture in session 1, then {said} in session 2."
    assert flag.evidence == {"ruptures": [rupture.pk], "sessions": [1, 2]}


def test_confrontation_in_a_session_that_ended_early_flags_the_same_day(couple, run):
    confrontation(session(couple, D, attendance="ended_early", left_early="partner_b"))
    run(D)
    (flag,) = open_flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE)
    assert flag.evidence["sessions"] == [1]


def test_confrontation_then_absence_looks_only_at_the_next_session(couple, run):
    confrontation(session(couple, D))
    session(couple, D + WEEK)
    session(couple, D + 2 * WEEK, attendance="no_show")  # one session too late
    run(D + 2 * WEEK)
    assert flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE) == []


def test_withdrawal_rupture_then_absence_is_not_a_confrontation_flag(couple, run):
    make_rupture(session(couple, D, attendance="ended_early", left_early="partner_a"))
    session(couple, D + WEEK, attendance="no_show")
    run(D + WEEK)
    assert flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE) == []


def test_confrontation_then_absence_stays_while_partly_resolved_closes_when_resolved(
    couple, run, therapist
):
    rupture = confrontation(session(couple, D))
    session(couple, D + WEEK, attendance="no_show")
    repair = session(couple, D + 2 * WEEK)
    run(D + WEEK)

    rupture_repair(rupture=rupture, repaired_in=repair, status=RuptureStatus.PARTLY_RESOLVED)
    run(D + 2 * WEEK)
    (still,) = flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE)
    assert still.closed_on is None

    rupture_repair(rupture=rupture, repaired_in=repair, status=RuptureStatus.RESOLVED)
    run(D + 2 * WEEK + days(1))
    (closed,) = flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE)
    assert (closed.opened_on, closed.closed_on) == (D + WEEK, D + 2 * WEEK + days(1))

    session_withdraw(session=repair, by=therapist, reason="Logged on the wrong couple.")
    run(D + 2 * WEEK + days(2))
    first, second = flags(couple, FlagKind.CONFRONTATION_THEN_ABSENCE)
    assert first.pk == closed.pk
    assert (second.opened_on, second.closed_on) == (D + 2 * WEEK + days(2), None)


# -- 3. recurring rupture ------------------------------------------------------------------------


def test_recurring_marker_flags_at_the_third_session(couple, run):
    ruptures = [make_rupture(session(couple, D + n * WEEK)) for n in range(3)]

    run(D + WEEK)
    assert flags(couple, FlagKind.RECURRING_RUPTURE) == []

    run(D + 2 * WEEK)
    (flag,) = open_flags(couple, FlagKind.RECURRING_RUPTURE)
    assert flag.key == "marker:MINIMAL_RESPONSE"
    assert flag.detail == "Marker “Minimal response” in sessions 1, 2 and 3."
    assert flag.evidence == {"ruptures": sorted(r.pk for r in ruptures), "sessions": [1, 2, 3]}


def test_ruptures_in_one_session_count_once_towards_recurrence(couple, run):
    first = session(couple, D)
    make_rupture(first)
    make_rupture(first, who_moved=WhoMoved.PARTNER_B)
    make_rupture(session(couple, D + WEEK))
    run(D + WEEK)
    assert flags(couple, FlagKind.RECURRING_RUPTURE) == []


def test_different_markers_do_not_add_up_to_a_recurrence(couple, run):
    make_rupture(session(couple, D))
    make_rupture(session(couple, D + WEEK), withdrawal_markers=WithdrawalMarker.DENIAL)
    make_rupture(session(couple, D + 2 * WEEK))
    run(D + 2 * WEEK)
    assert flags(couple, FlagKind.RECURRING_RUPTURE) == []


def test_recurring_rupture_closes_when_a_session_leaves_the_84_day_window_and_reopens(couple, run):
    for offset in (0, 30, 60):
        make_rupture(session(couple, D + days(offset)))
    run(D + days(60))
    run(D + days(83))  # the first session is 83 days back: still inside
    (flag,) = flags(couple, FlagKind.RECURRING_RUPTURE)
    assert (flag.opened_on, flag.closed_on) == (D + days(60), None)

    run(D + days(85))  # 85 days back: outside, two sessions left
    (flag,) = flags(couple, FlagKind.RECURRING_RUPTURE)
    assert flag.closed_on == D + days(85)

    make_rupture(session(couple, D + days(90)))
    run(D + days(90))
    first, second = flags(couple, FlagKind.RECURRING_RUPTURE)
    assert first.pk == flag.pk
    assert (second.opened_on, second.closed_on) == (D + days(90), None)
    assert second.evidence["sessions"] == [2, 3, 4]


def test_recurring_rupture_follows_the_practices_number_of_sessions(couple, practice, run):
    set_thresholds(practice, recurring_marker_sessions=2)
    make_rupture(session(couple, D))
    make_rupture(session(couple, D + WEEK))
    run(D + WEEK)
    (flag,) = open_flags(couple, FlagKind.RECURRING_RUPTURE)
    assert flag.detail == "Marker “Minimal response” in sessions 1 and 2."


# -- 4. high therapist contribution --------------------------------------------------------------


@pytest.mark.parametrize(
    ("contribution", "threshold", "flagged"),
    [(4, None, True), (5, None, True), (3, None, False), (4, 5, False), (5, 5, True), (3, 3, True)],
)
def test_high_contribution_follows_the_practices_threshold(
    couple, practice, run, contribution, threshold, flagged
):
    if threshold is not None:
        set_thresholds(practice, high_contribution=threshold)
    make_rupture(session(couple, D), therapist_contribution=contribution)
    run(D)
    assert len(open_flags(couple, FlagKind.HIGH_THERAPIST_CONTRIBUTION)) == int(flagged)


def test_unrated_contribution_is_never_high(couple, run):
    make_rupture(session(couple, D), therapist_contribution=None)
    run(D)
    assert flags(couple, FlagKind.HIGH_THERAPIST_CONTRIBUTION) == []


def test_high_contribution_stays_while_partly_resolved_closes_when_resolved_then_reopens(
    couple, run, therapist
):
    rupture = make_rupture(session(couple, D), therapist_contribution=5)
    repair = session(couple, D + WEEK)
    run(D)

    rupture_repair(rupture=rupture, repaired_in=repair, status=RuptureStatus.PARTLY_RESOLVED)
    run(D + WEEK)
    assert len(open_flags(couple, FlagKind.HIGH_THERAPIST_CONTRIBUTION)) == 1

    rupture_repair(rupture=rupture, repaired_in=repair, status=RuptureStatus.RESOLVED)
    run(D + WEEK + days(1))
    (closed,) = flags(couple, FlagKind.HIGH_THERAPIST_CONTRIBUTION)
    assert (closed.opened_on, closed.closed_on) == (D, D + WEEK + days(1))

    session_withdraw(session=repair, by=therapist, reason="Logged on the wrong couple.")
    run(D + WEEK + days(2))
    first, second = flags(couple, FlagKind.HIGH_THERAPIST_CONTRIBUTION)
    assert first.pk == closed.pk
    assert (second.opened_on, second.closed_on) == (D + WEEK + days(2), None)


# -- 5. split alliance widening ------------------------------------------------------------------


def rated_sessions(couple: Couple, gaps: list[int], start: datetime.date = D) -> None:
    for n, gap in enumerate(gaps):
        rate(session(couple, start + n * WEEK), A=30, B=30 - gap)


def test_split_widening_opens_at_the_latest_both_rated_session(couple, run):
    rated_sessions(couple, [0, 2, 4])
    run(D + WEEK)
    assert flags(couple, FlagKind.SPLIT_ALLIANCE_WIDENING) == []

    run(D + 2 * WEEK)
    (flag,) = open_flags(couple, FlagKind.SPLIT_ALLIANCE_WIDENING)
    assert flag.key == ""
    assert flag.evidence == {"sessions": [3], "gaps": [0.0, 2.0, 4.0]}
    assert flag.detail == "The partners' alliance gap grew from 0 to 4 over 3 sessions."


@pytest.mark.parametrize("gaps", [[0, 2, 3], [0, 5, 4]], ids=["grew-by-3", "narrowed"])
def test_split_widening_needs_the_full_increase_without_narrowing(couple, run, gaps):
    rated_sessions(couple, gaps)
    run(D + 2 * WEEK)
    assert flags(couple, FlagKind.SPLIT_ALLIANCE_WIDENING) == []


def test_sessions_rated_by_one_partner_are_skipped_in_the_split_trend(couple, run):
    rate(session(couple, D), A=30, B=30)
    rate(session(couple, D + WEEK), A=30)
    rate(session(couple, D + 2 * WEEK), A=30, B=28)
    rate(session(couple, D + 3 * WEEK), A=30, B=26)
    run(D + 3 * WEEK)
    (flag,) = open_flags(couple, FlagKind.SPLIT_ALLIANCE_WIDENING)
    assert flag.evidence["sessions"] == [4]


def test_split_widening_closes_when_the_gap_narrows_and_a_new_widening_opens_anew(couple, run):
    rated_sessions(couple, [0, 2, 4, 3, 5, 7])
    run(D + 2 * WEEK)
    run(D + 3 * WEEK)
    (flag,) = flags(couple, FlagKind.SPLIT_ALLIANCE_WIDENING)
    assert flag.closed_on == D + 3 * WEEK

    run(D + 4 * WEEK)  # gaps 4, 3, 5: narrowed inside the window
    assert open_flags(couple, FlagKind.SPLIT_ALLIANCE_WIDENING) == []

    run(D + 5 * WEEK)  # gaps 3, 5, 7
    first, second = flags(couple, FlagKind.SPLIT_ALLIANCE_WIDENING)
    assert first.pk == flag.pk
    assert (second.opened_on, second.closed_on) == (D + 5 * WEEK, None)
    assert second.evidence == {"sessions": [6], "gaps": [3.0, 5.0, 7.0]}


def test_split_widening_follows_the_practices_least_widening(couple, practice, run):
    set_thresholds(practice, split_min_increase=3)
    rated_sessions(couple, [0, 2, 3])
    run(D + 2 * WEEK)
    assert len(open_flags(couple, FlagKind.SPLIT_ALLIANCE_WIDENING)) == 1


# -- 6. alliance drop ----------------------------------------------------------------------------


def partner_a_totals(couple: Couple, totals: list[int]) -> None:
    for n, total in enumerate(totals):
        rate(session(couple, D + n * WEEK), A=total)


def test_alliance_drop_opens_per_partner_when_the_fall_reaches_the_threshold(couple, run):
    partner_a_totals(couple, [30, 25])
    run(D)
    assert flags(couple, FlagKind.ALLIANCE_DROP) == []

    run(D + WEEK)
    (flag,) = open_flags(couple, FlagKind.ALLIANCE_DROP)
    assert flag.key == "partner:A"
    assert flag.detail == "Partner A's alliance fell to 25 in session 2, from 30."
    assert flag.evidence == {"sessions": [2, 2]}


def test_alliance_fall_one_point_short_is_not_a_drop(couple, run):
    partner_a_totals(couple, [30, 26])
    run(D + WEEK)
    assert flags(couple, FlagKind.ALLIANCE_DROP) == []


def test_alliance_drop_stays_while_still_down_closes_on_recovery_and_reopens(couple, run):
    partner_a_totals(couple, [30, 24, 25, 27, 20])
    run(D + WEEK)
    run(D + 2 * WEEK)  # 25: still 5 below 30
    (flag,) = flags(couple, FlagKind.ALLIANCE_DROP)
    assert flag.closed_on is None
    assert (
        flag.detail
        == "Partner A's alliance is 25 in session 3, still down from 30 before session 2."
    )

    run(D + 3 * WEEK)  # 27: recovered
    (flag,) = flags(couple, FlagKind.ALLIANCE_DROP)
    assert flag.closed_on == D + 3 * WEEK

    run(D + 4 * WEEK)  # 20: a new drop, from 27
    first, second = flags(couple, FlagKind.ALLIANCE_DROP)
    assert first.pk == flag.pk
    assert (second.opened_on, second.closed_on) == (D + 4 * WEEK, None)
    assert second.detail == "Partner A's alliance fell to 20 in session 5, from 27."


def test_alliance_drop_follows_the_practices_points(couple, practice, run):
    set_thresholds(practice, alliance_drop_points=4)
    partner_a_totals(couple, [30, 26])
    run(D + WEEK)
    assert len(open_flags(couple, FlagKind.ALLIANCE_DROP)) == 1


# -- 7. report mismatch --------------------------------------------------------------------------


def test_partner_tension_without_a_logged_rupture_is_a_mismatch(couple, run):
    quiet = session(couple, D)
    report(quiet, "partner_a", tension=True)
    run(D)
    (flag,) = open_flags(couple, FlagKind.REPORT_MISMATCH)
    assert flag.key == f"session:{quiet.pk}:A"
    assert flag.detail == "Partner A reported tension; no rupture was logged or repaired."
    assert flag.evidence == {"sessions": [1]}


def test_logged_rupture_a_partner_did_not_feel_is_a_mismatch(couple, run):
    seen = session(couple, D)
    make_rupture(seen)
    report(seen, "partner_a", tension=True)
    report(seen, "partner_b", tension=False)
    run(D)
    (flag,) = open_flags(couple, FlagKind.REPORT_MISMATCH)
    assert flag.key == f"session:{seen.pk}:B"
    assert flag.detail == "A rupture was logged; partner B reported no tension."


def test_reports_agreeing_with_the_log_and_the_therapists_own_report_raise_no_mismatch(couple, run):
    agreed = session(couple, D)
    make_rupture(agreed)
    report(agreed, "partner_a", tension=True)
    felt = session(couple, D + days(1))  # no rupture logged, but both sensed the tension
    report(felt, "partner_b", tension=True)
    report(felt, "therapist", tension=True)
    calm = session(couple, D + days(2))
    report(calm, "partner_a", tension=False)
    report(calm, "therapist", tension=False)
    run(D + days(2))
    assert flags(couple, FlagKind.REPORT_MISMATCH) == []


def test_the_therapist_reporting_tension_a_partner_did_not_is_a_mismatch(couple, run):
    calm = session(couple, D)
    report(calm, "partner_b", tension=False)
    report(calm, "therapist", tension=True)
    run(D)
    (flag,) = open_flags(couple, FlagKind.REPORT_MISMATCH)
    assert "The therapist reported tension; partner B reported none." in flag.detail


def test_report_mismatch_closes_when_its_session_leaves_the_four_weeks(couple, run):
    report(session(couple, D), "partner_a", tension=True)
    run(D)
    run(D + days(27))  # the date and the 27 days before it: still inside
    (flag,) = flags(couple, FlagKind.REPORT_MISMATCH)
    assert flag.closed_on is None

    run(D + days(28))
    (flag,) = flags(couple, FlagKind.REPORT_MISMATCH)
    assert (flag.opened_on, flag.closed_on) == (D, D + days(28))


def test_report_mismatch_closes_when_corrected_and_reopens_when_the_correction_is_withdrawn(
    couple, run, therapist
):
    quiet = session(couple, D)
    report(quiet, "partner_a", tension=True)
    run(D)

    logged_late = make_rupture(quiet)
    run(D + days(1))
    (flag,) = flags(couple, FlagKind.REPORT_MISMATCH)
    assert flag.closed_on == D + days(1)

    rupture_withdraw(rupture=logged_late, by=therapist, reason="Not a rupture after all.")
    run(D + days(2))
    first, second = flags(couple, FlagKind.REPORT_MISMATCH)
    assert first.pk == flag.pk
    assert (second.opened_on, second.closed_on) == (D + days(2), None)


# -- 8. gone quiet -------------------------------------------------------------------------------


def test_gone_quiet_opens_after_the_practices_days_without_a_session_held(couple, run):
    make_rupture(session(couple, D))
    session(couple, D + WEEK, attendance="no_show")  # not held: still quiet
    run(D + days(20))
    assert flags(couple, FlagKind.GONE_QUIET) == []

    run(D + days(21))
    (flag,) = open_flags(couple, FlagKind.GONE_QUIET)
    assert flag.detail == "No session held in the 21 days since the rupture in session 1."
    assert flag.evidence == {"sessions": [1]}


def test_gone_quiet_closes_when_a_session_is_held_and_reopens_after_a_new_rupture(couple, run):
    make_rupture(session(couple, D))
    run(D + days(21))
    session(couple, D + days(25))
    run(D + days(25))
    (flag,) = flags(couple, FlagKind.GONE_QUIET)
    assert (flag.opened_on, flag.closed_on) == (D + days(21), D + days(25))

    make_rupture(session(couple, D + days(30)))
    run(D + days(50))
    assert len(flags(couple, FlagKind.GONE_QUIET)) == 1
    run(D + days(51))
    first, second = flags(couple, FlagKind.GONE_QUIET)
    assert first.pk == flag.pk
    assert (second.opened_on, second.closed_on) == (D + days(51), None)
    assert second.evidence == {"sessions": [3]}


@pytest.mark.parametrize(
    ("status", "flagged"),
    [
        (CoupleStatus.ACTIVE, True),
        (CoupleStatus.PAUSED, True),
        (CoupleStatus.COMPLETED, False),
        (CoupleStatus.DROPPED_OUT, False),
    ],
)
def test_gone_quiet_is_only_for_active_or_paused_couples(couple, run, status, flagged):
    Couple.objects.filter(pk=couple.pk).update(status=status)
    make_rupture(session(couple, D))
    run(D + days(30))
    assert len(flags(couple, FlagKind.GONE_QUIET)) == int(flagged)


def test_gone_quiet_follows_the_practices_days(couple, practice, run):
    set_thresholds(practice, gone_quiet_days=10)
    make_rupture(session(couple, D))
    run(D + days(9))
    assert flags(couple, FlagKind.GONE_QUIET) == []
    run(D + days(10))
    assert len(open_flags(couple, FlagKind.GONE_QUIET)) == 1


# -- 9. stuck in stage 1 -------------------------------------------------------------------------


def weekly_sessions(couple: Couple, count: int, **fields: Any) -> list[TherapySession]:
    return [session(couple, D + n * WEEK, **fields) for n in range(count)]


def test_stuck_in_stage_one_opens_after_twelve_sessions_held(couple, run):
    weekly_sessions(couple, 12)
    run(D + 10 * WEEK)
    assert flags(couple, FlagKind.STUCK_IN_STAGE_ONE) == []

    run(D + 11 * WEEK)
    (flag,) = open_flags(couple, FlagKind.STUCK_IN_STAGE_ONE)
    assert flag.detail == (
        "Still in stage 1 (de-escalation) after 12 sessions held; no de-escalation recorded."
    )
    assert flag.evidence == {"sessions": [12]}


def test_a_de_escalation_recorded_by_the_date_means_not_stuck(couple, run):
    held = weekly_sessions(couple, 12)
    run(D + 11 * WEEK)
    assert len(open_flags(couple, FlagKind.STUCK_IN_STAGE_ONE)) == 1
    # Seen in session 12, the stage not yet moved on: the flag closes.
    TherapySession.objects.filter(pk=held[-1].pk).update(
        change_events=EFTChangeEvent.DE_ESCALATION | EFTChangeEvent.BLAMER_SOFTENING
    )
    run(D + 11 * WEEK + days(1))
    assert open_flags(couple, FlagKind.STUCK_IN_STAGE_ONE) == []
    # Another change event alone is not a de-escalation.
    TherapySession.objects.filter(pk=held[-1].pk).update(
        change_events=EFTChangeEvent.WITHDRAWER_REENGAGEMENT
    )
    run(D + 11 * WEEK + days(2))
    assert len(open_flags(couple, FlagKind.STUCK_IN_STAGE_ONE)) == 1


def test_sessions_not_held_do_not_count_towards_stuck(couple, run):
    weekly_sessions(couple, 11)
    session(couple, D + 11 * WEEK, attendance="cancelled", cancelled_by="therapist")
    run(D + 11 * WEEK)
    assert flags(couple, FlagKind.STUCK_IN_STAGE_ONE) == []


def test_stuck_closes_on_reaching_stage_two_and_reopens_back_in_stage_one(couple, run):
    weekly_sessions(couple, 12)
    run(D + 11 * WEEK)

    couple.eft_step = 5  # own disowned needs: stage 2
    couple.save()
    run(D + 11 * WEEK + days(1))
    (flag,) = flags(couple, FlagKind.STUCK_IN_STAGE_ONE)
    assert flag.closed_on == D + 11 * WEEK + days(1)

    couple.eft_step = 4
    couple.save()
    run(D + 11 * WEEK + days(2))
    first, second = flags(couple, FlagKind.STUCK_IN_STAGE_ONE)
    assert first.pk == flag.pk
    assert (second.opened_on, second.closed_on) == (D + 11 * WEEK + days(2), None)


def test_stuck_is_only_for_active_couples(couple, run):
    weekly_sessions(couple, 12)
    Couple.objects.filter(pk=couple.pk).update(status=CoupleStatus.PAUSED)
    run(D + 11 * WEEK)
    assert flags(couple, FlagKind.STUCK_IN_STAGE_ONE) == []


def test_stuck_follows_the_practices_number_of_sessions(couple, practice, run):
    set_thresholds(practice, stuck_stage_one_sessions=3)
    weekly_sessions(couple, 3)
    run(D + WEEK)
    assert flags(couple, FlagKind.STUCK_IN_STAGE_ONE) == []
    run(D + 2 * WEEK)
    assert len(open_flags(couple, FlagKind.STUCK_IN_STAGE_ONE)) == 1


# -- across kinds --------------------------------------------------------------------------------


def test_a_run_touches_only_its_own_practices_flags(couple, run):
    elsewhere = make_couple(make_user(make_practice(), therapist=True))
    make_rupture(session(elsewhere, D))
    make_rupture(session(couple, D))
    run(D)
    assert flags(elsewhere, FlagKind.UNRESOLVED_RUPTURE) == []
    assert len(flags(couple, FlagKind.UNRESOLVED_RUPTURE)) == 1
