"""A trainee's treatment plan in Chromium: saved, it waits on the supervisor's Sign-off list;
the supervisor reads it and sends it back with a comment; the trainee revises it; the
supervisor reads what changed and co-signs it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from people.models import Supervision
from plans.models import PlanCosignState, PlanRevision
from tests.browser.conftest import assert_accessible, login
from tests.factories import make_couple, make_cycle_map, make_practice, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser

ASK = "Say how you will slow the pursuit down in session."
REVISED = "Slow the pursuit down: reflect the protest, then the fear beneath it."


def test_a_trainees_plan_is_sent_back_revised_and_co_signed(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    trainee = make_user(practice, "Tara Trainee", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(
        practice=practice, supervisor=supervisor, therapist=trainee, notes_need_cosign=True
    )
    couple = make_couple(trainee)
    make_cycle_map(couple)
    code = couple.case_code

    login(page, live_server, trainee)
    page.goto(f"{live_server.url}/couples/{code}/plan/")
    page.get_by_role("link", name="Draft a plan from the cycle map").click()
    page.get_by_role("button", name="Save as a new revision").click()
    expect(page.locator("#cosign")).to_contain_text("Awaiting co-signature from Sam Supervisor.")

    page.context.clear_cookies()
    login(page, live_server, supervisor)
    page.get_by_role("link", name="Sign-off").click()
    queue = page.locator("#awaiting")
    queue.get_by_role("link", name=f"Treatment plan, revision 1, {code}").click()
    expect(page.locator("#changes")).to_contain_text("This is the plan's first revision")
    assert_accessible(page)
    page.get_by_label("Comment for the therapist").fill(ASK)
    page.get_by_role("button", name="Request changes").click()
    expect(page.get_by_role("status")).to_contain_text("back with your comment")

    page.context.clear_cookies()
    login(page, live_server, trainee)
    page.get_by_role("link", name="Sign-off").click()
    page.locator("#sent-back").get_by_role("link", name="Treatment plan, revision 1").click()
    expect(page.locator("#cosign")).to_contain_text(f"Changes requested: “{ASK}”")
    page.get_by_role("link", name="Edit the plan").click()
    page.locator("#goal-form-1").get_by_label("Interventions intended").fill(REVISED)
    page.get_by_role("button", name="Save as a new revision").click()
    expect(page.locator("#cosign")).to_contain_text("Awaiting co-signature from Sam Supervisor.")

    page.context.clear_cookies()
    login(page, live_server, supervisor)
    page.get_by_role("link", name="Sign-off").click()
    page.locator("#awaiting").get_by_role("link", name="Treatment plan, revision 2").click()
    expect(page.locator("#changes")).to_contain_text("What changed since revision 1")
    expect(page.locator("#changes")).to_contain_text(REVISED)
    page.get_by_role("button", name="Co-sign revision 2").click()
    expect(page.get_by_role("status")).to_contain_text(f"Co-signed revision 2 of {code}")
    expect(page.get_by_text("Nothing waits for your co-signature.")).to_be_visible()

    states = dict(
        PlanRevision.objects.filter(couple=couple).values_list("revision", "cosign_state")
    )
    assert states == {1: PlanCosignState.CHANGES_REQUESTED, 2: PlanCosignState.COSIGNED}
