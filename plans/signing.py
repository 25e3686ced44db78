"""Co-signing a treatment plan's revision (docs/domain.md, "Signing" and "Treatment plan").

When its author's notes need co-signing (people.Supervision.notes_need_cosign), a revision
saved by plans.services.plan_save awaits a supervisor's co-signature, as a signed session
record does (sessions.signing). A supervisor of the author, never the author, co-signs it or
sends it back with a comment; the therapist answers with a new revision, which awaits in turn.

Only the plan's latest revision is reviewed: saving a newer one replaces an awaiting one
(`superseded`), so a review from a page read before that save is refused, never recorded on
the wrong revision. Reviews and saves of one plan take turns on the couple's row, the lock
plan_save's create_once takes. A review sent twice (a double click) records once.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Window
from django.utils import timezone

from cycles.models import Couple
from people.models import Supervision
from plans.models import PlanCosignState, PlanRevision
from sessions.signing import SignOffRefused, needs_cosign, supervises_author, waits_for

if TYPE_CHECKING:
    from collections.abc import Iterable

    from people.models import User

__all__ = [
    "SignOffRefused",  # the sessions' refusal, raised here too: one kind of refusal to catch
    "StaleReview",
    "awaiting",
    "cosign",
    "cosigners",
    "may_cosign",
    "request_changes",
    "sent_back",
    "state_on_save",
    "supersede_earlier",
]


class StaleReview(SignOffRefused):
    """The plan moved on since the revision was read: `current` is its latest revision."""

    def __init__(self, message: str, current: int) -> None:
        super().__init__(message)
        self.current = current


def state_on_save(author_id: int) -> str:
    """Where a revision the author saves now starts (plans.services.plan_save)."""
    return PlanCosignState.AWAITING if needs_cosign(author_id) else PlanCosignState.NOT_NEEDED


def supersede_earlier(plan: PlanRevision) -> None:
    """A new revision replaces an earlier one still awaiting (only the latest awaits)."""
    PlanRevision.objects.filter(
        couple_id=plan.couple_id, revision__lt=plan.revision, cosign_state=PlanCosignState.AWAITING
    ).update(cosign_state=PlanCosignState.SUPERSEDED)


def may_cosign(user: User, plan: PlanRevision) -> bool:
    """A supervisor of the revision's author, never the author (sessions.signing's rule)."""
    return supervises_author(user, plan.author_id)


def cosign(plan: PlanRevision, *, by: User, comment: str = "") -> tuple[PlanRevision, bool]:
    """Co-sign the revision; returns (revision, recorded now)."""
    return _review(plan, by=by, outcome=PlanCosignState.COSIGNED, comment=comment)


def request_changes(plan: PlanRevision, *, by: User, comment: str) -> tuple[PlanRevision, bool]:
    """Send the revision back with what should change; returns (revision, recorded now)."""
    if not comment.strip():
        raise SignOffRefused("Say what should change, so the therapist can revise the plan.")
    return _review(plan, by=by, outcome=PlanCosignState.CHANGES_REQUESTED, comment=comment)


@transaction.atomic
def _review(
    plan: PlanRevision, *, by: User, outcome: str, comment: str
) -> tuple[PlanRevision, bool]:
    """1. Take the couple's row lock, so a save of the plan and this review take turns.
    2. Refuse the author and anyone who isn't a supervisor of theirs.
    3. The same review sent again by the same person (a double click) returns unrecorded.
    4. Refuse a revision the plan has moved on from (StaleReview) or not awaiting.
    5. Record the outcome, who and when."""
    list(Couple.objects.select_for_update().filter(pk=plan.couple_id).values_list("pk"))
    locked = PlanRevision.objects.select_for_update().get(pk=plan.pk)
    if by.pk == locked.author_id:
        raise SignOffRefused("You can't co-sign your own plan: your supervisor does.")
    if not may_cosign(by, locked):
        raise SignOffRefused("Only a supervisor of the plan's author co-signs it.")
    if locked.cosign_state == outcome and locked.reviewed_by_id == by.pk:
        return locked, False
    latest = (
        PlanRevision.objects.filter(couple_id=locked.couple_id)
        .order_by("-revision")
        .values_list("revision", flat=True)
        .first()
    )
    if latest is not None and latest != locked.revision:
        raise StaleReview(
            f"Revision {locked.revision} is no longer the plan's latest: revision {latest} was "
            f"saved since. Nothing was recorded; read revision {latest} instead.",
            current=latest,
        )
    if locked.cosign_state != PlanCosignState.AWAITING:
        state = locked.get_cosign_state_display().lower()
        raise SignOffRefused(
            f"Revision {locked.revision} of the plan is not awaiting co-signature ({state})."
        )
    locked.cosign_state = outcome
    locked.reviewed_by = by
    locked.reviewed_at = timezone.now()
    locked.review_comment = comment.strip()
    locked.save(update_fields=["cosign_state", "reviewed_by", "reviewed_at", "review_comment"])
    return locked, True


def cosigners(author_ids: Iterable[int]) -> dict[int, list[User]]:
    """Each author's supervisors who co-sign their notes, by name: one query."""
    found: dict[int, list[User]] = defaultdict(list)
    rows = (
        Supervision.objects.filter(therapist_id__in=set(author_ids), notes_need_cosign=True)
        .select_related("supervisor")
        .order_by("supervisor__first_name", "supervisor__last_name", "supervisor_id")
    )
    for row in rows:
        found[row.therapist_id].append(row.supervisor)
    return dict(found)


def awaiting(user: User, *, limit: int) -> tuple[list[PlanRevision], int]:
    """The oldest `limit` revisions awaiting this supervisor's co-signature, and how many
    wait in all (a window count, taken before the limit: one query for both)."""
    rows = (
        PlanRevision.objects.visible_to(user)
        .filter(waits_for(user, "author"), cosign_state=PlanCosignState.AWAITING)
        .exclude(author=user)
        .select_related("couple", "author")
        .annotate(total=Window(Count("pk")))
        .order_by("created_at", "pk")
    )
    found: list[PlanRevision] = list(rows[:limit])
    return found, int(getattr(found[0], "total", 0)) if found else 0


def sent_back(user: User) -> list[PlanRevision]:
    """This therapist's revisions sent back with changes requested and not yet answered by a
    newer revision, oldest first: one query."""
    newer = PlanRevision.objects.filter(
        couple_id=OuterRef("couple_id"), revision__gt=OuterRef("revision")
    )
    return list(
        PlanRevision.objects.visible_to(user)
        .filter(author=user, cosign_state=PlanCosignState.CHANGES_REQUESTED)
        .filter(~Exists(newer))
        .select_related("couple", "reviewed_by")
        .order_by("reviewed_at", "pk")
    )
