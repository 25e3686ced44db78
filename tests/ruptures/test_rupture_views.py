"""Recording, correcting, withdrawing and repairing alliance ruptures on the session page.

Every form works with htmx (the region it changed comes back) and without (a redirect, or
the whole page when there are errors). Only the couple's own therapist may write; their
supervisor gets a 404 for every POST, as does everyone else.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse

from cycles.models import CaseShare, Couple, CycleStep, Partner
from ruptures.codes import (
    ConfrontationMarker,
    MetacommunicationPrinciple,
    ResolutionStage,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.models import Rupture
from sessions.models import NoteKind, PrivateNote, TherapySession
from tests.factories import World, make_couple, make_rupture, make_session, version_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

    from people.models import User

pytestmark = pytest.mark.django_db

NO_ACCESS = ["colleague", "other_supervisor", "group_member", "practice_admin", "outsider"]
HTMX = {"HX-Request": "true"}
NOTE = "She went quiet when I suggested the exercise."


@dataclass
class Scene:
    world: World
    later: TherapySession  # session 2, three days ago: where session 1's rupture is repaired

    def person(self, role: str) -> User:
        return getattr(self.world, role)

    @property
    def couple(self) -> Couple:
        return self.world.couple

    @property
    def session(self) -> TherapySession:
        return self.world.session

    @property
    def rupture(self) -> Rupture:
        return self.world.rupture


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        later = make_session(world.couple, days_ago=3)
        yield Scene(world=world, later=later)
        transaction.set_rollback(True)


# Helpers ---------------------------------------------------------------------------------


def as_user(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every clinical row, to show a refused request changed nothing."""
    models = (Couple, Partner, CycleStep, TherapySession, Rupture, PrivateNote)
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in models}


def field_error(response: Response, auto_id: str) -> str:
    match = re.search(
        rf'id="{re.escape(auto_id)}_error"[^>]*>(.*?)</(?:ul|p)>', response.text, re.DOTALL
    )
    assert match, f"no error shown beside {auto_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def rupture_data(prefix: str = "new", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rupture_type": RuptureType.WITHDRAWAL,
        "withdrawal_markers": ["DENIAL", "MINIMAL_RESPONSE"],
        "who_moved": WhoMoved.PARTNER_B,
        "toward": Toward.THERAPIST,
        "minute": "25",
        "significance": "3",
        "therapist_contribution": "2",
        "reflection": "I pushed the exercise too soon.",
        "strategies": ["INVITES_DISCUSSION"],
        "principles": ["TENTATIVE"],
        "resolution_stage": "1",
        "status": RuptureStatus.UNRESOLVED,
        "note": NOTE,
    }
    data |= overrides
    return {f"{prefix}-{name}": value for name, value in data.items() if value is not None}


def repair_data(rupture: Rupture, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "status": RuptureStatus.RESOLVED,
        "strategies": ["ACKNOWLEDGES_CONTRIBUTION", "DISCLOSES_EXPERIENCE"],
        "resolution_stage": "4",
    }
    data |= overrides
    return {
        f"repair{rupture.pk}-{name}": value for name, value in data.items() if value is not None
    }


def add_url(session: TherapySession) -> str:
    return reverse("ruptures:add", args=[session.pk])


def edit_url(rupture: Rupture) -> str:
    return reverse("ruptures:edit", args=[rupture.pk])


def withdraw_url(rupture: Rupture) -> str:
    return reverse("ruptures:withdraw", args=[rupture.pk])


def repair_url(session: TherapySession, rupture: Rupture) -> str:
    return reverse("ruptures:repair", args=[session.pk, rupture.pk])


def session_url(session: TherapySession) -> str:
    return reverse("therapy_sessions:detail", args=[session.pk])


def open_rupture_count(client: Client, couple: Couple) -> int:
    response = client.get(reverse("cycles:caseload"), {"status": "all"})
    (row,) = [c for c in response.context["page"].object_list if c.pk == couple.pk]
    return row.open_rupture_count


