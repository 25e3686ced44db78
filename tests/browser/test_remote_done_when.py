"""Issue 22's "done when", in Chromium: the therapist gives both partners' addresses and sends
each a link about the last session; partner A answers that day, partner B a day later with the
alliance dropped, and the flag is on the couple page when the therapist looks again. Then a
safety screen by link: partner A's positive answer reaches the therapist and the supervisor,
while another therapist of the practice, partner B's link and the group see nothing of it.
The e-mail goes through a real SMTP server process; each partner uses a phone-size browser of
their own."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from people.models import Supervision, User
from ruptures.models import Flag, FlagKind
from sessions.models import MeasureDefinition
from sessions.safety import EXAMPLE_ITEMS, EXAMPLE_SCREEN
from tests.browser.conftest import login
from tests.browser.test_remote_answers import PHONE, answer
from tests.factories import make_couple, make_practice, make_session, make_user
from tests.invitations.conftest import LINK, rate
from tests.smtp_sink import SmtpSink

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from pytest_django.live_server_helper import LiveServer

    from cycles.models import Couple
    from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser

ALLIANCE = (
    "How connected did you feel with the therapist in the session?",
    "How much did you and the therapist agree on what you are working toward?",
    "How much did you agree with how you worked together in the session?",
    "Overall, how well did the session fit you?",
)


def sign_in_afresh(page: Page, live_server: LiveServer, user: User) -> None:
    """Another sign-in in the same window. The page is left first, so no request of the old
    one (the couple page's htmx card) lands after the cookies are cleared and swaps the
    sign-in form's CSRF cookie under it."""
    page.goto("about:blank")
    page.context.clear_cookies()
    login(page, live_server, user)


def send(page: Page, partner: str, questions: str) -> None:
    card = page.locator("#remote")
    card.get_by_label("Send to").select_option(label=partner)
    card.get_by_label("Questions").select_option(label=questions)
    with page.expect_navigation():
        card.get_by_role("button", name="Send the link").click()


def links(sink: SmtpSink, count: int) -> dict[str, str]:
    """The link token mailed to each address, among the first `count` messages."""
    found = {}
    for message in sink.wait_for(count)[:count]:
        match = LINK.search(message.get_content())
        assert match is not None
        found[str(message["To"])] = match.group(1)
    return found


def open_link(browser: Browser, live_server: LiveServer, token: str) -> Any:
    phone = browser.new_context(base_url=live_server.url, viewport=PHONE)
    partner = phone.new_page()
    partner.goto(f"/a/{token}/")
    return phone, partner


def answer_session(partner: Page, each: str) -> None:
    for question in ALLIANCE:
        answer(partner, question, each)
    answer(partner, "Was there tension or disagreement in the session?", "No")
    with partner.expect_navigation():
        partner.get_by_role("button", name="Send my answers").click()
    expect(partner.get_by_role("heading", level=1)).to_have_text("Thank you")


def test_both_partners_answer_remotely_and_a_safety_screen_reaches_only_the_clinicians(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    sink: SmtpSink,
    page_problems: PageProblems,
) -> None:
    MeasureDefinition.objects.create(**EXAMPLE_SCREEN)
    practice = make_practice()
    therapist = make_user(practice, "Tess Therapist", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    make_user(practice, "Cole Colleague", therapist=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    couple = make_couple(therapist)
    earlier = make_session(couple, days_ago=8)
    for partner in "AB":
        rate(earlier, partner, 9, therapist)
    make_session(couple, days_ago=1)

    login(page, live_server, therapist)
    page.goto(f"/couples/{couple.case_code}/")
    page.locator("#remote").get_by_role("link", name="Change the addresses").click()
    page.get_by_label("Partner A's e-mail address").fill("avery@example.invalid")
    page.get_by_label("Partner B's e-mail address").fill("blake@example.invalid")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    page.goto(f"/couples/{couple.case_code}/")
    send(
        page,
        "Both partners, a link each",
        "About the last session: alliance and post-session report",
    )
    mailed = links(sink, 2)
    assert sorted(mailed) == ["avery@example.invalid", "blake@example.invalid"]
    link_a, link_b = mailed["avery@example.invalid"], mailed["blake@example.invalid"]

    # The first partner answers that day, as in the room before: no flag.
    phone, first = open_link(browser, live_server, link_a)
    answer_session(first, "9")
    phone.close()
    assert not Flag.objects.open().filter(couple=couple, kind=FlagKind.ALLIANCE_DROP).exists()

    # The other answers the next day, the alliance down by more than the practice's points;
    # the rest happens that next day too (time only moves forward).
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    with time_machine.travel(tomorrow, tick=True):
        the_next_day(page, browser, live_server, sink, page_problems, couple, link_b)
        the_clinicians_alone(page, browser, live_server, page_problems, couple, link_b)


def the_next_day(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    sink: SmtpSink,
    page_problems: PageProblems,
    couple: Couple,
    link_b: str,
) -> None:
    phone, second = open_link(browser, live_server, link_b)
    answer_session(second, "2")
    phone.close()
    assert Flag.objects.open().filter(couple=couple, kind=FlagKind.ALLIANCE_DROP).exists()
    sign_in_afresh(page, live_server, couple.therapist)  # a day later: signed in again
    page.goto(f"/couples/{couple.case_code}/")
    expect(page.get_by_text(str(FlagKind.ALLIANCE_DROP.label)).first).to_be_visible()

    # A safety screen for partner A alone.
    send(page, "Partner A", "Safety screen, taken alone")
    third = sink.wait_for(3)[2]
    assert str(third["To"]) == "avery@example.invalid"
    screen_link = LINK.search(third.get_content())
    assert screen_link is not None
    screen_token = screen_link.group(1)
    phone, alone = open_link(browser, live_server, screen_token)
    for item in EXAMPLE_ITEMS:
        answer(alone, item["text"], "Yes" if item["key"] == "afraid" else "No")
    with alone.expect_navigation():
        alone.get_by_role("button", name="Send my answers").click()
    expect(alone.get_by_role("heading", level=1)).to_have_text("Thank you")
    phone.close()
    assert Flag.objects.open().filter(couple=couple, kind=FlagKind.SAFETY_CONCERN).exists()

    page.goto(f"/couples/{couple.case_code}/")
    expect(page.get_by_text("Safety concern").first).to_be_visible()


def the_clinicians_alone(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    page_problems: PageProblems,
    couple: Couple,
    link_b: str,
) -> None:
    """The supervisor sees the concern; nobody else sees anything of it."""
    supervisor = User.objects.get(display_name="Sam Supervisor")
    colleague = User.objects.get(display_name="Cole Colleague")
    sign_in_afresh(page, live_server, supervisor)
    page.goto(f"/couples/{couple.case_code}/")
    expect(page.get_by_text("Safety concern").first).to_be_visible()

    # Nobody else: another therapist gets no record, and partner B's (used) link says only
    # that it no longer works.
    sign_in_afresh(page, live_server, colleague)
    page_problems.allow(r"status of 404")
    response = page.goto(f"/couples/{couple.case_code}/")
    assert response is not None
    assert response.status == 404
    phone, again = open_link(browser, live_server, link_b)
    expect(again.get_by_role("heading", level=1)).to_have_text("This link no longer works")
    assert "safety" not in again.content().lower()
    phone.close()
