"""The safety screen by private link (issue 22, item 3's remote half): the partner answers
alone on their own phone; the screen is kept as theirs, "entered by the partner, remotely";
the e-mail reads exactly as any other link's; the other partner's link shows nothing of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from invitations import sending
from invitations.models import Invitation, InvitationStatus, Purpose
from ruptures.models import Flag, FlagKind
from sessions.models import MeasureDefinition, SafetyScreen
from sessions.safety import EXAMPLE_ITEMS, EXAMPLE_SCREEN, PARTNER_INTRO
from tests.invitations.conftest import answer_url, invite, rated_world, set_addresses

if TYPE_CHECKING:
    from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db


def test_a_partner_takes_the_safety_screen_alone_and_the_other_sees_nothing(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    MeasureDefinition.objects.create(**EXAMPLE_SCREEN)
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    capture = django_capture_on_commit_callbacks
    screen_link, screen_token = invite(client, world.couple, "A", Purpose.SAFETY, sink, capture)
    _, other_token = invite(client, world.couple, "B", Purpose.SESSION, sink, capture)

    # The two e-mails read the same: nothing says "safety".
    first, second = sink.messages()[-2:]
    assert first["Subject"] == second["Subject"] == sending.SUBJECT
    assert "safety" not in first.get_content().lower()

    body = Client().get(answer_url(screen_token)).content.decode()
    assert PARTNER_INTRO in body
    assert 'name="s-hurt"' in body
    assert "alliance-" not in body
    other = Client().get(answer_url(other_token)).content.decode()
    for item in EXAMPLE_ITEMS:
        assert item["text"] not in other
    assert "s-hurt" not in other
    assert "safety" not in other.lower()

    answers = {f"s-{item['key']}": "0" for item in EXAMPLE_ITEMS} | {"s-afraid": "1"}
    with capture(execute=True):
        response = Client().post(answer_url(screen_token), answers)
    assert "Thank you" in response.content.decode()

    screen = SafetyScreen.objects.get(couple=world.couple, partner="A")
    assert screen.positive
    assert screen.entered_by == "partner_remote"
    screen_link.refresh_from_db()
    assert screen_link.status == InvitationStatus.ANSWERED
    # The safety concern is open for the therapist at once (the same-day recheck).
    assert Flag.objects.open().filter(couple=world.couple, kind=FlagKind.SAFETY_CONCERN).exists()
    # The other partner's link still shows only their own questions, nothing of the screen.
    again = Client().get(answer_url(other_token)).content.decode()
    assert "s-hurt" not in again
    assert "safety" not in again.lower()


def test_a_half_answered_safety_screen_is_refused_and_nothing_is_kept(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    MeasureDefinition.objects.create(**EXAMPLE_SCREEN)
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    _, token = invite(
        client, world.couple, "A", Purpose.SAFETY, sink, django_capture_on_commit_callbacks
    )
    response = Client().post(answer_url(token), {"s-hurt": "1"})
    body = response.content.decode()
    assert "Answer every question, or none." in body
    assert 'aria-describedby="id_s-afraid_error"' in body
    assert not SafetyScreen.objects.exists()
    assert Invitation.objects.get(couple=world.couple).status == InvitationStatus.SENT


def test_without_a_safety_screen_the_therapist_is_told_and_no_link_is_made(
    client: Client, sink: SmtpSink
) -> None:
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    from django.urls import reverse

    response = client.post(
        reverse("invitations:send", args=[world.couple.case_code]),
        {"partner": "A", "purpose": Purpose.SAFETY},
        follow=True,
    )
    assert "no active safety screen" in response.content.decode()
    assert not Invitation.objects.exists()