def rupture_item(response: Response, minute: int) -> str:
    """The text of the session page's entry for the rupture seen at `minute`, tags dropped."""
    items = re.findall(r'<li class="rupture-item">(.*?)</li>', response.text, re.DOTALL)
    texts = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]
    (found,) = [text for text in texts if f", minute {minute} " in text]
    return found


def region(response: Response) -> str:
    """The id of the element an htmx answer consists of."""
    match = re.match(r'\s*<(?:section|form)[^>]*\bid="([^"]+)"', response.text)
    assert match, "not a region of the page"
    assert "<html" not in response.text
    return match.group(1)


# Access ----------------------------------------------------------------------------------


def write_requests(scene: Scene) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    """(method, url, data, headers) of every rupture write, for the 404 matrices."""
    rupture = scene.rupture
    return [
        ("post", add_url(scene.session), rupture_data(), {}),
        ("post", add_url(scene.session), rupture_data(), HTMX),
        ("post", add_url(scene.session), rupture_data() | {"action": "refresh"}, HTMX),
        ("get", edit_url(rupture), {}, {}),
        ("post", edit_url(rupture), rupture_data(f"r{rupture.pk}", significance="5"), {}),
        ("post", withdraw_url(rupture), {"reason": "Logged twice"}, {}),
        ("post", repair_url(scene.later, rupture), repair_data(rupture), {}),
        ("post", repair_url(scene.later, rupture), repair_data(rupture), HTMX),
    ]


@pytest.mark.parametrize("role", ["supervisor", *NO_ACCESS])
def test_everyone_but_the_owner_gets_404_for_every_rupture_write(client, scene, role):
    as_user(client, scene.person(role))
    before = snapshot()
    for method, url, data, headers in write_requests(scene):
        response = getattr(client, method)(url, data, headers=headers)
        assert response.status_code == 404, (method, url, headers)
    assert snapshot() == before


@pytest.mark.parametrize(
    "path",
    [
        "/sessions/abc/ruptures/",
        "/sessions/1/repairs/abc/",
        "/ruptures/abc/edit/",
        "/ruptures/-3/withdraw/",
        "/ruptures/99999999/edit/",
        "/ruptures/99999999999999999999999/edit/",
        "/sessions/99999999999999999999999/repairs/1/",
    ],
)
def test_unknown_or_garbage_rupture_urls_are_404_not_500(client, scene, path):
    as_user(client, scene.world.owner)
    before = snapshot()
    assert client.post(path, rupture_data()).status_code == 404
    assert snapshot() == before


def test_rupture_writes_are_post_only(client, scene):
    as_user(client, scene.world.owner)
    assert client.get(add_url(scene.session)).status_code == 405
    assert client.get(withdraw_url(scene.rupture)).status_code == 405
    assert client.get(repair_url(scene.later, scene.rupture)).status_code == 405


# Recording a rupture ---------------------------------------------------------------------


def test_recording_a_rupture_saves_it_with_the_private_reflection_and_redirects(client, scene):
    as_user(client, scene.world.owner)
    response = client.post(add_url(scene.later), rupture_data())
    assert response.status_code == 302
    assert response["Location"] == session_url(scene.later)
    rupture = Rupture.objects.get(session=scene.later)
    assert rupture.couple == scene.couple
    assert rupture.created_by == scene.world.owner
    assert rupture.rupture_type == RuptureType.WITHDRAWAL
    assert rupture.withdrawal_markers == (
        WithdrawalMarker.DENIAL | WithdrawalMarker.MINIMAL_RESPONSE
    )
    assert rupture.confrontation_markers == 0
    assert (rupture.who_moved, rupture.toward) == (WhoMoved.PARTNER_B, Toward.THERAPIST)
    assert (rupture.minute, rupture.significance, rupture.therapist_contribution) == (25, 3, 2)
    assert rupture.strategies == ResolutionStrategy.INVITES_DISCUSSION
    assert rupture.principles == MetacommunicationPrinciple.TENTATIVE
    assert (rupture.resolution_stage, rupture.status) == (1, RuptureStatus.UNRESOLVED)
    assert rupture.note == NOTE
    reflection = PrivateNote.objects.get(rupture=rupture)
    assert (reflection.author, reflection.kind, reflection.text) == (
        scene.world.owner,
        NoteKind.RUPTURE_REFLECTION,
        "I pushed the exercise too soon.",
    )
    page = client.get(response["Location"])
    assert "Recorded the rupture." in page.text
    assert [r.pk for r in page.context["ruptures"]] == [rupture.pk]


