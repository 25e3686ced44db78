"""A supervisor exports the rupture codes in Chromium: the export starts without waiting, its
page shows where it stands, the file downloads; the link is nobody else's and expires."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from people.models import Supervision
from tests.browser.conftest import assert_accessible, login
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser


def test_a_supervisor_exports_the_rupture_codes_and_only_they_may_download_them(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    therapist = make_user(practice, "Tess Therapist", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    colleague = make_user(practice, "Cole Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    couple = make_couple(therapist)
    make_rupture(make_session(couple, days_ago=3), significance=4)

    login(page, live_server, supervisor)
    page.get_by_role("link", name="Supervision", exact=True).click()
    page.get_by_role("button", name="Export rupture codes (CSV)").click()

    # The request only starts the job; its page says where it stands, then offers the file.
    status = page.locator("#export-status")
    expect(status).to_be_visible()
    download_link = page.locator("#export-download")
    expect(download_link).to_be_visible(timeout=15_000)
    assert_accessible(page)
    with page.expect_download() as started:
        download_link.click()
    body = Path(started.value.path()).read_text(encoding="utf-8")
    assert couple.case_code in body
    assert body.splitlines()[0].startswith("therapist,")

    href = download_link.get_attribute("href")
    assert href
    other = Client()
    other.force_login(colleague)
    assert other.get(href, secure=True).status_code == 404

    # 16 minutes on, the browser's session has ended too (15 idle minutes): signed in again,
    # the page says the download expired, and the link is refused.
    status_url = page.url
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=16), tick=True):
        mine = Client()
        mine.force_login(supervisor)
        assert "This download has expired" in mine.get(status_url, secure=True).text
        assert mine.get(href, secure=True).status_code == 404
