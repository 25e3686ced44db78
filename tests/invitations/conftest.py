"""Fixtures for the remote answer links: a real SMTP sink process the app mails through, and
helpers that invite a partner the way the therapist does and read the link from the e-mail."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.urls import reverse

from invitations.models import Invitation
from sessions.models import AllianceRating
from sessions.services import measures_record
from tests.factories import World, make_session
from tests.smtp_sink import SmtpSink

if TYPE_CHECKING:
    from django.test import Client

    from cycles.models import Couple
    from sessions.models import TherapySession

LINK = re.compile(r"https?://\S+/a/([A-Za-z0-9_-]+)/")
ADDRESSES = {"A": "avery.partner@example.invalid", "B": "blake.partner@example.invalid"}


def rate(session: TherapySession, partner: str, each: int, by: Any) -> None:
    """The therapist enters a partner's alliance (each item `each`) in the room."""
    measures_record(
        session=session,
        entered_by="therapist",
        recorded_by=by,
        alliance={
            partner: {"bond": each, "goals": each, "tasks": each, "fit": each, "answered": True}
        },
        reports={},
        responses=[],
    )


def rated_world() -> tuple[World, TherapySession]:
    """The owner's couple with partner A's alliance high last session, and a later session
    held yesterday (the one a link after the session asks about)."""
    world = World.build()
    rate(world.session, "A", 9, world.owner)
    later = make_session(world.couple, days_ago=1)
    return world, later


def set_addresses(client: Client, couple: Couple) -> None:
    response = client.post(
        reverse("invitations:contact", args=[couple.case_code]),
        {"email_a": ADDRESSES["A"], "email_b": ADDRESSES["B"]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def invite(
    client: Client,
    couple: Couple,
    partner: str,
    purpose: str,
    sink: SmtpSink,
    capture: Any,
) -> tuple[Invitation, str]:
    """The therapist sends a link; the e-mail arrives at the sink; (the link, its token)."""
    before = len(sink.messages())
    with capture(execute=True):
        response = client.post(
            reverse("invitations:send", args=[couple.case_code]),
            {"partner": partner, "purpose": purpose},
        )
    assert response.status_code == 302
    message = sink.wait_for(before + 1)[-1]
    match = LINK.search(message.get_content())
    assert match, message.get_content()
    invitation = Invitation.objects.filter(couple=couple, partner=partner).latest("pk")
    return invitation, match.group(1)


def answer_url(token: str) -> str:
    return reverse("invitations:answer", args=[token])


def alliance_of(session: TherapySession, partner: str) -> AllianceRating | None:
    return AllianceRating.objects.filter(session=session, partner=partner).first()
