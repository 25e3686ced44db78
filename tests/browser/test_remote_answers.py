"""A partner answers on their phone through a private link, in Chromium at 360 px (issue 22):
the therapist sends the link from the couple page; a real SMTP server process receives the
e-mail; the partner opens the link in a browser of their own, answers with a screen reader's
names for each question, and the alliance drop opens its flag before the therapist reloads.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from invitations import services
from ruptures.models import Flag, FlagKind
from tests.browser.conftest import assert_accessible, login
from tests.factories import make_couple, make_practice, make_session, make_user
from tests.invitations.conftest import LINK, rate
from tests.smtp_sink import SmtpSink

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 780}


def answer(page: Page, question: str, choice: str) -> None:
    page.get_by_role("group", name=question).get_by_label(choice, exact=True).check()


def test_a_partner_answers_on_a_phone_and_the_therapist_sees_the_flag_that_day(
    page: Page, browser: Browser, live_server: LiveServer, sink: SmtpSink
) -> None:
    practice = make_practice()
    therapist = make_user(practice, "Tess Therapist", therapist=True)
    couple = make_couple(therapist)
    earlier = make_session(couple, days_ago=8)
    rate(earlier, "A", 9, therapist)
    make_session(couple, days_ago=1)
    services.contact_set(couple=couple, partner="A", email="a.partner@example.invalid")

    page.set_viewport_size(PHONE)
    login(page, live_server, therapist)
    page.goto(f"/couples/{couple.case_code}/")
    card = page.locator("#remote")
    send = card.get_by_role("button", name="Send the link")
    expect(send).to_be_visible()  # loaded into the couple page by htmx
    card.get_by_label("Send to").select_option("A")
    card.get_by_label("Questions").select_option(label=str(services.Purpose.SESSION.label))
    with page.expect_navigation():
        send.click()
    expect(page.get_by_text("A link is on its way to partner A")).to_be_visible()

    token = LINK.search(sink.wait_for(1)[0].get_content()).group(1)  # type: ignore[union-attr]
    phone = browser.new_context(base_url=live_server.url, viewport=PHONE)
    try:
        partner = phone.new_page()
        partner.goto(f"/a/{token}/")
        expect(partner.get_by_role("heading", level=1)).to_have_text("About your last session")
        scroll, inner = partner.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert scroll <= inner, f"the page scrolls sideways at 360 px: {scroll} > {inner}"
        assert_accessible(partner)
        assert partner.get_by_role("navigation").count() == 0
        for question in (
            "How connected did you feel with the therapist in the session?",
            "How much did you and the therapist agree on what you are working toward?",
            "How much did you agree with how you worked together in the session?",
            "Overall, how well did the session fit you?",
        ):
            answer(partner, question, "2")
        answer(partner, "Was there tension or disagreement in the session?", "Yes")
        answer(partner, "How upsetting was it? (1 not at all, 5 very)", "4")
        # Forgetting one question: told next to it, the answers kept.
        with partner.expect_navigation():
            partner.get_by_role("button", name="Send my answers").click()
        resolved = partner.get_by_role("group", name=re.compile("How far was it resolved"))
        expect(resolved).to_contain_text("Answer this when there was tension.")
        expect(
            partner.get_by_role(
                "group", name="Overall, how well did the session fit you?"
            ).get_by_label("2", exact=True)
        ).to_be_checked()
        assert_accessible(partner)
        answer(partner, "How far was it resolved by the end? (1 not at all, 5 fully)", "1")
        with partner.expect_navigation():
            partner.get_by_role("button", name="Send my answers").click()
        expect(partner.get_by_role("heading", level=1)).to_have_text("Thank you")
        partner.goto(f"/a/{token}/")  # used: it says so, and nothing more
        expect(partner.get_by_role("heading", level=1)).to_have_text("This link no longer works")
    finally:
        phone.close()

    assert Flag.objects.open().filter(couple=couple, kind=FlagKind.ALLIANCE_DROP).exists()
    page.goto(f"/couples/{couple.case_code}/")
    expect(page.locator("#remote")).to_contain_text("Answered")
    expect(page.get_by_text(str(FlagKind.ALLIANCE_DROP.label)).first).to_be_visible()
