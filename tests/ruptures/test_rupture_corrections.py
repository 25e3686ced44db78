"""Correcting a rupture's status on its own session's form: "resolved" there means resolved
by the end of that session, and needs the stage reached, as when it is first recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ruptures.codes import ResolutionStage, RuptureStatus
from ruptures.models import Rupture
from tests.factories import version_of
from tests.ruptures.test_rupture_views import (
    as_user,
    edit_url,
    field_error,
    rupture_data,
    scene,
    snapshot,
)

if TYPE_CHECKING:
    from django.test import Client

    from tests.ruptures.test_rupture_views import Scene

pytestmark = pytest.mark.django_db

__all__ = ["scene"]  # the module-scoped fixture, shared with the rupture views' tests


def test_marking_a_rupture_resolved_on_correction_needs_the_stage_reached(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    prefix = f"r{scene.rupture.pk}"
    before = snapshot()
    data = rupture_data(prefix, status=RuptureStatus.RESOLVED, resolution_stage="0")
    response = client.post(edit_url(scene.rupture), data | version_of(scene.rupture, prefix))
    assert response.status_code == 200
    assert "choose the stage reached" in field_error(response, f"id_{prefix}-resolution_stage")
    assert snapshot() == before
    data = rupture_data(prefix, status=RuptureStatus.RESOLVED, resolution_stage="3")
    assert (
        client.post(edit_url(scene.rupture), data | version_of(scene.rupture, prefix)).status_code
        == 302
    )
    rupture = Rupture.objects.get(pk=scene.rupture.pk)
    assert (rupture.status, rupture.resolution_stage) == (RuptureStatus.RESOLVED, 3)
    assert rupture.repaired_in_id is None  # resolved in its own session


def test_an_earlier_resolved_record_without_a_stage_can_still_be_corrected(
    client: Client, scene: Scene
) -> None:
    Rupture.objects.filter(pk=scene.rupture.pk).update(
        status=RuptureStatus.RESOLVED, resolution_stage=ResolutionStage.NONE
    )
    as_user(client, scene.world.owner)
    prefix = f"r{scene.rupture.pk}"
    data = rupture_data(
        prefix, status=RuptureStatus.RESOLVED, resolution_stage="0", significance="5"
    )
    assert (
        client.post(edit_url(scene.rupture), data | version_of(scene.rupture, prefix)).status_code
        == 302
    )
    assert Rupture.objects.get(pk=scene.rupture.pk).significance == 5


def test_the_correction_form_says_where_a_later_repair_is_recorded(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    text = client.get(edit_url(scene.rupture)).text
    assert "A repair in a later session is recorded on that session" in text
