"""A supervisor finds a flagged couple in the caseload review and acknowledges the flag;
the therapist then sees the comment on the couple page."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from flags.runs import run_now
from people.models import Supervision
from ruptures.codes import ConfrontationMarker, RuptureType
from ruptures.models import FlagAcknowledgement
from sessions.models import Attendance, LeftBy
from tests.browser.conftest import assert_accessible, login
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser


def test_a_supervisor_acknowledges_a_flag_and_the_therapist_sees_it(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    therapist = make_user(practice, "Tess Therapist", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    couple = make_couple(therapist)
    walk_out = make_session(
        couple, days_ago=3, attendance=Attendance.ENDED_EARLY, left_early=LeftBy.PARTNER_A
    )
    make_rupture(
        walk_out,
        rupture_type=RuptureType.CONFRONTATION,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
        therapist_contribution=4,
        significance=5,
    )
    run_now(practice, timezone.localdate() - datetime.timedelta(days=1))

    login(page, live_server, supervisor)
    page.get_by_role("link", name="Supervision", exact=True).click()
    expect(page.get_by_role("heading", name="Caseload review")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=couple.case_code)
    expect(row).to_contain_text("Confrontation then absence")
    assert_accessible(page)

    flag = row.locator("li", has_text="Confrontation then absence")
    # The review renders no form until asked: the link fetches this flag's form in place,
    # and the comment takes the focus.
    expect(flag.locator("textarea")).to_have_count(0)
    flag.get_by_role("link", name="Acknowledge").click()
    comment = flag.get_by_label("Comment for the therapist")
    expect(comment).to_be_focused()
    assert_accessible(page)
    comment.fill("Let's look at the walk-out together on Thursday.")
    follow_up = (timezone.localdate() + datetime.timedelta(days=4)).isoformat()
    flag.get_by_label("Follow up on").fill(follow_up)
    flag.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("The therapist sees your comment on the couple page")).to_be_visible()
    # The walk-out's three flags are one incident: one acknowledgement, recorded on each.
    saved = FlagAcknowledgement.objects.filter(by=supervisor)
    assert saved.count() == 3
    assert set(saved.values_list("comment", flat=True)) == {
        "Let's look at the walk-out together on Thursday."
    }

    page.context.clear_cookies()
    login(page, live_server, therapist)
    page.goto(f"{live_server.url}/couples/{couple.case_code}/")
    flags = page.locator("section", has=page.get_by_role("heading", name="Flags"))
    expect(flags).to_contain_text("Let's look at the walk-out together on Thursday.")
    expect(flags).to_contain_text("Sam Supervisor")
    assert_accessible(page)
