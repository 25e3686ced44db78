"""In a browser: the supervisor's review lists a walk-out's three flags as one incident with one
"Acknowledge…" link; the form htmx swaps in acknowledges the incident once, each flag in it."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from people.models import Supervision
from ruptures.models import Flag, FlagAcknowledgement, FlagKind
from supervision import review as supervision
from tests.browser.conftest import login
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser

COMMENT = "Let's talk the walk-out through on Thursday."


def test_the_supervisor_acknowledges_the_walk_out_once(page: Page, live_server: LiveServer):
    practice = make_practice()
    supervisor = make_user(practice, "Browsing Supervisor", supervisor=True)
    therapist = make_user(practice, "Browsed Therapist", therapist=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    couple = make_couple(therapist)
    rupture = make_rupture(make_session(couple, days_ago=1))
    today = supervision.practice_today(supervisor)
    flags = [
        Flag.objects.create(
            couple=couple,
            kind=kind,
            key=f"rupture:{rupture.pk}",
            opened_on=today - datetime.timedelta(days=1),
            detail="Coded detail only.",
            evidence={"ruptures": [rupture.pk], "sessions": [1]},
        )
        for kind in (
            FlagKind.UNRESOLVED_RUPTURE,
            FlagKind.CONFRONTATION_THEN_ABSENCE,
            FlagKind.HIGH_THERAPIST_CONTRIBUTION,
        )
    ]

    login(page, live_server, supervisor)
    page.goto("/supervision/")
    row = page.get_by_role("row").filter(has_text=couple.case_code)
    expect(row.get_by_text("(one incident, session 1)")).to_be_visible()
    links = row.locator("a.ack-open")
    expect(links).to_have_count(1)
    links.click()
    page.get_by_label("Comment for the therapist").fill(COMMENT)
    row.get_by_role("button", name="Acknowledge the incident").click()
    expect(row.get_by_text("Acknowledged the 3 flags of this incident together")).to_be_visible()
    expect(row.locator(".badge.ok", has_text="Acknowledged")).to_be_visible()

    saved = FlagAcknowledgement.objects.filter(comment=COMMENT)
    assert sorted(saved.values_list("flag_id", flat=True)) == sorted(f.pk for f in flags)
