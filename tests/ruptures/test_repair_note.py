"""The note on a repair ("what I acknowledged, how we repaired it"): saved with the repair,
shown with it on both session pages to the therapist and their supervisor, kept in the form
when a stale or bad repair is refused, gone with a repair that is undone, and never shown to a
consultation group."""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from consultation.deidentify import shared_case
from cycles.models import CaseShare
from ruptures.codes import RuptureStatus
from ruptures.models import Rupture, RuptureRepair
from tests.consultation import found_in, page_text, pdf_text
from tests.exports import exported
from tests.ruptures.test_rupture_views import (
    HTMX,
    NO_ACCESS,
    as_user,
    edit_url,
    field_error,
    region,
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

NOTE = "I named my raised voice and apologised; she said she felt heard. CANARY-r3p4ir"


def text_of(content: str) -> str:
    """A page's words, tags dropped and spaces squeezed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())


def repair_with_note(client: Client, scene: Scene, **overrides: str) -> None:
    data = repair_data(scene.rupture, note=NOTE, **overrides)
    response = client.post(repair_url(scene.later, scene.rupture), data)
    assert response.status_code == 302, response.content[:300]


def test_a_repair_saves_its_note(client: Client, scene: Scene) -> None:
    repair_with_note(as_user(client, scene.world.owner), scene)
    (repair,) = RuptureRepair.objects.filter(rupture=scene.rupture)
    assert (repair.session_id, repair.note) == (scene.later.pk, NOTE)


def test_the_repair_form_asks_for_the_note(client: Client, scene: Scene) -> None:
    as_user(client, scene.world.owner)
    form_url = reverse("ruptures:repair_form", args=[scene.later.pk, scene.rupture.pk])
    page = client.get(form_url, headers=HTMX).text
    assert f'name="repair{scene.rupture.pk}-note"' in page
    assert "Note on the repair" in page


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_the_therapist_and_their_supervisor_read_the_note_on_both_session_pages(
    client: Client, scene: Scene, role: str
) -> None:
    repair_with_note(as_user(client, scene.world.owner), scene)
    as_user(client, scene.person(role))

    repairing = text_of(client.get(session_url(scene.later)).text)
    assert f"Note on the repair: {NOTE}" in repairing
    repaired = text_of(client.get(session_url(scene.session)).text)
    assert f"Note on the repair in session 2: {NOTE}" in repaired


def test_the_correction_page_shows_the_note_beside_where_it_was_repaired(
    client: Client, scene: Scene
) -> None:
    repair_with_note(as_user(client, scene.world.owner), scene)
    page = text_of(client.get(edit_url(scene.rupture)).text)
    assert "Repaired in session 2" in page
    assert f"Note on the repair: {NOTE}" in page


@pytest.mark.parametrize("role", NO_ACCESS)
def test_no_one_else_reads_the_note(client: Client, scene: Scene, role: str) -> None:
    repair_with_note(as_user(client, scene.world.owner), scene)
    as_user(client, scene.person(role))
    for session in (scene.session, scene.later):
        response = client.get(session_url(session))
        assert response.status_code == 404
        assert "CANARY-r3p4ir" not in response.text


def test_a_stale_repair_is_refused_with_the_typed_note_kept(client: Client, scene: Scene) -> None:
    """The repair form carries the version it read: a correction saved since (another tab)
    refuses it, the note stays in the form, and no repair is recorded."""
    as_user(client, scene.world.owner)
    read_at = Rupture.objects.get(pk=scene.rupture.pk).version
    correction = rupture_data(f"r{scene.rupture.pk}", significance="5", version=str(read_at))
    assert client.post(edit_url(scene.rupture), correction).status_code == 302
    before = snapshot()

    data = repair_data(scene.rupture, note=NOTE, version=str(read_at))
    response = client.post(repair_url(scene.later, scene.rupture), data, headers=HTMX)

    assert response.status_code == 200
    assert region(response) == "repairs"
    assert "Someone saved this record after you opened it" in html.unescape(response.text)
    textarea = re.search(
        rf'<textarea name="repair{scene.rupture.pk}-note"[^>]*>(.*?)</textarea>',
        response.text,
        re.DOTALL,
    )
    assert textarea, "the note's textarea is not in the refused form"
    assert html.unescape(textarea.group(1)).strip() == NOTE
    assert not RuptureRepair.objects.filter(rupture=scene.rupture).exists()
    assert snapshot() == before


def test_a_repair_with_bad_input_keeps_the_note_beside_the_error(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    data = repair_data(scene.rupture, note=NOTE, status="reopened")
    response = client.post(repair_url(scene.later, scene.rupture), data, headers=HTMX)
    assert response.status_code == 200
    assert "valid choice" in field_error(response, f"id_repair{scene.rupture.pk}-status")
    assert html.escape(NOTE) in response.text or NOTE in response.text
    assert not RuptureRepair.objects.filter(rupture=scene.rupture).exists()


def test_a_note_too_long_is_refused_beside_the_field(client: Client, scene: Scene) -> None:
    as_user(client, scene.world.owner)
    data = repair_data(scene.rupture, note="x" * 5001)
    response = client.post(repair_url(scene.later, scene.rupture), data, headers=HTMX)
    assert response.status_code == 200
    assert "at most 5000 characters" in field_error(response, f"id_repair{scene.rupture.pk}-note")
    assert not RuptureRepair.objects.filter(rupture=scene.rupture).exists()


def test_an_undone_repair_takes_its_note_off_the_pages(client: Client, scene: Scene) -> None:
    repair_with_note(as_user(client, scene.world.owner), scene)
    undo = reverse("ruptures:repair_undo", args=[scene.later.pk, scene.rupture.pk])
    response = client.post(undo, {f"undo{scene.rupture.pk}-reason": "Wrong rupture."})
    assert response.status_code == 302
    assert Rupture.objects.get(pk=scene.rupture.pk).status == RuptureStatus.UNRESOLVED
    for session in (scene.session, scene.later):
        assert "CANARY-r3p4ir" not in client.get(session_url(session)).text
    # The undone repair keeps its note on record, withdrawn.
    assert RuptureRepair.objects.get(rupture=scene.rupture).note == NOTE


def test_the_repairs_region_shows_the_note_after_an_htmx_repair(
    client: Client, scene: Scene
) -> None:
    as_user(client, scene.world.owner)
    data = repair_data(scene.rupture, note=NOTE)
    response = client.post(repair_url(scene.later, scene.rupture), data, headers=HTMX)
    assert response.status_code == 200
    assert region(response) == "repairs"
    assert "rupturesChanged" in json.loads(response["HX-Trigger"])
    assert f"Note on the repair: {NOTE}" in text_of(response.text)


def test_the_repair_note_never_reaches_the_consultation_group(client: Client, scene: Scene) -> None:
    """A canary in the note: the therapist's page shows it (so the check isn't blind); the
    de-identified case, its page and its PDF never do."""
    repair_with_note(as_user(client, scene.world.owner), scene)
    assert "CANARY-r3p4ir" in client.get(session_url(scene.later)).text
    share = CaseShare.objects.create(
        couple=scene.couple, group=scene.world.group, shared_by=scene.world.owner
    )

    assert found_in(repr(shared_case(share)), ["CANARY", "r3p4ir", "apologised"]) == []
    as_user(client, scene.world.group_member)
    group, code = scene.world.group.pk, share.code
    case = client.get(reverse("consultation:case", args=[group, code]))
    assert case.status_code == 200
    assert "Resolved in session 2" in page_text(case.content)  # the repair itself is shared
    pdf = client.get(reverse("consultation:case_pdf", args=[group, code]))
    assert pdf.status_code == 200
    for text in (page_text(case.content), pdf_text(pdf.content)):
        assert found_in(text, ["CANARY", "r3p4ir", "apologised", "felt heard"]) == []


def test_the_couple_pdf_prints_the_repair_note(client: Client, scene: Scene) -> None:
    repair_with_note(as_user(client, scene.world.owner), scene)
    response = exported(client, reverse("cycles:pdf", args=[scene.couple.case_code]))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert found_in(text, [f"Note on the repair in #2: {NOTE}"]) != []
