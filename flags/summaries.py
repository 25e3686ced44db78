"""One couple's rupture-resolution summary for the day, the last four weeks and the treatment.

The figures (docs/signals.md has the same list):
- sessions held, and ruptures by type, by who moved, by marker and by status;
- sessions to resolution: for each resolved rupture, the repairing session's number minus the
  rupture's (0 when resolved in its own session); the median, and the values for roll-ups;
- the strategies used, and those used on ruptures that got resolved;
- ruptures per session held; what the next session was after each rupture;
- the measure signals of the alliance issue, as of the date.
"""

from __future__ import annotations

import datetime
import statistics
from collections import Counter
from typing import Any

from flags.measure_signals import CoupleSignals, SignalKind
from flags.snapshot import CoupleData, RuptureRow
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    SummaryPeriod,
    WithdrawalMarker,
)

FOUR_WEEKS = datetime.timedelta(days=27)  # the date itself and the 27 days before it

STRATEGY_BITS = [(int(s), s.name or "") for s in ResolutionStrategy]


def period_start(period: str, for_date: datetime.date) -> datetime.date | None:
    if period == SummaryPeriod.DAY:
        return for_date
    if period == SummaryPeriod.FOUR_WEEKS:
        return for_date - FOUR_WEEKS
    return None  # the whole treatment


def bits(value: int, names: list[tuple[int, str]]) -> list[str]:
    return [name for bit, name in names if value & bit]


# (bit, name) per rupture type, read once: iterating an IntFlag per rupture is slow at scale.
MARKER_BITS: dict[str, list[tuple[int, str]]] = {
    RuptureType.WITHDRAWAL: [(int(m), m.name or "") for m in WithdrawalMarker],
    RuptureType.CONFRONTATION: [(int(m), m.name or "") for m in ConfrontationMarker],
}


def marker_names(rupture: RuptureRow) -> list[str]:
    return bits(rupture.markers, MARKER_BITS[rupture.rupture_type])


def sessions_to_resolution(couple: CoupleData, rupture: RuptureRow) -> int | None:
    if rupture.status != RuptureStatus.RESOLVED:
        return None
    seen = couple.session_by_id[rupture.session_id].ordinal
    if rupture.repaired_in_id is None:
        return 0
    return couple.session_by_id[rupture.repaired_in_id].ordinal - seen


def next_session_attendance(couple: CoupleData, rupture: RuptureRow) -> str:
    return couple.next_attendance[rupture.session_id]


def summarize(
    couple: CoupleData, for_date: datetime.date, signals: CoupleSignals
) -> dict[str, dict[str, Any]]:
    return {
        period: _summary(couple, period_start(period, for_date), signals)
        for period in SummaryPeriod.values
    }


def _summary(
    couple: CoupleData, start: datetime.date | None, signals: CoupleSignals
) -> dict[str, Any]:
    in_period = {s.pk for s in couple.sessions if start is None or s.local_date >= start}
    sessions = [s for s in couple.sessions if s.pk in in_period]
    held = sum(1 for s in sessions if s.took_place)
    ruptures = [r for r in couple.ruptures if r.session_id in in_period]
    resolved = [r for r in ruptures if r.status == RuptureStatus.RESOLVED]
    to_resolution = [n for r in resolved if (n := sessions_to_resolution(couple, r)) is not None]
    contributions = [r.contribution for r in ruptures if r.contribution is not None]
    findings = [f for f in signals.findings if f.session_id in in_period]
    return {
        "sessions": len(sessions),
        "sessions_held": held,
        "ruptures": len(ruptures),
        "by_type": dict(Counter(r.rupture_type for r in ruptures)),
        "by_who_moved": dict(Counter(r.who_moved for r in ruptures)),
        "by_marker": dict(Counter(name for r in ruptures for name in marker_names(r))),
        "by_status": dict(Counter(r.status for r in ruptures)),
        "sessions_to_resolution": sorted(to_resolution),
        "median_sessions_to_resolution": statistics.median(to_resolution)
        if to_resolution
        else None,
        "strategies_used": dict(
            Counter(n for r in ruptures for n in bits(r.strategies, STRATEGY_BITS))
        ),
        "strategies_in_resolutions": dict(
            Counter(n for r in resolved for n in bits(r.strategies, STRATEGY_BITS))
        ),
        "ruptures_per_session": round(len(ruptures) / held, 2) if held else None,
        "attendance_after_ruptures": dict(
            Counter(next_session_attendance(couple, r) for r in ruptures)
        ),
        "contribution_sum": sum(contributions),
        "contribution_rated": len(contributions),
        "signals": {
            "latest_gap": signals.latest_gap,
            "split_widening": sum(1 for f in findings if f.kind == SignalKind.SPLIT_WIDENING),
            "alliance_drops": sum(1 for f in findings if f.kind == SignalKind.ALLIANCE_DROP),
            "report_mismatches": sum(1 for f in findings if f.kind == SignalKind.REPORT_MISMATCH),
            "below_cutoff": sorted(f"{s.code}:{s.partner}" for s in signals.distressed),
            "reliable_change": {
                f"{s.code}:{s.partner}": s.reliable for s in signals.satisfaction if s.reliable
            },
        },
    }