def test_recording_with_htmx_returns_the_ruptures_region_with_a_fresh_form(client, scene):
    as_user(client, scene.world.owner)
    response = client.post(add_url(scene.later), rupture_data(), headers=HTMX)
    assert response.status_code == 200
    assert region(response) == "session-ruptures"
    assert "rupturesChanged" in json.loads(response["HX-Trigger"])
    assert "Recorded the rupture." in response.text
    rupture = Rupture.objects.get(session=scene.later)
    assert [r.pk for r in response.context["ruptures"]] == [rupture.pk]
    fresh_form = response.text.split('<form id="rupture-add"', 1)[1]
    assert NOTE not in fresh_form  # the form is fresh for the next one
    assert f"Note: {NOTE}" in rupture_item(response, 25)  # the note shows in the list instead
    assert re.search(r'<input type="radio" name="new-rupture_type"[^>]*autofocus', response.text)


def test_a_rupture_without_a_reflection_writes_no_private_note(client, scene):
    as_user(client, scene.world.owner)
    client.post(add_url(scene.later), rupture_data(reflection="  "))
    assert not PrivateNote.objects.filter(rupture__session=scene.later).exists()


def test_a_confrontation_is_recorded_with_its_own_markers(client, scene):
    as_user(client, scene.world.owner)
    data = rupture_data(
        rupture_type=RuptureType.CONFRONTATION,
        withdrawal_markers=None,
        confrontation_markers=["REJECTS_INTERVENTION", "DEFENDS_SELF"],
        who_moved=WhoMoved.THERAPIST,
        toward=Toward.PARTNER_A,
    )
    assert client.post(add_url(scene.later), data).status_code == 302
    rupture = Rupture.objects.get(session=scene.later)
    assert rupture.confrontation_markers == (
        ConfrontationMarker.REJECTS_INTERVENTION | ConfrontationMarker.DEFENDS_SELF
    )
    assert rupture.withdrawal_markers == 0


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param(
            {"confrontation_markers": ["DEFENDS_SELF"]},
            "confrontation_markers",
            "These are confrontation markers; this rupture is a withdrawal.",
            id="marker-of-the-wrong-type",
        ),
        pytest.param(
            {
                "rupture_type": RuptureType.CONFRONTATION,
                "confrontation_markers": ["DEFENDS_SELF"],
            },
            "withdrawal_markers",
            "These are withdrawal markers; this rupture is a confrontation.",
            id="withdrawal-marker-on-a-confrontation",
        ),
        pytest.param(
            {"who_moved": WhoMoved.PARTNER_B, "toward": Toward.PARTNER_B},
            "toward",
            "Choose who the move was toward: not the one who moved.",
            id="toward-the-one-who-moved",
        ),
        pytest.param(
            {"who_moved": WhoMoved.BOTH, "toward": Toward.BOTH_PARTNERS},
            "toward",
            "not the one who moved",
            id="both-toward-both",
        ),
        pytest.param(
            {"who_moved": WhoMoved.THERAPIST, "toward": Toward.THERAPIST},
            "toward",
            "not the one who moved",
            id="therapist-toward-therapist",
        ),
        pytest.param({"significance": None}, "significance", "required", id="no-significance"),
        pytest.param({"significance": "9"}, "significance", "valid choice", id="significance-9"),
        pytest.param({"significance": "0"}, "significance", "valid choice", id="significance-0"),
        pytest.param({"significance": "abc"}, "significance", "valid choice", id="sig-abc"),
        pytest.param(
            {"therapist_contribution": "6"}, "therapist_contribution", "valid choice", id="contr"
        ),
        pytest.param({"minute": "-5"}, "minute", "greater than or equal to 0", id="minute-neg"),
        pytest.param({"minute": "9999"}, "minute", "less than or equal to 480", id="minute-9999"),
        pytest.param({"minute": "abc"}, "minute", "whole number", id="minute-abc"),
        pytest.param({"withdrawal_markers": ["NOPE"]}, "withdrawal_markers", "valid", id="mark"),
        pytest.param({"rupture_type": "sideways"}, "rupture_type", "valid choice", id="type"),
        pytest.param({"who_moved": None}, "who_moved", "required", id="no-mover"),
        pytest.param({"resolution_stage": "7"}, "resolution_stage", "valid choice", id="stage"),
        pytest.param({"status": "fixed"}, "status", "valid choice", id="status"),
        pytest.param(
            {"status": RuptureStatus.RESOLVED, "resolution_stage": "0"},
            "resolution_stage",
            "choose the stage reached",
            id="resolved-but-not-noticed",
        ),
        pytest.param(
            {"strategies": ["INVITES_DISCUSSION", "HUGS"]}, "strategies", "valid", id="strategy"
        ),
    ],
)
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_bad_rupture_input_shows_the_error_beside_its_field_and_saves_nothing(
    client, scene, overrides, field, message, htmx
):
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(
        add_url(scene.later), rupture_data(**overrides), headers=HTMX if htmx else {}
    )
    assert response.status_code == 200
    assert snapshot() == before
    if htmx:
        assert region(response) == "session-ruptures"
    else:
        assert "<html" in response.text
    assert f"\n{NOTE}</textarea>" in response.text  # what was typed stays
    assert "I pushed the exercise too soon." in response.text
    assert message in field_error(response, f"id_new-{field}")
    # The keyboard lands on the field in error (htmx focuses what carries autofocus), and
    # on no other.
    focused = re.findall(r"<(?:input|select|textarea)[^>]*\bautofocus\b[^>]*>", response.text)
    assert focused
    assert all(f'name="new-{field}"' in tag for tag in focused)


