"""The derived alliance and satisfaction signals, exactly as flags/measure_signals.py defines them.

First the pure functions on crafted series of `SessionPoint`s, then the same signals end to end:
rows in the database, read by the set-based loaders, judged with the practice's thresholds and
shown on the couple page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse

from cycles.views import couple_signals
from flags.measure_signals import (
    Finding,
    Satisfaction,
    Score,
    SessionPoint,
    alliance_drops,
    derive,
    load_points,
    load_satisfaction,
    report_mismatches,
    split_widening,
)
from people.models import SignalThresholds
from ruptures.codes import RuptureStatus
from ruptures.services import rupture_repair, rupture_withdraw
from sessions.models import (
    AllianceRating,
    Attendance,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    SessionFormat,
    TherapySession,
)
from sessions.services import session_withdraw
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cycles.models import Couple
    from people.models import Practice, User


# -- pure functions on crafted series ------------------------------------------------------------


def point(
    ordinal: int,
    a: int | None = None,
    b: int | None = None,
    *,
    ruptures: int = 0,
    repairs: int = 0,
    **tension: bool,
) -> SessionPoint:
    """Session `ordinal` (its id is 100 + ordinal) with the partners' alliance totals."""
    alliance = {label: total for label, total in (("A", a), ("B", b)) if total is not None}
    return SessionPoint(
        session_id=100 + ordinal,
        ordinal=ordinal,
        took_place=True,
        rupture_count=ruptures,
        repair_count=repairs,
        alliance=alliance,
        tension=dict(tension),
    )


def with_gaps(*gaps: int) -> list[SessionPoint]:
    """Sessions 1, 2, 3… both rated, partner A at 30 and partner B `gap` below."""
    return [point(n, 30, 30 - gap) for n, gap in enumerate(gaps, start=1)]


def at(findings: list[Finding]) -> list[int]:
    return [f.ordinal for f in findings]


def at_partner(findings: list[Finding]) -> list[tuple[int, str]]:
    return [(f.ordinal, f.partner) for f in findings]


def test_split_widening_fires_where_the_full_window_first_widens_and_while_it_keeps_widening():
    # Gaps 2, 6 already grow by 4, but two sessions don't fill a window of three (no finding at
    # 2); 2→6→7 does (3), 6→7→10 still does (4); the gap narrows at 5 and in the windows
    # holding that fall (5, 6); 3→5→8 widens again (7).
    findings = split_widening(with_gaps(2, 6, 7, 10, 3, 5, 8), window=3, min_increase=4)

    assert at(findings) == [3, 4, 7]
    assert findings[0].session_id == 103
    assert findings[0].kind == "split_widening"
    assert findings[0].values == (2.0, 6.0, 7.0)
    assert findings[0].detail == "The partners' alliance gap grew from 2 to 7 over 3 sessions."


def test_split_widening_needs_the_least_increase_from_first_to_last():
    assert at(split_widening(with_gaps(1, 2, 5), window=3, min_increase=4)) == [3]
    assert at(split_widening(with_gaps(1, 2, 4), window=3, min_increase=4)) == []


def test_split_widening_does_not_fire_when_the_gap_narrows_inside_the_window():
    assert at(split_widening(with_gaps(2, 1, 7), window=3, min_increase=4)) == []
    assert at(split_widening(with_gaps(2, 2, 6), window=3, min_increase=4)) == [3]


def test_split_widening_counts_only_sessions_both_partners_rated():
    points = [
        point(1, 30, 28),
        point(2, 30),
        point(3, None, 20),
        point(4, 30, 26),
        point(5, 30, 24),
    ]

    # The window is sessions 1, 4, 5 (gaps 2, 4, 6): the half-rated sessions are skipped.
    assert at(split_widening(points, window=3, min_increase=4)) == [5]


def test_split_widening_window_length_changes_the_result():
    points = with_gaps(5, 2, 3, 6)

    assert at(split_widening(points, window=3, min_increase=4)) == [4]
    assert at(split_widening(points, window=4, min_increase=4)) == []  # 5→2 narrows


def drop_series() -> list[SessionPoint]:
    return [
        point(1, 30, 30),
        point(2, None, 30),  # partner A didn't rate this one
        point(3, 25, 30),  # A: 5 below session 1, A's previous rated session
        point(4, 21, 22),  # A: 4 below (threshold − 1); B: 8 below
        point(5, 16, 22),  # A: 5 below
        point(6, 26, 19),  # A rises; B: 3 below
    ]


