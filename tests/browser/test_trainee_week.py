"""Issue 19's "Done when", in Chromium: a trainee and their supervisor go through a week.

Each works in their own browser (a context each, signed in once through the real form), as two
people at two desks would:

1. The trainee logs three sessions of the past week through the session form, the day typed
   in the practice's format (DD/MM/YYYY here), and signs each.
2. The supervisor opens Sign-off (oldest first), sends one back with a comment and co-signs
   the other two.
3. The trainee finds it under "Sent back", amends the note with a reason (the original stays
   readable) and signs again.
4. The supervisor logs a supervision meeting from the agenda, which shows the note awaiting
   co-signature, looks at the supervisees' hours (one note awaiting, the hour unconfirmed),
   then co-signs the amended note.
5. The trainee confirms the meeting, reads their hours (relational apart from individual,
   supervision confirmed) and exports them as a CSV and a PDF: case codes, no partner names.
6. The supervisor's hours overview shows the trainee's hours beside open flags and unsigned
   notes: nothing left to sign.

People and couples come from the factories; everything else is done through the pages.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Generator
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from pypdf import PdfReader

from cycles.models import Couple, CyclePosition
from cycles.services import PartnerDetails
from people.models import Supervision
from tests.browser.conftest import CSP_LISTENER, TIMEOUT_MS, assert_accessible, login
from tests.factories import make_couple, make_practice, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page
    from pytest_django.live_server_helper import LiveServer

    from people.models import User
    from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser

DAY_FORMAT = "d/m/Y"  # the practice's: typed and shown as 02/12/2026
INDIVIDUAL = "Individual with partner A"

NOTE_FIRST = "Traced the cycle: Maya pursued, Tom went quiet."
NOTE_ALONE = "Maya alone: her fear of being left behind."
NOTE_SENT_BACK = "Named the cycle: Ada's protest, Ben's retreat into work."
ASK = "Say what Ben answered when Ada asked him to stay."
AMENDED = NOTE_SENT_BACK + " Ben: 'I stay quiet so it doesn't get worse.'"
REASON = "Added what my supervisor asked for."
MEETING_NOTES = "Went over Ben's withdrawal and how to slow the cycle down."


@dataclass(frozen=True)
class Held:
    """One session of the week as the trainee types it into the form."""

    couple: Couple
    ordinal: int  # the couple's session number it becomes
    day: datetime.date
    start: str
    end: str
    format: str  # the radio's label
    note: str


def days_before(today: datetime.date, days: int) -> datetime.date:
    return today - datetime.timedelta(days=days)


def typed(day: datetime.date) -> str:
    """The day as the practice's format asks for it (and shows it)."""
    return f"{day:%d/%m/%Y}"


@pytest.fixture
def boss(
    request: pytest.FixtureRequest,
    page: Page,
    live_server: LiveServer,
    page_problems: PageProblems,
) -> Generator[Page]:
    """The supervisor's browser: a second context set up and watched as the `page` fixture sets
    up its own. Its problems go to the same `page_problems`, which `page` checks at its teardown
    (after this one's); a failed test leaves a screenshot of this page too."""
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(script=CSP_LISTENER)
    context.expose_function("__reportCspViolation", page_problems.on_csp_violation)
    other = context.new_page()
    other.on("console", page_problems.on_console)
    other.on("pageerror", page_problems.on_page_error)
    other.on("response", page_problems.on_response)
    other.on("requestfailed", page_problems.on_request_failed)
    try:
        yield other
        with suppress(PlaywrightError):
            other.evaluate("0")  # let events already fired reach Python
        rep_call = getattr(request.node, "rep_call", None)
        if rep_call is not None and rep_call.failed:
            path = request.config.rootpath / "test-results" / f"{Path(__file__).stem}.boss.png"
            path.parent.mkdir(exist_ok=True)
            with suppress(PlaywrightError):
                other.screenshot(path=path, full_page=True)
    finally:
        context.close()


def told(page: Page) -> Locator:
    """The messages the last request left (base.html's role="status" list)."""
    return page.locator("main > [role=status]")


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


# -- the trainee's steps ------------------------------------------------------------------------


