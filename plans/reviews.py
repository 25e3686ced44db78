"""Plan reviews due, for the therapist's morning digest (case codes and dates only)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import OuterRef, Q, Subquery

from cycles.models import CoupleStatus
from plans.models import PlanRevision

# Couples whose plan is still being worked: a completed or dropped-out case has no review due.
WORKED = (CoupleStatus.ACTIVE, CoupleStatus.PAUSED)


def due(on_date: datetime.date, therapist_ids: Iterable[int]) -> list[tuple[str, datetime.date]]:
    """(case code, review date) of each couple of these therapists whose current plan (its
    latest revision) has a review due on or before `on_date`: the plan's own review date or
    an open goal's, whichever comes first. One query; oldest review first."""
    ids = list(therapist_ids)
    treated = Q(couple__therapist_id__in=ids) | Q(couple__co_therapist_id__in=ids)
    rows = {(code, when) for _, code, when in _due(on_date, treated)}
    return sorted(rows, key=lambda row: (row[1], row[0]))


def due_by_therapist(
    on_date: datetime.date, practice_id: int
) -> dict[int, list[tuple[str, datetime.date]]]:
    """The same, for a whole practice, by therapist: the morning digest's "plan reviews due"
    (flags/digests.py). One query."""
    found: dict[int, list[tuple[str, datetime.date]]] = {}
    for therapist_id, code, when in sorted(
        _due(on_date, Q(couple__practice_id=practice_id)), key=lambda row: (row[2], row[1])
    ):
        found.setdefault(therapist_id, []).append((code, when))
    return found


def _due(on_date: datetime.date, couples: Q) -> list[tuple[int, str, datetime.date]]:
    """(therapist, case code, date) for each due plan, once for its therapist and once more
    for its co-therapist (docs/domain.md, "Co-therapy")."""
    latest = (
        PlanRevision.objects.filter(couple=OuterRef("couple")).order_by("-revision").values("pk")
    )
    due_plans = (
        PlanRevision.objects.filter(couples, pk=Subquery(latest[:1]), couple__status__in=WORKED)
        .with_goal_review()
        # Only the plans due: the rest of the practice's plans stay in the database.
        .filter(Q(review_on__lte=on_date) | Q(goal_review__lte=on_date))
    )
    # `goal_review` is with_goal_review's annotation, which the type checker can't see.
    rows = due_plans.values_list(  # type: ignore[misc]
        "couple__therapist_id",
        "couple__co_therapist_id",
        "couple__case_code",
        "review_on",
        "goal_review",
    )
    found = []
    for therapist_id, co_therapist_id, case_code, review_on, goal_review in rows:
        when = min(review_on, goal_review) if goal_review else review_on
        found += [(t, case_code, when) for t in (therapist_id, co_therapist_id) if t]
    return found
