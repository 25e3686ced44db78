"""What the record says about each goal of a plan: the one place it is worked out.

Each goal's evidence is read from the record, never typed twice (docs/domain.md#treatment-plan):

- a change event (De-escalation, Withdrawer re-engagement, Blamer softening): the held sessions
  since the plan's date that record it; met at the first one;
- CSI-4 above the distress cut-off: each partner's latest CSI-4 total since the plan's date;
  met when both are above the measure's cut-off;
- alliance gap narrowing: the gap between the partners' alliance totals at each session both
  rated, against the gap at the plan's start (the last such session on or before its date, else
  the first after); met when the latest gap is smaller;
- ruptures resolved: the ruptures open at the plan's date or logged since; met when none of
  them is still open (not Resolved).

Withdrawn sessions and ruptures never count. The record is read in at most four queries, one
per kind of evidence the plan's goals name, whatever the number of goals or sessions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils import timezone

from core.dates import show
from plans.models import CHANGE_EVENT_OF, Evidence
from ruptures.codes import RuptureStatus, RuptureType
from ruptures.models import Rupture
from sessions.models import TOOK_PLACE, AllianceRating, MeasureResponse, TherapySession

if TYPE_CHECKING:
    from plans.models import PlanGoal, PlanRevision

CSI4 = "csi4"


@dataclass(frozen=True)
class Item:
    """One line of what the record says, linking to the session it comes from."""

    text: str
    url: str = ""


@dataclass
class GoalProgress:
    goal: PlanGoal
    met: bool
    summary: str
    items: list[Item] = field(default_factory=list)


def _day(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def _session_url(pk: int) -> str:
    return reverse("therapy_sessions:detail", args=[pk])


def plan_progress(plan: PlanRevision, goals: list[PlanGoal]) -> list[GoalProgress]:
    """Each goal with what the record says about it, in the goals' order."""
    kinds = {goal.evidence for goal in goals}
    couple_id, since = plan.couple_id, plan.plan_date
    found: dict[str, tuple[bool, str, list[Item]]] = {}
    if kinds & set(CHANGE_EVENT_OF):
        found |= _change_events(couple_id, since, kinds)
    if Evidence.CSI4_ABOVE_CUTOFF in kinds:
        found[Evidence.CSI4_ABOVE_CUTOFF] = _csi4(couple_id, since)
    if Evidence.ALLIANCE_GAP_NARROWING in kinds:
        found[Evidence.ALLIANCE_GAP_NARROWING] = _alliance_gap(couple_id, since)
    if Evidence.RUPTURES_RESOLVED in kinds:
        found[Evidence.RUPTURES_RESOLVED] = _ruptures(couple_id, since)
    return [GoalProgress(goal, *found[goal.evidence]) for goal in goals]


def _change_events(
    couple_id: int, since: datetime.date, kinds: set[str]
) -> dict[str, tuple[bool, str, list[Item]]]:
    rows = (
        TherapySession.objects.current()
        .filter(couple_id=couple_id, attendance__in=TOOK_PLACE, change_events__gt=0)
        .order_by("starts_at")
        .values("pk", "ordinal", "starts_at", "change_events")
    )
    sessions = [row for row in rows if _day(row["starts_at"]) >= since]
    found = {}
    for kind, event in CHANGE_EVENT_OF.items():
        if kind not in kinds:
            continue
        items = [
            Item(
                f"Session {row['ordinal']} ({show(row['starts_at'])}): {event.label}",
                _session_url(row["pk"]),
            )
            for row in sessions
            if row["change_events"] & int(event)
        ]
        summary = (
            f"{event.label} recorded in {len(items)} session{'s' if len(items) != 1 else ''} "
            "since the plan's date."
            if items
            else f"No {event.label.lower()} recorded since the plan's date."
        )
        found[kind] = (bool(items), summary, items)
    return found