# Correcting a rupture --------------------------------------------------------------------


def test_the_owner_gets_the_rupture_filled_in_with_their_reflection(client, scene):
    response = as_user(client, scene.world.owner).get(edit_url(scene.rupture))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["reflection"].value() == "My private reflection."
    assert form["who_moved"].value() == WhoMoved.PARTNER_A
    assert "My private reflection." in response.text
    assert f'action="{withdraw_url(scene.rupture)}"' in response.text


def test_correcting_a_rupture_saves_the_fields_and_the_reflection(client, scene):
    as_user(client, scene.world.owner)
    prefix = f"r{scene.rupture.pk}"
    data = rupture_data(
        prefix,
        significance="5",
        who_moved=WhoMoved.PARTNER_A,
        toward=Toward.PARTNER_B,
        reflection="I was irritated and raised my voice.",
    )
    response = client.post(edit_url(scene.rupture), data | version_of(scene.rupture, prefix))
    assert response.status_code == 302
    assert response["Location"] == session_url(scene.session)
    rupture = Rupture.objects.get(pk=scene.rupture.pk)
    assert (rupture.significance, rupture.toward) == (5, Toward.PARTNER_B)
    assert PrivateNote.objects.get(rupture=rupture).text == "I was irritated and raised my voice."
    assert "Saved the correction." in client.get(response["Location"]).text


def test_a_correction_with_bad_input_is_refused_beside_the_field(client, scene):
    as_user(client, scene.world.owner)
    prefix = f"r{scene.rupture.pk}"
    before = snapshot()
    data = rupture_data(prefix, who_moved=WhoMoved.PARTNER_A, toward=Toward.PARTNER_A)
    response = client.post(edit_url(scene.rupture), data | version_of(scene.rupture, prefix))
    assert response.status_code == 200
    assert "not the one who moved" in field_error(response, f"id_{prefix}-toward")
    assert "I pushed the exercise too soon." in response.text
    data = rupture_data(prefix, significance="9")
    response = client.post(edit_url(scene.rupture), data | version_of(scene.rupture, prefix))
    assert "valid choice" in field_error(response, f"id_{prefix}-significance")
    assert snapshot() == before


