"""Therapists' and supervisors' roll-ups, from the stored couple summaries of one date.

Per person: couples, sessions held, ruptures by type and status, the resolution rate, ruptures
per session, sessions to resolution (pooled median), mean therapist contribution (over the
treatments, and over the last four weeks), couples with a widening split alliance, dropouts,
and open flags by kind. For a therapist, also whether their contribution is rising: the
four-week mean at least `contribution_rise` above the same figure four weeks earlier (their
roll-up of that date), with at least `RISE_MIN_RATED` rated ruptures in each window.
Five queries per practice.
"""

from __future__ import annotations

import datetime
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal, TypedDict

from people.models import SignalThresholds, Supervision
from ruptures.codes import SummaryPeriod
from ruptures.models import CaseloadSummary, Flag, FlagKind, RuptureSummary

# The four weeks before the four weeks that end on the date: the window compared with.
EARLIER = datetime.timedelta(days=28)
RISE_MIN_RATED = 3

CoupleRow = tuple[int, str, str, dict[str, Any], dict[str, Any]]  # id, status, code, periods


def write(practice_id: int, for_date: datetime.date) -> int:
    rows = RuptureSummary.objects.filter(
        couple__practice_id=practice_id,
        period__in=[SummaryPeriod.TREATMENT, SummaryPeriod.FOUR_WEEKS],
        on_date=for_date,
    ).values_list(
        "couple_id",
        "couple__therapist_id",
        "couple__status",
        "couple__case_code",
        "period",
        "data",
    )
    open_flags = (
        Flag.objects.open().filter(couple__practice_id=practice_id).values_list("couple_id", "kind")
    )
    flags_by_couple: dict[int, list[str]] = defaultdict(list)
    for couple_id, kind in open_flags:
        flags_by_couple[couple_id].append(kind)
    by_therapist = couples_by_therapist(rows)
    supervisees: dict[int, list[int]] = defaultdict(list)
    for supervisor_id, therapist_id in Supervision.objects.filter(
        practice_id=practice_id
    ).values_list("supervisor_id", "therapist_id"):
        supervisees[supervisor_id].append(therapist_id)
    summaries = [
        CaseloadSummary(
            practice_id=practice_id,
            person_id=therapist,
            role="therapist",
            on_date=for_date,
            data=roll_up(couples, flags_by_couple),
        )
        for therapist, couples in by_therapist.items()
    ]
    mark_rising_contribution(summaries, practice_id, for_date)
    summaries += [
        CaseloadSummary(
            practice_id=practice_id,
            person_id=supervisor,
            role="supervisor",
            on_date=for_date,
            data=roll_up([c for t in therapists for c in by_therapist.get(t, [])], flags_by_couple),
        )
        for supervisor, therapists in supervisees.items()
    ]
    CaseloadSummary.objects.bulk_create(
        summaries,
        update_conflicts=True,
        unique_fields=["person", "role", "on_date"],
        update_fields=["data"],
    )
    return len(summaries)


def couples_by_therapist(
    rows: Iterable[tuple[int, int, str, str, str, dict[str, Any]]],
) -> dict[int, list[CoupleRow]]:
    """Each therapist's couples with their treatment and four-week summaries."""
    periods: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    couples: dict[int, tuple[int, str, str]] = {}
    for couple_id, therapist_id, status, code, period, data in rows:
        periods[couple_id][period] = data
        couples[couple_id] = (therapist_id, status, code)
    by_therapist: dict[int, list[CoupleRow]] = defaultdict(list)
    for couple_id, (therapist_id, status, code) in couples.items():
        found = periods[couple_id]
        by_therapist[therapist_id].append(
            (
                couple_id,
                status,
                code,
                found[SummaryPeriod.TREATMENT],
                found.get(SummaryPeriod.FOUR_WEEKS, {}),
            )
        )
    return by_therapist


