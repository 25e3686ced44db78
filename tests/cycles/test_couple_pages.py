"""The couple page, opening and correcting a couple's record, and the cycle map's history.

The owner reads and writes; their supervisor reads without a single edit control; everyone
else (a colleague, another supervisor, a group member, the practice admin, an outsider) gets
a 404 for every page and every POST, and nothing changes in the database.
"""

from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cycles.models import (
    Couple,
    CoupleStatus,
    CyclePattern,
    CyclePosition,
    CycleStep,
    EmotionKind,
    Partner,
    StepKind,
)
from cycles.services import StepDraft, cycle_map_save
from ruptures.models import Rupture
from sessions.models import PrivateNote, TherapySession
from tests.factories import World, make_emotion, version_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

    from cycles.models import CycleMap
    from people.models import User

pytestmark = pytest.mark.django_db

NO_ACCESS = ["colleague", "other_supervisor", "group_member", "practice_admin", "outsider"]
NOT_THERAPISTS = ["supervisor", "other_supervisor", "practice_admin"]

# What only the couple's own therapist is offered (the supervisor reads without these).
EDIT_CONTROLS = [
    "Log a session",
    "Edit the cycle map",
    "Edit details",
    "Map the cycle",
    "Add a rupture",
    "Mark repaired",
]
EDIT_WORDS = re.compile(r"\bEdit\b|\bWithdraw\b")


@dataclass
class Scene:
    world: World
    second_map: CycleMap  # revision 2: A's secondary emotion became frustration, B added shame

    def person(self, role: str) -> User:
        return getattr(self.world, role)

    @property
    def couple(self) -> Couple:
        return self.world.couple


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        frustration = make_emotion("frustration", EmotionKind.SECONDARY)
        fear = make_emotion("fear", EmotionKind.PRIMARY)
        shame = make_emotion("shame", EmotionKind.PRIMARY)
        second_map = cycle_map_save(
            couple=world.couple,
            author=world.owner,
            base_revision=1,
            change_note="Frustration under the anger",
            chains={
                "A": [
                    StepDraft(StepKind.TRIGGER, "partner goes quiet"),
                    StepDraft(StepKind.SECONDARY_EMOTION, emotion=frustration),
                    StepDraft(StepKind.PRIMARY_EMOTION, emotion=fear),
                    StepDraft(StepKind.ATTACHMENT_NEED, "to matter"),
                    StepDraft(StepKind.ACTION, "criticises", move="pursuing"),
                ],
                "B": [
                    StepDraft(StepKind.TRIGGER, "criticism"),
                    StepDraft(StepKind.PRIMARY_EMOTION, emotion=fear),
                    StepDraft(StepKind.PRIMARY_EMOTION, emotion=shame),
                    StepDraft(StepKind.ACTION, "goes quiet", move="withdrawing"),
                ],
            },
        )
        yield Scene(world=world, second_map=second_map)
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
    """The error text shown beside one field (its `<auto_id>_error` list), as plain text."""
    match = re.search(
        rf'id="{re.escape(auto_id)}_error"[^>]*>(.*?)</(?:ul|p)>', response.text, re.DOTALL
    )
    assert match, f"no error shown beside {auto_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def day(days_ago: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days_ago)).isoformat()


def couple_data(**overrides: str) -> dict[str, str]:
    data = {
        "partner_a_name": "Noor Vale",
        "partner_a_pronouns": "she/her",
        "partner_a_position": CyclePosition.PURSUER,
        "partner_b_name": "Ilan Vale",
        "partner_b_pronouns": "",
        "partner_b_position": CyclePosition.WITHDRAWER,
        "cycle_pattern": CyclePattern.PURSUE_WITHDRAW,
        "eft_step": "2",
        "started_on": day(30),
    }
    return data | overrides


def detail_url(scene: Scene) -> str:
    return reverse("cycles:detail", args=[scene.couple.case_code])


def edit_url(scene: Scene) -> str:
    return reverse("cycles:edit", args=[scene.couple.case_code])


def history_url(scene: Scene) -> str:
    return reverse("cycles:cycle_history", args=[scene.couple.case_code])


def assert_read_only(response: Response) -> None:
    for control in EDIT_CONTROLS:
        assert control not in response.text
    assert not EDIT_WORDS.search(response.text)


# The couple page -------------------------------------------------------------------------


