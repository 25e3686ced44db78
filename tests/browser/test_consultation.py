"""A case shared into a consultation group, in Chromium: the therapist shares it from the
couple page; another member of the group signs in, finds it through Consultation groups, reads
it de-identified (the cycle diagram and the session timeline, no names) and downloads its PDF.

Live-server tests run on a flushed database, so the test makes its own emotion terms.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from cycles.models import CaseShare, CyclePosition, EmotionKind
from cycles.services import PartnerDetails
from people.models import ConsultationGroup, GroupMembership
from ruptures.codes import RuptureStatus, RuptureType
from ruptures.services import rupture_repair
from tests.browser.conftest import assert_accessible, login
from tests.consultation import found_in, pdf_text
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
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

    from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser

NAME_A = "Rosalind Featherstonehaugh"
NAME_B = "Peregrine Cholmondeley-Warner"


def test_a_member_reads_a_shared_case_deidentified_and_downloads_its_pdf(
    page: Page, live_server: LiveServer, page_problems: PageProblems, tmp_path: Path
) -> None:
    make_emotion("fear", EmotionKind.PRIMARY)
    make_emotion("anger", EmotionKind.SECONDARY)
    practice = make_practice()
    therapist = make_user(practice, "Sharing Therapist", therapist=True)
    member = make_user(practice, "Reading Member", therapist=True)
    group = ConsultationGroup.objects.create(practice=practice, name="Thursday consultation")
    for person in (therapist, member):
        GroupMembership.objects.create(group=group, user=person)
    couple = make_couple(
        therapist,
        partner_a=PartnerDetails(NAME_A, CyclePosition.PURSUER, "she/her"),
        partner_b=PartnerDetails(NAME_B, CyclePosition.WITHDRAWER, "he/him"),
    )
    make_cycle_map(couple)  # free text beside the terms: "partner goes quiet", "criticises"
    first = make_session(couple, days_ago=14, progress_note="Met near the old mill.")
    later = make_session(couple, days_ago=7)
    rupture = make_rupture(first, rupture_type=RuptureType.CONFRONTATION, note="Raised voices.")
    rupture_repair(rupture=rupture, repaired_in=later, status=RuptureStatus.RESOLVED)
    hidden = [NAME_A, NAME_B, couple.case_code, "partner goes quiet", "criticises", "old mill"]

    # The therapist shares the couple from its page.
    login(page, live_server, therapist)
    page.goto(couple.get_absolute_url())
    sharing = page.locator("section", has=page.get_by_role("heading", name="Consultation groups"))
    expect(sharing.get_by_text("Not shared with any group.")).to_be_visible()
    sharing.get_by_label("Share, de-identified, into").select_option(label=group.name)
    sharing.get_by_role("button", name="See what they will see…").click()
    # The preview: what the group will see, before anything is shared.
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Share into {group.name}?")
    expect(page.get_by_role("heading", name="The cycle (vocabulary terms only)")).to_be_visible()
    assert not CaseShare.objects.filter(couple=couple, group=group).exists()
    page.get_by_role("button", name=f"Share into {group.name}").click()
    share = CaseShare.objects.get(couple=couple, group=group)
    expect(page.get_by_role("status")).to_contain_text(
        f"Shared into {group.name}, de-identified as {share.code}."
    )
    expect(sharing).to_contain_text(f"Shared into {group.name} as {share.code}")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    # A member of the group finds it through Consultation groups.
    login(page, live_server, member)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Consultation groups"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultation groups")
    page.get_by_role("link", name=group.name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(group.name)
    assert found_in(page.content(), hidden) == []
    assert_accessible(page)

    page.get_by_role("link", name=share.code).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Shared case {share.code}")
    expect(page.get_by_role("img", name="The couple's negative cycle")).to_be_visible()
    expect(page.locator("svg.cycle-diagram")).to_contain_text("anger")
    expect(page.locator("svg.cycle-diagram")).to_contain_text("fear")
    ruptures = page.locator("section", has=page.get_by_role("heading", name="Ruptures by session"))
    expect(ruptures.locator("tbody tr")).to_have_count(1)
    expect(ruptures).to_contain_text("Confrontation (moving against)")
    expect(ruptures).to_contain_text("Resolved in session 2")
    timeline = page.locator(
        "section", has=page.get_by_role("heading", name="Sessions and measures")
    )
    expect(timeline.locator("tbody tr").nth(0)).to_have_text(re.compile(r"^\s*1\s*Conjoint"))
    expect(timeline.locator("tbody tr").nth(1)).to_have_text(re.compile(r"^\s*2\s*Conjoint"))
    expect(timeline.locator("tbody tr")).to_have_count(2)
    assert found_in(page.content(), hidden) == []
    assert_accessible(page)

    # Chromium turns the navigation into a download and reports the navigation as aborted.
    page_problems.allow(rf"net::ERR_ABORTED GET .*/cases/{share.code}/pdf/$")
    with page.expect_download() as download:
        page.get_by_role("link", name="Case formulation (PDF)").click()
    assert download.value.suggested_filename == f"{share.code}.pdf"
    saved = tmp_path / "case.pdf"
    download.value.save_as(saved)
    text = pdf_text(saved.read_bytes())
    assert found_in(text, [share.code, "anger", "Confrontation"]) == [
        share.code,
        "anger",
        "Confrontation",
    ]
    assert found_in(text, hidden) == []
