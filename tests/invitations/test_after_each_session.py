"""A link after each session, by itself (issue 22: "after each session"): the therapist ticks
it per partner beside the address; logging a session the partner attended sends them a link
about it, through a real SMTP sink process; an absent partner gets none, a form sent twice
sends one, and asking for it without an address is a message beside the box."""

from __future__ import annotations

import datetime
import html
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse
from django.utils import timezone

from invitations.models import Invitation, PartnerContact, Purpose
from sessions.models import Attendance, SessionFormat, TherapySession
from tests.factories import World, make_session
from tests.invitations.conftest import ADDRESSES, LINK

if TYPE_CHECKING:
    from django.test import Client

    from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db


def contacts_page(client: Client, world: World, **data: str) -> Any:
    return client.post(reverse("invitations:contact", args=[world.couple.case_code]), data)


def log_session(client: Client, world: World, token: str = "", **changes: str) -> Any:
    day = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    data = {
        "date": day,
        "start_time": "16:00",
        "end_time": "16:50",
        "format": SessionFormat.CONJOINT,
        "attendance": Attendance.ATTENDED,
        "cancelled_by": "",
        "left_early": "",
        "eft_step": "2",
        "progress_note": "Mapped the cycle.",
        "private_note": "",
        "request_token": token or str(uuid.uuid4()),
    } | changes
    return client.post(reverse("therapy_sessions:new", args=[world.couple.case_code]), data)


@pytest.fixture
def world(client: Client) -> World:
    world = World.build()
    client.force_login(world.owner)
    response = contacts_page(
        client, world, email_a=ADDRESSES["A"], after_a="on", email_b=ADDRESSES["B"]
    )
    assert response.status_code == 302
    return world


def test_logging_a_session_sends_the_partner_who_asked_a_link_about_it(
    client: Client, world: World, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = log_session(client, world)

    assert response.status_code == 302
    session = TherapySession.objects.filter(couple=world.couple).latest("pk")
    (link,) = Invitation.objects.filter(couple=world.couple)
    assert (link.partner, link.purpose, link.session) == ("A", Purpose.SESSION, session)
    (message,) = sink.wait_for(1)
    assert str(message["To"]) == ADDRESSES["A"]
    assert LINK.search(message.get_content())
    page = client.get(response["Location"])
    assert "A link about this session is on its way to partner A." in page.content.decode()
    panel = client.get(reverse("invitations:panel", args=[world.couple.case_code]))
    assert "a link after each session they attend" in panel.content.decode()


def test_a_partner_who_was_not_there_gets_no_link(client: Client, world: World) -> None:
    response = log_session(client, world, format=SessionFormat.INDIVIDUAL_B)
    assert response.status_code == 302
    assert not Invitation.objects.filter(couple=world.couple).exists()


def test_the_session_form_sent_twice_sends_one_link(client: Client, world: World) -> None:
    token = str(uuid.uuid4())
    assert log_session(client, world, token).status_code == 302
    assert log_session(client, world, token).status_code == 302
    assert Invitation.objects.filter(couple=world.couple).count() == 1


def test_asking_for_links_without_an_address_is_a_message_beside_the_box(
    client: Client, world: World
) -> None:
    response = contacts_page(client, world, email_a=ADDRESSES["A"], after_b="on")
    assert response.status_code == 200
    shown = html.unescape(response.content.decode())
    assert "Give partner B's address to send them a link after each session." in shown
    kept = dict(PartnerContact.objects.values_list("partner", "after_each_session"))
    assert kept == {"A": True, "B": False}  # nothing changed


def test_turned_off_no_link_goes(client: Client, world: World) -> None:
    contacts_page(client, world, email_a=ADDRESSES["A"], email_b=ADDRESSES["B"])
    assert log_session(client, world).status_code == 302
    assert not Invitation.objects.filter(couple=world.couple).exists()


def test_a_session_logged_late_sends_a_link_about_itself_not_the_latest(
    client: Client, world: World
) -> None:
    """Logged after a later one (dated before it): the link asks about the session logged."""
    make_session(world.couple, days_ago=0.2)  # a later session already on record
    assert log_session(client, world).status_code == 302  # dated yesterday
    logged = TherapySession.objects.filter(couple=world.couple).latest("pk")
    (link,) = Invitation.objects.filter(couple=world.couple)
    assert link.session == logged
