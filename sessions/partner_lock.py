"""Taking the partner screen back (sessions.measure_views.partner_screen_unlock): only the
therapist's password lifts the lock, and only `UNLOCK_TRIES` wrong ones are allowed per lock.

Every wrong password is an AccessEvent (never what was typed), and those events are the count:
the throttle lives in the database, so it holds across processes and without Redis, and a
guess can't be taken back by clearing a cookie. Guesses sent at once are counted one after
another: each takes a lock on the therapist's row first. When the tries are used up the view
ends the session, so the next page is the sign-in page, with its authenticator code.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from people import audit
from people.models import AccessEvent, User
from sessions.models import TherapySession

if TYPE_CHECKING:
    from django.http import HttpRequest

# The browser session's key holding the partner screen's state while it is locked (the
# middleware, people.middleware.PartnerScreenLockMiddleware, tests for the same name).
PARTNER_SCREEN_KEY = "partner_screen"
UNLOCK_TRIES = 5
UNLOCK_FAILED = "partner screen unlock failed"
LOCKED_AT = "locked_at"  # in the partner screen's session state: when this lock began

REFUSED = "That is not the therapist's password."
SIGNED_OUT = (
    f"The partner screen was signed out after {UNLOCK_TRIES} wrong passwords. Sign in again "
    "to return to the record; answers the partner finished were saved."
)


@dataclass(frozen=True)
class Attempt:
    unlocked: bool
    tries_left: int


def lock_begins() -> str:
    """The moment a lock begins, as kept in the session: failed tries count from here."""
    return timezone.now().isoformat()


def tries_left(user: User, state: dict[str, Any]) -> int:
    return max(0, UNLOCK_TRIES - _tries_used(user, state))


def tries_hint(left: int) -> str:
    """What the unlock form says under the password field."""
    if left >= UNLOCK_TRIES:
        return (
            f"After {UNLOCK_TRIES} wrong passwords this device signs out, and the therapist "
            "signs in again with their authenticator code."
        )
    tries = "try" if left == 1 else "tries"
    return (
        f"{left} {tries} left. After that this device signs out, and the therapist signs in "
        "again with their authenticator code."
    )


def try_unlock(request: HttpRequest, user: User, state: dict[str, Any], password: str) -> Attempt:
    """Check the therapist's password against this lock's tries left; audit a failure.

    Once the tries are used up even the right password is refused (and audited): the session
    is to be ended, not the lock lifted.
    """
    with transaction.atomic():
        # Serialises this therapist's unlock attempts, so concurrent guesses each see the
        # failures recorded before them.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        used = _tries_used(user, state)
        if used < UNLOCK_TRIES and user.check_password(password):
            return Attempt(unlocked=True, tries_left=UNLOCK_TRIES - used)
        used += 1
        detail = f"try {used} of {UNLOCK_TRIES}" if used <= UNLOCK_TRIES else "no tries left"
        audit.record(request, UNLOCK_FAILED, _locked_session(user, state), detail=detail)
    return Attempt(unlocked=False, tries_left=max(0, UNLOCK_TRIES - used))


def _tries_used(user: User, state: dict[str, Any]) -> int:
    if LOCKED_AT not in state:  # a lock begun before locks were dated: none counted yet
        return 0
    since = datetime.datetime.fromisoformat(state[LOCKED_AT])
    # Every failure of this therapist's since the lock began, whichever session it was for:
    # a session withdrawn meanwhile must not make its failures uncounted.
    return AccessEvent.objects.filter(user=user, action=UNLOCK_FAILED, at__gte=since).count()


def _locked_session(user: User, state: dict[str, Any]) -> Any:
    """The session the partner was answering about, for the event's case code; the couple
    when the screen was the couple's (a safety screen: sessions.safety_views)."""
    if state.get("session") is None and state.get("couple") is not None:
        from cycles.models import Couple

        return Couple.objects.editable_by(user).filter(pk=state["couple"]).first()
    sessions = TherapySession.objects.editable_by(user).select_related("couple")
    return sessions.filter(pk=state["session"]).first()
