"""The session page's sign-off panel: `{% load signoff %}{% signoff_panel session %}`."""

from __future__ import annotations

from typing import Any

from django import template

from sessions import signing
from sessions.models import CosignState

register = template.Library()


@register.inclusion_tag("sessions/_signoff.html", takes_context=True)
def signoff_panel(context: dict[str, Any], session: Any) -> dict[str, Any]:
    """State, history and amendments of the record, and the steps this reader may take."""
    user = context["request"].user
    mine = user.pk == session.therapist_id
    events = list(session.signoff_events.select_related("by"))
    sent_back = session.cosign_state == CosignState.CHANGES_REQUESTED
    return {
        "session": session,
        "events": events,
        # Sent back and not amended since: signing again unchanged says why (sessions.signing).
        "reply_needed": sent_back and signing.unanswered_request(events),
        "amendments": list(session.amendments.select_related("by")),
        "may_sign": mine and not session.is_withdrawn and (not session.is_signed or sent_back),
        "may_review": session.cosign_state == CosignState.AWAITING
        and not mine
        and signing.may_cosign(user, session),
        "csrf_token": context.get("csrf_token"),
    }
