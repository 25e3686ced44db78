"""The rupture form keeps every tick (issue 15): in Chromium, markers ticked before, between
and after changes of the rupture type are all saved when they belong to the type finally
chosen, on the session page's "Add a rupture" form and on the correction form, and nothing
on these pages raises a Content-Security-Policy report.

Any request the form sends to the server before it is saved (a type redraw, if one ever
comes back) is held until every tick is made and only then let through, as the slowest
server would answer it. CSP reports are the page's `securitypolicyviolation` events,
collected by the harness's init script (tests/browser/conftest.py); the project's policy has
no report-uri, so the browser reports nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from ruptures.codes import ConfrontationMarker, RuptureType, WithdrawalMarker
from ruptures.models import Rupture
from tests.browser.conftest import login
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Route
    from pytest_django.live_server_helper import LiveServer

    from people.models import User
    from sessions.models import TherapySession
    from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser

WITHDRAWAL = "Withdrawal (moving away)"
CONFRONTATION = "Confrontation (moving against)"


@dataclass
class HeldRequests:
    """While `holding`, requests from the page's scripts to one URL are held back until
    `release()`: the slowest possible server. Navigations, and requests once released, pass."""

    routes: list[Route] = field(default_factory=list)
    seen: int = 0
    holding: bool = True

    def hold(self, route: Route) -> None:
        if route.request.is_navigation_request() or not self.holding:
            route.continue_()
            return
        self.seen += 1
        self.routes.append(route)

    def release(self, page: Page) -> None:
        self.holding = False
        while self.routes:
            self.routes.pop(0).continue_()
        # htmx marks an element `htmx-request` while its request is out; wait for every
        # answer to be swapped in before reading the form.
        expect(page.locator(".htmx-request")).to_have_count(0)


def a_session() -> tuple[User, TherapySession]:
    therapist = make_user(make_practice(), "Robin Therapist", therapist=True)
    return therapist, make_session(make_couple(therapist), days_ago=1)


def csp_reports(page: Page) -> list[str]:
    """This document's `securitypolicyviolation` events so far."""
    reports: list[str] = page.evaluate("window.__cspViolations")
    return reports


def resize(page: Page, textarea: Locator) -> None:
    """Drag the textarea's corner, as a therapist making room for a long note does: Chromium
    then writes the new size into the element's style attribute (allowed: it is the browser's,
    not the page's). htmx copied such attributes onto swapped-in content, one CSP report each."""
    textarea.scroll_into_view_if_needed()
    box = textarea.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] + 40, box["y"] + box["height"] + 60, steps=5)
    page.mouse.up()
    expect(textarea).to_have_attribute("style", re.compile("height"))


def markers_of(form: Locator, kind: str) -> Locator:
    return form.get_by_role("group", name=f"{kind} markers")


