"""Practice admins tune their signal thresholds and add licensed measures as data."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from people.models import SignalThresholds
from sessions.models import MeasureDefinition
from tests.factories import World, make_couple, make_practice, make_session, make_user

pytestmark = pytest.mark.django_db

ITEMS = [
    {"key": "q1", "text": "How close do you feel?", "min": 0, "max": 4},
    {"key": "q2", "text": "How safe do you feel?", "min": 0, "max": 4},
]


def test_a_practice_admin_sets_the_thresholds_of_their_own_practice(client):
    world = World.build()
    client.force_login(world.practice_admin)
    response = client.post(
        reverse("admin:people_signalthresholds_add"),
        {
            "split_window_sessions": 4,
            "split_min_increase": 6,
            "alliance_drop_points": 8,
            "unresolved_after_sessions": 1,
            "recurring_marker_sessions": 3,
            "high_contribution": 4,
            "contribution_rise": "1.5",
            "gone_quiet_days": 28,
            "stuck_stage_one_sessions": 12,
            "nightly_run_hour": 3,
            "unsigned_notes_after_days": 5,
            "practice": make_practice("Elsewhere").pk,
        },
    )
    assert response.status_code == 302
    saved = SignalThresholds.objects.get()
    assert saved.unsigned_notes_after_days == 5
    assert saved.practice == world.practice  # the posted practice is ignored
    assert SignalThresholds.for_practice(world.practice.pk).alliance_drop_points == 8
    assert SignalThresholds.for_practice(world.practice.pk).contribution_rise == Decimal("1.5")
    assert client.get(reverse("admin:people_signalthresholds_add")).status_code == 403


def test_a_licensed_measure_added_as_data_is_offered_to_the_practices_therapists_only(client):
    world = World.build()
    client.force_login(world.practice_admin)
    response = client.post(
        reverse("admin:therapy_sessions_measuredefinition_add"),
        {
            "code": "closeness",
            "name": "Closeness check",
            "kind": "questionnaire",  # the select's first choice, as the browser sends it
            "items": json.dumps(ITEMS),
            "cutoff": "3",
            "lower_is_worse": "on",
            "active": "on",
        },
    )
    assert response.status_code == 302
    measure = MeasureDefinition.objects.get(code="closeness")
    assert measure.practice == world.practice
    client.force_login(world.owner)
    page = client.get(reverse("therapy_sessions:measures", args=[make_session(world.couple).pk]))
    assert "Closeness check" in page.content.decode()
    outsider_couple_session = make_session(make_couple(world.outsider))
    client.force_login(world.outsider)
    page = client.get(reverse("therapy_sessions:measures", args=[outsider_couple_session.pk]))
    assert "Closeness check" not in page.content.decode()


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"key": "q1", "text": "x", "min": 4, "max": 0}], "min must be below max"),
        ([{"key": "q1", "text": "x"}], "needs a key, a text, a min and a max"),
        ([ITEMS[0], ITEMS[0]], "repeats the key"),
        ({"not": "a list"}, "Give a list of items"),
    ],
)
def test_a_malformed_measure_is_refused_beside_its_items(client, items, message):
    world = World.build()
    client.force_login(world.practice_admin)
    response = client.post(
        reverse("admin:therapy_sessions_measuredefinition_add"),
        {
            "code": "bad",
            "name": "Bad",
            "kind": "questionnaire",
            "items": json.dumps(items),
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MeasureDefinition.objects.filter(code="bad").exists()


def test_therapists_do_not_manage_the_practice_settings(client):
    therapist = make_user(make_practice(), therapist=True, is_staff=True)
    client.force_login(therapist)
    assert client.get(reverse("admin:people_signalthresholds_changelist")).status_code == 403
    assert (
        client.get(reverse("admin:therapy_sessions_measuredefinition_changelist")).status_code
        == 403
    )
