"""A partner takes the practice's safety screen alone on the hand-over screen, in Chromium: the
therapist starts it from the couple page, the partner sees only the questions, a "Yes" opens
the Safety concern at once, and the therapist, back on the record, sees the calm notice and
records the assessment that closes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from ruptures.models import Flag, FlagKind
from sessions.models import SafetyScreen
from sessions.safety import GUIDANCE
from tests.browser.conftest import assert_accessible, login
from tests.factories import PASSWORD, make_couple, make_practice, make_session, make_user
from tests.sessions.safety_world import practice_screen, question

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser


def answer(page: Page, text: str, choice: str) -> None:
    page.get_by_role("group", name=text).get_by_label(choice, exact=True).check()


def test_a_partner_takes_the_safety_screen_alone_and_the_therapist_sees_the_concern(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    therapist = make_user(practice, "Robin Therapist", therapist=True)
    couple = make_couple(therapist)
    make_session(couple, days_ago=2, progress_note="Talked about the holiday.")
    practice_screen(practice)
    partner_a, partner_b = couple.partners.order_by("label")
    couple_page = f"{live_server.url}/couples/{couple.case_code}/"

    login(page, live_server, therapist)
    page.goto(couple_page)
    card = page.locator("#safety")
    expect(card).to_contain_text("No safety screen taken yet.")
    with page.expect_navigation():
        card.get_by_role("button", name="Screen partner A").click()

    expect(page).to_have_url(f"{live_server.url}/partner-screen/")
    expect(page.get_by_role("heading", level=1)).to_have_text("A few questions for you")
    body = page.locator("body")
    for secret in (partner_a.display_name, partner_b.display_name, couple.case_code):
        expect(body).not_to_contain_text(secret)
    expect(body).not_to_contain_text("Talked about the holiday.")
    expect(page.get_by_role("link")).to_have_count(0)
    expect(page.get_by_role("group")).to_have_count(4)
    assert_accessible(page)

    answer(page, question("hurt"), "No")
    answer(page, question("afraid"), "Yes")
    answer(page, question("controlled"), "No")
    answer(page, question("forced"), "No")
    with page.expect_navigation():
        page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(page.locator("body")).not_to_contain_text("afety")
    [flag] = Flag.objects.filter(couple=couple, kind=FlagKind.SAFETY_CONCERN)
    assert flag.is_open  # opened at once, before the device is handed back
    assert SafetyScreen.objects.get().entered_by == "partner"

    page.get_by_label("Therapist: your password to continue").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Return to the record").click()
    # The caseload, not the couple page: the result isn't on screen in the room.
    expect(page).to_have_url(f"{live_server.url}/couples/")
    expect(page.get_by_text("Welcome back.")).to_be_visible()
    page.goto(couple_page)
    notice = page.get_by_role("status").filter(has_text="Safety concern: partner A")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(GUIDANCE)
    assert_accessible(page)

    notice.get_by_label("Assessed with the partner alone: conjoint sessions can continue").check()
    with page.expect_navigation():
        notice.get_by_role("button", name="Record the assessment").click()
    expect(page.get_by_text("Recorded. The concern closes")).to_be_visible()
    page.goto(couple_page)
    # The notice is gone; the closed flag stays in the flags' history.
    expect(page.locator(".safety-notice")).to_have_count(0)
    expect(page.locator("#safety")).to_contain_text(
        "Assessed with the partner alone: conjoint sessions can continue"
    )
    flag.refresh_from_db()
    assert not flag.is_open
