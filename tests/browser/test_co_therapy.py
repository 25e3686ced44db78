"""Co-therapy in Chromium (issue #20 item 3): the practice admin names a co-therapist from
"Case transfers" with a reason; the co-therapist signs in, is told, finds the case on their
caseload and logs a session on it with their own private note, which the lead therapist never
reads; the admin ends the co-therapy and the case leaves the co-therapist's caseload."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from sessions.models import PrivateNote, TherapySession
from tests.browser.conftest import login
from tests.browser.test_therapist_flow import days_ago
from tests.factories import make_couple, make_practice, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

    from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser

CO_NOTE = "Co-therapist's own process note: felt pulled toward the pursuer."


def sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()


def set_co_therapist(page: Page, code: str, choice: str, why: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Case transfers").click()
    page.get_by_role("link", name=f"Co-therapist of {code}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Co-therapist of {code}")
    page.get_by_label("Co-therapist").select_option(label=choice)
    page.get_by_label("Why").fill(why)
    page.get_by_role("button", name="Save the co-therapist").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Case transfers")


def test_a_co_therapist_joins_logs_a_session_and_leaves(
    page: Page, live_server: LiveServer, page_problems: PageProblems
):
    practice = make_practice()
    admin = make_user(practice, "Ada Admin", practice_admin=True, is_staff=True)
    lead = make_user(practice, "Lena Lead", therapist=True)
    co = make_user(practice, "Cory Cotherapist", therapist=True)
    couple = make_couple(lead)
    code = couple.case_code

    login(page, live_server, admin)
    set_co_therapist(page, code, str(co), "Co-therapy for the intensive.")
    expect(page.get_by_role("status")).to_contain_text(f"{co} is now co-therapist of {code}")
    expect(page.get_by_role("row", name=code)).to_contain_text(str(co))
    sign_out(page)

    login(page, live_server, co)
    expect(page.get_by_text(f"Case {code}: you joined as co-therapist")).to_be_visible()
    page.get_by_role("link", name=code).first.click()
    expect(page.get_by_text(f"co-therapist: {co}")).to_be_visible()
    page.get_by_role("link", name="Log a session").click()
    page.locator("#id_date").fill(days_ago(1))
    page.locator("#id_start_time").fill("10:00")
    page.locator("#id_end_time").fill("10:50")
    page.get_by_label("Private psychotherapy note").fill(CO_NOTE)
    page.get_by_role("button", name="Log the session").click()
    expect(page.get_by_role("status")).to_contain_text("Logged session")
    expect(page.get_by_text(CO_NOTE)).to_be_visible()
    session = TherapySession.objects.get(couple=couple)
    assert session.therapist == co
    assert PrivateNote.objects.get(session=session).author == co
    sign_out(page)

    login(page, live_server, lead)
    page.goto(f"{live_server.url}/sessions/{session.pk}/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text(CO_NOTE)).to_have_count(0)
    sign_out(page)

    login(page, live_server, admin)
    set_co_therapist(page, code, "No co-therapist", "The intensive ended.")
    sign_out(page)
    login(page, live_server, co)
    expect(page.get_by_role("link", name=code)).to_have_count(0)
    page_problems.allow(r"status of 404")  # the former co-therapist's visit, on purpose
    response = page.goto(f"{live_server.url}{couple.get_absolute_url()}")
    assert response is not None
    assert response.status == 404
