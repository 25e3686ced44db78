"""Sign-in wording that tells the truth: the idle sign-out names the configured limit, and a
correct authenticator code typed a second time is refused as already used, not as incorrect."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse

from people.models import AccessEvent
from people.totp import current_code
from tests.conftest import TEST_TOTP_SECRET
from tests.factories import PASSWORD, make_practice, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("idle_seconds", "said"),
    [
        (15 * 60, "after 15 minutes without"),
        (5 * 60, "after 5 minutes without"),
        (60, "after 1 minute without"),
        (90 * 60, "after 1 hour 30 minutes without"),
    ],
)
def test_the_idle_sign_out_names_the_configured_limit(client, idle_seconds, said):
    with override_settings(SESSION_IDLE_SECONDS=idle_seconds):
        page = client.get(reverse("account_login") + "?signed_out=idle")
    assert page.status_code == 200
    assert f"You were signed out {said} activity." in page.content.decode()


@override_settings(SESSION_ABSOLUTE_SECONDS=8 * 60 * 60)
def test_the_long_session_sign_out_names_the_configured_limit(client):
    page = client.get(reverse("account_login") + "?signed_out=absolute")
    assert "because you had been signed in for 8 hours." in page.content.decode()


def test_no_reason_no_message(client):
    page = client.get(reverse("account_login") + "?signed_out=whatever")
    assert "You were signed out" not in page.content.decode()


def code_page(client: Client, username: str) -> None:
    response = client.post(reverse("account_login"), {"login": username, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")


# Frozen mid-period, so the code can't roll over between the two sign-ins.
MID_PERIOD = datetime.datetime(2026, 12, 6, 17, 0, 10, tzinfo=datetime.UTC)


@time_machine.travel(MID_PERIOD, tick=False)
def test_a_used_code_is_refused_as_used_and_a_wrong_one_as_incorrect():
    person = make_user(make_practice(), "Sam Therapist", therapist=True)
    Client().force_login(person)  # enrols the test authenticator (tests.conftest)
    code = current_code(TEST_TOTP_SECRET)

    first = Client()
    code_page(first, person.username)
    assert first.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302

    second = Client()  # a second sign-in within the same 30 seconds, same code
    code_page(second, person.username)
    again = second.post(reverse("mfa_authenticate"), {"code": code})
    text = again.content.decode()
    assert again.status_code == 200
    assert "This code was already used. Wait for your authenticator app to show the next" in text
    assert "Incorrect code." not in text
    assert f'value="{code}"' not in text  # a one-time code is not echoed back

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = second.post(reverse("mfa_authenticate"), {"code": wrong}).content.decode()
    assert "Incorrect code." in refused
    assert "already used" not in refused
    assert AccessEvent.objects.filter(user=person, action="MFA code failed").count() == 2


@time_machine.travel(MID_PERIOD, tick=False)
def test_a_throttled_attempt_stays_refused_as_throttled_even_with_a_used_code():
    """After five wrong codes the account is throttled: the used code then gets the throttle's
    message, not "already used" (which would tell whoever is guessing that the code is right)."""
    person = make_user(make_practice(), "Sam Therapist", therapist=True)
    Client().force_login(person)
    code = current_code(TEST_TOTP_SECRET)
    first = Client()
    code_page(first, person.username)
    assert first.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302

    second = Client()
    code_page(second, person.username)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert "Incorrect code." in second.post(reverse("mfa_authenticate"), {"code": wrong}).text
    throttled = second.post(reverse("mfa_authenticate"), {"code": code}).text
    assert "Too many failed login attempts" in throttled
    assert "already used" not in throttled
