"""Ruptures and repairs of a signed session (docs/domain.md, "Signing"): nothing is added to
or taken from the locked record; a correction of what a rupture says is an amendment, with its
reason, and the original stays readable. Every refusal is a message, never a 500."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from ruptures.codes import RuptureStatus
from ruptures.models import Rupture
from sessions import signing
from sessions.models import Amendment
from tests.factories import World, make_rupture, make_session, version_of
from tests.ruptures.test_rupture_views import (
    add_url,
    edit_url,
    repair_data,
    repair_url,
    rupture_data,
    withdraw_url,
)

if TYPE_CHECKING:
    from django.test import Client

pytestmark = pytest.mark.django_db

LOCKED = "is signed: its record is locked"


def text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


def test_no_rupture_is_added_to_a_signed_session(client: Client) -> None:
    world = World.build()
    signing.sign(world.session, by=world.owner)
    client.force_login(world.owner)

    response = client.post(add_url(world.session), rupture_data())

    assert response.status_code == 200
    assert LOCKED in text(response)
    assert Rupture.objects.filter(session=world.session).count() == 1
    page = text(client.get(reverse("therapy_sessions:detail", args=[world.session.pk])))
    assert "This session is signed: its ruptures and repairs are part of its locked record" in page
    assert "Add a rupture" not in page


def test_a_rupture_of_a_signed_session_is_corrected_only_by_amendment(client: Client) -> None:
    world = World.build()
    signing.sign(world.session, by=world.owner)
    rupture = world.rupture
    prefix = f"r{rupture.pk}"
    client.force_login(world.owner)
    corrected = rupture_data(prefix, significance="5") | version_of(rupture, prefix)

    refused = client.post(edit_url(rupture), corrected)

    assert refused.status_code == 200
    assert "Say why the record is amended." in text(refused)
    rupture.refresh_from_db()
    assert rupture.significance == 3

    saved = client.post(
        edit_url(rupture), corrected | {"amendment_reason": "It was a breakdown, not a strain."}
    )

    assert saved.status_code == 302
    rupture.refresh_from_db()
    assert rupture.significance == 5
    amendment = Amendment.objects.get(session=world.session)
    assert {"field": "Significance", "before": "3", "after": "5"}.items() <= next(
        row for row in amendment.changes if row["field"] == "Significance"
    ).items()


def test_a_rupture_of_a_signed_session_is_not_withdrawn(client: Client) -> None:
    world = World.build()
    signing.sign(world.session, by=world.owner)
    client.force_login(world.owner)

    response = client.post(withdraw_url(world.rupture), {"reason": "Logged twice"}, follow=True)

    assert LOCKED in text(response)
    world.rupture.refresh_from_db()
    assert world.rupture.withdrawn_at is None


def test_no_repair_is_recorded_in_a_signed_session(client: Client) -> None:
    world = World.build()
    later = make_session(world.couple, days_ago=3)
    signing.sign(later, by=world.owner)
    client.force_login(world.owner)

    response = client.post(repair_url(later, world.rupture), repair_data(world.rupture))

    assert response.status_code == 200
    assert LOCKED in text(response)
    world.rupture.refresh_from_db()
    assert world.rupture.status == RuptureStatus.UNRESOLVED


def test_a_rupture_observed_in_a_signed_session_is_still_repaired_later(client: Client) -> None:
    world = World.build()
    signing.sign(world.session, by=world.owner)
    later = make_session(world.couple, days_ago=3)
    client.force_login(world.owner)

    response = client.post(
        repair_url(later, world.rupture),
        repair_data(world.rupture) | version_of(world.rupture, f"repair{world.rupture.pk}"),
    )

    assert response.status_code == 302
    world.rupture.refresh_from_db()
    assert world.rupture.status == RuptureStatus.RESOLVED
    assert world.rupture.repaired_in == later


def test_an_unsigned_sessions_ruptures_are_corrected_freely(client: Client) -> None:
    world = World.build()
    extra = make_rupture(world.session, significance=2)
    prefix = f"r{extra.pk}"
    client.force_login(world.owner)

    saved = client.post(
        edit_url(extra), rupture_data(prefix, significance="4") | version_of(extra, prefix)
    )

    assert saved.status_code == 302
    assert not Amendment.objects.exists()
