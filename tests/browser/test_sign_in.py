"""Signing in through the real form and filtering the caseload with htmx, in Chromium."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, login
from tests.factories import make_couple, make_practice, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser


def test_therapist_signs_in_and_filters_the_caseload_without_a_reload(
    page: Page, live_server: LiveServer
) -> None:
    therapist = make_user(make_practice(), "Robin Therapist", therapist=True)
    wanted = make_couple(therapist)
    other = make_couple(therapist)

    page.goto("/accounts/login/")
    assert_accessible(page)
    login(page, live_server, therapist)

    expect(page).to_have_url(f"{live_server.url}/couples/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")
    table = page.locator("#caseload-table")
    expect(table.get_by_role("link", name=wanted.case_code)).to_be_visible()
    expect(table.get_by_role("link", name=other.case_code)).to_be_visible()
    # The style sheet and htmx were served and applied (a 404 would also fail the `page` fixture).
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(244, 246, 248)"
    assert page.evaluate("typeof window.htmx") == "object"
    assert_accessible(page)

    page.evaluate("window.__marker = 1")
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true") as hx:
        page.get_by_label("Search by name or case code").fill(wanted.case_code)
    assert hx.value.ok

    # Posted, so the address keeps no search words (cycles.views.caseload).
    assert hx.value.request.method == "POST"
    expect(page).to_have_url(f"{live_server.url}/couples/")
    expect(table.get_by_role("link", name=wanted.case_code)).to_be_visible()
    expect(table.get_by_role("link", name=other.case_code)).to_have_count(0)
    assert page.evaluate("window.__marker") == 1, "the page reloaded instead of swapping"
    assert_accessible(page)


def test_wrong_password_shows_an_error_and_keeps_the_username(
    page: Page, live_server: LiveServer
) -> None:
    therapist = make_user(make_practice(), therapist=True)

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(therapist.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    form = page.locator("form", has=page.get_by_role("button", name="Sign in"))
    expect(form.get_by_role("alert")).to_contain_text(
        "username and/or password you specified are not correct"
    )
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.get_by_label("Username")).to_have_value(therapist.username)
    expect(page.get_by_label("Password")).to_have_value("")
    assert_accessible(page)


def test_filtering_replaces_the_table_instead_of_nesting_it(
    page: Page, live_server: LiveServer
) -> None:
    therapist = make_user(make_practice(), therapist=True)
    couple = make_couple(therapist)
    login(page, live_server, therapist)

    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        page.get_by_label("Search by name or case code").fill(couple.case_code)

    expect(page.locator("#caseload-table")).to_have_count(1, timeout=1_000)
