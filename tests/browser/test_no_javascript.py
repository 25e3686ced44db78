"""The therapist's forms work as plain HTML forms in a browser with JavaScript turned off:
every htmx form has a real `action`, every button is a real submit, and the server answers a
plain post with a redirect or the whole page."""

from __future__ import annotations

import datetime
import re
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cycles.models import EmotionKind
from ruptures.models import Rupture
from tests.browser.conftest import TIMEOUT_MS, login
from tests.factories import make_couple, make_cycle_map, make_emotion, make_practice, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from pytest_django.live_server_helper import LiveServer

    from people.models import User
    from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser


@pytest.fixture
def page_without_js(
    browser: Browser, live_server: LiveServer, page_problems: PageProblems
) -> Generator[Page]:
    """Like the `page` fixture, in a context with JavaScript disabled.

    Without JavaScript there are no init scripts (so no CSP listener); Chromium still reports
    CSP violations and failed loads on the console and the network, and those fail the test.
    """
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    new_page = context.new_page()
    new_page.on("console", page_problems.on_console)
    new_page.on("response", page_problems.on_response)
    new_page.on("requestfailed", page_problems.on_request_failed)
    # A form post navigates away while Chromium may still be fetching the page's icon: that
    # aborted load is the browser's, not a missing resource.
    page_problems.allow(r"net::ERR_ABORTED GET \S+/static/img/favicon\.svg$")
    try:
        yield new_page
        problems = page_problems.unexpected()
        if problems:
            pytest.fail(
                "The browser reported problems during the test:\n  " + "\n  ".join(problems),
                pytrace=False,
            )
    finally:
        context.close()


def a_therapist() -> User:
    make_emotion("anger", EmotionKind.SECONDARY)
    make_emotion("fear", EmotionKind.PRIMARY)
    make_emotion("hurt", EmotionKind.PRIMARY)
    return make_user(make_practice(), "Robin Therapist", therapist=True)


def test_session_and_rupture_forms_work_as_plain_posts(
    page_without_js: Page, live_server: LiveServer
) -> None:
    page = page_without_js
    therapist = a_therapist()
    couple = make_couple(therapist)
    login(page, live_server, therapist)
    page.goto(couple.get_absolute_url())

    page.get_by_role("link", name="Log a session").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a session")
    date = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    page.locator("#id_date").fill(date)
    page.locator("#id_start_time").fill("14:00")
    page.locator("#id_end_time").fill("13:30")
    page.get_by_label("Progress note").fill("Slowed the cycle down.")
    page.get_by_label("Private psychotherapy note").fill("I felt rushed.")
    with page.expect_navigation():
        page.get_by_role("button", name="Log the session").click()

    # The error sits beside the End field, and everything typed is still there.
    end = page.locator("#id_end_time")
    end_field = page.locator(".field", has=end)
    expect(end_field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(end_field).to_contain_text("The end must be after the start.")
    expect(end).to_have_attribute("aria-invalid", "true")
    expect(end).to_have_attribute("aria-describedby", re.compile(r"\bid_end_time_error\b"))
    expect(page.locator("#id_end_time_error")).to_have_text("The end must be after the start.")
    expect(page.locator(".has-error")).to_have_count(1)
    expect(page.locator("#id_date")).to_have_value(date)
    expect(page.locator("#id_start_time")).to_have_value(re.compile(r"^14:00"))
    expect(end).to_have_value(re.compile(r"^13:30"))
    expect(page.get_by_label("Progress note")).to_have_value("Slowed the cycle down.")
    expect(page.get_by_label("Private psychotherapy note")).to_have_value("I felt rushed.")

    end.fill("14:50")
    with page.expect_navigation():
        page.get_by_role("button", name="Log the session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session 1")

    # Without JavaScript the type can't redraw the form: both marker groups are there.
    form = page.locator("#rupture-add")
    expect(form.get_by_role("group", name="Withdrawal markers")).to_be_visible()
    expect(form.get_by_role("group", name="Confrontation markers")).to_be_visible()

    # A marker of the other type is refused, next to the markers, with the choices kept.
    form.get_by_label("Withdrawal (moving away)").check()
    form.get_by_label("Content/affect split").check()
    form.get_by_label("Complaints about progress").check()
    form.get_by_role("group", name="Who moved").get_by_label("Partner B").check()
    form.get_by_role("group", name="Significance").get_by_label("2", exact=True).check()
    form.locator("#id_new-note").fill("Talked about work instead.")
    with page.expect_navigation():
        form.get_by_role("button", name="Record the rupture").click()
    form = page.locator("#rupture-add")
    expect(form.get_by_role("group", name="Confrontation markers")).to_contain_text(
        "These are confrontation markers; this rupture is a withdrawal."
    )
    expect(form.get_by_label("Withdrawal (moving away)")).to_be_checked()
    expect(form.get_by_label("Content/affect split")).to_be_checked()
    expect(form.locator("#id_new-note")).to_have_value("Talked about work instead.")
    assert not Rupture.objects.filter(couple=couple).exists()

    form.get_by_label("Complaints about progress").uncheck()
    with page.expect_navigation():
        form.get_by_role("button", name="Record the rupture").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded the rupture.")
    item = page.locator(".rupture-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("W2")
    expect(item).to_contain_text("Partner B → the therapist")
    expect(item).to_contain_text("Content/affect split")
    rupture = Rupture.objects.get(couple=couple)
    assert rupture.markers.labels() == ["Content/affect split"]
    assert rupture.note == "Talked about work instead."


def test_cycle_map_editor_adds_a_step_with_a_full_page_submit(
    page_without_js: Page, live_server: LiveServer
) -> None:
    page = page_without_js
    therapist = a_therapist()
    couple = make_couple(therapist)
    make_cycle_map(couple)
    login(page, live_server, therapist)
    page.goto(f"/couples/{couple.case_code}/cycle/")
    partner_a = couple.partners.get(label="A").display_name

    page.locator("#id_A-0-text").fill("she checks her phone")
    page.locator("#id_A-2-term").fill("hurt")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Add a step for {partner_a}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Map the cycle")
    expect(page.locator("input[name=A-TOTAL_FORMS]")).to_have_value("6")
    new_kind = page.locator("#id_A-5-kind")
    expect(new_kind).to_have_value("")
    expect(new_kind).to_be_focused()  # the autofocus attribute, honoured on page load
    expect(page.locator("#id_A-0-text")).to_have_value("she checks her phone")
    expect(page.locator("#id_A-2-term")).to_have_value("hurt")
    expect(page.locator("#id_B-2-text")).to_have_value("goes quiet")

    new_kind.select_option("body")
    page.locator("#id_A-5-text").fill("jaw clenches")
    with page.expect_navigation():
        page.get_by_role("button", name="Save as a new revision").click()

    expect(page).to_have_url(f"{live_server.url}{couple.get_absolute_url()}")
    expect(page.get_by_role("status")).to_contain_text("Saved revision 2 of the map.")
    words = page.locator(".chains-in-words")
    expect(words).to_contain_text("she checks her phone")
    expect(words).to_contain_text("Body response: jaw clenches")
    expect(words).to_contain_text("Primary (underlying) emotion: hurt")
