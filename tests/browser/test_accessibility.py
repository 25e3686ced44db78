"""axe-core (WCAG 2.2 AA) on every screen of the therapist's workflow, in the states that
matter (empty, filled, with errors, after an htmx swap), and the rupture form by keyboard."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from cycles.models import EmotionKind
from ruptures.codes import ConfrontationMarker, RuptureType
from tests.browser.conftest import BLOCKING_IMPACTS, axe_violations, describe_violation, login
from tests.factories import (
    make_couple,
    make_cycle_map,
    make_emotion,
    make_practice,
    make_rupture,
    make_session,
    make_user,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response
    from pytest_django.live_server_helper import LiveServer

    from cycles.models import Couple
    from people.models import User
    from sessions.models import TherapySession

pytestmark = pytest.mark.browser


def _is_htmx(response: Response) -> bool:
    return response.request.headers.get("hx-request") == "true"


@contextmanager
def htmx_swap(page: Page) -> Generator[None]:
    with page.expect_response(_is_htmx) as answer:
        yield
    assert answer.value.ok, f"{answer.value.status} from {answer.value.url}"


class AxeReport:
    """Runs axe on each state of each screen and fails once, at the end, listing every
    screen with a serious or critical violation (so one run shows all of them)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.checked: list[str] = []
        self.failures: list[str] = []

    def check(self, state: str) -> None:
        blocking = [v for v in axe_violations(self.page) if v["impact"] in BLOCKING_IMPACTS]
        self.checked.append(state)
        if blocking:
            self.failures.append(
                f"{state} ({self.page.url}):\n" + "\n".join(describe_violation(v) for v in blocking)
            )

    def assert_clean(self) -> None:
        if self.failures:
            pytest.fail(
                f"axe-core found serious or critical violations on {len(self.failures)} of "
                f"{len(self.checked)} screens:\n" + "\n".join(self.failures),
                pytrace=False,
            )


def a_recorded_couple() -> tuple[User, Couple, TherapySession, TherapySession]:
    """A couple with two map revisions, a session with two ruptures (both open) and a later
    session with one of its own."""
    make_emotion("anger", EmotionKind.SECONDARY)
    make_emotion("fear", EmotionKind.PRIMARY)
    therapist = make_user(make_practice(), "Robin Therapist", therapist=True)
    couple = make_couple(therapist)
    make_couple(therapist)
    make_cycle_map(couple)
    make_cycle_map(couple)
    first = make_session(couple, days_ago=14, private_note="My process note.")
    make_rupture(first, significance=2)
    make_rupture(
        first,
        rupture_type=RuptureType.CONFRONTATION,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
        significance=4,
        therapist_contribution=4,
        reflection="I raised my voice.",
    )
    later = make_session(couple, days_ago=7)
    make_rupture(later, significance=1)
    return therapist, couple, first, later


def test_every_screen_of_the_workflow_passes_axe(page: Page, live_server: LiveServer) -> None:
    therapist, couple, first, later = a_recorded_couple()
    code = couple.case_code
    report = AxeReport(page)
    login(page, live_server, therapist)

    expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")
    report.check("caseload")

    page.goto(couple.get_absolute_url())
    expect(page.get_by_role("img", name="The couple's negative cycle, revision 2")).to_be_visible()
    expect(page.locator(".rupture-mark").first).to_be_visible()
    page.get_by_text("The cycle in words").click()
    report.check("couple page with a cycle map, sessions and ruptures")

    page.goto("/couples/new/")
    report.check("new couple form")

    page.goto(f"/couples/{code}/edit/")
    report.check("couple edit form")

    page.goto(f"/couples/{code}/cycle/")
    report.check("cycle-map editor")
    page.locator("#id_A-0-text").fill("")
    page.locator("#id_A-1-term").fill("")  # an emotion step left saying nothing
    with htmx_swap(page):
        page.get_by_role("button", name="Save as a new revision").click()
    expect(page.locator(".step-row.has-error")).to_have_count(2)
    report.check("cycle-map editor after a failed save")

    page.goto(f"/couples/{code}/cycle/history/")
    expect(page.get_by_role("heading", name="Revision 1 → 2")).to_be_visible()
    report.check("cycle-map history with a comparison")

    page.goto(f"/couples/{code}/sessions/new/")
    report.check("log a session")
    page.locator("#id_start_time").fill("11:00")
    page.locator("#id_end_time").fill("10:00")
    page.get_by_role("button", name="Log the session").click()
    expect(page.locator(".has-error").first).to_be_visible()
    report.check("log a session with errors")

    # The later session: its own rupture, the form for the next one, and open repair forms.
    page.goto(f"/sessions/{later.pk}/")
    expect(page.locator("#session-ruptures .rupture-item")).to_have_count(1)
    repairs = page.locator("#repairs .open-rupture")
    expect(repairs).to_have_count(2)
    for _ in range(2):  # each click swaps its line's link for the form
        with htmx_swap(page):
            repairs.get_by_role("link", name="Repaired here…").first.click()
    expect(page.locator("#repairs .repair-form")).to_have_count(2)
    page.locator("#rupture-add-fold > summary").click()  # folded below the repairs until asked for
    report.check("session page with a rupture, the rupture form and repair forms")
    form = page.locator("#rupture-add")
    form.get_by_label("Confrontation (moving against)").check()
    expect(form.get_by_role("group", name="Withdrawal markers")).to_have_count(0)
    with htmx_swap(page):
        form.get_by_role("button", name="Record the rupture").click()
    expect(page.locator("#session-ruptures .has-error").first).to_be_visible()
    report.check("session page after an invalid rupture")

    rupture = first.ruptures.order_by("pk").first()
    assert rupture is not None
    page.goto(f"/ruptures/{rupture.pk}/edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Correct a rupture")
    report.check("rupture edit page")

    assert len(report.checked) == 12
    report.assert_clean()


def test_rupture_type_is_chosen_by_keyboard_and_focus_stays_on_it(
    page: Page, live_server: LiveServer
) -> None:
    therapist, _couple, first, _later = a_recorded_couple()
    login(page, live_server, therapist)
    page.goto(f"/sessions/{first.pk}/")
    form = page.locator("#rupture-add")
    withdrawal = form.get_by_label("Withdrawal (moving away)")
    confrontation = form.get_by_label("Confrontation (moving against)")

    # Tab on from the last link of the rupture list to the folded form, Enter unfolds it, and
    # its first stop is the type.
    page.locator("#session-ruptures .rupture-item").last.get_by_role("link").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#rupture-add-fold > summary")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(withdrawal).to_be_focused()
    expect(withdrawal).not_to_be_checked()

    # Arrow keys choose a type; only that type's markers stay in view.
    page.keyboard.press("ArrowDown")
    expect(form.get_by_role("group", name="Withdrawal markers")).to_have_count(0)
    expect(form.get_by_role("group", name="Confrontation markers")).to_be_visible()
    expect(confrontation).to_be_checked()
    expect(confrontation).to_be_focused()

    page.keyboard.press("ArrowUp")
    expect(form.get_by_role("group", name="Confrontation markers")).to_have_count(0)
    expect(form.get_by_role("group", name="Withdrawal markers")).to_be_visible()
    expect(withdrawal).to_be_checked()
    expect(withdrawal).to_be_focused()

    # The next Tab goes on to the markers, and Space ticks one.
    page.keyboard.press("Tab")
    denial = form.get_by_label("Denial")
    expect(denial).to_be_focused()
    page.keyboard.press("Space")
    expect(denial).to_be_checked()
