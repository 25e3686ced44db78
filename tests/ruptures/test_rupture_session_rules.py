"""A rupture fits the session it is recorded in: a minute within the session's length, a
mover who was there, and a session that took place (ruptures and repairs alike)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pytest

from ruptures.codes import WhoMoved
from ruptures.models import Rupture
from tests.factories import make_session
from tests.ruptures.test_rupture_views import (
    add_url,
    as_user,
    field_error,
    repair_data,
    repair_url,
    rupture_data,
    scene,
    session_url,
    snapshot,
)

if TYPE_CHECKING:
    from django.test import Client

    from tests.ruptures.test_rupture_views import Scene

pytestmark = pytest.mark.django_db

__all__ = ["scene"]  # the module-scoped fixture, shared with the rupture views' tests


def test_a_minute_past_the_end_of_the_session_is_refused_beside_the_minute(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    length = scene.session.duration_minutes
    before = snapshot()
    response = client.post(add_url(scene.session), rupture_data(minute=str(length + 1)))
    assert response.status_code == 200
    assert f"This session lasted {length} minutes" in field_error(response, "id_new-minute")
    assert f'value="{length + 1}"' in response.text  # what was typed stays
    assert snapshot() == before
    response = client.post(add_url(scene.session), rupture_data(minute=str(length)))
    assert response.status_code == 302


def test_in_an_individual_session_the_absent_partner_cant_have_moved(
    client: Client, scene: Scene
) -> None:
    individual = make_session(scene.couple, days_ago=1, format="individual_a")
    as_user(client, scene.world.owner)
    before = snapshot()
    for mover in (WhoMoved.PARTNER_B, WhoMoved.BOTH):
        response = client.post(add_url(individual), rupture_data(who_moved=mover))
        assert "choose who was there" in field_error(response, "id_new-who_moved")
    assert snapshot() == before
    response = client.post(add_url(individual), rupture_data(who_moved=WhoMoved.PARTNER_A))
    assert response.status_code == 302
    assert Rupture.objects.filter(session=individual).count() == 1


def test_a_session_that_did_not_take_place_takes_no_rupture_and_no_repair(
    client: Client, scene: Scene
) -> None:
    no_show = make_session(scene.couple, days_ago=1, attendance="no_show")
    as_user(client, scene.world.owner)
    page = html.unescape(client.get(session_url(no_show)).text)
    assert "This session didn't take place (no-show)" in page
    assert 'id="rupture-add"' not in page
    assert "Mark repaired in this session" not in page

    before = snapshot()
    response = client.post(add_url(no_show), rupture_data())
    assert "This session didn't take place (no-show)" in html.unescape(response.text)
    response = client.post(repair_url(no_show, scene.rupture), repair_data(scene.rupture))
    assert "This session didn't take place (no-show)" in html.unescape(response.text)
    assert snapshot() == before
    assert Rupture.objects.get(pk=scene.rupture.pk).repaired_in_id is None