def test_unresolving_a_repaired_rupture_is_refused_with_a_message_and_changes_nothing(
    client, scene
):
    as_user(client, scene.world.owner)
    client.post(repair_url(scene.later, scene.rupture), repair_data(scene.rupture))
    prefix = f"r{scene.rupture.pk}"
    before = snapshot()
    data = rupture_data(prefix, status=RuptureStatus.UNRESOLVED, resolution_stage="0")
    # The form refuses it beside the status (the database would too:
    # rupture_repaired_is_not_unresolved); this atomic only keeps the test's own transaction
    # usable for the checks below should the view fail to.
    with transaction.atomic():
        response = client.post(edit_url(scene.rupture), data | version_of(scene.rupture, prefix))
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert "marked repaired in a later session" in page
    assert f'id="id_{prefix}-status_error"' in page
    assert snapshot() == before


def test_a_withdrawn_rupture_can_no_longer_be_corrected(client, scene):
    as_user(client, scene.world.owner)
    client.post(withdraw_url(scene.rupture), {"reason": "Logged twice"})
    assert client.get(edit_url(scene.rupture)).status_code == 404
    again = client.post(withdraw_url(scene.rupture), {"reason": "again"}, follow=True)
    assert "This rupture was already withdrawn." in again.text


# Withdrawing a rupture -------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_withdrawing_a_rupture_needs_a_reason_and_changes_nothing_without_one(
    client, scene, reason
):
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(withdraw_url(scene.rupture), {"reason": reason})
    assert response.status_code == 200
    assert "This field is required." in field_error(response, "id_reason")
    assert snapshot() == before


def test_a_withdrawn_rupture_stays_on_record_but_leaves_every_view(client, scene):
    as_user(client, scene.world.owner)
    assert open_rupture_count(client, scene.couple) == 1
    response = client.post(withdraw_url(scene.rupture), {"reason": "Logged on the wrong session"})
    assert response.status_code == 302
    assert response["Location"] == session_url(scene.session)

    kept = Rupture.objects.get(pk=scene.rupture.pk)
    assert kept.withdrawn_at is not None
    assert kept.withdrawn_by == scene.world.owner
    assert kept.withdrawal_reason == "Logged on the wrong session"
    assert PrivateNote.objects.filter(rupture=kept).exists()

    session_page = client.get(response["Location"])
    assert "Withdrew the rupture." in session_page.text
    assert session_page.context["ruptures"] == []
    assert "No ruptures recorded in this session." in session_page.text
    couple_page = client.get(scene.couple.get_absolute_url())
    assert couple_page.context["open_ruptures"] == []
    assert "None open." in couple_page.text
    assert open_rupture_count(client, scene.couple) == 0
    later_page = client.get(session_url(scene.later))
    assert later_page.context["earlier_open"] == []


# Repairing a rupture in a later session --------------------------------------------------


def test_the_later_session_offers_to_repair_the_earlier_open_rupture(client, scene):
    response = as_user(client, scene.world.owner).get(session_url(scene.later))
    assert [r.pk for r in response.context["earlier_open"]] == [scene.rupture.pk]
    assert "Earlier ruptures still open" in response.text
    # A line with a "Repaired here…" control: the form itself is loaded when asked for.
    form_url = reverse("ruptures:repair_form", args=[scene.later.pk, scene.rupture.pk])
    assert f'hx-get="{form_url}"' in response.text
    assert f'id="repair-{scene.rupture.pk}"' not in response.text
    for headers in ({}, HTMX):  # into its line with htmx; on a page of its own without
        form = client.get(form_url, headers=headers)
        assert form.status_code == 200
        assert f'<form id="repair-{scene.rupture.pk}"' in form.text
        assert f'action="{repair_url(scene.later, scene.rupture)}"' in form.text
        assert f'name="repair{scene.rupture.pk}-version"' in form.text
        assert f'name="repair{scene.rupture.pk}-request_token"' in form.text
        assert ("hx-post=" in form.text) == bool(headers)


