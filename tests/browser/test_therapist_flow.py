"""The therapist's workflow in Chromium: open a record, map the cycle, log sessions, record
ruptures and repair one later, then read it all back on the couple's page.

Live-server tests run on a flushed database, so each test makes the emotion terms it types.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cycles.models import Couple, CycleStep, EmotionKind
from ruptures.codes import RuptureStatus
from ruptures.models import Rupture
from tests.browser.conftest import CSP_LISTENER, TIMEOUT_MS, login
from tests.factories import (
    make_couple,
    make_cycle_map,
    make_emotion,
    make_practice,
    make_user,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Response
    from pytest_django.live_server_helper import LiveServer

    from people.models import User
    from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser


# -- helpers -----------------------------------------------------------------------------------


def _is_htmx(response: Response) -> bool:
    return response.request.headers.get("hx-request") == "true"


@contextmanager
def htmx_swap(page: Page) -> Generator[None]:
    """Wait for the htmx response the block provokes, and check the server took it."""
    with page.expect_response(_is_htmx) as answer:
        yield
    assert answer.value.ok, f"{answer.value.status} from {answer.value.url}"


def make_vocabulary() -> None:
    """The terms the tests type (the data migration's vocabulary is flushed between tests)."""
    for name in ("anger", "frustration"):
        make_emotion(name, EmotionKind.SECONDARY)
    for name in ("fear", "hurt", "shame"):
        make_emotion(name, EmotionKind.PRIMARY)


def a_therapist() -> User:
    make_vocabulary()
    return make_user(make_practice(), "Robin Therapist", therapist=True)


def days_ago(days: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()


def shown(days: int) -> str:
    """The day as the practice's default date format shows it ("7 Dec 2026")."""
    day = timezone.localdate() - datetime.timedelta(days=days)
    return f"{day.day} {day:%b %Y}"


def step(page: Page, label: str, index: int, name: str) -> Locator:
    """One field of one row of the cycle-map editor: `step(page, "A", 0, "text")`."""
    return page.locator(f"#id_{label}-{index}-{name}")


def log_session(page: Page, *, date: str, start: str, end: str, note: str = "") -> None:
    """From the couple's page, log a session with the given date and times."""
    page.get_by_role("link", name="Log a session").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a session")
    page.locator("#id_date").fill(date)
    page.locator("#id_start_time").fill(start)
    page.locator("#id_end_time").fill(end)
    if note:
        page.get_by_label("Progress note").fill(note)
    page.get_by_role("button", name="Log the session").click()
    expect(page.get_by_role("status")).to_contain_text("Logged session")


def choose_rupture_type(page: Page, type_label: str) -> Locator:
    """Pick the type in the "Add a rupture" form; only that type's markers stay in view."""
    form = page.locator("#rupture-add")
    form.get_by_label(type_label).check()
    other = "Confrontation" if type_label.startswith("Withdrawal") else "Withdrawal"
    expect(form.get_by_role("group", name=f"{other} markers")).to_have_count(0)
    return form


def second_window(page: Page, live_server: LiveServer, problems: PageProblems) -> Page:
    """A second browser context signed in as the same person as `page`, set up and watched as
    the `page` fixture sets up its own; its problems go to the same `page_problems`.

    The session cookie is copied over, as a second window would share it: signing in again
    through the form could reuse the authenticator code of the same 30 seconds, which the
    sign-in rightly refuses as a replay."""
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(
        base_url=live_server.url,
        storage_state=page.context.storage_state(),
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(script=CSP_LISTENER)
    context.expose_function("__reportCspViolation", problems.on_csp_violation)
    other = context.new_page()
    other.on("console", problems.on_console)
    other.on("pageerror", problems.on_page_error)
    other.on("response", problems.on_response)
    other.on("requestfailed", problems.on_request_failed)
    return other


# -- opening a record and mapping the cycle ------------------------------------------------------


def test_therapist_opens_a_record_and_maps_the_cycle_with_htmx(
    page: Page, live_server: LiveServer
) -> None:
    therapist = a_therapist()

    login(page, live_server, therapist)  # through the real sign-in form
    expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")

    # A new couple's record.
    page.get_by_role("link", name="New couple").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New couple")
    page.get_by_label("Partner A: display name").fill("Maya")
    page.get_by_label("Partner A: pronouns").fill("she/her")
    page.get_by_label("Partner A: position in the cycle").select_option("pursuer")
    page.get_by_label("Partner B: display name").fill("Tom")
    page.get_by_label("Partner B: position in the cycle").select_option("withdrawer")
    page.get_by_label("Cycle pattern").select_option("pursue_withdraw")
    page.get_by_label("EFT step").select_option("2")
    page.get_by_label("Start date").fill(days_ago(30))
    page.get_by_role("button", name="Open the record").click()

    couple = Couple.objects.get(therapist=therapist)
    expect(page).to_have_url(f"{live_server.url}/couples/{couple.case_code}/")
    expect(page.get_by_role("status")).to_contain_text(f"Opened the record for {couple.case_code}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{couple.case_code}: Maya & Tom")
    expect(page.get_by_text("No cycle map yet.")).to_be_visible()

    # The editor starts from EFT's chain as first sketched: trigger, secondary, primary, need,
    # action (a meaning or a body response is added on demand).
    page.get_by_role("link", name="Edit the cycle map").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Map the cycle")
    assert page.evaluate("typeof window.htmx") == "object"
    page.evaluate("window.__sameDocument = true")
    chains = {
        "A": ["he goes quiet", "anger", "fear", "to matter", "criticises"],
        "B": ["her criticism", "frustration", "shame", "to be accepted", "goes quiet"],
    }
    for label, entries in chains.items():
        for index, entry in enumerate(entries):
            if index in (1, 2):
                # Typed into the Emotion input, whose datalist offers the vocabulary.
                emotion = step(page, label, index, "term")
                expect(emotion).to_have_attribute("list", "emotion-vocabulary")
                emotion.press_sequentially(entry)
            else:
                step(page, label, index, "text").fill(entry)
    expect(step(page, "A", 4, "move")).to_have_value("pursuing")
    expect(step(page, "B", 4, "move")).to_have_value("withdrawing")
    offered = page.locator("#emotion-vocabulary option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert {"anger", "frustration", "fear", "shame"} <= set(offered)

    # Add a step: the draft keeps what was typed and focus goes to the new row's kind.
    with htmx_swap(page):
        page.get_by_role("button", name="Add a step for Maya").click()
    new_kind = step(page, "A", 5, "kind")
    expect(new_kind).to_be_focused()
    expect(step(page, "A", 0, "text")).to_have_value("he goes quiet")
    expect(step(page, "A", 1, "term")).to_have_value("anger")
    expect(step(page, "B", 3, "text")).to_have_value("to be accepted")
    new_kind.select_option("body")
    step(page, "A", 5, "text").fill("tight chest")

    # Move it up above the action; focus follows the moved row.
    with htmx_swap(page):
        page.get_by_role("group", name="Step 6 of Maya's chain").get_by_role(
            "button", name="Move up"
        ).click()
    expect(step(page, "A", 4, "kind")).to_be_focused()
    expect(step(page, "A", 4, "kind")).to_have_value("body")
    expect(step(page, "A", 4, "text")).to_have_value("tight chest")
    expect(step(page, "A", 5, "kind")).to_have_value("action")
    expect(step(page, "A", 5, "text")).to_have_value("criticises")
    expect(step(page, "A", 5, "move")).to_have_value("pursuing")

    # Remove Tom's need: the rows below close up and focus goes to his add button.
    with htmx_swap(page):
        page.get_by_role("group", name="Step 4 of Tom's chain").get_by_role(
            "button", name="Remove"
        ).click()
    expect(page.get_by_role("button", name="Add a step for Tom")).to_be_focused()
    expect(page.locator("input[name=B-TOTAL_FORMS]")).to_have_value("4")
    expect(step(page, "B", 1, "term")).to_have_value("frustration")
    expect(step(page, "B", 0, "text")).to_have_value("her criticism")
    expect(step(page, "B", 3, "text")).to_have_value("goes quiet")
    assert page.evaluate("window.__sameDocument") is True, "the editor reloaded the page"

    page.get_by_label("What changed (optional)").fill("First map")
    page.get_by_role("button", name="Save as a new revision").click()

    expect(page).to_have_url(f"{live_server.url}/couples/{couple.case_code}/")
    expect(page.get_by_role("status")).to_contain_text("Saved revision 1 of the map.")
    diagram = page.get_by_role("img", name=re.compile("The couple's negative cycle, revision 1"))
    expect(diagram).to_be_visible()
    for text in ("he goes quiet", "tight chest", "anger", "fear", "criticises", "goes quiet"):
        expect(diagram.locator("text", has_text=text).first).to_be_attached()
    expect(diagram).not_to_contain_text("I'm failing")
    expect(page.locator("#cycle-head")).to_contain_text("revision 1")
    # The typed emotions were matched to the vocabulary, not kept as free text.
    assert set(
        CycleStep.objects.filter(cycle_map__couple=couple, emotion__isnull=False).values_list(
            "emotion__name", flat=True
        )
    ) == {"anger", "fear", "frustration", "shame"}

    # A second revision: drop Maya's body response, give Tom a meaning.
    page.get_by_role("link", name="Edit the cycle map").click()
    expect(step(page, "A", 4, "text")).to_have_value("tight chest")
    with htmx_swap(page):
        page.get_by_role("group", name="Step 5 of Maya's chain").get_by_role(
            "button", name="Remove"
        ).click()
    expect(page.get_by_role("button", name="Add a step for Maya")).to_be_focused()
    with htmx_swap(page):
        page.get_by_role("button", name="Add a step for Tom").click()
    expect(step(page, "B", 4, "kind")).to_be_focused()
    step(page, "B", 4, "kind").select_option("perception")
    step(page, "B", 4, "text").fill("I'm failing her")
    page.get_by_role("button", name="Save as a new revision").click()
    expect(page.get_by_role("status")).to_contain_text("Saved revision 2 of the map.")
    expect(page.locator("#cycle-head")).to_contain_text("revision 2")

    # History compares the last two revisions by default.
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cycle map history")
    expect(page.get_by_role("heading", name="Revision 1 → 2")).to_be_visible()
    expect(page.locator(".diff-removed")).to_have_count(1)
    expect(page.locator(".diff-removed")).to_contain_text("Removed: Body response: tight chest")
    expect(page.locator(".diff-added")).to_have_count(1)
    expect(page.locator(".diff-added")).to_contain_text(
        "Added: Perception / meaning: I'm failing her"
    )
    expect(page.get_by_role("cell", name="First map")).to_be_visible()


# -- sessions, ruptures and a repair --------------------------------------------------------------


def test_therapist_logs_sessions_records_ruptures_and_repairs_one_later(
    page: Page, live_server: LiveServer
) -> None:
    therapist = a_therapist()
    couple = make_couple(therapist)
    make_cycle_map(couple)
    login(page, live_server, therapist)

    page.goto(couple.get_absolute_url())
    log_session(page, date=days_ago(8), start="10:00", end="10:50", note="Tracked the cycle.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session 1")
    expect(page.get_by_text("No ruptures recorded in this session.")).to_be_visible()

    # A withdrawal: choosing the type shows only the withdrawal markers.
    form = choose_rupture_type(page, "Withdrawal (moving away)")
    expect(form.get_by_role("group", name="Withdrawal markers")).to_be_visible()
    expect(form.get_by_label("Withdrawal (moving away)")).to_be_checked()
    expect(form.get_by_label("Withdrawal (moving away)")).to_be_focused()
    form.get_by_label("Minimal response").check()
    form.get_by_label("Avoidant storytelling or shifting topic").check()
    form.get_by_role("group", name="Who moved").get_by_label("Partner B").check()
    form.get_by_role("group", name="Toward whom").get_by_label("Partner A").check()
    form.get_by_role("group", name="Significance").get_by_label("3", exact=True).check()
    with htmx_swap(page):
        form.get_by_role("button", name="Record the rupture").click()

    ruptures = page.locator("#session-ruptures")
    expect(ruptures.get_by_role("status")).to_have_text("Recorded the rupture.")
    first = ruptures.locator(".rupture-item")
    expect(first).to_have_count(1)
    expect(first).to_contain_text("W3")
    expect(first).to_contain_text("Partner B → Partner A")
    expect(first).to_contain_text("Minimal response, Avoidant storytelling or shifting topic")
    # The fresh form is ready for the next rupture, with both marker groups back.
    expect(page.locator("#rupture-add").get_by_label("Withdrawal (moving away)")).to_be_focused()
    expect(page.locator("#rupture-add").get_by_role("group", name="markers")).to_have_count(2)

    # A confrontation with the therapist's own contribution and a private reflection.
    form = choose_rupture_type(page, "Confrontation (moving against)")
    expect(form.get_by_role("group", name="Confrontation markers")).to_be_visible()
    form.get_by_label("Rejects a therapist intervention").check()
    form.get_by_role("group", name="Who moved").get_by_label("Partner A").check()
    expect(
        form.get_by_role("group", name="Toward whom").get_by_label("The therapist")
    ).to_be_checked()
    form.get_by_role("group", name="Significance").get_by_label("4", exact=True).check()
    form.get_by_role("group", name="My contribution").get_by_label("4", exact=True).check()
    form.get_by_label("Private reflection on my contribution").fill("I raised my voice.")
    with htmx_swap(page):
        form.get_by_role("button", name="Record the rupture").click()

    expect(ruptures.locator(".rupture-item")).to_have_count(2)
    second = ruptures.locator(".rupture-item").nth(1)
    expect(second).to_contain_text("C4")
    expect(second).to_contain_text("Partner A → the therapist")
    expect(second).to_contain_text("my contribution 4/5")
    confrontation = Rupture.objects.get(couple=couple, rupture_type="confrontation")
    assert confrontation.therapist_contribution == 4

    # A later session repairs the confrontation.
    page.get_by_role("link", name=couple.case_code).click()
    log_session(page, date=days_ago(1), start="10:00", end="10:50")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session 2")
    repairs = page.locator("#repairs")
    expect(repairs.locator(".open-rupture")).to_have_count(2)
    expect(repairs.locator(".repair-form")).to_have_count(0)  # each loaded when asked for
    repair = repairs.locator(".open-rupture", has_text="C4")
    with htmx_swap(page):
        repair.get_by_role("link", name="Repaired here…").click()
    expect(repair.locator(".repair-form")).to_have_count(1)
    expect(repair.get_by_label("Resolved", exact=True)).to_be_checked()
    expect(repair.get_by_label("Resolved", exact=True)).to_be_focused()
    repair.get_by_label("Acknowledges own contribution").check()
    repair.get_by_label("Discloses own internal experience").check()
    repair.get_by_label("Stage reached").select_option("4")
    with htmx_swap(page):
        repair.get_by_role("button", name="Mark repaired in this session").click()

    repaired = repairs.locator(".plain-list li")
    expect(repaired).to_have_count(1)
    expect(repaired).to_contain_text("C4")
    expect(repaired).to_contain_text("resolved in #2")
    expect(repaired).to_contain_text("acknowledges own contribution, discloses own internal")
    expect(repairs.locator(".open-rupture")).to_have_count(1)
    expect(repairs.locator(".open-rupture")).to_contain_text("W3")
    confrontation.refresh_from_db()
    assert confrontation.status == RuptureStatus.RESOLVED
    assert confrontation.repaired_in is not None
    assert confrontation.repaired_in.ordinal == 2

    # The couple's page puts it together.
    page.get_by_role("link", name=couple.case_code).click()
    timeline = page.locator("table.timeline tbody tr")
    expect(timeline).to_have_count(2)
    marks = timeline.nth(0).locator(".rupture-mark")
    expect(marks).to_have_count(2)
    expect(marks.nth(0)).to_contain_text("W3")
    expect(marks.nth(0)).to_contain_text("unresolved")
    expect(marks.nth(1)).to_contain_text("C4")
    expect(marks.nth(1)).to_contain_text("resolved in #2")
    expect(timeline.nth(1)).to_contain_text("repaired #1")
    open_list = page.locator("section", has=page.get_by_role("heading", name="Open ruptures"))
    expect(open_list.locator("li")).to_have_count(1)
    expect(open_list.locator("li")).to_contain_text("W3")
    expect(open_list.locator("li")).to_contain_text("session 1")
    expect(page.locator("#cycle-head")).to_contain_text("revision 1")
    expect(page.get_by_role("img", name=re.compile("negative cycle, revision 1"))).to_be_visible()


def test_editing_the_couple_and_a_session_keeps_their_dates(
    page: Page, live_server: LiveServer
) -> None:
    """Edit forms show the stored dates in the date inputs, so saving without retyping works."""
    therapist = a_therapist()
    couple = make_couple(therapist, started_on=timezone.localdate() - datetime.timedelta(days=60))
    login(page, live_server, therapist)

    page.goto(f"/couples/{couple.case_code}/edit/")
    # Shown in the practice's date format (core.dates; "7 Dec 2026" by default).
    expect(page.get_by_label("Start date")).to_have_value(shown(60))
    page.get_by_label("EFT step").select_option("3")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved the couple's details.")
    couple.refresh_from_db()
    assert couple.eft_step == 3
    assert couple.started_on.isoformat() == days_ago(60)

    page.get_by_role("link", name="Log a session").click()
    page.locator("#id_date").fill(days_ago(3))
    page.locator("#id_start_time").fill("09:00")
    page.locator("#id_end_time").fill("09:50")
    page.get_by_role("button", name="Log the session").click()
    page.get_by_role("link", name="Edit the session").click()
    expect(page.locator("#id_date")).to_have_value(shown(3))
    page.get_by_label("Progress note").fill("Corrected afterwards.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved session 1.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(shown(3))


# -- the speed requirement ---------------------------------------------------------------------


@dataclass
class Effort:
    """Every click and keystroke of a scripted flow, counted as the therapist would make them."""

    clicks: int = 0
    keystrokes: int = 0

    def click(self, target: Locator) -> None:
        target.click()
        self.clicks += 1

    def check(self, target: Locator) -> None:
        target.check()
        self.clicks += 1

    def type(self, target: Locator, text: str) -> None:
        target.press_sequentially(text)
        self.keystrokes += len(text)

    def press(self, target: Locator, key: str) -> None:
        target.press(key)
        self.keystrokes += 1


CLICK_BUDGET = 20
KEYSTROKE_BUDGET = 40


def test_a_session_with_two_ruptures_takes_few_clicks_and_keystrokes(
    page: Page, live_server: LiveServer
) -> None:
    therapist = a_therapist()
    couple = make_couple(therapist)
    login(page, live_server, therapist)
    page.goto(couple.get_absolute_url())
    effort = Effort()
    started = time.perf_counter()

    # The session: the form's defaults are a conjoint, attended session of 50 minutes that
    # ended just now, so the therapist adds a line of progress note and logs it.
    effort.click(page.get_by_role("link", name="Log a session"))
    # Today, filled in the practice's date format (core.dates), so the form posts as it is.
    expect(page.locator("#id_date")).to_have_value(shown(0))
    expect(page.locator("#id_start_time")).to_have_value(re.compile(r"^\d{2}:\d{2}"))
    expect(page.locator("#id_end_time")).to_have_value(re.compile(r"^\d{2}:\d{2}"))
    expect(page.get_by_label("Conjoint")).to_be_checked()
    expect(page.get_by_label("Attended")).to_be_checked()
    effort.type(page.get_by_label("Progress note"), "Named the cycle.")
    effort.click(page.get_by_role("button", name="Log the session"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session 1")

    # Rupture 1: a withdrawal toward the therapist (the default target).
    form = page.locator("#rupture-add")
    effort.check(form.get_by_label("Withdrawal (moving away)"))
    expect(form.get_by_role("group", name="Confrontation markers")).to_have_count(0)
    effort.check(form.get_by_label("Minimal response"))
    effort.check(form.get_by_role("group", name="Who moved").get_by_label("Partner B"))
    effort.check(form.get_by_role("group", name="Significance").get_by_label("2", exact=True))
    with htmx_swap(page):
        effort.click(form.get_by_role("button", name="Record the rupture"))
    expect(page.locator(".rupture-item")).to_have_count(1)

    # Rupture 2: a confrontation, with the therapist's contribution and a short reflection.
    effort.check(form.get_by_label("Confrontation (moving against)"))
    expect(form.get_by_role("group", name="Withdrawal markers")).to_have_count(0)
    effort.check(form.get_by_label("Rejects a therapist intervention"))
    effort.check(form.get_by_role("group", name="Who moved").get_by_label("Partner A"))
    effort.check(form.get_by_role("group", name="Significance").get_by_label("4", exact=True))
    effort.check(form.get_by_role("group", name="My contribution").get_by_label("4", exact=True))
    effort.type(form.get_by_label("Private reflection on my contribution"), "I pushed too fast.")
    with htmx_swap(page):
        effort.click(form.get_by_role("button", name="Record the rupture"))
    expect(page.locator(".rupture-item")).to_have_count(2)

    elapsed = time.perf_counter() - started
    print(
        f"\nLogging a session with two ruptures: {effort.clicks} clicks, "
        f"{effort.keystrokes} keystrokes, {elapsed:.2f} s scripted"
    )
    assert Rupture.objects.filter(couple=couple).count() == 2
    assert effort.clicks <= CLICK_BUDGET, effort
    assert effort.keystrokes <= KEYSTROKE_BUDGET, effort
    # A script is far faster than a person; this only catches a page that hangs or crawls.
    assert elapsed < 20, f"the scripted flow took {elapsed:.1f} s"


# -- two windows editing the same map ------------------------------------------------------------


def test_a_stale_save_of_the_cycle_map_is_refused_and_keeps_the_typed_text(
    page: Page, live_server: LiveServer, page_problems: PageProblems
) -> None:
    therapist = a_therapist()
    couple = make_couple(therapist)
    make_cycle_map(couple)
    editor_url = f"/couples/{couple.case_code}/cycle/"
    login(page, live_server, therapist)
    other = second_window(page, live_server, page_problems)
    try:
        for window in (page, other):
            window.goto(editor_url)
            expect(window.get_by_role("heading", level=1)).to_have_text("Map the cycle")

        step(page, "A", 0, "text").fill("she sighs")
        page.get_by_role("button", name="Save as a new revision").click()
        expect(page.get_by_role("status")).to_contain_text("Saved revision 2 of the map.")

        step(other, "A", 0, "text").fill("she looks at her phone")
        step(other, "B", 2, "text").fill("leaves the room")
        with htmx_swap(other):
            other.get_by_role("button", name="Save as a new revision").click()
        conflict = other.get_by_role("alert")
        expect(conflict).to_contain_text(f"Not saved: {therapist} saved revision 2")
        expect(conflict).to_contain_text("Your version is still here")
        expect(step(other, "A", 0, "text")).to_have_value("she looks at her phone")
        expect(step(other, "B", 2, "text")).to_have_value("leaves the room")
        expect(other).to_have_url(f"{live_server.url}{editor_url}")

        other.get_by_role("button", name="Save as a new revision").click()
        expect(other).to_have_url(f"{live_server.url}{couple.get_absolute_url()}")
        expect(other.get_by_role("status")).to_contain_text("Saved revision 3 of the map.")
        diagram = other.get_by_role("img", name=re.compile("revision 3"))
        expect(diagram).to_contain_text("she looks at her phone")
        expect(diagram).to_contain_text("leaves the room")
    finally:
        other.context.close()


# -- the address bar and the back button ---------------------------------------------------------


def test_a_caseload_search_keeps_the_address_and_going_back_shows_the_caseload(
    page: Page, live_server: LiveServer
) -> None:
    """The search words may be a partner's name, so a search is posted and pushes no address
    (cycles.views.caseload): the address bar and the history hold /couples/ alone."""
    therapist = a_therapist()
    wanted = make_couple(therapist)
    other = make_couple(therapist)
    login(page, live_server, therapist)

    table = page.locator("#caseload-table")
    search = page.get_by_label("Search by name or case code")
    with htmx_swap(page):
        search.fill(wanted.case_code)
    expect(page).to_have_url(f"{live_server.url}/couples/")
    expect(table.get_by_role("link", name=other.case_code)).to_have_count(0)
    # Leaving the search box (as clicking a couple does) fires `change`: that must not send
    # the same search again.
    page.evaluate(
        """window.__hxRequests = [];
        document.body.addEventListener("htmx:beforeRequest",
          (event) => window.__hxRequests.push(event.detail.requestConfig.path))"""
    )
    search.press("Tab")
    repeated = page.evaluate("window.__hxRequests")
    assert repeated == [], f"leaving the search box sent the search again: {repeated}"

    table.get_by_role("link", name=wanted.case_code).click()
    expect(page).to_have_url(f"{live_server.url}{wanted.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(wanted.case_code)

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/couples/")
    # The whole page, unfiltered: a search is not an address to come back to.
    expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.locator("#caseload-table")).to_have_count(1)
    expect(table.get_by_role("link", name=wanted.case_code)).to_be_visible()
    expect(table.get_by_role("link", name=other.case_code)).to_be_visible()
    expect(page.get_by_label("Search by name or case code")).to_have_value("")
    assert page.evaluate("typeof window.htmx") == "object"
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(244, 246, 248)", "the style sheet is missing after going back"
