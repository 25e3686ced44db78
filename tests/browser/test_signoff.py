"""A trainee signs a session's record; the supervisor sends it back with a comment; the trainee
amends it (the original kept) and signs again; the supervisor co-signs. In a real browser."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from people.models import Supervision
from sessions.models import Amendment, CosignState, TherapySession
from tests.browser.conftest import assert_accessible, login
from tests.factories import make_couple, make_practice, make_session, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser

FIRST = "Traced the cycle: Avery's protest, Blake's retreat."
AMENDED = "Traced the cycle: Avery's protest, Blake's retreat; Blake named feeling 'never enough'."
ASK = "Add what Blake said about feeling never enough."


def test_a_trainees_note_is_signed_sent_back_amended_and_co_signed(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    trainee = make_user(practice, "Tara Trainee", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(
        practice=practice, supervisor=supervisor, therapist=trainee, notes_need_cosign=True
    )
    couple = make_couple(trainee)
    session = make_session(couple, days_ago=1, progress_note=FIRST)

    login(page, live_server, trainee)
    page.goto(f"/sessions/{session.pk}/")
    page.get_by_role("button", name="Sign this record").click()
    expect(page.get_by_text("It now waits for your supervisor's co-signature.")).to_be_visible()
    expect(page.locator("#signoff-state")).to_contain_text("Awaiting co-signature")

    page.context.clear_cookies()
    login(page, live_server, supervisor)
    page.get_by_role("link", name="Sign-off").click()
    queue = page.locator("#awaiting")
    expect(queue).to_contain_text(couple.case_code)
    assert_accessible(page)
    queue.get_by_role("link", name=couple.case_code).click()
    page.get_by_label("Comment for the therapist").fill(ASK)
    page.get_by_role("button", name="Request changes").click()
    expect(page.get_by_text("Sent session 1 back with your comment.")).to_be_visible()

    page.context.clear_cookies()
    login(page, live_server, trainee)
    page.get_by_role("link", name="Sign-off").click()
    page.locator("#sent-back").get_by_role("link").click()
    expect(page.locator("#signoff-history")).to_contain_text(ASK)
    page.get_by_role("link", name="Edit the session").click()
    page.get_by_label("Progress note").fill(AMENDED)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Say why the record is amended.")).to_be_visible()
    expect(page.get_by_label("Progress note")).to_have_value(AMENDED)
    page.get_by_label("Reason for the amendment").fill("As my supervisor asked.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#signoff")).to_contain_text("Reason: As my supervisor asked.")
    expect(page.locator("#amendment-1")).to_contain_text(FIRST)
    page.get_by_role("button", name="Sign again").click()
    assert_accessible(page)

    page.context.clear_cookies()
    login(page, live_server, supervisor)
    page.goto(f"/sessions/{session.pk}/")
    page.get_by_role("button", name="Co-sign").click()
    expect(page.get_by_text("Co-signed session 1.")).to_be_visible()
    expect(page.get_by_text("Nothing waits for your co-signature.")).to_be_visible()

    session = TherapySession.objects.get(pk=session.pk)
    assert session.cosign_state == CosignState.COSIGNED
    assert session.progress_note == AMENDED
    assert Amendment.objects.get(session=session).changes[0]["before"] == FIRST
