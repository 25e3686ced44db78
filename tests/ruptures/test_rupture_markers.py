"""The rupture form's markers on the server (issue 15): both types' groups are always drawn
(static/js/rupture-markers.js shows the chosen type's; without JavaScript both show), a marker
of the other type is refused beside its group with everything typed kept, and a type redraw
posted by a page drawn before the markers moved to the client changes nothing.

The browser side (ticks kept across type changes, no CSP report) is
tests/browser/test_rupture_markers.py.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse

from ruptures.codes import RuptureType, WithdrawalMarker
from ruptures.models import Rupture
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from django.test import Client

    from sessions.models import TherapySession

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
NOTE = "Changed the subject to the in-laws."
WRONG_TYPE = "These are confrontation markers; this rupture is a withdrawal."


@pytest.fixture
def session(client: Client) -> TherapySession:
    therapist = make_user(make_practice(), "Robin Therapist", therapist=True)
    client.force_login(therapist)
    return make_session(make_couple(therapist), days_ago=1)


def hidden_inputs(page: str, prefix: str) -> dict[str, str]:
    """The hidden fields a form drawn on `page` carries for `prefix` (its write guards)."""
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    return {name: html.unescape(value) for name, value in found if name.startswith(prefix)}


def marker_group(page: str, kind: str) -> str:
    """The markup of one type's marker group, up to the next group or the end of the markers."""
    match = re.search(
        rf'<div class="marker-group" data-marker-type="{kind}"[^>]*>(.*?)</fieldset>',
        page,
        re.DOTALL,
    )
    assert match, f"no {kind} marker group drawn"
    return match.group(0)


def checked(page: str, name: str) -> set[str]:
    inputs = re.findall(rf'<input type="checkbox" name="{re.escape(name)}"[^>]*>', page)
    return {re.search(r'value="([^"]+)"', tag).group(1) for tag in inputs if " checked" in tag}  # type: ignore[union-attr]


def new_rupture(client: Client, session: TherapySession, **overrides: Any) -> dict[str, Any]:
    page = client.get(reverse("therapy_sessions:detail", args=[session.pk])).text
    data: dict[str, Any] = {
        "rupture_type": RuptureType.WITHDRAWAL,
        "withdrawal_markers": ["DENIAL"],
        "confrontation_markers": ["DEFENDS_SELF"],
        "who_moved": "partner_b",
        "toward": "therapist",
        "significance": "3",
        "resolution_stage": "0",
        "status": "unresolved",
        "note": NOTE,
    } | overrides
    return hidden_inputs(page, "new-") | {f"new-{k}": v for k, v in data.items()}


def test_both_marker_groups_are_drawn_whatever_the_type_for_the_page_to_choose_from(
    client, session
):
    page = client.get(reverse("therapy_sessions:detail", args=[session.pk])).text

    assert "Withdrawal markers" in marker_group(page, "withdrawal")
    assert "Confrontation markers" in marker_group(page, "confrontation")
    assert "data-rupture-type" in page
    assert '"action": "refresh"' not in html.unescape(page), "no server redraw on a type change"
    assert '<script src="/static/js/rupture-markers.js" defer></script>' in page


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["without-javascript", "htmx"])
def test_a_marker_of_the_other_type_is_refused_beside_its_group_with_every_tick_kept(
    client, session, headers
):
    response = client.post(
        reverse("ruptures:add", args=[session.pk]), new_rupture(client, session), headers=headers
    )

    assert response.status_code == 200
    page = response.text
    confrontation = marker_group(page, "confrontation")
    assert "data-has-errors" in confrontation  # the script keeps this group in view
    assert 'id="id_new-confrontation_markers_error"' in confrontation
    assert WRONG_TYPE in html.unescape(confrontation)
    assert WRONG_TYPE not in html.unescape(marker_group(page, "withdrawal"))
    assert checked(page, "new-withdrawal_markers") == {"DENIAL"}
    assert checked(page, "new-confrontation_markers") == {"DEFENDS_SELF"}
    assert NOTE in page
    assert not Rupture.objects.filter(session=session).exists()


def test_with_the_other_types_marker_untaken_the_rupture_is_recorded(client, session):
    data = new_rupture(client, session)
    del data["new-confrontation_markers"]  # what the page posts: that group is disabled

    response = client.post(reverse("ruptures:add", args=[session.pk]), data)

    assert response.status_code == 302
    rupture = Rupture.objects.get(session=session)
    assert rupture.withdrawal_markers == WithdrawalMarker.DENIAL
    assert rupture.confrontation_markers == 0


def test_the_correction_form_refuses_a_marker_of_the_other_type_beside_its_group(client, session):
    rupture = make_rupture(session, withdrawal_markers=WithdrawalMarker.MINIMAL_RESPONSE)
    url = reverse("ruptures:edit", args=[rupture.pk])
    page = client.get(url).text
    assert "Confrontation markers" in marker_group(page, "confrontation")
    prefix = f"r{rupture.pk}-"
    data = hidden_inputs(page, prefix) | {
        f"{prefix}rupture_type": RuptureType.WITHDRAWAL,
        f"{prefix}withdrawal_markers": ["MINIMAL_RESPONSE", "DENIAL"],
        f"{prefix}confrontation_markers": ["REJECTS_INTERVENTION"],
        f"{prefix}who_moved": "partner_a",
        f"{prefix}toward": "therapist",
        f"{prefix}significance": "3",
        f"{prefix}resolution_stage": "0",
        f"{prefix}status": "unresolved",
        f"{prefix}note": NOTE,
    }

    response = client.post(url, data)

    assert response.status_code == 200
    confrontation = marker_group(response.text, "confrontation")
    assert WRONG_TYPE in html.unescape(confrontation)
    assert checked(response.text, f"{prefix}withdrawal_markers") == {"MINIMAL_RESPONSE", "DENIAL"}
    assert checked(response.text, f"{prefix}confrontation_markers") == {"REJECTS_INTERVENTION"}
    assert NOTE in response.text
    rupture.refresh_from_db()
    assert rupture.withdrawal_markers == WithdrawalMarker.MINIMAL_RESPONSE
    assert rupture.note != NOTE


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_type_redraw_from_a_page_drawn_before_the_script_swaps_and_records_nothing(
    client, session, headers
):
    """Such a page posts `action=refresh` on a type change: answered 204 (htmx swaps
    nothing, so no tick is lost), never recorded, even with a complete form."""
    data = new_rupture(client, session, confrontation_markers=None)
    data = {k: v for k, v in data.items() if v is not None} | {"action": "refresh"}

    response = client.post(reverse("ruptures:add", args=[session.pk]), data, headers=headers)

    assert response.status_code == 204
    assert response.content == b""
    assert not Rupture.objects.filter(session=session).exists()