def mark_rising_contribution(
    summaries: list[CaseloadSummary], practice_id: int, for_date: datetime.date
) -> None:
    """Set each therapist's `contribution_rising` ({"from", "to"} or None) against their
    roll-up four weeks earlier: two queries."""
    rise = SignalThresholds.for_practice(practice_id).contribution_rise
    earlier = dict(
        CaseloadSummary.objects.filter(
            practice_id=practice_id, role="therapist", on_date=for_date - EARLIER
        ).values_list("person_id", "data")
    )
    for summary in summaries:
        summary.data["contribution_rising"] = rising(
            earlier.get(summary.person_id) or {}, summary.data, rise
        )


def rising(before: dict[str, Any], now: dict[str, Any], rise: Decimal) -> dict[str, float] | None:
    then, current = before.get("recent_mean_contribution"), now["recent_mean_contribution"]
    enough = (
        min(before.get("recent_contribution_rated", 0), now["recent_contribution_rated"])
        >= RISE_MIN_RATED
    )
    if then is None or current is None or not enough:
        return None
    # The means are stored rounded to hundredths: as decimals, an exact rise is never missed
    # (or a near one counted) by binary float arithmetic.
    if Decimal(str(current)) - Decimal(str(then)) < rise:
        return None
    return {"from": then, "to": current}


class RollUp(TypedDict):
    """The figures of one person's caseload on one night, as stored in CaseloadSummary.figures:
    the contract between this module, which writes them, and the supervisor's overview and the
    digests, which read them (supervision.review.Metric names its figure by `ChartedFigure`)."""

    couples: int
    sessions_held: int
    ruptures: int
    by_type: dict[str, int]
    by_status: dict[str, int]
    resolution_rate: float | None
    ruptures_per_session: float | None
    median_sessions_to_resolution: float | None
    mean_contribution: float | None
    recent_mean_contribution: float | None
    recent_contribution_rated: int
    split_widening_couples: int
    dropouts: int
    open_flags: dict[str, int]
    flagged_couples: list[str]


# The figures that are one number a night, so a chart can draw them over time.
ChartedFigure = Literal[
    "resolution_rate",
    "ruptures_per_session",
    "median_sessions_to_resolution",
    "mean_contribution",
    "recent_mean_contribution",
    "split_widening_couples",
    "dropouts",
]


def roll_up(couples: list[CoupleRow], flags_by_couple: dict[int, list[str]]) -> RollUp:
    totals: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    flag_kinds: Counter[str] = Counter()
    to_resolution: list[int] = []
    contribution_sum = contribution_rated = recent_sum = recent_rated = split = dropouts = 0
    flagged = []
    for couple_id, status, code, data, recent in couples:
        recent_sum += recent.get("contribution_sum", 0)
        recent_rated += recent.get("contribution_rated", 0)
        totals.update(sessions_held=data["sessions_held"], ruptures=data["ruptures"])
        by_type.update(data["by_type"])
        by_status.update(data["by_status"])
        to_resolution += data["sessions_to_resolution"]
        contribution_sum += data["contribution_sum"]
        contribution_rated += data["contribution_rated"]
        dropouts += 1 if status == "dropped_out" else 0
        kinds = flags_by_couple.get(couple_id, [])
        # Widening now (its flag open), as the metric says: not at any time in treatment.
        split += 1 if FlagKind.SPLIT_ALLIANCE_WIDENING in kinds else 0
        flag_kinds.update(kinds)
        if kinds:
            flagged.append(code)
    ruptures = totals["ruptures"]
    return {
        "couples": len(couples),
        "sessions_held": totals["sessions_held"],
        "ruptures": ruptures,
        "by_type": dict(by_type),
        "by_status": dict(by_status),
        "resolution_rate": round(by_status["resolved"] / ruptures, 3) if ruptures else None,
        "ruptures_per_session": round(ruptures / totals["sessions_held"], 3)
        if totals["sessions_held"]
        else None,
        "median_sessions_to_resolution": statistics.median(to_resolution)
        if to_resolution
        else None,
        "mean_contribution": round(contribution_sum / contribution_rated, 2)
        if contribution_rated
        else None,
        "recent_mean_contribution": round(recent_sum / recent_rated, 2) if recent_rated else None,
        "recent_contribution_rated": recent_rated,
        "split_widening_couples": split,
        "dropouts": dropouts,
        "open_flags": dict(flag_kinds),
        "flagged_couples": sorted(flagged),
    }