def test_alliance_drop_fires_at_a_fall_of_the_threshold_from_the_previous_rated_session():
    findings = alliance_drops(drop_series(), threshold=5)

    assert at_partner(findings) == [(3, "A"), (4, "B"), (5, "A")]
    assert findings[0].session_id == 103
    assert findings[0].values == (30, 25)
    assert findings[0].detail == "Partner A's alliance fell from 30 to 25."


def test_alliance_drop_does_not_fire_at_a_fall_of_threshold_minus_one():
    assert at_partner(alliance_drops([point(1, 30, 30), point(2, 26, 26)], threshold=5)) == []


def test_alliance_drop_compares_with_the_previous_session_not_the_best_one():
    slow_decline = [point(1, 30), point(2, 27), point(3, 24), point(4, 21)]

    assert alliance_drops(slow_decline, threshold=5) == []


def test_alliance_drop_threshold_changes_the_result():
    assert at_partner(alliance_drops(drop_series(), threshold=8)) == [(4, "B")]


def mismatch_series() -> list[SessionPoint]:
    return [
        point(1, partner_a=True, partner_b=False),  # A felt tension, nothing logged
        point(2, ruptures=1, partner_a=True, partner_b=False),  # logged, B felt none
        point(3, ruptures=1, partner_a=True, partner_b=True),  # consistent
        point(4, partner_a=False, partner_b=False),  # consistent
        point(5, ruptures=2),  # nobody answered the report
        point(6, therapist=True),  # the therapist's own report is not a partner's
        point(7, repairs=1, partner_a=True),  # an earlier rupture was repaired here
        point(8, repairs=1, partner_b=False),  # a repair alone is not a rupture logged
    ]


def test_the_therapists_own_report_counts_as_what_the_therapist_saw():
    findings = report_mismatches(
        [
            point(1, therapist=True, partner_a=True),  # both felt it; no rupture logged
            point(2, therapist=True, partner_a=False),  # the therapist felt it, A did not
            point(3, therapist=False, partner_b=True),  # B felt it, the therapist did not
            point(4, therapist=False, partner_a=False),  # agreed: nothing happened
            point(5, repairs=1, therapist=True, partner_b=False),  # the repair's own tension
        ]
    )

    assert at_partner(findings) == [(2, "A"), (3, "B")]
    assert [f.detail for f in findings] == [
        "The therapist reported tension; partner A reported none.",
        "Partner B reported tension; the therapist reported none.",
    ]


def test_report_mismatch_fires_both_ways_and_not_when_reports_agree_with_the_log():
    findings = report_mismatches(mismatch_series())

    assert at_partner(findings) == [(1, "A"), (2, "B")]
    assert findings[0].detail == "Partner A reported tension; no rupture was logged or repaired."
    assert findings[1].detail == "A rupture was logged; partner B reported no tension."
    assert {f.kind for f in findings} == {"report_mismatch"}


def csi(*totals: float | str, partner: str = "A") -> Satisfaction:
    return Satisfaction(
        code="csi4",
        name="Couples Satisfaction Index (CSI-4)",
        partner=partner,
        scores=[Score(200 + n, n, Decimal(str(t))) for n, t in enumerate(totals, start=1)],
        cutoff=Decimal("13.5"),
        reliable_change=Decimal("3.7"),
    )


def test_satisfaction_below_the_cutoff_judges_the_latest_score():
    assert csi(13).below_cutoff
    assert not csi(14).below_cutoff
    assert not csi("13.5").below_cutoff
    assert csi(20, 13).below_cutoff
    assert not csi(5, 14).below_cutoff
    assert not csi().below_cutoff


def test_satisfaction_reliable_change_needs_at_least_the_reliable_change_between_first_and_latest():
    assert csi(10, "13.7").reliable == "improved"
    assert csi(10, 14).reliable == "improved"
    assert csi(14, "10.3").reliable == "deteriorated"
    assert csi(17, 13).reliable == "deteriorated"
    assert csi(10, 13).reliable == ""
    assert csi(13, 10).reliable == ""
    assert csi(10, "13.6").reliable == ""
    assert csi(10, 20, 13).reliable == ""  # the first against the latest, not the best
    assert csi(13).reliable == ""