def test_the_owner_sees_partners_cycle_map_open_ruptures_sessions_and_controls(client, scene):
    response = as_user(client, scene.world.owner).get(detail_url(scene))
    assert response.status_code == 200
    page = response.text
    for partner in scene.couple.partners.all():
        assert partner.display_name in page
    assert "<svg" in page
    assert "revision 2" in page
    assert "frustration" in page
    assert "shame" in page
    assert [r.pk for r in response.context["open_ruptures"]] == [scene.world.rupture.pk]
    session_link = reverse("therapy_sessions:detail", args=[scene.world.session.pk])
    assert f'href="{session_link}"' in page
    for name in ("therapy_sessions:new", "cycles:cycle_edit", "cycles:edit"):
        assert f'href="{reverse(name, args=[scene.couple.case_code])}"' in page
    for control in ("Log a session", "Edit the cycle map", "Edit details"):
        assert control in page
    assert f'<a href="{reverse("cycles:caseload")}">Caseload</a>' in page


def test_the_couple_page_never_shows_private_notes_even_to_their_author(client, scene):
    response = as_user(client, scene.world.owner).get(detail_url(scene))
    assert "Private process note." not in response.text
    assert "My private reflection." not in response.text


def test_the_supervisor_reads_the_couple_page_without_edit_controls(client, scene):
    response = as_user(client, scene.world.supervisor).get(detail_url(scene))
    assert response.status_code == 200
    assert "Read only" in response.text
    assert "<svg" in response.text
    assert "revision 2" in response.text
    assert [r.pk for r in response.context["open_ruptures"]] == [scene.world.rupture.pk]
    assert_read_only(response)
    # The way back is to where a supervisor came from: their review, not a caseload.
    assert f'<a href="{reverse("supervision:review")}">Supervision review</a>' in response.text
    for name in ("therapy_sessions:new", "cycles:cycle_edit", "cycles:edit"):
        assert f'href="{reverse(name, args=[scene.couple.case_code])}"' not in response.text
    assert "Private process note." not in response.text
    assert "My private reflection." not in response.text


@pytest.mark.parametrize("role", NO_ACCESS)
def test_other_people_get_404_for_the_couple_page(client, scene, role):
    response = as_user(client, scene.person(role)).get(detail_url(scene))
    assert response.status_code == 404
    assert scene.couple.partners.get(label="A").display_name not in response.text


@pytest.mark.parametrize("path", ["/couples/C-NOSUCH/", "/couples/%20/", "/couples/C-NOSUCH/edit/"])
def test_unknown_case_codes_are_404_not_500(client, scene, path):
    assert as_user(client, scene.world.owner).get(path).status_code == 404


def test_the_couple_page_is_get_only(client, scene):
    before = snapshot()
    response = as_user(client, scene.world.owner).post(detail_url(scene), couple_data())
    assert response.status_code == 405
    assert snapshot() == before


# Opening a couple's record ---------------------------------------------------------------


def test_a_therapist_gets_the_new_couple_form(client, scene):
    response = as_user(client, scene.world.owner).get(reverse("cycles:new"))
    assert response.status_code == 200
    assert 'name="partner_a_name"' in response.text
    assert 'name="status"' not in response.text  # a new record is active


def test_a_therapist_opens_a_couples_record_with_both_partners(client, scene):
    response = as_user(client, scene.world.owner).post(reverse("cycles:new"), couple_data())
    couple = Couple.objects.get(partners__display_name="Noor Vale")
    assert response.status_code == 302
    assert response["Location"] == couple.get_absolute_url()
    assert couple.therapist == scene.world.owner
    assert couple.practice == scene.world.practice
    assert couple.eft_step == 2
    assert couple.eft_stage == 1
    assert couple.status == CoupleStatus.ACTIVE
    partners = {p.label: (p.display_name, p.position, p.pronouns) for p in couple.partners.all()}
    assert partners == {
        "A": ("Noor Vale", CyclePosition.PURSUER, "she/her"),
        "B": ("Ilan Vale", CyclePosition.WITHDRAWER, ""),
    }
    page = client.get(response["Location"]).text
    assert f"Opened the record for {couple.case_code}." in page


def test_a_therapist_of_another_practice_opens_records_in_their_own_practice(client, scene):
    outsider = scene.world.outsider
    response = as_user(client, outsider).post(reverse("cycles:new"), couple_data())
    assert response.status_code == 302
    couple = Couple.objects.get(partners__display_name="Noor Vale")
    assert (couple.therapist, couple.practice_id) == (outsider, outsider.practice_id)
    assert couple not in Couple.objects.visible_to(scene.world.owner)


