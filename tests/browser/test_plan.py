"""The treatment plan in Chromium: draft it from the cycle map, save it, log a session with a
De-escalation, and read the goal's evidence on the plan page without typing it twice."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from plans.models import PlanRevision
from tests.browser.conftest import login
from tests.factories import make_couple, make_cycle_map, make_practice, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser


def days_ago(days: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()


def test_a_plan_drafted_from_the_map_shows_the_de_escalation_the_record_holds(
    page: Page, live_server: LiveServer
) -> None:
    therapist = make_user(make_practice(), "Robin Therapist", therapist=True)
    couple = make_couple(therapist)
    make_cycle_map(couple)
    pursuer = couple.partners.get(label="A").display_name
    login(page, live_server, therapist)

    page.goto(f"{live_server.url}{couple.get_absolute_url()}")
    plan_card = page.locator("#plan-summary")
    expect(plan_card).to_contain_text("No plan yet.")
    plan_card.get_by_role("link", name="Plan the work").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Treatment plan")
    page.get_by_role("link", name="Draft a plan from the cycle map").click()

    # The draft fills the form from the map; nothing is saved until the therapist saves.
    expect(page.get_by_role("status")).to_contain_text("Drafted from the cycle map")
    first = page.locator("#goal-form-1")
    expect(first.get_by_label("EFT stage")).to_have_value("1")
    expect(first.get_by_label("Evidence it is met")).to_have_value("de_escalation")
    expect(first.get_by_label("Interventions intended")).to_contain_text(f"{pursuer}: criticises")
    expect(first.get_by_label("Partner A · Action / move: criticises")).to_be_checked()
    assert not PlanRevision.objects.filter(couple=couple).exists()
    page.get_by_label("Plan date").fill(days_ago(7))
    page.get_by_role("button", name="Save as a new revision").click()

    expect(page.get_by_role("status")).to_contain_text("Saved revision 1 of the plan.")
    evidence = page.locator("#goal-1-evidence")
    expect(evidence).to_contain_text("Not yet")
    expect(evidence).to_contain_text("No de-escalation recorded since the plan's date.")

    # A session with a De-escalation change event, logged from the couple's page.
    page.goto(f"{live_server.url}{couple.get_absolute_url()}")
    page.get_by_role("link", name="Log a session").click()
    page.locator("#id_date").fill(days_ago(1))
    page.locator("#id_start_time").fill("10:00")
    page.locator("#id_end_time").fill("10:50")
    page.get_by_label("De-escalation").check()
    page.get_by_role("button", name="Log the session").click()
    expect(page.get_by_role("status")).to_contain_text("Logged session")
    session_url = page.url

    page.goto(f"{live_server.url}{couple.get_absolute_url()}")
    page.locator("#plan-summary").get_by_role("link", name="Open the plan").click()
    evidence = page.locator("#goal-1-evidence")
    expect(evidence).to_contain_text("Shown in the record")
    expect(evidence).to_contain_text("De-escalation recorded in 1 session since the plan's date.")
    link = evidence.get_by_role("link", name="De-escalation")
    expect(link).to_have_attribute("href", session_url.removeprefix(live_server.url))

    # The therapist marks the goal met: a new revision.
    page.locator("#goal-1").get_by_role("button", name="Mark met").click()
    expect(page.get_by_role("status")).to_contain_text("Goal 1 marked met: revision 2")
    expect(page.locator("#goal-1")).to_contain_text("Met")
