"""Undoing a repair recorded by mistake, on the session it was recorded in: the rupture goes
back to how it stood before, the repair stays on record (withdrawn, with who, when and why),
and the nightly summaries stop counting it. Only the couple's therapist can undo."""

from __future__ import annotations

import datetime
import html
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from django.utils import timezone

from ruptures.codes import ResolutionStage, ResolutionStrategy, RuptureStatus
from ruptures.models import Rupture, RuptureRepair, RuptureSummary
from tests.factories import make_session
from tests.ruptures.test_rupture_views import (
    as_user,
    field_error,
    repair_data,
    repair_url,
    scene,
    session_url,
    snapshot,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.test import Client

    from people.models import Practice
    from ruptures.models import NightlyRun
    from sessions.models import TherapySession
    from tests.ruptures.test_rupture_views import Scene

pytestmark = pytest.mark.django_db

__all__ = ["scene"]  # the module-scoped fixture, shared with the rupture views' tests

REASON = "Marked the wrong rupture."


def undo_url(session: TherapySession, rupture: Rupture) -> str:
    return reverse("ruptures:repair_undo", args=[session.pk, rupture.pk])


def undo_data(rupture: Rupture, reason: str = REASON) -> dict[str, str]:
    return {f"undo{rupture.pk}-reason": reason}


def repaired(client: Client, scene: Scene, session: TherapySession, **overrides: str) -> None:
    data = repair_data(scene.rupture, **overrides)
    assert client.post(repair_url(session, scene.rupture), data).status_code == 302


def test_undoing_a_repair_restores_the_rupture_and_keeps_the_repair_withdrawn(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    before = Rupture.objects.get(pk=scene.rupture.pk)
    repaired(client, scene, scene.later)
    page = client.get(session_url(scene.later)).text
    assert "Undo this repair" in page

    response = client.post(undo_url(scene.later, scene.rupture), undo_data(scene.rupture))
    assert response.status_code == 302
    rupture = Rupture.objects.get(pk=scene.rupture.pk)
    assert (rupture.status, rupture.repaired_in_id) == (RuptureStatus.UNRESOLVED, None)
    assert (rupture.strategies, rupture.resolution_stage) == (
        before.strategies,
        before.resolution_stage,
    )
    (repair,) = RuptureRepair.objects.filter(rupture=rupture)
    assert (repair.withdrawn_by, repair.withdrawal_reason) == (scene.world.owner, REASON)
    assert repair.withdrawn_at is not None
    page = html.unescape(client.get(session_url(scene.later)).text)
    assert "Undid the repair. The rupture from session 1 is unresolved again" in page
    assert [r.pk for r in client.get(session_url(scene.later)).context["earlier_open"]] == [
        rupture.pk
    ]
    # The session is no longer held back from withdrawal by the repair.
    response = client.post(
        reverse("therapy_sessions:withdraw", args=[scene.later.pk]), {"reason": "Wrong couple."}
    )
    assert response.status_code == 302
    assert response["Location"] == scene.couple.get_absolute_url()


def test_undoing_needs_a_reason_and_changes_nothing_without_one(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    repaired(client, scene, scene.later)
    before = snapshot()
    response = client.post(undo_url(scene.later, scene.rupture), undo_data(scene.rupture, " "))
    assert response.status_code == 200
    assert "required" in field_error(response, f"id_undo{scene.rupture.pk}-reason")
    assert snapshot() == before
    assert RuptureRepair.objects.current().filter(rupture=scene.rupture).count() == 1


def test_undoing_the_latest_of_two_repairs_goes_back_to_the_first(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    repaired(client, scene, scene.later, status=RuptureStatus.PARTLY_RESOLVED, resolution_stage="2")
    third = make_session(scene.couple, days_ago=1)
    repaired(client, scene, third, strategies=["ACKNOWLEDGES_CONTRIBUTION"])
    # Only the session holding the latest repair can undo it: the earlier one is told so.
    response = client.post(undo_url(scene.later, scene.rupture), undo_data(scene.rupture))
    assert response.status_code == 200
    assert "is no longer repaired in this session" in response.text
    assert Rupture.objects.get(pk=scene.rupture.pk).repaired_in_id == third.pk

    assert client.post(undo_url(third, scene.rupture), undo_data(scene.rupture)).status_code == 302
    rupture = Rupture.objects.get(pk=scene.rupture.pk)
    assert (rupture.status, rupture.repaired_in_id) == (
        RuptureStatus.PARTLY_RESOLVED,
        scene.later.pk,
    )
    assert rupture.resolution_stage == ResolutionStage.EXPLORED
    assert rupture.strategies == ResolutionStrategy.ACKNOWLEDGES_CONTRIBUTION | (
        ResolutionStrategy.DISCLOSES_EXPERIENCE
    )


def test_undoing_from_an_earlier_session_changes_nothing_and_says_so(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    repaired(client, scene, scene.later, status=RuptureStatus.PARTLY_RESOLVED)
    third = make_session(scene.couple, days_ago=1)
    repaired(client, scene, third)
    before = snapshot()
    response = client.post(undo_url(scene.later, scene.rupture), undo_data(scene.rupture))
    assert response.status_code == 200
    assert "is no longer repaired in this session" in response.text
    assert snapshot() == before


def test_undo_clicked_twice_undoes_once_and_says_so(client: Client, scene: Scene) -> None:
    as_user(client, scene.world.owner)
    repaired(client, scene, scene.later)
    assert (
        client.post(undo_url(scene.later, scene.rupture), undo_data(scene.rupture)).status_code
        == 302
    )
    before = snapshot()
    again = client.post(undo_url(scene.later, scene.rupture), undo_data(scene.rupture))
    assert again.status_code == 200
    assert "is no longer repaired in this session" in again.text
    assert snapshot() == before


@pytest.mark.parametrize("role", ["supervisor", "colleague", "practice_admin"])
def test_only_the_couples_therapist_can_undo_a_repair(
    client: Client, scene: Scene, role: str
) -> None:
    as_user(client, scene.world.owner)
    repaired(client, scene, scene.later)
    as_user(client, scene.person(role))
    before = snapshot()
    response = client.post(undo_url(scene.later, scene.rupture), undo_data(scene.rupture))
    assert response.status_code == 404
    assert snapshot() == before


def test_the_nightly_summary_stops_counting_an_undone_repair(
    client: Client,
    scene: Scene,
    run_nightly: Callable[[Practice, datetime.date], NightlyRun],
) -> None:
    as_user(client, scene.world.owner)
    repaired(client, scene, scene.later)
    today = timezone.localdate()
    run_nightly(scene.world.practice, today)
    client.post(undo_url(scene.later, scene.rupture), undo_data(scene.rupture))
    # Summarised again for a date after the repair's session: unresolved, as it stands now.
    run_nightly(scene.world.practice, today + datetime.timedelta(days=1))

    def treatment(day: datetime.date) -> dict[str, int]:
        summary = RuptureSummary.objects.get(couple=scene.couple, period="treatment", on_date=day)
        return summary.data["by_status"]

    assert treatment(today).get(RuptureStatus.RESOLVED) == 1
    assert treatment(today + datetime.timedelta(days=1)).get(RuptureStatus.RESOLVED) is None
