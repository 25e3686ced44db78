"""A therapist's own caseload's rupture codes: the rows of the ruptures CSV a supervisor
exports (supervision.review, the same columns, coded values only), for the couples the
therapist treats and nobody else's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from people.access import writable_couples
from ruptures.models import Rupture
from supervision.review import CSV_FIELDS

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from people.models import User

# ExportJob.params["scope"] of a therapist's own export (exports.build_views.ruptures_csv).
OWN_CASELOAD = "own_caseload"


def may_export(user: User) -> bool:
    """Who may export their own caseload's rupture codes: a therapist of a practice."""
    return bool(user.is_authenticated and user.is_therapist and user.practice_id is not None)


def own_ruptures(user: User) -> QuerySet[Rupture, dict[str, Any]]:
    """Every current rupture of the couples this therapist treats, as coded values: one query.
    writable_couples is the therapist's own couples in their own practice (people.access)."""
    return (
        Rupture.objects.current()
        .filter(writable_couples(user, "couple__"))
        .order_by("couple__case_code", "session__ordinal", "pk")
        .values(*CSV_FIELDS)
    )