def test_repairing_marks_the_rupture_resolved_in_the_later_session(client, scene):
    as_user(client, scene.world.owner)
    response = client.post(repair_url(scene.later, scene.rupture), repair_data(scene.rupture))
    assert response.status_code == 302
    assert response["Location"] == session_url(scene.later)
    rupture = Rupture.objects.get(pk=scene.rupture.pk)
    assert rupture.repaired_in_id == scene.later.pk
    assert rupture.status == RuptureStatus.RESOLVED
    assert rupture.resolution_stage == ResolutionStage.UNDERLYING_NEED
    assert rupture.strategies == (
        ResolutionStrategy.ACKNOWLEDGES_CONTRIBUTION | ResolutionStrategy.DISCLOSES_EXPERIENCE
    )

    later_page = client.get(session_url(scene.later))
    assert "Marked the rupture repaired in this session." in later_page.text
    assert [r.pk for r in later_page.context["repaired_here"]] == [rupture.pk]
    assert later_page.context["earlier_open"] == []
    assert "from <a" in later_page.text
    assert "session 1</a>" in later_page.text

    couple_page = client.get(scene.couple.get_absolute_url())
    assert "resolved in #2" in couple_page.text
    assert couple_page.context["open_ruptures"] == []
    assert "None open." in couple_page.text
    assert "repaired #1" in couple_page.text
    assert open_rupture_count(client, scene.couple) == 0


def test_repairing_with_htmx_returns_the_repairs_region(client, scene):
    as_user(client, scene.world.owner)
    response = client.post(
        repair_url(scene.later, scene.rupture), repair_data(scene.rupture), headers=HTMX
    )
    assert response.status_code == 200
    assert region(response) == "repairs"
    assert "rupturesChanged" in json.loads(response["HX-Trigger"])
    assert [r.pk for r in response.context["repaired_here"]] == [scene.rupture.pk]
    assert Rupture.objects.get(pk=scene.rupture.pk).repaired_in_id == scene.later.pk


def test_a_partly_resolved_repair_keeps_the_rupture_open(client, scene):
    as_user(client, scene.world.owner)
    data = repair_data(scene.rupture, status=RuptureStatus.PARTLY_RESOLVED, resolution_stage="2")
    assert client.post(repair_url(scene.later, scene.rupture), data).status_code == 302
    rupture = Rupture.objects.get(pk=scene.rupture.pk)
    assert (rupture.status, rupture.repaired_in_id) == (
        RuptureStatus.PARTLY_RESOLVED,
        scene.later.pk,
    )
    couple_page = client.get(scene.couple.get_absolute_url())
    assert "partly resolved in #2" in couple_page.text
    assert [r.pk for r in couple_page.context["open_ruptures"]] == [rupture.pk]
    assert open_rupture_count(client, scene.couple) == 1
    # not offered again in the session that partly repaired it, but in the next one
    assert client.get(session_url(scene.later)).context["earlier_open"] == []
    next_session = make_session(scene.couple, days_ago=1)
    next_page = client.get(session_url(next_session))
    assert [r.pk for r in next_page.context["earlier_open"]] == [rupture.pk]