@pytest.mark.parametrize("role", NOT_THERAPISTS)
def test_people_who_are_not_therapists_get_404_for_the_new_couple_form(client, scene, role):
    as_user(client, scene.person(role))
    before = snapshot()
    assert client.get(reverse("cycles:new")).status_code == 404
    assert client.post(reverse("cycles:new"), couple_data()).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    ("overrides", "auto_id", "message"),
    [
        pytest.param(
            {"started_on": day(-1)},
            "id_started_on",
            "The start date can't be in the future.",
            id="start-in-future",
        ),
        pytest.param(
            {"partner_b_name": " noor vale "},
            "id_partner_b_name",
            "Give the partners different display names.",
            id="same-names",
        ),
        pytest.param({"partner_a_name": ""}, "id_partner_a_name", "required", id="no-name"),
        pytest.param({"eft_step": "99"}, "id_eft_step", "valid choice", id="step-99"),
        pytest.param({"eft_step": "abc"}, "id_eft_step", "valid choice", id="step-abc"),
        pytest.param(
            {"partner_a_position": "boss"}, "id_partner_a_position", "valid choice", id="position"
        ),
        pytest.param({"started_on": "31/02/2026"}, "id_started_on", "valid date", id="bad-date"),
    ],
)
def test_a_new_couple_with_bad_input_shows_the_error_beside_its_field_and_saves_nothing(
    client, scene, overrides, auto_id, message
):
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(reverse("cycles:new"), couple_data(**overrides))
    assert response.status_code == 200
    assert message in field_error(response, auto_id)
    assert 'value="she/her"' in response.text  # what was typed stays
    assert snapshot() == before


# Correcting a couple's record ------------------------------------------------------------


def test_the_owner_gets_the_couple_form_filled_in(client, scene):
    response = as_user(client, scene.world.owner).get(edit_url(scene))
    assert response.status_code == 200
    partner_a = scene.couple.partners.get(label="A")
    assert f'value="{partner_a.display_name}"' in response.text
    assert 'name="status"' in response.text


def test_the_owner_corrects_partners_step_and_status(client, scene):
    as_user(client, scene.world.owner)
    data = couple_data(
        partner_a_position=CyclePosition.WITHDRAWER,
        partner_b_position=CyclePosition.PURSUER,
        eft_step="5",
        status=CoupleStatus.PAUSED,
    )
    response = client.post(edit_url(scene), data | version_of(scene.couple))
    assert response.status_code == 302
    assert response["Location"] == detail_url(scene)
    couple = Couple.objects.get(pk=scene.couple.pk)
    assert (couple.eft_step, couple.eft_stage, couple.status) == (5, 2, CoupleStatus.PAUSED)
    assert couple.case_code == scene.couple.case_code
    partners = {p.label: (p.display_name, p.position) for p in couple.partners.all()}
    assert partners == {
        "A": ("Noor Vale", CyclePosition.WITHDRAWER),
        "B": ("Ilan Vale", CyclePosition.PURSUER),
    }
    assert "Saved the couple&#x27;s details." in client.get(detail_url(scene)).text


def test_a_correction_with_a_future_start_date_is_refused_beside_the_field(client, scene):
    as_user(client, scene.world.owner)
    before = snapshot()
    data = couple_data(started_on=day(-3), status=CoupleStatus.PAUSED)
    response = client.post(edit_url(scene), data | version_of(scene.couple))
    assert response.status_code == 200
    assert "can't be in the future" in field_error(response, "id_started_on")
    assert 'value="Noor Vale"' in response.text
    assert snapshot() == before


def test_a_correction_with_an_unknown_status_is_refused_beside_the_field(client, scene):
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(
        edit_url(scene), couple_data(status="archived") | version_of(scene.couple)
    )
    assert response.status_code == 200
    assert "valid choice" in field_error(response, "id_status")
    assert snapshot() == before


@pytest.mark.parametrize("role", ["supervisor", *NO_ACCESS])
def test_everyone_but_the_owner_gets_404_for_correcting_the_couple(client, scene, role):
    as_user(client, scene.person(role))
    before = snapshot()
    assert client.get(edit_url(scene)).status_code == 404
    response = client.post(
        edit_url(scene), couple_data(status=CoupleStatus.COMPLETED) | version_of(scene.couple)
    )
    assert response.status_code == 404
    assert snapshot() == before


