"""The case's EFT stage and step follow its sessions (docs/domain.md, "Stage and step"): a
session logged at a later step moves the case there at once, and every page that shows the
step — the couple page, the caseload, the supervisor's review, the shared case — says so."""

from __future__ import annotations

import datetime
import html
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from django.utils import timezone

from cycles.models import CaseShare, Couple
from sessions.models import Attendance, SessionFormat
from sessions.services import session_withdraw
from tests.factories import World, make_couple, make_session, make_user, version_of

if TYPE_CHECKING:
    from django.test import Client

pytestmark = pytest.mark.django_db

IDENTIFY = "2. Identify the negative cycle"
ACCESS = "3. Access underlying emotions"
OWN_NEEDS = "5. Own disowned needs"


def session_form(step: str, days_ago: int = 1, **overrides: str) -> dict[str, str]:
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    return {
        "date": day.isoformat(),
        "start_time": "10:00",
        "end_time": "10:50",
        "format": SessionFormat.CONJOINT,
        "attendance": Attendance.ATTENDED,
        "cancelled_by": "",
        "left_early": "",
        "eft_step": step,
        "progress_note": "Traced the cycle on the whiteboard.",
        "private_note": "",
    } | overrides


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def row_of(text: str, case_code: str) -> str:
    """The table row that names the case."""
    at = text.index(case_code)
    return text[text.rindex("<tr", 0, at) : text.index("</tr>", at)]


def test_a_session_logged_at_a_later_step_moves_the_case_and_says_so(client: Client) -> None:
    world = World.build()
    client.force_login(world.owner)
    assert world.couple.eft_step == 1

    response = client.post(
        reverse("therapy_sessions:new", args=[world.couple.case_code]),
        session_form("2"),
        follow=True,
    )

    world.couple.refresh_from_db()
    assert (world.couple.eft_stage, world.couple.eft_step) == (1, 2)
    told = html.unescape(response.content.decode())
    assert f"The case is now at EFT step {IDENTIFY} (was step 1)" in told
    couple_page = page(client, world.couple.get_absolute_url())
    assert f"step {IDENTIFY}" in couple_page


def test_every_page_that_shows_the_step_shows_the_one_the_sessions_reached(
    client: Client,
) -> None:
    world = World.build()
    make_session(world.couple, days_ago=3, eft_step=5)
    CaseShare.objects.create(couple=world.couple, group=world.group, shared_by=world.owner)
    share = CaseShare.objects.get(couple=world.couple)

    client.force_login(world.owner)
    assert "Stage 2: restructuring · step " + OWN_NEEDS in page(
        client, world.couple.get_absolute_url()
    )
    caseload = page(client, reverse("cycles:caseload"))
    assert "2 (step 5)" in row_of(caseload, world.couple.case_code)

    client.force_login(world.supervisor)
    review = page(client, reverse("supervision:review"))
    assert "2 (step 5)" in row_of(review, world.couple.case_code)

    client.force_login(world.group_member)
    shared = page(client, reverse("consultation:case", args=[world.group.pk, share.code]))
    assert OWN_NEEDS in shared
    assert "1. Alliance and assessment" not in shared


def test_a_later_session_at_an_earlier_step_moves_the_case_back(client: Client) -> None:
    world = World.build()
    make_session(world.couple, days_ago=6, eft_step=4)
    make_session(world.couple, days_ago=2, eft_step=2)
    world.couple.refresh_from_db()
    assert world.couple.eft_step == 2


def test_a_session_logged_late_between_others_does_not_move_the_case(client: Client) -> None:
    world = World.build()
    make_session(world.couple, days_ago=2, eft_step=4)
    client.force_login(world.owner)

    response = client.post(
        reverse("therapy_sessions:new", args=[world.couple.case_code]),
        session_form("2", days_ago=5),
        follow=True,
    )

    world.couple.refresh_from_db()
    assert world.couple.eft_step == 4
    assert "The case is now at EFT step" not in response.content.decode()


def test_sessions_that_did_not_take_place_or_record_no_step_leave_the_step_alone() -> None:
    therapist = make_user(World.build().practice, therapist=True)
    couple = make_couple(therapist, eft_step=3)
    make_session(couple, days_ago=4, eft_step=None)
    make_session(couple, days_ago=2, attendance=Attendance.NO_SHOW, eft_step=6)
    couple.refresh_from_db()
    assert (couple.eft_stage, couple.eft_step) == (1, 3)


def test_withdrawing_the_latest_session_moves_the_case_to_the_one_before() -> None:
    world = World.build()
    make_session(world.couple, days_ago=5, eft_step=3)
    latest = make_session(world.couple, days_ago=1, eft_step=5)
    world.couple.refresh_from_db()
    assert (world.couple.eft_stage, world.couple.eft_step) == (2, 5)

    session_withdraw(session=latest, by=world.owner, reason="Logged on the wrong couple.")

    world.couple.refresh_from_db()
    assert (world.couple.eft_stage, world.couple.eft_step) == (1, 3)


def test_a_couple_form_opened_before_the_step_moved_cannot_set_it_back(client: Client) -> None:
    world = World.build()
    client.force_login(world.owner)
    edit_url = reverse("cycles:edit", args=[world.couple.case_code])
    form_page = client.get(edit_url)
    assert form_page.status_code == 200
    stale_version = version_of(world.couple)
    partner_a, partner_b = world.couple.partners.order_by("label")
    make_session(world.couple, days_ago=1, eft_step=3)

    response = client.post(
        edit_url,
        {
            **stale_version,
            "partner_a_name": partner_a.display_name,
            "partner_a_pronouns": "",
            "partner_a_position": partner_a.position,
            "partner_b_name": partner_b.display_name,
            "partner_b_pronouns": "",
            "partner_b_position": partner_b.position,
            "cycle_pattern": world.couple.cycle_pattern,
            "eft_step": "1",
            "started_on": world.couple.started_on.isoformat(),
            "status": world.couple.status,
        },
    )

    assert response.status_code == 200  # the form again, with the conflict shown
    assert Couple.objects.get(pk=world.couple.pk).eft_step == 3