def test_repairing_merges_strategies_and_never_lowers_the_stage(client, scene):
    as_user(client, scene.world.owner)
    rupture = make_rupture(
        scene.session,
        strategies=ResolutionStrategy.REDIRECTS,
        resolution_stage=ResolutionStage.PAST_AVOIDANCE,
    )
    data = repair_data(rupture, strategies=["CLARIFIES_MISUNDERSTANDING"], resolution_stage="1")
    assert client.post(repair_url(scene.later, rupture), data).status_code == 302
    rupture.refresh_from_db()
    assert rupture.strategies == (
        ResolutionStrategy.REDIRECTS | ResolutionStrategy.CLARIFIES_MISUNDERSTANDING
    )
    assert rupture.resolution_stage == ResolutionStage.PAST_AVOIDANCE


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_repairing_from_an_earlier_session_is_refused_and_changes_nothing(client, scene, htmx):
    as_user(client, scene.world.owner)
    later_rupture = make_rupture(scene.later)
    before = snapshot()
    response = client.post(
        repair_url(scene.session, later_rupture),
        repair_data(later_rupture),
        headers=HTMX if htmx else {},
    )
    assert response.status_code == 200
    assert snapshot() == before
    if htmx:
        assert region(response) == "repairs"
    else:
        assert "<html" in response.text
    assert "can only be repaired in a later session." in response.text


def test_repairing_in_the_session_of_the_rupture_itself_is_refused(client, scene):
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(
        repair_url(scene.session, scene.rupture), repair_data(scene.rupture), headers=HTMX
    )
    assert response.status_code == 200
    assert snapshot() == before
    assert "can only be repaired in a later session." in response.text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"status": RuptureStatus.UNRESOLVED}, "status", "valid choice", id="unres"),
        pytest.param({"status": None}, "status", "required", id="no-status"),
        pytest.param({"resolution_stage": None}, "resolution_stage", "required", id="no-stage"),
        pytest.param({"resolution_stage": "0"}, "resolution_stage", "valid choice", id="stage0"),
        pytest.param({"resolution_stage": "9"}, "resolution_stage", "valid choice", id="stage9"),
        pytest.param({"resolution_stage": "abc"}, "resolution_stage", "valid choice", id="abc"),
        pytest.param({"strategies": ["HUGS"]}, "strategies", "valid choice", id="strategy"),
    ],
)
def test_a_repair_with_bad_input_shows_the_error_beside_its_field(
    client, scene, overrides, field, message
):
    as_user(client, scene.world.owner)
    before = snapshot()
    data = repair_data(scene.rupture, **overrides)
    response = client.post(repair_url(scene.later, scene.rupture), data, headers=HTMX)
    assert response.status_code == 200
    assert region(response) == "repairs"
    assert message in field_error(response, f"id_repair{scene.rupture.pk}-{field}")
    # The form stays drawn with its errors, in place of its "Repaired here…" line.
    assert f'<form id="repair-{scene.rupture.pk}"' in response.text
    assert snapshot() == before


def test_a_resolved_rupture_or_one_of_another_couple_cannot_be_repaired(client, scene):
    as_user(client, scene.world.owner)
    resolved = make_rupture(scene.session, status=RuptureStatus.RESOLVED, resolution_stage=2)
    other_couple = make_couple(scene.world.owner)
    elsewhere = make_rupture(make_session(other_couple, days_ago=20))
    before = snapshot()
    response = client.post(repair_url(scene.later, elsewhere), repair_data(elsewhere))
    assert response.status_code == 404
    # Resolved already (from another tab, say): told so on the page, nothing changed.
    response = client.post(repair_url(scene.later, resolved), repair_data(resolved))
    assert response.status_code == 200
    assert "was marked resolved since this page was opened" in response.text
    assert snapshot() == before


def test_a_withdrawn_session_takes_its_rupture_forms_with_it(client, scene):
    as_user(client, scene.world.owner)
    later_rupture = make_rupture(scene.later)
    client.post(reverse("therapy_sessions:withdraw", args=[scene.later.pk]), {"reason": "x"})
    before = snapshot()
    response = client.post(repair_url(scene.later, scene.rupture), repair_data(scene.rupture))
    assert response.status_code == 404
    assert client.post(add_url(scene.later), rupture_data()).status_code == 404
    assert client.get(edit_url(later_rupture)).status_code == 404
    assert client.post(withdraw_url(later_rupture), {"reason": "x"}).status_code == 404
    assert snapshot() == before