# The cycle map's history -----------------------------------------------------------------


def diff_lines(response: Response, kind: str) -> list[str]:
    """The steps the comparison marks as `added`, `removed` or `same`, as plain text."""
    items = re.findall(rf'<li class="diff-{kind}">(.*?)</li>', response.text, re.DOTALL)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]


def test_the_history_lists_every_revision_and_compares_the_latest_two(client, scene):
    response = as_user(client, scene.world.owner).get(history_url(scene))
    assert response.status_code == 200
    assert [r.revision for r in response.context["revisions"]] == [2, 1]
    assert "Frustration under the anger" in response.text
    assert "Revision 1 → 2" in response.text
    assert diff_lines(response, "removed") == ["− Removed: Secondary (reactive) emotion: anger"]
    assert diff_lines(response, "added") == [
        "+ Added: Secondary (reactive) emotion: frustration",
        "+ Added: Primary (underlying) emotion: shame",
    ]


def test_the_history_compares_the_revisions_asked_for(client, scene):
    client = as_user(client, scene.world.owner)
    response = client.get(history_url(scene), {"from": "2", "to": "2"})
    assert "Revision 2 → 2" in response.text
    assert diff_lines(response, "added") == diff_lines(response, "removed") == []
    assert "Action / move: goes quiet (Withdrawing)" in " ".join(diff_lines(response, "same"))
    response = client.get(history_url(scene), {"from": "2", "to": "1"})
    assert "Revision 2 → 1" in response.text
    assert "+ Added: Secondary (reactive) emotion: anger" in diff_lines(response, "added")


@pytest.mark.parametrize(
    "params",
    [
        {"from": "abc", "to": "1"},
        {"from": "-5", "to": "2"},
        {"from": "1", "to": "9999"},
        {"from": "99999999999999999999999", "to": "1"},
        {"from": "1"},
    ],
)
def test_the_history_ignores_garbage_revision_numbers(client, scene, params):
    response = as_user(client, scene.world.owner).get(history_url(scene), params)
    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert comparison is None or (comparison["older"].revision, comparison["newer"].revision) == (
        1,
        2,
    )


def test_the_history_of_a_couple_without_a_map_says_so(client, scene):
    client = as_user(client, scene.world.owner)
    client.post(reverse("cycles:new"), couple_data())
    couple = Couple.objects.get(partners__display_name="Noor Vale")
    response = client.get(reverse("cycles:cycle_history", args=[couple.case_code]))
    assert response.status_code == 200
    assert "No revisions yet." in response.text
    assert response.context["comparison"] is None


def test_the_supervisor_reads_the_history_without_edit_controls(client, scene):
    response = as_user(client, scene.world.supervisor).get(history_url(scene), {"from": "1"})
    assert response.status_code == 200
    assert "Revision 1 → 2" in response.text
    assert_read_only(response)
    assert (
        f'href="{reverse("cycles:cycle_edit", args=[scene.couple.case_code])}"' not in response.text
    )


@pytest.mark.parametrize("role", NO_ACCESS)
def test_other_people_get_404_for_the_history(client, scene, role):
    response = as_user(client, scene.person(role)).get(history_url(scene))
    assert response.status_code == 404
    assert "Frustration under the anger" not in response.text


def test_the_history_is_get_only(client, scene):
    before = snapshot()
    response = as_user(client, scene.world.owner).post(history_url(scene), {"from": "1"})
    assert response.status_code == 405
    assert snapshot() == before


def test_the_couple_page_lists_the_latest_closed_flags_and_all_of_them_on_request(client, scene):
    from ruptures.models import FlagKind
    from tests.supervision import make_flag

    today = timezone.localdate()
    for n in range(25):
        opened = today - datetime.timedelta(days=100 - n)
        make_flag(scene.couple, FlagKind.GONE_QUIET, opened, closed_on=opened, key=f"k{n}")
    as_user(client, scene.world.owner)
    page = client.get(detail_url(scene)).text
    assert "Closed flags (25)" in page
    assert page.count("Gone quiet</strong>") == 20
    assert "Show all 25" in page
    everything = client.get(detail_url(scene) + "?history=all").text
    assert everything.count("Gone quiet</strong>") == 25