def _csi4(couple_id: int, since: datetime.date) -> tuple[bool, str, list[Item]]:
    rows = (
        MeasureResponse.objects.filter(
            session__couple_id=couple_id,
            session__withdrawn_at__isnull=True,
            definition__code=CSI4,
        )
        .order_by("session__starts_at", "partner")
        .values(
            "partner",
            "total",
            "session_id",
            "session__ordinal",
            "session__starts_at",
            "definition__cutoff",
        )
    )
    latest: dict[str, dict[str, Any]] = {}
    items = []
    cutoff: Decimal | None = None
    for row in rows:
        if _day(row["session__starts_at"]) < since:
            continue
        cutoff = row["definition__cutoff"]
        latest[row["partner"]] = dict(row)
        items.append(
            Item(
                f"Session {row['session__ordinal']}: Partner {row['partner']} "
                f"{row['total'].normalize():f}",
                _session_url(row["session_id"]),
            )
        )
    if cutoff is None or not latest:
        return False, "No CSI-4 answered since the plan's date.", items
    above = sorted(p for p, row in latest.items() if row["total"] > cutoff)
    met = above == ["A", "B"]
    shown = f"{cutoff.normalize():f}"
    if met:
        summary = f"Both partners' latest CSI-4 is above the distress cut-off ({shown})."
    elif len(latest) < 2:
        summary = (
            f"Only one partner has answered the CSI-4 since the plan's date (cut-off {shown})."
        )
    else:
        below = ", ".join(f"Partner {p}" for p in sorted(set(latest) - set(above)))
        summary = f"Latest CSI-4 not above the distress cut-off ({shown}): {below}."
    return met, summary, items


def _alliance_gap(couple_id: int, since: datetime.date) -> tuple[bool, str, list[Item]]:
    rows = (
        AllianceRating.objects.filter(
            session__couple_id=couple_id, session__withdrawn_at__isnull=True
        )
        .order_by("session__starts_at", "partner")
        .values(
            "session_id",
            "session__ordinal",
            "session__starts_at",
            "partner",
            "bond",
            "goals",
            "tasks",
            "fit",
        )
    )
    by_session: dict[int, dict[str, Any]] = {}
    for row in rows:
        one = by_session.setdefault(
            row["session_id"],
            {"ordinal": row["session__ordinal"], "day": _day(row["session__starts_at"])},
        )
        one[row["partner"]] = row["bond"] + row["goals"] + row["tasks"] + row["fit"]
    rated = [s | {"pk": pk} for pk, s in by_session.items() if "A" in s and "B" in s]
    before = [s for s in rated if s["day"] <= since]
    after = [s for s in rated if s["day"] > since]
    start = before[-1] if before else (after.pop(0) if after else None)
    if start is None:
        return False, "No session both partners rated yet.", []

    def item(s: dict[str, Any], note: str = "") -> Item:
        gap = abs(s["A"] - s["B"])
        text = f"Session {s['ordinal']}{note}: gap {gap} (Partner A {s['A']}, Partner B {s['B']})"
        return Item(text, _session_url(s["pk"]))

    items = [item(start, " (the plan's start)")] + [item(s) for s in after]
    start_gap = abs(start["A"] - start["B"])
    if not after:
        return False, f"Gap {start_gap} at the plan's start; no session both rated since.", items
    latest_gap = abs(after[-1]["A"] - after[-1]["B"])
    met = latest_gap < start_gap
    verb = "narrowed" if met else "not narrowed"
    return met, f"Gap {verb}: {start_gap} at the plan's start, {latest_gap} now.", items


def _ruptures(couple_id: int, since: datetime.date) -> tuple[bool, str, list[Item]]:
    rows = (
        Rupture.objects.current()
        .filter(couple_id=couple_id)
        .order_by("session__starts_at", "minute", "pk")
        .values(
            "session_id",
            "session__ordinal",
            "session__starts_at",
            "status",
            "repaired_in__ordinal",
            "repaired_in__starts_at",
            "rupture_type",
        )
    )
    items, still_open = [], 0
    for row in rows:
        logged_since = _day(row["session__starts_at"]) >= since
        repaired = row["repaired_in__starts_at"]
        is_open = row["status"] != RuptureStatus.RESOLVED
        open_at_start = is_open or (repaired is not None and _day(repaired) >= since)
        if not (logged_since or open_at_start):
            continue
        still_open += is_open
        status = RuptureStatus(row["status"]).label
        where = f" in session {row['repaired_in__ordinal']}" if repaired is not None else ""
        items.append(
            Item(
                f"Session {row['session__ordinal']}: "
                f"{RuptureType(row['rupture_type']).label} — {status}{where}",
                _session_url(row["session_id"]),
            )
        )
    if not items:
        return True, "No rupture open at the plan's date or logged since.", items
    if still_open:
        summary = f"{still_open} of {len(items)} ruptures since the plan's date still open."
        return False, summary, items
    return True, f"All {len(items)} ruptures open at the plan's date or since are resolved.", items
