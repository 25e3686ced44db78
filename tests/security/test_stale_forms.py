"""A stale form never overwrites newer work (core/concurrency.py).

Each edit form of a clinical record is opened twice (two tabs, or a laptop and a tablet), both
are changed and saved: the first save wins, the second is refused with the user's text kept in
the form and what is saved now shown beside it; saving that refused form again (a deliberate
merge) goes through. Nothing either side typed is lost. The forms' fields are read from the
page as a browser would (the hidden version included), not built by hand.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cycles.models import Couple
from ruptures.models import Rupture, RuptureStatus
from sessions.models import PrivateNote, TherapySession
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

pytestmark = pytest.mark.django_db

STALE = "Someone saved this record after you opened it"


@dataclass
class World:
    therapist: Any
    couple: Couple
    session: TherapySession
    later: TherapySession
    rupture: Rupture


@pytest.fixture
def world() -> World:
    therapist = make_user(make_practice(), "Rhea Stale", therapist=True)
    couple = make_couple(therapist)
    session = make_session(couple, days_ago=9, private_note="First thoughts.")
    later = make_session(couple, days_ago=2)
    rupture = make_rupture(session, note="Went quiet at the homework.")
    return World(therapist, couple, session, later, rupture)


def tab(world: World) -> Client:
    client = Client()
    client.force_login(world.therapist)
    return client


def form_fields(page: str, form_id: str | None = None) -> dict[str, Any]:
    """The values a browser would submit from the page's form (the one with `form_id`)."""
    if form_id is not None:
        start = page.index(f'id="{form_id}"')
        page = page[start : page.index("</form>", start)]
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if not name or name.group(1) == "csrfmiddlewaretoken":
            continue
        if kind and kind.group(1) in {"radio", "checkbox"} and "checked" not in tag:
            continue
        key, text = name.group(1), html.unescape(value.group(1) if value else "")
        if kind and kind.group(1) == "checkbox":
            data.setdefault(key, []).append(text)
        else:
            data[key] = text
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = html.unescape(text).lstrip("\n")
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = html.unescape(chosen.group(1)) if chosen else ""
    return data


def open_form(client: Client, url: str, form_id: str | None = None) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200
    return form_fields(response.text, form_id)


def refused_then_merged(
    first: Client, second: Client, url: str, mine: dict[str, Any], theirs: dict[str, Any]
) -> str:
    """Save `theirs` first, then `mine` from the older form: refused, kept, then merged."""
    assert first.post(url, theirs).status_code == 302
    refused = second.post(url, mine)
    assert refused.status_code == 200
    assert STALE in refused.text
    return refused.text


def test_a_stale_session_edit_is_refused_and_both_notes_survive(world: World) -> None:
    url = reverse("therapy_sessions:edit", args=[world.session.pk])
    laptop, tablet = tab(world), tab(world)
    theirs, mine = open_form(laptop, url), open_form(tablet, url)
    theirs |= {"progress_note": "Laptop: named the pursuer's protest."}
    mine |= {"progress_note": "Tablet: softened at minute 40.", "private_note": "Tablet thought."}

    page = refused_then_merged(laptop, tablet, url, mine, theirs)

    assert "Laptop: named the pursuer&#x27;s protest." in page  # what is saved now, shown
    assert "Tablet: softened at minute 40." in page  # what I typed, kept in the form
    assert "Tablet thought." in page
    session = TherapySession.objects.get(pk=world.session.pk)
    assert session.progress_note == "Laptop: named the pursuer's protest."
    assert PrivateNote.objects.get(session=session).text == "First thoughts."
    # The refused form carries the version it was refused at: saving it again is a merge.
    merged = form_fields(page)
    assert tablet.post(url, merged).status_code == 302
    session.refresh_from_db()
    assert session.progress_note == "Tablet: softened at minute 40."
    assert PrivateNote.objects.get(session=session).text == "Tablet thought."


def test_a_stale_couple_edit_is_refused_and_both_survive(world: World) -> None:
    url = reverse("cycles:edit", args=[world.couple.case_code])
    laptop, tablet = tab(world), tab(world)
    theirs, mine = open_form(laptop, url), open_form(tablet, url)
    theirs |= {"partner_a_pronouns": "she/they"}
    mine |= {"partner_b_pronouns": "he/they", "eft_step": "4"}

    page = refused_then_merged(laptop, tablet, url, mine, theirs)

    assert "she/they" in page
    assert 'value="he/they"' in page
    partners = {p.label: p.pronouns for p in world.couple.partners.all()}
    assert partners["A"] == "she/they"
    assert partners["B"] != "he/they"
    merged = form_fields(page) | {"partner_a_pronouns": "she/they"}
    assert tablet.post(url, merged).status_code == 302
    partners = {p.label: p.pronouns for p in world.couple.partners.all()}
    assert partners == {"A": "she/they", "B": "he/they"}
    assert Couple.objects.get(pk=world.couple.pk).eft_step == 4