def test_satisfaction_where_higher_is_worse_flips_both_judgements():
    series = csi(10, 16)
    series.lower_is_worse = False

    assert series.below_cutoff  # "past the cut-off", the distressed side
    assert series.reliable == "deteriorated"


def test_derive_reads_the_thresholds():
    points = drop_series()
    default = derive(points, [], SignalThresholds())
    strict = derive(points, [], SignalThresholds(alliance_drop_points=8, split_window_sessions=4))

    assert at_partner(default.alliance_drops) == [(3, "A"), (4, "B"), (5, "A")]
    assert at_partner(strict.alliance_drops) == [(4, "B")]


# -- end to end: rows, the loaders and the practice's thresholds ---------------------------------


def rate(session: TherapySession, partner: str, total: int) -> AllianceRating:
    """A rating whose four items add up to `total`."""
    items = [total // 4 + (1 if i < total % 4 else 0) for i in range(4)]
    bond, goals, tasks, fit = items
    return AllianceRating.objects.create(
        session=session,
        partner=partner,
        bond=bond,
        goals=goals,
        tasks=tasks,
        fit=fit,
        entered_by="therapist",
    )


def report(session: TherapySession, respondent: str, tension: bool) -> PostSessionReport:
    extra = {"upsetting": 3, "resolved": 2} if tension else {}
    return PostSessionReport.objects.create(
        session=session, respondent=respondent, tension=tension, entered_by="therapist", **extra
    )


def csi_answers(total: int) -> dict[str, int]:
    happiness = min(total, 6)
    rest = total - happiness
    warm, rewarding, satisfied = (rest // 3 + (1 if i < rest % 3 else 0) for i in range(3))
    return {"happiness": happiness, "warm": warm, "rewarding": rewarding, "satisfied": satisfied}


def respond(session: TherapySession, partner: str, total: int) -> MeasureResponse:
    answers = csi_answers(total)
    assert sum(answers.values()) == total
    return MeasureResponse.objects.create(
        definition=MeasureDefinition.objects.get(practice=None, code="csi4"),
        session=session,
        partner=partner,
        answers=answers,
        total=total,
        entered_by="therapist",
    )


def sessions_of(couple: Couple, count: int, **overrides: dict[str, Any]) -> list[TherapySession]:
    """`count` sessions a week apart; `overrides` maps "s3" to field values for session 3."""
    made = []
    for n in range(1, count + 1):
        fields = dict(overrides.get(f"s{n}", {}))
        made.append(make_session(couple, days_ago=7 * (count - n) + 1, **fields))
    return made


@dataclass
class Scene:
    practice: Practice
    owner: User
    split: Couple
    split_sessions: list[TherapySession]
    drop: Couple
    drop_sessions: list[TherapySession]
    reports: Couple
    report_sessions: list[TherapySession]
    satisfaction: Couple
    satisfaction_sessions: list[TherapySession]
    improving: Couple


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        practice = make_practice("Signals Practice")
        owner = make_user(practice, "Signal Therapist", therapist=True)

        # Split: gaps 2, 6, 7, 10, 3 on the both-rated sessions; between them an individual
        # session with A only, a cancellation and a withdrawn session whose gap of 0 would
        # break the run if it were read.
        split = make_couple(owner)
        s = sessions_of(
            split,
            8,
            s3={"format": SessionFormat.INDIVIDUAL_A},
            s5={"attendance": Attendance.CANCELLED, "cancelled_by": "partner_b"},
        )
        both_rated = [s[0], s[1], s[3], s[5], s[6]]
        for session, gap in zip(both_rated, [2, 6, 7, 10, 3], strict=True):
            rate(session, "A", 30)
            rate(session, "B", 30 - gap)
        rate(s[2], "A", 12)
        rate(s[7], "A", 30)
        rate(s[7], "B", 30)
        session_withdraw(session=s[7], by=owner, reason="Logged on the wrong couple.")

        # Drop: A 30, —, 25, 21, 16; B 30, 30, 30, 22, 22 (session 2 is individual with B).
        drop = make_couple(owner)
        d = sessions_of(drop, 5, s2={"format": SessionFormat.INDIVIDUAL_B})
        for session, a, b in zip(d, [30, None, 25, 21, 16], [30, 30, 30, 22, 22], strict=True):
            if a is not None:
                rate(session, "A", a)
            rate(session, "B", b)

        # Reports: 1 A tension, no rupture; 2 rupture, B said none; 3 rupture, both tension;
        # 4 nothing logged, nobody tense; 5 a withdrawn rupture only, A tense; 6 a withdrawn
        # rupture only, both calm; 7 session 2's rupture repaired, both tense.
        reports = make_couple(owner)
        r = sessions_of(reports, 7)
        rupture_repair(
            rupture=make_rupture(r[1]),
            repaired_in=r[6],
            status=RuptureStatus.RESOLVED,
            resolution_stage=4,
        )
        make_rupture(r[2])
        for session in (r[4], r[5]):
            rupture_withdraw(rupture=make_rupture(session), by=owner, reason="Logged by mistake.")
        for session, a_said, b_said in zip(
            r,
            [True, True, True, False, True, False, True],
            [False, False, True, False, False, False, True],
            strict=True,
        ):
            report(session, "partner_a", a_said)
            report(session, "partner_b", b_said)
        report(r[3], "therapist", True)  # the therapist sensed tension, neither partner did

        # Satisfaction: A 17 → 13 (below the cut-off, reliably worse); B 11 → 14 (above it, a
        # change of 3: not reliable). A's 9 in a later withdrawn session is not read.
        satisfaction = make_couple(owner)
        c = sessions_of(satisfaction, 3)
        respond(c[0], "A", 17)
        respond(c[0], "B", 11)
        respond(c[1], "A", 13)
        respond(c[1], "B", 14)
        respond(c[2], "A", 9)
        session_withdraw(session=c[2], by=owner, reason="Logged on the wrong couple.")

        improving = make_couple(owner)
        i = sessions_of(improving, 2)
        respond(i[0], "A", 10)
        respond(i[1], "A", 14)

        for session in [*s, *d, *r, *c]:
            session.refresh_from_db(fields=["ordinal"])
        yield Scene(
            practice=practice,
            owner=owner,
            split=split,
            split_sessions=s,
            drop=drop,
            drop_sessions=d,
            reports=reports,
            report_sessions=r,
            satisfaction=satisfaction,
            satisfaction_sessions=c,
            improving=improving,
        )
        transaction.set_rollback(True)


def ids(findings: list[Finding]) -> list[int]:
    return [f.session_id for f in findings]


def ids_partner(findings: list[Finding]) -> list[tuple[int, str]]:
    return [(f.session_id, f.partner) for f in findings]


@pytest.mark.django_db
def test_loader_reads_current_sessions_in_order_with_totals_reports_and_current_ruptures(scene):
    points = load_points([scene.split.pk, scene.reports.pk])

    split = points[scene.split.pk]
    assert [p.session_id for p in split] == [s.pk for s in scene.split_sessions[:7]]
    assert [p.ordinal for p in split] == [1, 2, 3, 4, 5, 6, 7]
    assert [p.gap for p in split] == [2, 6, None, 7, None, 10, 3]
    assert split[2].alliance == {"A": 12}
    assert [p.took_place for p in split] == [True, True, True, True, False, True, True]
    reports = points[scene.reports.pk]
    assert [p.rupture_count for p in reports] == [0, 1, 1, 0, 0, 0, 0]
    assert [p.repair_count for p in reports] == [0, 0, 0, 0, 0, 0, 1]
    assert reports[3].tension == {"partner_a": False, "partner_b": False, "therapist": True}


@pytest.mark.django_db
def test_split_widening_end_to_end_fires_at_the_sessions_where_the_gap_keeps_growing(scene):
    s = scene.split_sessions
    signals = couple_signals(scene.split)

    # Both-rated sessions 1, 2, 4, 6, 7 with gaps 2, 6, 7, 10, 3: the windows ending at
    # session 4 (2→6→7) and 6 (6→7→10) widen; session 2 is too early, 7 narrowed.
    assert ids(signals.split_widening) == [s[3].pk, s[5].pk]
    assert [f.ordinal for f in signals.split_widening] == [4, 6]
    assert signals.latest_gap == 3


@pytest.mark.django_db
def test_split_widening_end_to_end_follows_the_practice_window(scene):
    SignalThresholds.objects.create(practice=scene.practice, split_window_sessions=4)

    signals = couple_signals(scene.split)

    # 2→6→7→10 widens by 8 over four sessions; the window ending at 4 isn't full yet.
    assert ids(signals.split_widening) == [scene.split_sessions[5].pk]


@pytest.mark.django_db
def test_split_widening_end_to_end_follows_the_practice_least_increase(scene):
    SignalThresholds.objects.create(practice=scene.practice, split_min_increase=5)

    signals = couple_signals(scene.split)

    assert ids(signals.split_widening) == [scene.split_sessions[3].pk]  # 2→7 is 5, 6→10 only 4


@pytest.mark.django_db
def test_alliance_drop_end_to_end_skips_unrated_sessions_and_ignores_a_fall_of_four(scene):
    d = scene.drop_sessions
    signals = couple_signals(scene.drop)

    # A: 30 (1), unrated (2), 25 (3): 5 below session 1; 21 (4): only 4 below; 16 (5): 5 below.
    # B: 30 → 22 at session 4 is 8.
    assert ids_partner(signals.alliance_drops) == [(d[2].pk, "A"), (d[3].pk, "B"), (d[4].pk, "A")]


@pytest.mark.django_db
def test_alliance_drop_end_to_end_follows_the_practice_threshold(scene):
    SignalThresholds.objects.create(practice=scene.practice, alliance_drop_points=8)

    signals = couple_signals(scene.drop)

    assert ids_partner(signals.alliance_drops) == [(scene.drop_sessions[3].pk, "B")]


@pytest.mark.django_db
def test_thresholds_of_another_practice_change_nothing(scene):
    SignalThresholds.objects.create(practice=make_practice(), alliance_drop_points=8)

    assert len(couple_signals(scene.drop).alliance_drops) == 3


@pytest.mark.django_db
def test_report_mismatch_end_to_end_both_ways_and_withdrawn_ruptures_are_not_logged(scene):
    r = scene.report_sessions
    signals = couple_signals(scene.reports)

    assert ids_partner(signals.mismatches) == [
        (r[0].pk, "A"),  # tension, no rupture
        (r[1].pk, "B"),  # a rupture, B said no tension
        (r[3].pk, "A"),  # the therapist reported tension, A none
        (r[3].pk, "B"),  # and B none
        (r[4].pk, "A"),  # tension; the only rupture was withdrawn
    ]  # session 7: tension where an earlier rupture was repaired is no mismatch
    assert signals.mismatches[1].detail == "A rupture was logged; partner B reported no tension."
    assert signals.mismatches[3].detail == (
        "The therapist reported tension; partner B reported none."
    )


@pytest.mark.django_db
def test_satisfaction_end_to_end_judges_latest_current_response_against_the_first(scene):
    series = {
        s.partner: s for s in load_satisfaction([scene.satisfaction.pk])[scene.satisfaction.pk]
    }

    a, b = series["A"], series["B"]
    assert [score.total for score in a.scores] == [17, 13]  # the withdrawn session's 9 isn't read
    assert a.cutoff == Decimal("13.5")
    assert a.below_cutoff
    assert a.reliable == "deteriorated"
    assert [score.total for score in b.scores] == [11, 14]
    assert not b.below_cutoff
    assert b.change == 3
    assert b.reliable == ""
    assert a.maximum == b.maximum == 21


@pytest.mark.django_db
def test_satisfaction_end_to_end_reliable_improvement(scene):
    (series,) = couple_signals(scene.improving).satisfaction

    assert not series.below_cutoff
    assert series.reliable == "improved"


@pytest.mark.django_db
def test_couple_page_names_each_signal_and_its_session(client, scene):
    client.force_login(scene.owner)

    def signals_html(couple: Couple) -> str:
        response = client.get(reverse("cycles:detail", args=[couple.case_code]))
        assert response.status_code == 200
        html = response.content.decode()
        start = html.index('id="measures-head"')
        return html[start : html.index("</ul>", start)]

    split = signals_html(scene.split)
    assert split.count("Split alliance widening") == 2
    assert reverse("therapy_sessions:detail", args=[scene.split_sessions[3].pk]) in split
    drop = signals_html(scene.drop)
    assert drop.count("Alliance drop") == 3
    assert "Partner B&#x27;s alliance fell from 30 to 22." in drop
    mismatch = signals_html(scene.reports)
    assert mismatch.count("Report mismatch") == 5
    distress = signals_html(scene.satisfaction)
    assert distress.count("Below the distress cut-off") == 1
    assert "partner A's latest Couples Satisfaction Index (CSI-4) is 13" in distress
