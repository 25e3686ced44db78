"""The founding case at a clinician's pace, in Chromium, at 1280 and at 360 wide (issue 18).

A confrontation the therapist had a large part in, then partner A walks out; the next session
is a no-show. The supervisor sees the incident the same day — the flags follow the record
within the request's own background recheck, not the next night — and acknowledges it once.
The walk-out session holds two ruptures (partner B's withdrawal, then partner A's
confrontation), and logging it, from the couple page to the second rupture recorded, takes at
most 20 interactions, counted as test_session_pace.py counts them. The therapist then repairs
both, naming their part, and the incident's flags close. At 360 px no page the walk visits
scrolls sideways.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from people.models import Supervision
from ruptures.models import Flag, FlagAcknowledgement, FlagKind, Rupture, RuptureRepair
from tests.browser.conftest import login
from tests.browser.test_session_pace import INTERACTION_BUDGET, Interactions, radio
from tests.factories import make_couple, make_practice, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser

INCIDENT = {
    FlagKind.UNRESOLVED_RUPTURE,
    FlagKind.CONFRONTATION_THEN_ABSENCE,
    FlagKind.HIGH_THERAPIST_CONTRIBUTION,
}
COMMENT = "Let's look at the walk-out together on Thursday, and at your part in it."
REPAIR_NOTE = "I named that I pushed the exercise and raised my voice; Avery said she felt heard."


def fits(page: Page, width: int) -> None:
    """No sideways scroll: the page is no wider than the window."""
    page.wait_for_load_state()
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width}"


def log_session(page: Page, days_ago: int, attendance: str, note: str = "") -> None:
    """From the couple page: the session form, filled as the therapist would, and saved."""
    page.get_by_role("link", name="Log a session").click()
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    page.locator("#id_date").fill(day.isoformat())
    page.locator("#id_start_time").fill("08:00")
    page.locator("#id_end_time").fill("08:50")
    page.get_by_label(attendance, exact=True).check()
    if attendance.startswith("Ended early"):
        page.get_by_label("Who left early").select_option(label="Partner A")
    if note:
        page.get_by_label("Progress note").fill(note)
    page.get_by_role("button", name="Log the session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session")


@pytest.mark.parametrize("width", [1280, 360])
def test_the_founding_case_walked_at_a_clinicians_pace(
    page: Page, live_server: LiveServer, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    practice = make_practice()
    therapist = make_user(practice, "Robin Therapist", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    couple = make_couple(therapist)

    # The walk-out, counted: partner B withdrew, then partner A confronted the therapist's
    # intervention (a large part of the therapist's own) and walked out.
    login(page, live_server, therapist)
    page.goto(couple.get_absolute_url())
    fits(page, width)
    done = Interactions()
    done.click(page.get_by_role("link", name="Log a session"), "Log a session")
    day = timezone.localdate() - datetime.timedelta(days=3)
    page.locator("#id_date").fill(day.isoformat())  # typed: not counted
    done.click(page.get_by_label("Ended early / walked out", exact=True), "ended early")
    done.choose(page.get_by_label("Who left early"), "partner_a", "partner A left")
    note = page.get_by_label("Progress note")
    done.click(note, "into the progress note")
    done.type(note, "Tried an enactment too soon.")
    done.click(page.get_by_role("button", name="Log the session"), "Log the session")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session")
    expect(page.get_by_text("your supervisor's review")).to_be_visible()  # when they'll see it
    fits(page, width)
    form = page.locator("#rupture-add")
    done.click(form.get_by_label("Withdrawal (moving away)"), "withdrawal")
    done.click(form.get_by_label("Minimal response"), "minimal response")
    done.click(radio(form, "Who moved", "Partner B"), "partner B moved")
    done.click(radio(form, "Significance", "3"), "significance 3")
    done.click(form.get_by_role("button", name="Record the rupture"), "Record the rupture")
    expect(page.locator("#session-ruptures .rupture-item")).to_have_count(1)
    done.click(form.get_by_label("Confrontation (moving against)"), "confrontation")
    done.click(form.get_by_label("Rejects a therapist intervention"), "rejects intervention")
    done.click(radio(form, "Who moved", "Partner A"), "partner A moved")
    done.click(radio(form, "Significance", "5"), "significance 5")
    done.click(radio(form, "My contribution", "4"), "my contribution 4")
    done.click(form.get_by_role("button", name="Record the rupture"), "Record the rupture")
    expect(page.locator("#session-ruptures .rupture-item")).to_have_count(2)
    print(f"\nThe walk-out session with two ruptures at {width} px: {done.total} interactions")
    assert done.total <= INTERACTION_BUDGET, done.log
    fits(page, width)

    # The no-show that follows.
    page.goto(couple.get_absolute_url())
    log_session(page, 1, "No-show")

    # Same day: the incident is on the supervisor's review, one line, acknowledged once.
    today = timezone.localdate()
    opened = Flag.objects.open().filter(couple=couple)
    assert set(opened.values_list("kind", flat=True)) >= INCIDENT
    assert set(opened.values_list("opened_on", flat=True)) == {today}
    page.context.clear_cookies()
    login(page, live_server, supervisor)
    page.get_by_role("link", name="Supervision", exact=True).click()
    fits(page, width)
    # Two incidents on the case: the walk-out's three flags as one, and partner B's
    # withdrawal, still unresolved, on its own (flags.incidents: one rupture, one incident).
    row = page.get_by_role("row").filter(has_text=couple.case_code)
    expect(row.get_by_text("one incident")).to_have_count(1)
    expect(row.locator("a.ack-open")).to_have_count(2)
    walk_out = row.locator("li.incident")
    walk_out.locator("a.ack-open").click()
    page.get_by_label("Comment for the therapist").fill(COMMENT)
    row.get_by_role("button", name="Acknowledge the incident").click()
    expect(row.get_by_text("Acknowledged the 3 flags of this incident together")).to_be_visible()
    fits(page, width)
    saved = FlagAcknowledgement.objects.filter(by=supervisor)
    assert set(saved.values_list("flag__kind", flat=True)) == INCIDENT
    assert saved.count() == 3
    assert set(saved.values_list("comment", flat=True)) == {COMMENT}

    # The repair, today, naming the therapist's part: it leads the new session's page.
    page.context.clear_cookies()
    login(page, live_server, therapist)
    page.goto(couple.get_absolute_url())
    expect(page.get_by_text(COMMENT)).to_be_visible()
    log_session(page, 0, "Attended", "Opened by naming my part in the walk-out.")
    fits(page, width)
    repairs = page.locator("#repairs")
    for rupture in Rupture.objects.filter(couple=couple).order_by("pk"):
        repairs.locator(f"#open-rupture-{rupture.pk}").get_by_role(
            "link", name="Repaired here…"
        ).click()
        repair = page.locator(f"#repair-{rupture.pk}")
        repair.get_by_label("Acknowledges own contribution").check()
        repair.get_by_label("Note on the repair").fill(REPAIR_NOTE)
        repair.get_by_role("button", name="Mark repaired in this session").click()
        expect(repair.get_by_role("button", name="Mark repaired in this session")).to_have_count(0)
    expect(repairs).to_contain_text(REPAIR_NOTE)

    assert list(
        RuptureRepair.objects.filter(rupture__couple=couple).values_list("note", flat=True)
    ) == [
        REPAIR_NOTE,
        REPAIR_NOTE,
    ]
    # The same-day recheck closed the incident's flags: nothing of it is open any more.
    still_open = set(Flag.objects.open().filter(couple=couple).values_list("kind", flat=True))
    assert not still_open & INCIDENT
    page.goto(couple.get_absolute_url())
    fits(page, width)
