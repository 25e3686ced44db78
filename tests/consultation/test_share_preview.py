"""Before a case is shared, its therapist sees exactly what the group will see: the
de-identified case, the group's name, and a button that shares it. The preview shares
nothing, and only the couple's therapist, for one of their groups, gets it."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from cycles.models import CaseShare
from people.models import AccessEvent
from tests.consultation.test_sharing import NOT_THE_THERAPIST, REFUSED, scene, told

if TYPE_CHECKING:
    from django.test import Client

    from tests.consultation.test_sharing import Scene

pytestmark = pytest.mark.django_db

__all__ = ["scene"]  # the module-scoped fixture, shared with the sharing tests


def preview_url(scene: Scene) -> str:
    return reverse("cycles:share_preview", args=[scene.world.couple.case_code])


def test_the_couple_page_offers_a_preview_before_anything_is_shared(
    client: Client, scene: Scene
) -> None:
    client.force_login(scene.owner)
    page = client.get(scene.world.couple.get_absolute_url()).text
    assert f'action="{preview_url(scene)}"' in page
    assert 'method="get"' in page
    assert "See what they will see" in page


def test_the_preview_shows_the_de_identified_case_and_shares_nothing(
    client: Client, scene: Scene
) -> None:
    world = scene.world
    client.force_login(scene.owner)
    response = client.get(preview_url(scene), {"group": world.group.pk})
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert f"Share into {world.group.name}?" in page
    assert "The cycle (vocabulary terms only)" in page
    assert f'<input type="hidden" name="group" value="{world.group.pk}">' in response.text
    assert f'action="{scene.share_url}"' in response.text
    for text in scene.clinical_text():
        assert text not in page
    assert CaseShare.objects.count() == 0
    (event,) = AccessEvent.objects.filter(action="read share preview")
    assert (event.case_code, event.detail) == (world.couple.case_code, f"group {world.group.pk}")


@pytest.mark.parametrize("group", ["", "abc", "not_joined", "elsewhere"])
def test_a_preview_for_no_group_of_theirs_goes_back_with_a_message(
    client: Client, scene: Scene, group: str
) -> None:
    client.force_login(scene.owner)
    value = str(getattr(scene, group).pk) if group in ("not_joined", "elsewhere") else group
    response = client.get(preview_url(scene), {"group": value})
    assert (response.status_code, response["Location"]) == (
        302,
        scene.world.couple.get_absolute_url(),
    )
    assert told(response) == REFUSED


@pytest.mark.parametrize("role", NOT_THE_THERAPIST)
def test_only_the_couples_own_therapist_gets_the_preview(
    client: Client, scene: Scene, role: str
) -> None:
    client.force_login(getattr(scene.world, role))
    response = client.get(preview_url(scene), {"group": scene.world.group.pk})
    assert response.status_code == 404
