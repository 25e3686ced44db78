"""The remote answer links' forms, fuzzed through their views (checklist item 9): the
partner's page for each purpose, the addresses and the send form answer with a page (200, or
429 once a link's limit is reached), a redirect (302) or nothing worse; never a 500.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from invitations.links import hash_token
from invitations.models import Invitation, InvitationStatus, LinkHit, Purpose
from sessions.models import MeasureDefinition
from sessions.safety import EXAMPLE_ITEMS, EXAMPLE_SCREEN
from tests.factories import World, make_session
from tests.security.test_fuzz_forms import FUZZ, JUNK, field, form

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.django_db

TOKENS = {purpose: f"fuzz-{purpose}-" + "0" * 40 for purpose in Purpose.values}
ANSWERED = (200, 302, 429)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """A couple with a session yesterday and a sent link of each purpose to partner A."""
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        session = make_session(world.couple, days_ago=1)
        MeasureDefinition.objects.create(**EXAMPLE_SCREEN)
        for purpose, token in TOKENS.items():
            codes = {
                Purpose.SATISFACTION: ["csi4"],
                Purpose.SAFETY: [EXAMPLE_SCREEN["code"]],
            }.get(purpose, [])
            Invitation.objects.create(
                couple=world.couple,
                partner="A",
                purpose=purpose,
                session=session,
                measure_codes=codes,
                status=InvitationStatus.SENT,
                token_hash=hash_token(token),
                address_digest="0" * 64,
                created_by=world.owner,
                expires_at=timezone.now() + datetime.timedelta(days=1),
            )
        yield world
        transaction.set_rollback(True)


def post(url: str, data: dict[str, Any], client: Client | None = None) -> int:
    with transaction.atomic():
        LinkHit.objects.all().delete()  # each example within the link's limit
        status = (client or Client()).post(url, data).status_code
        transaction.set_rollback(True)
    return status


def scale(low: int, high: int) -> st.SearchStrategy[Any]:
    return field(*range(low - 1, high + 2))


SESSION = form(
    {f"alliance-A-{item}": scale(0, 10) for item in ("bond", "goals", "tasks", "fit")}
    | {
        "report-partner_a-tension": field("yes", "no"),
        "report-partner_a-upsetting": scale(1, 5),
        "report-partner_a-resolved": scale(1, 5),
        "alliance-B-bond": JUNK,  # the other partner's fields are ignored
    }
)
SATISFACTION = form(
    {f"m-csi4-{key}": scale(0, 6) for key in ("happiness", "warm", "rewarding", "satisfied")}
)
SAFETY = form({f"s-{item['key']}": scale(0, 1) for item in EXAMPLE_ITEMS})


@FUZZ
@given(data=SESSION)
def test_the_session_questions_never_fail(world: World, data: dict[str, Any]) -> None:
    assert post(reverse("invitations:answer", args=[TOKENS["session"]]), data) in ANSWERED


@FUZZ
@given(data=SATISFACTION)
def test_the_questionnaires_never_fail(world: World, data: dict[str, Any]) -> None:
    assert post(reverse("invitations:answer", args=[TOKENS["satisfaction"]]), data) in ANSWERED


@FUZZ
@given(data=SAFETY)
def test_the_safety_screen_never_fails(world: World, data: dict[str, Any]) -> None:
    assert post(reverse("invitations:answer", args=[TOKENS["safety"]]), data) in ANSWERED


@FUZZ
@given(token=JUNK, data=SESSION)
def test_any_token_never_fails(world: World, token: str, data: dict[str, Any]) -> None:
    url = "/a/" + "".join(c for c in token if c not in "/?#\x00") + "x/"
    assert post(url, data) in (*ANSWERED, 404)


@FUZZ
@given(
    data=form({"email_a": field("a@example.invalid", ""), "email_b": field("b@example.invalid")})
)
def test_the_addresses_form_never_fails(world: World, data: dict[str, Any]) -> None:
    client = Client()
    client.force_login(world.owner)
    url = reverse("invitations:contact", args=[world.couple.case_code])
    assert post(url, data, client) in ANSWERED


@FUZZ
@given(
    data=form(
        {
            "partner": field("A", "B", "C"),
            "purpose": field(*Purpose.values),
            "request_token": field("7" * 32, "not-a-uuid"),
        }
    )
)
def test_the_send_form_never_fails(world: World, data: dict[str, Any]) -> None:
    client = Client()
    client.force_login(world.owner)
    url = reverse("invitations:send", args=[world.couple.case_code])
    assert post(url, data, client) in ANSWERED
