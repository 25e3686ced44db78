"""Every main page is usable on a phone: at 360 px wide nothing makes the page scroll sideways
(tables reflow or scroll inside their own box), and at 1280 px the pages look as before.

Signed in as a therapist, a supervisor and a practice admin on one invented practice, the test
visits each page at both widths and compares `document.documentElement.scrollWidth` with the
window's width. Each run writes the widths it measured to test-results/narrow-screens.txt.
Every other page (signing in, the partner's pages, each form and list) is measured the same
way in test_narrow_screens_everywhere.py, with the helpers here.
Also here: the caseload search keeps the name it was given out of every URL the browser
asks for, and a long partner name wraps in the cycle diagram instead of being cut off.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cycles.models import CaseShare, CyclePosition
from cycles.services import PartnerDetails
from exports.models import ExportJob, ExportKind
from flags.runs import run_now
from people.models import ConsultationGroup, GroupMembership, Supervision
from ruptures.codes import ConfrontationMarker, RuptureType
from sessions.models import Attendance, LeftBy
from tests.browser.conftest import login
from tests.factories import (
    make_couple,
    make_cycle_map,
    make_practice,
    make_rupture,
    make_session,
    make_user,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

    from people.models import Practice, User

pytestmark = pytest.mark.browser

WIDTHS = (360, 1280)
HEIGHT = 800
LONG_NAME = "Maximiliana Alexandrina Featherstonehaugh-Cholmondeley"
SEARCHED = "Featherstonehaugh"
# The couple page's remote-answers card once htmx has swapped it in (it loads after the page).
LOADED = "#remote:not([hx-get])"
REPORT = Path(__file__).resolve().parents[2] / "test-results" / "narrow-screens.txt"


def overflow(page: Page) -> tuple[int, int]:
    """The page's scroll width and the window's width."""
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return int(scroll), int(inner)


# The innermost elements reaching past the window's right edge: what a failure names.
PAST_THE_EDGE = """() => {
  const edge = window.innerWidth;
  const past = [...document.body.querySelectorAll("*")].filter(
    (e) => e.getBoundingClientRect().right > edge + 0.5);
  return past.filter((e) => !past.some((o) => o !== e && e.contains(o))).slice(0, 4).map(
    (e) => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined
      ? "." + String(e.className).trim().replace(/ +/g, ".") : "")
      + " (" + Math.round(e.getBoundingClientRect().right) + ")");
}"""


class Visit(NamedTuple):
    """A page to measure: its path; an element to wait for (a region htmx loads after the
    page), if any; where the visit lands when that is not the path (a redirect); and the
    status it answers with (an error page is a page people reach too)."""

    path: str
    ready: str = ""
    lands: str = ""
    status: int = 200


def measure(page: Page, who: str, paths: dict[str, str | Visit]) -> list[str]:
    """Visit each page at each width as whoever is signed in now (`who`, for the report); the
    lines measured, and the pages too wide. Each visit must land on the page it names: a
    redirect elsewhere (a 404 turned into the caseload, a sign-in page) would measure the
    wrong page."""
    lines, too_wide = [], []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        for name, target in paths.items():
            visit = target if isinstance(target, Visit) else Visit(target)
            response = page.goto(visit.path)
            assert response is not None
            assert response.status == visit.status, (
                f"{name} ({visit.path}) answered {response.status}"
            )
            landed = urlsplit(page.url)
            expected = visit.lands or urlsplit(visit.path).path
            assert landed.path == expected, f"{name} ({visit.path}) landed on {page.url}"
            if visit.ready:
                expect(page.locator(visit.ready).first).to_be_attached()
            scroll, inner = overflow(page)
            lines.append(f"{who:<12} {name:<26} {width:>5} px: scrollWidth {scroll}")
            if scroll > inner:
                past = ", ".join(page.evaluate(PAST_THE_EDGE))
                too_wide.append(f"{name} at {width} px: {scroll} > {inner}: {past}")
    return [*lines, *(f"TOO WIDE {line}" for line in too_wide)]


def measure_here(page: Page, who: str, name: str) -> list[str]:
    """The page as it is now (the answer to a form, which a visit can't reach), measured at
    each width; as `measure`."""
    lines, too_wide = [], []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        scroll, inner = overflow(page)
        lines.append(f"{who:<12} {name:<26} {width:>5} px: scrollWidth {scroll}")
        if scroll > inner:
            past = ", ".join(page.evaluate(PAST_THE_EDGE))
            too_wide.append(f"{name} at {width} px: {scroll} > {inner}: {past}")
    return [*lines, *(f"TOO WIDE {line}" for line in too_wide)]


def visit_all(
    page: Page, user: User, live_server: LiveServer, paths: dict[str, str | Visit]
) -> list[str]:
    """Sign `user` in, visit each page at each width, sign out; the lines measured, and the
    pages too wide."""
    login(page, live_server, user)
    lines = measure(page, user.get_username(), paths)
    page.context.clear_cookies()
    return lines


def report(lines: list[str], path: Path = REPORT) -> None:
    """Write the widths measured, then fail naming every page too wide."""
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    too_wide = [line for line in lines if line.startswith("TOO WIDE")]
    assert too_wide == [], "\n".join(too_wide)


def test_every_main_page_fits_a_360_px_phone_and_a_1280_px_screen(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice("Harbour Couples Practice")
    therapist = make_user(practice, "Tess Featherstonehaugh-Cholmondeley", therapist=True)
    supervisor = make_user(practice, "Sam Ashcombe-Vandersteen", supervisor=True)
    admin = make_user(practice, "Pat Admin-Lindqvist", practice_admin=True, is_staff=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    couple = make_couple(
        therapist,
        partner_a=PartnerDetails(LONG_NAME, CyclePosition.PURSUER),
        partner_b=PartnerDetails("Theo Marsh", CyclePosition.WITHDRAWER),
    )
    for n in range(12):
        make_couple(therapist, partner_a=PartnerDetails(f"Avery Longworth-Pemberton {n}"))
    make_cycle_map(couple)
    make_cycle_map(couple)
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
    make_session(couple, days_ago=10)
    run_now(practice, timezone.localdate() - datetime.timedelta(days=1))
    group = practice_group(practice, therapist)
    share = CaseShare.objects.create(couple=couple, group=group, shared_by=therapist)
    job = ExportJob.objects.create(
        requested_by=therapist,
        kind=ExportKind.COUPLE_PDF,
        filename=f"{couple.case_code}.pdf",
        content_type="application/pdf",
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    code = couple.case_code

    lines = visit_all(
        page,
        therapist,
        live_server,
        {
            "caseload": "/couples/",
            "couple page": Visit(f"/couples/{code}/", ready=LOADED),
            "session page": f"/sessions/{walk_out.pk}/",
            "measures page": f"/sessions/{walk_out.pk}/measures/",
            "cycle-map editor": f"/couples/{code}/cycle/",
            "cycle-map history": f"/couples/{code}/cycle/history/",
            "couple's details": f"/couples/{code}/edit/",
            "new session": f"/couples/{code}/sessions/new/",
            "consultation groups": "/groups/",
            "consultation group": f"/groups/{group.pk}/",
            "shared case": f"/groups/{group.pk}/cases/{share.code}/",
            "export: couple PDF": f"/couples/{code}/pdf/",
            "export: status": f"/exports/{job.token}/",
            "export: my ruptures": "/exports/caseload-ruptures/",
            "sign-off queue": "/sessions/awaiting-cosignature/",
            "security": "/accounts/2fa/",
        },
    )
    lines += visit_all(
        page,
        supervisor,
        live_server,
        {
            "supervisor review": "/supervision/",
            "therapist page": f"/supervision/therapists/{therapist.pk}/",
            "caseload (supervisor)": "/couples/",
            "couple (supervisor)": Visit(f"/couples/{code}/", ready=LOADED),
            "sign-off queue (sup.)": "/sessions/awaiting-cosignature/",
        },
    )
    lines += visit_all(
        page,
        admin,
        live_server,
        {
            "practice settings": "/practice/",
            "audit page": "/practice/audit/",
            "export: audit": "/exports/audit/",
            "nightly summaries": "/practice/nightly/",
        },
    )
    report(lines)


def practice_group(practice: Practice, therapist: User) -> ConsultationGroup:
    group = ConsultationGroup.objects.create(practice=practice, name="Thursday consultation")
    GroupMembership.objects.create(group=group, user=therapist)
    return group


def test_at_360_px_the_caseload_reads_as_one_card_per_couple(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    therapist = make_user(practice, "Tess Therapist", therapist=True)
    couple = make_couple(therapist, partner_a=PartnerDetails(LONG_NAME))
    login(page, live_server, therapist)
    page.set_viewport_size({"width": 360, "height": HEIGHT})
    page.goto("/couples/")
    row = page.locator("#caseload-table tbody tr").filter(has_text=couple.case_code)
    # Each cell on a line of its own, labelled with its column, all inside the window.
    case, partners = row.locator("td").nth(0), row.locator("td").nth(1)
    label = partners.evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"Partners"', label
    case_box, partners_box = case.bounding_box(), partners.bounding_box()
    assert case_box is not None
    assert partners_box is not None
    assert partners_box["y"] >= case_box["y"] + case_box["height"] - 1  # below, not beside
    box = row.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 360
    assert overflow(page)[0] <= 360
    # At 1280 the caseload is the table it was: the cells side by side, no labels.
    page.set_viewport_size({"width": 1280, "height": HEIGHT})
    case_box, partners_box = case.bounding_box(), partners.bounding_box()
    assert case_box is not None
    assert partners_box is not None
    assert abs(partners_box["y"] - case_box["y"]) < 2
    assert partners.evaluate("e => getComputedStyle(e, '::before').content") in ("none", "normal")


def test_a_long_partner_name_wraps_in_the_diagram_at_both_widths(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    therapist = make_user(practice, "Tess Therapist", therapist=True)
    couple = make_couple(therapist, partner_a=PartnerDetails(LONG_NAME, CyclePosition.PURSUER))
    make_cycle_map(couple)
    login(page, live_server, therapist)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.goto(f"/couples/{couple.case_code}/")
        heading = page.locator("svg.cycle-diagram text.column-head").first
        drawn = heading.text_content() or ""
        assert re.sub(r"\s", "", drawn).startswith(re.sub(r"\s", "", LONG_NAME))
        # Drawn inside the diagram, in the width of its column (280 of the 760 units).
        bbox = heading.evaluate("e => { const b = e.getBBox(); return [b.x, b.width]; }")
        assert bbox[0] >= 0, bbox
        assert bbox[0] + bbox[1] <= 330, bbox


def test_the_caseload_search_puts_no_name_in_any_url(page: Page, live_server: LiveServer) -> None:
    practice = make_practice()
    therapist = make_user(practice, "Tess Therapist", therapist=True)
    wanted = make_couple(therapist, partner_a=PartnerDetails(LONG_NAME))
    other = make_couple(therapist)
    login(page, live_server, therapist)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))

    table = page.locator("#caseload-table")
    page.evaluate("window.__marker = 1")
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true") as hx:
        page.get_by_label("Search by name or case code").fill(SEARCHED)
    assert hx.value.ok
    assert hx.value.request.method == "POST"
    expect(table.get_by_role("link", name=wanted.case_code)).to_be_visible()
    expect(table.get_by_role("link", name=other.case_code)).to_have_count(0)
    assert page.evaluate("window.__marker") == 1, "the page reloaded instead of swapping"
    expect(page).to_have_url(f"{live_server.url}/couples/")

    # Without htmx's help too: the form's own submit posts and lands on the same address.
    with page.expect_navigation():
        page.evaluate("document.getElementById('caseload-filters').submit()")
    expect(page).to_have_url(f"{live_server.url}/couples/")
    expect(table.get_by_role("link", name=wanted.case_code)).to_be_visible()
    expect(table.get_by_role("link", name=other.case_code)).to_have_count(0)

    history = page.evaluate("location.href + ' ' + document.referrer")
    assert SEARCHED not in history
    assert [url for url in asked if SEARCHED.lower() in url.lower()] == []
