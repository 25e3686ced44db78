"""Who may see what, in one place (docs/domain.md#who-sees-what).

Every clinical QuerySet's `visible_to(user)` and `editable_by(user)` is built from these two
functions, so the rule lives here only:

- a therapist reads and writes their own couples, and those they are the co-therapist of;
- a supervisor reads (never writes) the couples of the therapists they supervise (as the
  couple's therapist or its co-therapist);
- a consultation-group member gets nothing of the records (de-identified views only);
- a practice admin manages people and reads no clinical content;
- nobody sees another practice, and a superuser is no exception.

Private notes and reflections are narrower still: their author only (`sessions.PrivateNote`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db.models import Q
from django.http import Http404, HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from people.models import User


NOTHING = Q(pk__in=[])


def therapist_of(user: User | AnonymousUser, path: str = "") -> Q:
    """A filter on the couples `user` treats: as their therapist or their co-therapist."""
    if not user.is_authenticated or not user.is_therapist:
        return NOTHING
    return Q(**{f"{path}therapist": user}) | Q(**{f"{path}co_therapist": user})


def supervisor_of(user: User | AnonymousUser, path: str = "") -> Q:
    """A filter on the couples `user` supervises: treated (or co-treated) by a supervisee.

    One query: the supervisees come in as a subquery, never as a Python list.
    """
    if not user.is_authenticated or not user.is_supervisor:
        return NOTHING
    from people.models import Supervision

    supervisees = Supervision.objects.filter(supervisor=user).values("therapist_id")
    return Q(**{f"{path}therapist_id__in": supervisees}) | Q(
        **{f"{path}co_therapist_id__in": supervisees}
    )


def readable_couples(user: User | AnonymousUser, path: str = "") -> Q:
    """A filter on couples (reached through `path`, e.g. "couple__") the user may read."""
    if not user.is_authenticated or user.practice_id is None:
        return NOTHING
    return Q(**{f"{path}practice_id": user.practice_id}) & (
        therapist_of(user, path) | supervisor_of(user, path)
    )


def writable_couples(user: User | AnonymousUser, path: str = "") -> Q:
    """A filter on couples the user may change: only the couple's own therapists (the
    therapist and the co-therapist)."""
    if not user.is_authenticated or user.practice_id is None or not user.is_therapist:
        return NOTHING
    return Q(**{f"{path}practice_id": user.practice_id}) & therapist_of(user, path)


def treats(user: User | AnonymousUser, couple: Any) -> bool:
    """For a couple already read: whether `user` is its therapist or co-therapist."""
    return bool(
        user.is_authenticated
        and user.is_therapist
        and user.pk in (couple.therapist_id, couple.co_therapist_id)
    )


def may_edit(user: User | AnonymousUser, couple: Any) -> bool:
    """For a couple already read: whether `user` may change it (writable_couples, in Python,
    for the pages that offer or hide their edit controls without another query)."""
    return bool(
        user.is_authenticated
        and user.practice_id is not None
        and couple.practice_id == user.practice_id
        and treats(user, couple)
    )


def supervises(user: User | AnonymousUser, couple: Any) -> bool:
    """For a couple already read: whether `user` supervises its therapist or co-therapist
    (supervisor_of, in Python; one query for the supervisees)."""
    if not user.is_authenticated or not user.is_supervisor:
        return False
    if couple.practice_id != user.practice_id:
        return False
    ids = set(cast("User", user).supervisee_ids())
    return bool({couple.therapist_id, couple.co_therapist_id} & ids)


def signed_in(request: HttpRequest) -> User:
    """The signed-in person: LoginRequiredMiddleware lets no anonymous request reach a view."""
    return cast("User", request.user)


def practice_admin(request: HttpRequest) -> User:
    """The signed-in practice admin of a practice; a 404 for anyone else (the admin's pages
    say nothing to others, not even that they exist)."""
    user = signed_in(request)
    if not user.is_practice_admin or user.practice_id is None:
        raise Http404("Only the practice admin has this page.")
    return user
