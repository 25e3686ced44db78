"""Account recovery end to end in Chromium, the e-mail caught by a real SMTP server process
(tests/smtp_sink.py) that the live server sends to over SMTP:

1. the practice admin sends a password-reset link; the clinician opens it from the e-mail,
   sets a new password and signs in with it and their authenticator; the link, used once,
   then says it is dead;
2. the practice admin resets a clinician's authenticator; the clinician is told by e-mail and
   their next sign-in goes to enrolment.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from people.totp import enrol
from tests.browser.conftest import assert_accessible, fresh_code, login
from tests.conftest import TEST_TOTP_SECRET
from tests.factories import PASSWORD, make_couple, make_practice, make_user
from tests.smtp_sink import SmtpSink

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

    from people.models import User

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a-much-longer-new-passphrase-42"


def people(page: Page) -> tuple[User, User]:
    practice = make_practice()
    admin = make_user(practice, "Ada Admin", practice_admin=True, is_staff=True)
    clinician = make_user(practice, "Cal Clinician", therapist=True)
    make_couple(clinician)
    return admin, clinician


def open_person(page: Page, live_server: LiveServer, admin: User, clinician: User) -> None:
    login(page, live_server, admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Practice").click()
    page.get_by_role("link", name=str(clinician)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(str(clinician))


def sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()


def password_step(page: Page, user: User, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_a_reset_link_from_the_email_sets_a_password_once(
    page: Page, live_server: LiveServer, sink: SmtpSink
) -> None:
    admin, clinician = people(page)
    enrol(clinician, TEST_TOTP_SECRET)
    open_person(page, live_server, admin, clinician)
    page.get_by_role("link", name="Send a password-reset link…").click()
    page.get_by_role("button", name="Send a password-reset link").click()
    expect(page.get_by_role("status")).to_contain_text(f"sent to {clinician.email}")
    sign_out(page)

    (message,) = sink.wait_for(1)
    assert message["To"] == clinician.email
    body = message.get_content()
    link = re.search(r"https?://\S+/practice/reset/\S+/", body)
    assert link, body
    assert urlsplit(link.group(0)).netloc == urlsplit(live_server.url).netloc

    page.goto(link.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set a new password")
    assert_accessible(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_role("status")).to_contain_text("Your new password is set")

    password_step(page, clinician, NEW_PASSWORD)
    page.get_by_label("Code").fill(fresh_code(clinician.pk, TEST_TOTP_SECRET))
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/couples/")
    sign_out(page)

    page.goto(link.group(0))
    expect(page.get_by_role("alert")).to_contain_text("expired or has already been used")
    expect(page.get_by_label("New password", exact=True)).to_have_count(0)


def test_an_authenticator_reset_sends_the_next_sign_in_to_enrolment(
    page: Page, live_server: LiveServer, sink: SmtpSink
) -> None:
    admin, clinician = people(page)
    enrol(clinician, TEST_TOTP_SECRET)
    open_person(page, live_server, admin, clinician)
    page.get_by_role("link", name="Reset the authenticator…").click()
    page.get_by_role("button", name="Reset the authenticator").click()
    expect(page.get_by_role("status")).to_contain_text("authenticator is reset")
    sign_out(page)

    (message,) = sink.wait_for(1)
    assert message["To"] == clinician.email
    assert "authenticator" in message["Subject"]

    password_step(page, clinician, PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator")
    page.goto("/couples/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
