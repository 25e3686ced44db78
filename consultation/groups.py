"""Consultation groups: who may see a group, and its de-identified dashboard.

Aggregates count cases (shared couples), and any cell of one to four cases is shown as
"fewer than 5" (small-cell suppression, docs/domain.md#who-sees-what): with a handful of cases a
count
can point at one couple.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cycles.models import CLOSED_STATUSES, CaseShare, Couple, CyclePattern
from people.models import ConsultationGroup
from ruptures.codes import ResolutionStrategy, RuptureStatus, RuptureType

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import QuerySet

    from people.models import User

SMALL_CELL = 5


def groups_of(user: User | AnonymousUser) -> QuerySet[ConsultationGroup]:
    """The groups the user is a member of now, in their own practice: clinicians only (a
    practice admin who added themselves to a group still reads no clinical content)."""
    if not user.is_authenticated or user.practice_id is None:
        return ConsultationGroup.objects.none()
    if not (user.is_therapist or user.is_supervisor):
        return ConsultationGroup.objects.none()
    return ConsultationGroup.objects.filter(practice_id=user.practice_id, members=user)


def active_shares(group: ConsultationGroup) -> QuerySet[CaseShare]:
    return CaseShare.objects.active().filter(group=group).order_by("code")


def suppress(count: int) -> str:
    """A case count as shown: 0 and 5 or more as they are, 1 to 4 as "fewer than 5"."""
    return "fewer than 5" if 0 < count < SMALL_CELL else str(count)


@dataclass(frozen=True)
class Cell:
    label: str
    shown: str


@dataclass
class Dashboard:
    cases: str
    patterns: list[Cell]
    rupture_types: list[Cell]
    strategies_before_resolution: list[Cell]


def dashboard(group: ConsultationGroup) -> Dashboard:
    """Case counts over the group's active shares: three queries."""
    from ruptures.models import Rupture

    # Active cases only: a closed (discharged) case leaves the group's counts.
    couple_ids = list(
        active_shares(group)
        .exclude(couple__status__in=CLOSED_STATUSES)
        .values_list("couple_id", flat=True)
    )
    patterns = Counter(
        Couple.objects.filter(pk__in=couple_ids).values_list("cycle_pattern", flat=True)
    )
    cases_with_type: dict[str, set[int]] = {t: set() for t in RuptureType.values}
    cases_with_strategy: dict[int, set[int]] = {int(s): set() for s in ResolutionStrategy}
    rows = (
        Rupture.objects.current()
        .filter(couple_id__in=couple_ids)
        .values_list("couple_id", "rupture_type", "strategies", "status")
    )
    for couple_id, kind, strategies, status in rows:
        cases_with_type[kind].add(couple_id)
        if status == RuptureStatus.RESOLVED:
            for bit in cases_with_strategy:
                if strategies & bit:
                    cases_with_strategy[bit].add(couple_id)
    return Dashboard(
        cases=suppress(len(couple_ids)),
        patterns=[
            Cell(CyclePattern(p).label, suppress(patterns.get(p, 0))) for p in CyclePattern.values
        ],
        rupture_types=[
            Cell(RuptureType(t).label, suppress(len(cases_with_type[t])))
            for t in RuptureType.values
        ],
        strategies_before_resolution=[
            Cell(ResolutionStrategy(bit).label, suppress(len(cases)))
            for bit, cases in cases_with_strategy.items()
        ],
    )