def log_and_sign(page: Page, held: Held) -> None:
    """From the caseload, log the session through the form, then sign its record."""
    nav(page, "Caseload")
    page.get_by_role("link", name=held.couple.case_code, exact=True).click()
    page.get_by_role("link", name="Log a session").click()
    date = page.get_by_label("Date:", exact=True)
    expect(date).to_have_attribute("placeholder", "DD/MM/YYYY")  # the form asks for the format
    date.fill(typed(held.day))
    page.get_by_label("Start:", exact=True).fill(held.start)
    page.get_by_label("End:", exact=True).fill(held.end)
    page.get_by_label(held.format, exact=True).check()
    page.get_by_label("Progress note").fill(held.note)
    page.get_by_role("button", name="Log the session").click()

    expect(told(page)).to_contain_text(f"Logged session {held.ordinal}.")
    # Read back as typed: day first, in the practice's format.
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"Session {held.ordinal}")
    expect(heading).to_contain_text(f"{typed(held.day)}, {held.start}")
    expect(page.locator("#signoff-state")).to_contain_text("Not signed yet")

    page.get_by_role("button", name="Sign this record").click()
    expect(told(page)).to_contain_text(
        f"Signed session {held.ordinal}: its record is locked, and a change is an amendment. "
        "It now waits for your supervisor's co-signature."
    )
    expect(page.locator("#signoff-state")).to_contain_text("Awaiting co-signature")
    expect(page.get_by_role("button", name="Sign this record")).to_have_count(0)


def amend_and_sign_again(page: Page, held: Held) -> None:
    """The sent-back note: read the comment, amend with a reason, sign again."""
    nav(page, "Sign-off")
    sent_back = page.locator("#sent-back")
    expect(sent_back).to_contain_text(f"{held.couple.case_code} · session {held.ordinal}")
    sent_back.get_by_role("link", name=f"{held.couple.case_code} · session {held.ordinal}").click()
    expect(page.locator("#signoff-state")).to_contain_text("Changes requested")
    expect(page.locator("#signoff-history")).to_contain_text(f"by Sam Supervisor: “{ASK}”")

    page.get_by_role("link", name="Edit the session").click()
    expect(page.locator("#amendment-notice")).to_contain_text(f"Session {held.ordinal} is signed.")
    expect(page.get_by_label("Progress note")).to_have_value(held.note)
    page.get_by_label("Progress note").fill(AMENDED)
    page.get_by_label("Reason for the amendment").fill(REASON)
    page.get_by_role("button", name="Save").click()

    expect(told(page)).to_contain_text(f"Saved session {held.ordinal}.")
    expect(page.locator("#signoff")).to_contain_text(f"Tara Trainee · Reason: {REASON}")
    change = page.locator("#amendment-1 tbody tr")
    expect(change).to_have_count(1)
    expect(change.locator("td").nth(0)).to_have_text("Session: Progress note")
    expect(change.locator("td").nth(1)).to_have_text(NOTE_SENT_BACK)  # the original, kept
    expect(change.locator("td").nth(2)).to_have_text(AMENDED)

    page.get_by_role("button", name="Sign again").click()
    expect(told(page)).to_contain_text(
        f"Signed session {held.ordinal}: its record is locked, and a change is an amendment. "
        "It now waits for your supervisor's co-signature."
    )
    expect(page.locator("#signoff-state")).to_contain_text("Awaiting co-signature")
    nav(page, "Sign-off")
    expect(page.locator("#sent-back")).to_contain_text("No record of yours was sent back.")


# -- the supervisor's steps ---------------------------------------------------------------------


def queue_row(page: Page, held: Held) -> Locator:
    return (
        page.locator("#awaiting tbody tr")
        .filter(has_text=held.couple.case_code)
        .filter(has_text=f"Session {held.ordinal}")
    )


def review(page: Page, held: Held, *, send_back: str = "") -> None:
    """From the Sign-off queue: open the record, read it, co-sign it or send it back."""
    queue_row(page, held).get_by_role("link", name=f"Session {held.ordinal}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Session {held.ordinal}")
    expect(page.locator("main")).to_contain_text(held.note)
    if send_back:
        page.get_by_label("Comment for the therapist").fill(send_back)
        page.get_by_role("button", name="Request changes").click()
        expect(told(page)).to_contain_text(f"Sent session {held.ordinal} back with your comment.")
    else:
        page.get_by_role("button", name="Co-sign").click()
        expect(told(page)).to_contain_text(f"Co-signed session {held.ordinal}.")
    # Back on the queue, where the record no longer waits.
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-off")
    expect(queue_row(page, held)).to_have_count(0)


def overview_row(page: Page, trainee: User) -> Locator:
    page.get_by_role("link", name="Supervisees' hours").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your supervisees' hours")
    row = page.locator(f"#clinician-{trainee.pk}")
    expect(row.get_by_role("rowheader")).to_have_text("Tara Trainee")
    return row


