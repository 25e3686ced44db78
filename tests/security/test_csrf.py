"""CSRF protection holds for htmx requests too: a POST without the token that base.html puts
in `hx-headers` is refused (403) and changes nothing; with it, the same request works."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.urls import reverse

from ruptures.codes import RuptureStatus, RuptureType, Toward, WhoMoved
from ruptures.models import FlagAcknowledgement, Rupture
from tests.security import HTMX, build_scene, fingerprint

if TYPE_CHECKING:
    from tests.security import Scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene() -> Scene:
    return build_scene()


def signed_in(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def page_token(client: Client, url: str) -> str:
    """The token as htmx sends it: from the page's `hx-headers` attribute."""
    page = client.get(url).content.decode()
    found = re.search(r"hx-headers='([^']+)'", page)
    assert found, "the page carries no hx-headers"
    return json.loads(found.group(1))["X-CSRFToken"]


def rupture_data() -> dict[str, Any]:
    data = {
        "rupture_type": RuptureType.WITHDRAWAL,
        "withdrawal_markers": ["MINIMAL_RESPONSE"],
        "who_moved": WhoMoved.PARTNER_A,
        "toward": Toward.THERAPIST,
        "significance": "2",
        "resolution_stage": "1",
        "status": RuptureStatus.UNRESOLVED,
    }
    return {f"new-{name}": value for name, value in data.items()}


def test_an_htmx_post_without_the_token_is_refused_and_changes_nothing(scene: Scene) -> None:
    client = signed_in(scene.world.owner)
    url = reverse("ruptures:add", args=[scene.world.session.pk])
    before = fingerprint()
    response = client.post(url, rupture_data(), headers=HTMX)
    assert response.status_code == 403
    assert fingerprint() == before


def test_an_htmx_post_with_a_wrong_token_is_refused(scene: Scene) -> None:
    client = signed_in(scene.world.owner)
    url = reverse("ruptures:add", args=[scene.world.session.pk])
    page_token(client, reverse("therapy_sessions:detail", args=[scene.world.session.pk]))
    response = client.post(url, rupture_data(), headers=HTMX | {"X-CSRFToken": "x" * 64})
    assert response.status_code == 403
    assert Rupture.objects.filter(session=scene.world.session).count() == 1


def test_an_htmx_post_with_the_pages_token_works(scene: Scene) -> None:
    client = signed_in(scene.world.owner)
    session_page = reverse("therapy_sessions:detail", args=[scene.world.session.pk])
    token = page_token(client, session_page)
    url = reverse("ruptures:add", args=[scene.world.session.pk])
    response = client.post(url, rupture_data(), headers=HTMX | {"X-CSRFToken": token})
    assert response.status_code == 200
    assert Rupture.objects.filter(session=scene.world.session).count() == 2


def test_the_supervisors_htmx_acknowledgement_needs_the_token_too(scene: Scene) -> None:
    client = signed_in(scene.world.supervisor)
    url = reverse("supervision:acknowledge", args=[scene.flag.pk])
    data = {"comment": "Seen."}
    assert client.post(url, data, headers=HTMX).status_code == 403
    assert not FlagAcknowledgement.objects.exists()
    token = page_token(client, reverse("supervision:review"))
    assert client.post(url, data, headers=HTMX | {"X-CSRFToken": token}).status_code == 200
    assert FlagAcknowledgement.objects.filter(flag=scene.flag).count() == 1


def test_a_plain_form_post_without_the_token_is_refused(scene: Scene) -> None:
    client = signed_in(scene.world.owner)
    before = fingerprint()
    url = reverse("therapy_sessions:withdraw", args=[scene.later.pk])
    assert client.post(url, {"reason": "Logged by mistake."}).status_code == 403
    assert fingerprint() == before
