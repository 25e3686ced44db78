"""A supervision meeting in Chromium: the supervisor logs it from the agenda, the supervisee
confirms it, and the supervisee's hours page shows the hours and exports them as a CSV with
case codes, never partners' names."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from people.models import Supervision
from ruptures.models import Flag, FlagKind
from supervision.models import MeetingAttendance
from tests.browser.conftest import assert_accessible, login
from tests.factories import make_couple, make_practice, make_session, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser


def test_a_meeting_logged_from_the_agenda_is_confirmed_and_counts_in_the_exported_hours(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    trainee = make_user(practice, "Tess Trainee", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=trainee)
    couple = make_couple(trainee)
    make_session(couple, days_ago=3, duration_minutes=60)
    Flag.objects.create(
        couple=couple,
        kind=FlagKind.GONE_QUIET,
        opened_on=timezone.localdate() - datetime.timedelta(days=1),
        detail="No session for 21 days after a rupture.",
    )
    partners = [p.display_name for p in couple.partners.all()]

    login(page, live_server, supervisor)
    page.get_by_role("link", name="Supervision log & hours").click()
    page.get_by_role("link", name="Log a meeting").click()
    agenda = page.locator(f"#agenda-{trainee.pk}")
    expect(agenda).to_contain_text("Gone quiet")
    expect(agenda).to_contain_text("Unacknowledged")
    assert_accessible(page)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    page.locator('input[name="held_on"]').fill(yesterday.isoformat())
    page.locator('input[name="starts_at_time"]').fill("09:30")
    page.locator('input[name="duration_minutes"]').fill("90")
    page.get_by_label("Recording (audio or video)").check()
    agenda.get_by_label("Tess Trainee").check()
    agenda.get_by_label(couple.case_code).check()
    page.get_by_label("Notes").fill("Went over the walk-out and the repair plan.")
    page.get_by_role("button", name="Log the meeting").click()
    expect(page.get_by_text("Meeting logged.")).to_be_visible()
    led = page.locator("#meetings-led")
    expect(led).to_contain_text("Tess Trainee unconfirmed")
    expect(led).to_contain_text(couple.case_code)

    page.context.clear_cookies()
    login(page, live_server, trainee)
    page.get_by_role("link", name="Supervision log & hours").click()
    entry = page.locator("#meetings-attended tbody tr").first
    expect(entry).to_contain_text("Sam Supervisor")
    expect(entry).to_contain_text("Went over the walk-out")
    entry.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Confirmed: the meeting's hours count as confirmed.")).to_be_visible()
    expect(page.locator("#meetings-attended")).to_contain_text("Confirmed")
    assert MeetingAttendance.objects.get().confirmed_by == trainee

    page.get_by_role("link", name="My hours").click()
    total = page.locator("#hours-total")
    expect(total.locator('[data-category="relational"]')).to_have_text("1.00")
    expect(total.locator('[data-category="supervision_individual"]')).to_have_text("1.50")
    expect(total.locator('[data-category="supervision_observable"]')).to_have_text("1.50")
    expect(total.locator('[data-category="supervision_confirmed"]')).to_have_text("1.50")
    assert_accessible(page)
    with page.expect_download() as started:
        page.get_by_role("link", name="Export CSV").click()
    body = Path(started.value.path()).read_text(encoding="utf-8")
    lines = body.splitlines()
    assert lines[0].startswith("Clinician,Supervisors,Month,")
    assert lines[-1].startswith("Tess Trainee,Sam Supervisor,Total,1.00,1.00,0.00,1.50,1.50")
    assert couple.case_code in body
    for name in partners:
        assert name not in body
    assert "walk-out" not in body


def test_on_a_phone_each_meeting_reads_as_a_card_and_is_confirmed_without_scrolling_sideways(
    page: Page, live_server: LiveServer
) -> None:
    """At 360 px the supervisee's log is a card per meeting, each value beside its column's
    name, and the Confirm button is within the screen, not off to the right of a table."""
    from supervision.models import MeetingFormat, SupervisionMeeting

    practice = make_practice()
    trainee = make_user(practice, "Tess Trainee", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=trainee)
    couple = make_couple(trainee)
    meeting = SupervisionMeeting.objects.create(
        practice=practice,
        supervisor=supervisor,
        starts_at=timezone.now() - datetime.timedelta(days=2),
        duration_minutes=60,
        format=MeetingFormat.INDIVIDUAL,
        notes="Went over the walk-out, the repair plan and what to try on Thursday.",
    )
    MeetingAttendance.objects.create(meeting=meeting, supervisee=trainee)
    second = make_couple(trainee)
    meeting.cases.add(couple, second)

    page.set_viewport_size({"width": 360, "height": 800})
    login(page, live_server, trainee)
    page.get_by_role("link", name="Supervision log & hours").click()
    entry = page.locator(f"#entry-{meeting.pk}")
    confirm = entry.get_by_role("button", name="Confirm")
    expect(confirm).to_be_visible()
    box = confirm.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 360, f"Confirm sits at {box} on a 360 px screen"
    label = entry.locator('td[data-label="Supervisor"]')
    assert label.evaluate("e => getComputedStyle(e, '::before').content") == '"Supervisor"'
    # A cell holding several things keeps them all beside its label, none under it.
    cases = entry.locator('td[data-label="Cases"]')
    cell = cases.bounding_box()
    assert cell is not None
    links = [cases.get_by_role("link", name=c.case_code).bounding_box() for c in (couple, second)]
    assert None not in links
    for link in links:
        assert link["x"] >= cell["x"] + 120, f"a code sits under its label: {link} in {cell}"
    # "C-…, C-…" reads as one line, not split around the comma between them.
    assert abs(links[0]["y"] - links[1]["y"]) < 5, links
    confirm.click()
    expect(page.locator(f"#entry-{meeting.pk}")).to_contain_text("Confirmed")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