def test_every_tick_of_the_final_type_is_saved_however_often_the_type_changes(
    page: Page, live_server: LiveServer, page_problems: PageProblems
) -> None:
    therapist, session = a_session()
    login(page, live_server, therapist)
    held = HeldRequests()
    page.route(f"**/sessions/{session.pk}/ruptures/", held.hold)
    page.goto(f"/sessions/{session.pk}/")
    form = page.locator("#rupture-add")
    # No type chosen yet: both groups, so either can be ticked first.
    expect(markers_of(form, "Withdrawal")).to_be_visible()
    expect(markers_of(form, "Confrontation")).to_be_visible()

    form.get_by_label(WITHDRAWAL).check()
    form.get_by_label("Denial").check()
    form.get_by_label("Minimal response").check()
    form.get_by_label(CONFRONTATION).check()
    form.get_by_label("Complaints about progress").check()
    form.get_by_label(WITHDRAWAL).check()
    expect(form.get_by_label("Denial")).to_be_checked()
    expect(form.get_by_label("Minimal response")).to_be_checked()
    form.get_by_label("Content/affect split").check()
    form.get_by_label(CONFRONTATION).check()
    expect(form.get_by_label("Complaints about progress")).to_be_checked()
    form.get_by_label("Defends self against the therapist").check()
    form.get_by_label(WITHDRAWAL).check()
    form.get_by_label("Minimal response").uncheck()  # a tick taken back stays taken back
    form.get_by_role("group", name="Who moved").get_by_label("Partner B").check()
    form.get_by_role("group", name="Significance").get_by_label("3", exact=True).check()
    held.release(page)
    # Only the chosen type's markers are in view, and every tick is still there.
    expect(markers_of(form, "Confrontation")).to_have_count(0)
    expect(form.get_by_label("Denial")).to_be_checked()
    expect(form.get_by_label("Content/affect split")).to_be_checked()
    expect(form.get_by_label("Minimal response")).not_to_be_checked()

    # The room a long note needs: the browser's own style attribute on the textarea.
    resize(page, form.locator("textarea[name$='-note']"))
    form.get_by_role("button", name="Record the rupture").click()
    items = page.locator("#session-ruptures .rupture-item")
    expect(items).to_have_count(1)
    expect(items).to_contain_text("Denial, Content/affect split")

    rupture = Rupture.objects.get(session=session)
    assert rupture.rupture_type == RuptureType.WITHDRAWAL
    assert rupture.withdrawal_markers == (
        WithdrawalMarker.DENIAL | WithdrawalMarker.CONTENT_AFFECT_SPLIT
    )
    assert rupture.confrontation_markers == 0

    # The fresh form for the next rupture: both groups again, nothing ticked; a confrontation
    # this time, ending on the type the first ticks were made in.
    held.holding = True
    form = page.locator("#rupture-add")
    expect(markers_of(form, "Withdrawal")).to_be_visible()
    expect(markers_of(form, "Confrontation")).to_be_visible()
    form.get_by_label("Rejects a therapist intervention").check()
    form.get_by_label("Denial").check()
    form.get_by_label(CONFRONTATION).check()
    form.get_by_label(WITHDRAWAL).check()
    form.get_by_label(CONFRONTATION).check()
    form.get_by_label("Efforts to control or pressure the therapist").check()
    form.get_by_role("group", name="Who moved").get_by_label("Partner A").check()
    held.release(page)
    # A refusal first (no significance): the form comes back with every tick.
    resize(page, form.locator("textarea[name$='-note']"))
    form.get_by_role("button", name="Record the rupture").click()
    expect(form.locator(".has-error")).to_have_count(1)
    expect(markers_of(form, "Withdrawal")).to_have_count(0)
    expect(form.get_by_label("Rejects a therapist intervention")).to_be_checked()
    expect(form.get_by_label("Efforts to control or pressure the therapist")).to_be_checked()
    form.get_by_role("group", name="Significance").get_by_label("4", exact=True).check()
    form.get_by_role("button", name="Record the rupture").click()
    expect(items).to_have_count(2)

    second = Rupture.objects.exclude(pk=rupture.pk).get(session=session)
    assert second.rupture_type == RuptureType.CONFRONTATION
    assert second.confrontation_markers == (
        ConfrontationMarker.REJECTS_INTERVENTION | ConfrontationMarker.CONTROLS_OR_PRESSURES
    )
    assert second.withdrawal_markers == 0

    print(f"\nrequests the type changes sent to the server: {held.seen}")
    assert csp_reports(page) == []
    page.evaluate("0")  # let the page's events reach Python
    assert page_problems.csp_violations == []


def test_the_correction_form_keeps_ticks_across_type_changes(
    page: Page, live_server: LiveServer, page_problems: PageProblems
) -> None:
    therapist, session = a_session()
    rupture = make_rupture(
        session, withdrawal_markers=WithdrawalMarker.DENIAL | WithdrawalMarker.DEFERENTIAL
    )
    login(page, live_server, therapist)
    held = HeldRequests()
    page.route(f"**/ruptures/{rupture.pk}/edit/", held.hold)
    page.goto(f"/ruptures/{rupture.pk}/edit/")
    form = page.locator("form.rupture-form")
    expect(form.get_by_label(WITHDRAWAL)).to_be_checked()
    expect(form.get_by_label("Denial")).to_be_checked()

    form.get_by_label(CONFRONTATION).check()
    form.get_by_label("Complaints about the activities of therapy").check()
    form.get_by_label(WITHDRAWAL).check()
    form.get_by_label("Self-criticism or hopelessness").check()
    form.get_by_label(CONFRONTATION).check()
    expect(form.get_by_label("Complaints about the activities of therapy")).to_be_checked()
    form.get_by_label("Defends self against the therapist").check()
    expect(markers_of(form, "Withdrawal")).to_have_count(0)
    assert held.seen == 0, "the type changes sent nothing to the server"
    with page.expect_navigation():
        form.get_by_role("button", name="Save the correction").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the correction.")

    rupture.refresh_from_db()
    assert rupture.rupture_type == RuptureType.CONFRONTATION
    assert rupture.confrontation_markers == (
        ConfrontationMarker.COMPLAINS_ABOUT_ACTIVITIES | ConfrontationMarker.DEFENDS_SELF
    )
    assert rupture.withdrawal_markers == 0  # the other type's ticks were not sent

    # And back: the withdrawal markers ticked now are saved, the confrontation's cleared.
    page.goto(f"/ruptures/{rupture.pk}/edit/")
    form = page.locator("form.rupture-form")
    form.get_by_label(WITHDRAWAL).check()
    form.get_by_label("Abstract communication").check()
    with page.expect_navigation():
        form.get_by_role("button", name="Save the correction").click()
    rupture.refresh_from_db()
    assert rupture.withdrawal_markers == WithdrawalMarker.ABSTRACT_COMMUNICATION
    assert rupture.confrontation_markers == 0
    page.evaluate("0")
    assert page_problems.csp_violations == []
