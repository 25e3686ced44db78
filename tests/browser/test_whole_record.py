"""A therapist produces one partner's copy of a couple's record in Chromium: from the couple
page, the copy chosen, the file prepared in the background and downloaded as one ZIP holding
that partner's individual session and not the other's."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from sessions.models import SessionFormat
from tests.browser.conftest import assert_accessible, login
from tests.factories import make_couple, make_practice, make_session, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser


def test_a_therapist_downloads_partner_a_copy_of_the_record(
    page: Page, live_server: LiveServer
) -> None:
    therapist = make_user(make_practice(), "Tess Therapist", therapist=True)
    couple = make_couple(therapist)
    make_session(couple, days_ago=9, progress_note="Together: named the cycle.")
    make_session(
        couple,
        days_ago=6,
        format=SessionFormat.INDIVIDUAL_A,
        progress_note="Avery alone: the fear of being left.",
        private_note="CANARY-browser-private-note",
    )
    make_session(
        couple, days_ago=3, format=SessionFormat.INDIVIDUAL_B, progress_note="Blake alone."
    )
    partner_a = couple.partners.get(label="A")

    login(page, live_server, therapist)
    page.goto(live_server.url + reverse("cycles:detail", args=[couple.case_code]))
    page.get_by_role("link", name="Copy of the record").click()
    expect(page.get_by_role("heading", name=f"Whole record of {couple.case_code}")).to_be_visible()
    assert_accessible(page)
    page.get_by_label(f"Partner A's copy: {partner_a.display_name}").check()
    page.get_by_role("button", name="Prepare the file").click()

    download_link = page.locator("#export-download")
    expect(download_link).to_be_visible(timeout=15_000)
    with page.expect_download() as started:
        download_link.click()
    assert started.value.suggested_filename.startswith(f"{couple.case_code}-record-a-")
    with zipfile.ZipFile(io.BytesIO(Path(started.value.path()).read_bytes())) as zipped:
        sessions = zipped.read("sessions.csv").decode()
        everything = b"".join(
            zipped.read(name) for name in zipped.namelist() if name != "record.pdf"
        ).decode()
        assert "README.txt" in zipped.namelist()
        assert zipped.read("record.pdf").startswith(b"%PDF")
    assert "Together: named the cycle." in sessions
    assert "Avery alone: the fear of being left." in sessions
    assert "Blake alone." not in everything
    assert "CANARY-browser-private-note" not in everything