# Reading the rupture arc on the session page ---------------------------------------------

ARC_NOTE = "Blake went quiet after the homework check.\nWe named it together at the end."
ARC_STAGE = "Stage reached: 3. Helped the client past avoiding feelings about it"
ARC_PRINCIPLES = (
    "metacommunication: be tentative and own your subjectivity, build \u201cwe-ness\u201d"
)


def arc_rupture(session: TherapySession, **fields: Any) -> Rupture:
    """A rupture coded through to stage 3, at minute 41, with a note and a reflection."""
    values: dict[str, Any] = {
        "minute": 41,
        "therapist_contribution": 4,
        "principles": (
            MetacommunicationPrinciple.TENTATIVE | MetacommunicationPrinciple.BUILDS_WENESS
        ),
        "resolution_stage": ResolutionStage.PAST_AVOIDANCE,
        "status": RuptureStatus.PARTLY_RESOLVED,
        "note": ARC_NOTE,
        "reflection": "I rushed them.",
    }
    return make_rupture(session, **(values | fields))


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_the_therapist_and_their_supervisor_see_stage_principles_and_note(client, scene, role):
    arc_rupture(scene.session)
    response = as_user(client, scene.person(role)).get(session_url(scene.session))
    assert response.status_code == 200
    item = rupture_item(response, 41)
    assert ARC_STAGE in item
    assert ARC_PRINCIPLES in item
    assert "Note: Blake went quiet after the homework check. We named it together at the end." in (
        item
    )
    assert "Blake went quiet after the homework check.<br>We named it" in response.text
    assert "I rushed them." not in response.text  # the reflection stays its author's


def test_the_supervisor_reads_therapists_contribution_not_my_contribution(client, scene):
    arc_rupture(scene.session)
    item = rupture_item(as_user(client, scene.world.supervisor).get(session_url(scene.session)), 41)
    assert "therapist's contribution 4/5" in item
    assert "my contribution" not in item


def test_the_therapist_who_logged_the_session_reads_my_contribution(client, scene):
    arc_rupture(scene.session)
    item = rupture_item(as_user(client, scene.world.owner).get(session_url(scene.session)), 41)
    assert "my contribution 4/5" in item
    assert "therapist's contribution" not in item


def test_a_rupture_not_yet_addressed_says_so_without_empty_principles_or_note(client, scene):
    arc_rupture(
        scene.session,
        minute=12,
        principles=MetacommunicationPrinciple(0),
        resolution_stage=ResolutionStage.NONE,
        status=RuptureStatus.UNRESOLVED,
        note="",
    )
    item = rupture_item(as_user(client, scene.world.supervisor).get(session_url(scene.session)), 12)
    assert "Stage reached: 0. Not yet addressed" in item
    assert "metacommunication" not in item
    assert "Note:" not in item


def test_the_region_redrawn_after_recording_shows_the_arc_to_the_therapist(client, scene):
    as_user(client, scene.world.owner)
    response = client.post(add_url(scene.later), rupture_data(), headers=HTMX)
    assert region(response) == "session-ruptures"
    item = rupture_item(response, 25)
    assert "Stage reached: 1. Therapist became aware of the rupture" in item
    assert "metacommunication: be tentative and own your subjectivity" in item
    assert f"Note: {NOTE}" in item
    assert "my contribution 2/5" in item


def test_the_consultation_groups_case_page_still_shows_no_rupture_note(client, scene):
    arc_rupture(scene.session)
    share = CaseShare.objects.create(
        couple=scene.couple, group=scene.world.group, shared_by=scene.world.owner
    )
    as_user(client, scene.world.group_member)
    url = reverse("consultation:case", args=[scene.world.group.pk, share.code])
    response = client.get(url)
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert "3. helped the client past avoiding feelings about it" in page  # the rupture is there
    for free_text in ("Blake went quiet", "We named it together", "I rushed them.", "Note:"):
        assert free_text not in page
    assert client.get(session_url(scene.session)).status_code == 404