def test_a_stale_rupture_correction_is_refused_and_both_notes_survive(world: World) -> None:
    url = reverse("ruptures:edit", args=[world.rupture.pk])
    prefix = f"r{world.rupture.pk}"
    laptop, tablet = tab(world), tab(world)
    theirs, mine = open_form(laptop, url), open_form(tablet, url)
    theirs |= {f"{prefix}-note": "Laptop: it was the homework, not the clock."}
    mine |= {f"{prefix}-note": "Tablet: he looked away.", f"{prefix}-significance": "4"}

    page = refused_then_merged(laptop, tablet, url, mine, theirs)

    assert "Laptop: it was the homework, not the clock." in page
    assert "Tablet: he looked away." in page
    rupture = Rupture.objects.get(pk=world.rupture.pk)
    assert rupture.note == "Laptop: it was the homework, not the clock."
    assert tablet.post(url, form_fields(page)).status_code == 302
    rupture.refresh_from_db()
    assert (rupture.note, rupture.significance) == ("Tablet: he looked away.", 4)


def test_a_repair_from_a_page_drawn_before_a_correction_is_refused(world: World) -> None:
    # The session page loads a rupture's repair form when "Repaired here…" is clicked.
    form_url = reverse("ruptures:repair_form", args=[world.later.pk, world.rupture.pk])
    repair_url = reverse("ruptures:repair", args=[world.later.pk, world.rupture.pk])
    edit_url = reverse("ruptures:edit", args=[world.rupture.pk])
    laptop, tablet = tab(world), tab(world)
    repair = open_form(tablet, form_url, f"repair-{world.rupture.pk}")
    correction = open_form(laptop, edit_url)
    correction[f"r{world.rupture.pk}-note"] = "Corrected meanwhile."
    assert laptop.post(edit_url, correction).status_code == 302

    refused = tablet.post(repair_url, repair | {f"repair{world.rupture.pk}-status": "resolved"})

    assert refused.status_code == 200
    assert STALE in refused.text
    rupture = Rupture.objects.get(pk=world.rupture.pk)
    assert (rupture.status, rupture.note) == (RuptureStatus.UNRESOLVED, "Corrected meanwhile.")
    assert not rupture.repair_log.exists()


def test_a_second_tab_repairing_a_rupture_already_resolved_is_told_so(world: World) -> None:
    form_url = reverse("ruptures:repair_form", args=[world.later.pk, world.rupture.pk])
    repair_url = reverse("ruptures:repair", args=[world.later.pk, world.rupture.pk])
    laptop, tablet = tab(world), tab(world)
    form_id = f"repair-{world.rupture.pk}"
    first, second = open_form(laptop, form_url, form_id), open_form(tablet, form_url, form_id)
    status = {f"repair{world.rupture.pk}-status": "resolved"}
    assert laptop.post(repair_url, first | status).status_code == 302

    response = tablet.post(repair_url, second | status)

    assert response.status_code == 200
    assert "was marked resolved since this page was opened" in response.text
    assert world.rupture.repair_log.count() == 1


def test_an_edit_without_the_forms_version_changes_nothing(world: World) -> None:
    """A form posted without its version (a page from before this release, or a crafted
    request) can't be checked, so it is refused with what was typed kept."""
    url = reverse("therapy_sessions:edit", args=[world.session.pk])
    client = tab(world)
    data = open_form(client, url)
    del data["version"]
    data["progress_note"] = "Without a version."
    response = client.post(url, data)
    assert response.status_code == 200
    assert "reload the page" in response.text
    assert "Without a version." in response.text
    assert TherapySession.objects.get(pk=world.session.pk).progress_note != "Without a version."


def test_measures_saved_meanwhile_are_not_overwritten_by_an_older_page(world: World) -> None:
    from sessions.models import AllianceRating

    url = reverse("therapy_sessions:measures", args=[world.later.pk])
    laptop, tablet = tab(world), tab(world)
    theirs, mine = open_form(laptop, url), open_form(tablet, url)
    theirs |= {f"alliance-A-{item}": "9" for item in ("bond", "goals", "tasks", "fit")}
    mine |= {f"alliance-A-{item}": "2" for item in ("bond", "goals", "tasks", "fit")}

    assert laptop.post(url, theirs).status_code == 302
    refused = tablet.post(url, mine)

    assert refused.status_code == 200
    assert "were saved from another tab or device" in refused.text
    assert "bond 9" in refused.text  # what is stored now
    assert form_fields(refused.text)["alliance-A-bond"] == "2"  # what I entered, kept
    assert AllianceRating.objects.get(session=world.later, partner="A").bond == 9
    assert tablet.post(url, form_fields(refused.text)).status_code == 302
    assert AllianceRating.objects.get(session=world.later, partner="A").bond == 2
