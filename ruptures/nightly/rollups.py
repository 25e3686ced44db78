"""Therapists' and supervisors' roll-ups, from the stored couple summaries of one date.

Per person: couples, sessions held, ruptures by type and status, the resolution rate, ruptures
per session, sessions to resolution (pooled median), mean therapist contribution, couples with a
widening split alliance, dropouts, and open flags by kind. Three queries per practice.
"""

from __future__ import annotations

import datetime
import statistics
from collections import Counter, defaultdict
from typing import Any

from people.models import Supervision
from ruptures.codes import SummaryPeriod
from ruptures.models import CaseloadSummary, Flag, RuptureSummary


def write(practice_id: int, for_date: datetime.date) -> int:
    rows = RuptureSummary.objects.filter(
        couple__practice_id=practice_id, period=SummaryPeriod.TREATMENT, on_date=for_date
    ).values_list(
        "couple_id", "couple__therapist_id", "couple__status", "couple__case_code", "data"
    )
    open_flags = (
        Flag.objects.open().filter(couple__practice_id=practice_id).values_list("couple_id", "kind")
    )
    flags_by_couple: dict[int, list[str]] = defaultdict(list)
    for couple_id, kind in open_flags:
        flags_by_couple[couple_id].append(kind)
    by_therapist: dict[int, list[tuple[int, str, str, dict[str, Any]]]] = defaultdict(list)
    for couple_id, therapist_id, status, code, data in rows:
        by_therapist[therapist_id].append((couple_id, status, code, data))
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


def roll_up(
    couples: list[tuple[int, str, str, dict[str, Any]]], flags_by_couple: dict[int, list[str]]
) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    flag_kinds: Counter[str] = Counter()
    to_resolution: list[int] = []
    contribution_sum = contribution_rated = split = dropouts = 0
    flagged = []
    for couple_id, status, code, data in couples:
        totals.update(sessions_held=data["sessions_held"], ruptures=data["ruptures"])
        by_type.update(data["by_type"])
        by_status.update(data["by_status"])
        to_resolution += data["sessions_to_resolution"]
        contribution_sum += data["contribution_sum"]
        contribution_rated += data["contribution_rated"]
        split += 1 if data["signals"]["split_widening"] else 0
        dropouts += 1 if status == "dropped_out" else 0
        kinds = flags_by_couple.get(couple_id, [])
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
        "split_widening_couples": split,
        "dropouts": dropouts,
        "open_flags": dict(flag_kinds),
        "flagged_couples": sorted(flagged),
    }