def expect_cells(row: Locator, *cells: str) -> None:
    """The overview's numbers after the name: direct, relational, supervision, confirmed,
    open flags, unsigned, awaiting co-signature, sent back to amend."""
    expect(row.locator("td")).to_have_text(list(cells))


# -- the week -----------------------------------------------------------------------------------


def test_a_trainee_and_supervisor_go_through_a_week_and_export_the_hours(
    page: Page, boss: Page, live_server: LiveServer
) -> None:
    practice = make_practice()
    practice.date_format = DAY_FORMAT
    practice.save(update_fields=["date_format"])
    # Every day is counted from one "today" in the practice's zone, so a run that crosses
    # midnight types and expects the same days throughout.
    today = timezone.localdate(timezone=ZoneInfo(practice.time_zone))
    trainee = make_user(practice, "Tara Trainee", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(
        practice=practice, supervisor=supervisor, therapist=trainee, notes_need_cosign=True
    )
    lindqvist = make_couple(
        trainee,
        partner_a=PartnerDetails("Maya Lindqvist", CyclePosition.PURSUER),
        partner_b=PartnerDetails("Tom Lindqvist", CyclePosition.WITHDRAWER),
    )
    okafor = make_couple(
        trainee,
        partner_a=PartnerDetails("Ada Okafor", CyclePosition.PURSUER),
        partner_b=PartnerDetails("Ben Okafor", CyclePosition.WITHDRAWER),
    )
    partner_names = ["Maya", "Tom", "Lindqvist", "Ada", "Ben", "Okafor"]
    week = [
        # 60 + 90 conjoint minutes: 2.50 relational hours; 45 individual minutes: 0.75.
        Held(lindqvist, 1, days_before(today, 6), "10:00", "11:00", "Conjoint", NOTE_FIRST),
        Held(okafor, 1, days_before(today, 4), "14:00", "15:30", "Conjoint", NOTE_SENT_BACK),
        Held(lindqvist, 2, days_before(today, 2), "09:00", "09:45", INDIVIDUAL, NOTE_ALONE),
    ]
    first, sent_back, individual = week
    codes = sorted([lindqvist.case_code, okafor.case_code])

    # 1. The trainee logs and signs the week's sessions.
    login(page, live_server, trainee)
    for held in week:
        log_and_sign(page, held)
    nav(page, "Sign-off")
    expect(page.locator("#unsigned")).to_contain_text("Every session you held is signed.")

    # 2. The supervisor, at their own desk: oldest first; one sent back, two co-signed.
    login(boss, live_server, supervisor)
    nav(boss, "Sign-off")
    expect(boss.locator("#awaiting-head")).to_have_text("Awaiting your co-signature (3)")
    rows = boss.locator("#awaiting tbody tr")
    expect(rows).to_have_count(3)
    for row, held in zip(rows.all(), week, strict=True):
        cells = row.locator("td")
        expect(cells.nth(0)).to_have_text(held.couple.case_code)
        expect(cells.nth(1)).to_have_text(f"Session {held.ordinal}")
        expect(cells.nth(2)).to_have_text("Tara Trainee")
        expect(cells.nth(3)).to_have_text(typed(held.day))
    assert_accessible(boss)
    review(boss, sent_back, send_back=ASK)
    review(boss, first)
    review(boss, individual)
    expect(boss.locator("#awaiting")).to_contain_text("Nothing waits for your co-signature.")

    # 3. The trainee amends the sent-back note, the original kept, and signs again.
    amend_and_sign_again(page, sent_back)

    # 4. The supervisor logs the week's meeting from the agenda, before co-signing.
    nav(boss, "Supervision log & hours")
    boss.get_by_role("link", name="Log a meeting").click()
    agenda = boss.locator(f"#agenda-{trainee.pk}")
    on_agenda = agenda.locator(".agenda-case")
    expect(on_agenda).to_have_count(1)
    expect(on_agenda).to_contain_text(okafor.case_code)
    expect(on_agenda.locator(".agenda-cosign")).to_have_text(
        "Awaiting your co-signature: session 1"
    )
    expect(agenda.get_by_text("Other cases of Tara Trainee (1)")).to_be_visible()
    assert_accessible(boss)
    yesterday = days_before(today, 1)
    held_on = boss.get_by_label("Date:", exact=True)
    expect(held_on).to_have_attribute("placeholder", "DD/MM/YYYY")
    held_on.fill(typed(yesterday))
    boss.get_by_label("Start time").fill("12:00")
    boss.get_by_label("Duration (minutes)").fill("60")
    expect(boss.get_by_label("Individual", exact=True)).to_be_checked()
    agenda.get_by_label("Tara Trainee").check()
    on_agenda.get_by_label(okafor.case_code).check()
    boss.get_by_label("Notes").fill(MEETING_NOTES)
    boss.get_by_role("button", name="Log the meeting").click()
    expect(told(boss)).to_contain_text(
        "Meeting logged. Each supervisee present can now confirm it."
    )
    led = boss.locator("#meetings-led tbody tr")
    expect(led).to_have_count(1)
    expect(led).to_contain_text(f"{typed(yesterday)}, 12:00")
    expect(led).to_contain_text("Tara Trainee unconfirmed")
    expect(led.get_by_role("link")).to_have_text([okafor.case_code])

    # The overview before co-signing: the amended note waits, the hour is unconfirmed.
    row = overview_row(boss, trainee)
    expect_cells(row, "3.25", "2.50", "1.00", "0.00", "0", "0", "1", "0")

    nav(boss, "Sign-off")
    expect(boss.locator("#awaiting-head")).to_have_text("Awaiting your co-signature (1)")
    review(boss, replace(sent_back, note=AMENDED))
    expect(boss.locator("#awaiting")).to_contain_text("Nothing waits for your co-signature.")

    # 5. The trainee confirms the meeting and exports the hours.
    nav(page, "Supervision log & hours")
    entry = page.locator("#meetings-attended tbody tr")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Sam Supervisor")
    expect(entry).to_contain_text(MEETING_NOTES)
    entry.get_by_role("button", name="Confirm").click()
    expect(told(page)).to_contain_text("Confirmed: the meeting's hours count as confirmed.")
    expect(entry.locator(".badge")).to_have_text("Confirmed")

    page.get_by_role("link", name="My hours").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My hours for licensure")
    total = page.locator("#hours-total")
    for category, value in {
        "direct": "3.25",
        "relational": "2.50",
        "individual": "0.75",
        "supervision": "1.00",
        "supervision_individual": "1.00",
        "supervision_group": "0.00",
        "supervision_confirmed": "1.00",
        "supervision_unconfirmed": "0.00",
    }.items():
        expect(total.locator(f'[data-category="{category}"]')).to_have_text(value)
    progress = page.locator("#hours-progress > div")
    expect(progress.filter(has_text="Direct client contact").locator("dd")).to_contain_text(
        "3.25 of"
    )
    expect(progress.filter(has_text="Relational").locator("dd")).to_contain_text("2.50 of")
    expect(
        page.get_by_text("Supervision confirmed: 1.00 h; awaiting confirmation: 0.00 h.")
    ).to_be_visible()
    assert_accessible(page)

    with page.expect_download() as started:
        page.get_by_role("link", name="Export CSV").click()
    body = Path(started.value.path()).read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(body)))
    assert table[0][:4] == ["Clinician", "Supervisors", "Month", "Direct client-contact hours"]
    assert table[0][-1] == "Case codes"
    assert table[-1] == [
        "Tara Trainee",
        "Sam Supervisor",
        "Total",
        "3.25",  # direct
        "2.50",  # relational
        "0.75",  # individual
        "1.00",  # supervision
        "1.00",  # individual supervision
        "0.00",  # group supervision
        "0.00",  # with observable data
        "1.00",  # confirmed
        "0.00",  # unconfirmed
        " ".join(codes),
    ]
    for name in partner_names:
        assert name not in body
    for text in [*(held.note for held in week), AMENDED, MEETING_NOTES]:
        assert text not in body

    with page.expect_download() as started:
        page.get_by_role("link", name="Export PDF").click()
    pdf = Path(started.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    text = " ".join(
        " ".join(sheet.extract_text().split()) for sheet in PdfReader(io.BytesIO(pdf)).pages
    )
    assert "Hours for licensure: Tara Trainee" in text
    # A narrow column wraps a code after its hyphen ("C- AZ5UNR"): compare without spaces.
    for code in codes:
        assert code in text.replace(" ", ""), text
    for name in partner_names:
        assert name not in text

    # 6. The supervisor's overview: the hours beside flags and unsigned notes, nothing left.
    nav(boss, "Supervision log & hours")
    row = overview_row(boss, trainee)
    expect_cells(row, "3.25", "2.50", "1.00", "1.00", "0", "0", "0", "0")
    row.get_by_role("link", name="Tara Trainee").click()
    expect(boss.get_by_role("heading", level=1)).to_have_text("Tara Trainee: hours for licensure")
    theirs = boss.locator("#hours-total")
    expect(theirs.locator('[data-category="individual"]')).to_have_text("0.75")
    expect(theirs.locator('[data-category="supervision_confirmed"]')).to_have_text("1.00")
