"""The session page leads with what the session needs (issue 18): the repairs of earlier open
ruptures come right after the heading, the add-rupture form is folded until asked for (open on
a fresh session with nothing else to record, just after a rupture was recorded, and when it
comes back with errors, with the typed input kept)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from ruptures.models import Rupture
from sessions.models import SessionFormat
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from django.test import Client

    from people.models import User
    from sessions.models import TherapySession

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
FOLD = re.compile(r'<details class="more rupture-add" id="rupture-add-fold"( open)?>')


def page_of(client: Client, user: User, session: TherapySession, **query: str) -> str:
    client.force_login(user)
    response = client.get(reverse("therapy_sessions:detail", args=[session.pk]), query)
    assert response.status_code == 200
    return response.text


def folded(text: str) -> bool:
    match = FOLD.search(text)
    assert match, "no add-rupture form on the page"
    return match.group(1) is None


def a_therapist() -> User:
    return make_user(make_practice(), "Robin Therapist", therapist=True)


def new_rupture(**overrides: str) -> dict[str, str]:
    data = {
        "rupture_type": "withdrawal",
        "withdrawal_markers": "MINIMAL_RESPONSE",
        "who_moved": "partner_b",
        "toward": "therapist",
        "significance": "2",
        "resolution_stage": "0",
        "status": "unresolved",
        "note": "She changed the subject when I named the cycle.",
    } | overrides
    return {f"new-{name}": value for name, value in data.items() if value}


def test_a_fresh_session_opens_on_the_add_rupture_form(client: Client) -> None:
    therapist = a_therapist()
    session = make_session(make_couple(therapist), days_ago=1)
    assert not folded(page_of(client, therapist, session))


def test_a_session_with_ruptures_folds_the_form_behind_add_a_rupture(client: Client) -> None:
    therapist = a_therapist()
    session = make_session(make_couple(therapist), days_ago=1)
    make_rupture(session)
    text = page_of(client, therapist, session)
    assert folded(text)
    assert "<summary>Add a rupture</summary>" in text


def test_earlier_open_ruptures_lead_the_page_and_the_form_is_folded(client: Client) -> None:
    therapist = a_therapist()
    couple = make_couple(therapist)
    make_rupture(make_session(couple, days_ago=14))
    today = make_session(couple, days_ago=0, progress_note="A long note. " * 200)
    text = page_of(client, therapist, today)
    assert folded(text)
    order = [
        text.index("Earlier ruptures still open"),
        text.index('id="note-head"'),
        text.index('id="measures-head"'),
        text.index('id="rupture-add-fold"'),
    ]
    assert order == sorted(order)
    assert text.count('id="repairs"') == 1


def test_without_anything_to_repair_the_repairs_card_stays_below(client: Client) -> None:
    therapist = a_therapist()
    session = make_session(make_couple(therapist), days_ago=1)
    text = page_of(client, therapist, session)
    assert "No repairs in this session." in text
    assert text.index('id="ruptures-head"') < text.index('id="repairs"')


def test_after_recording_a_rupture_the_form_stays_open_for_the_next(client: Client) -> None:
    therapist = a_therapist()
    session = make_session(make_couple(therapist), days_ago=1)
    make_rupture(session)
    client.force_login(therapist)
    url = reverse("ruptures:add", args=[session.pk])
    response = client.post(url, new_rupture(), headers=HTMX)
    assert response.status_code == 200
    assert "Recorded the rupture." in response.text
    assert not folded(response.text)
    assert re.search(r'name="new-rupture_type"[^>]*autofocus', response.text)
    assert Rupture.objects.filter(session=session).count() == 2


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_a_refused_rupture_comes_back_unfolded_with_the_message_and_input(
    client: Client, htmx: bool
) -> None:
    therapist = a_therapist()
    session = make_session(make_couple(therapist), days_ago=1)
    make_rupture(session)  # so the form starts folded
    client.force_login(therapist)
    url = reverse("ruptures:add", args=[session.pk])
    response = client.post(url, new_rupture(significance=""), headers=HTMX if htmx else {})
    assert response.status_code == 200
    assert not folded(response.text)
    error = re.search(r'id="id_new-significance_error"[^>]*>(.*?)</', response.text, re.DOTALL)
    assert error, "no message beside the significance"
    assert "required" in error.group(1)
    assert "She changed the subject when I named the cycle." in response.text
    assert re.search(r'value="partner_b"[^>]*checked', response.text)
    assert Rupture.objects.filter(session=session).count() == 1


def test_an_individual_session_starts_with_the_partner_who_was_there(client: Client) -> None:
    therapist = a_therapist()
    session = make_session(make_couple(therapist), days_ago=1, format=SessionFormat.INDIVIDUAL_B)
    text = page_of(client, therapist, session)
    assert re.search(r'name="new-who_moved" value="partner_b"[^>]*checked', text)
    assert not re.search(r'name="new-who_moved" value="partner_a"[^>]*checked', text)


def test_the_supervisor_sees_the_repair_first_and_no_form(client: Client) -> None:
    from people.models import Supervision
    from ruptures.codes import RuptureStatus
    from ruptures.services import rupture_repair

    therapist = a_therapist()
    supervisor = make_user(therapist.practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(
        practice=therapist.practice, supervisor=supervisor, therapist=therapist
    )
    couple = make_couple(therapist)
    rupture = make_rupture(make_session(couple, days_ago=14))
    today = make_session(couple, days_ago=0)
    rupture_repair(
        rupture=rupture, repaired_in=today, status=RuptureStatus.RESOLVED, note="I apologised."
    )
    text = page_of(client, supervisor, today)
    assert 'id="rupture-add-fold"' not in text
    assert text.index('id="repairs"') < text.index('id="note-head"')
    assert "Note on the repair:</span> I apologised." in text
