"""Sign-in and session limits (checklist item 3), through the real login and authenticator
pages, with time_machine for the clock:

- MFA is enforced: without an authenticator a signed-in person reaches only enrolment and
  logout;
- failed sign-ins are throttled per account (5 in 15 minutes) and per address (20), even
  against the right password, until the window has passed;
- the session key changes at sign-in, and sign-out ends the session on the server;
- 15 idle minutes end a session (background polls don't count as activity), and 12 hours end
  it whatever the activity;
- sign-in success, failure and sign-out are in the access trail.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from people.models import AccessEvent
from people.totp import current_code, enrol
from tests.conftest import TEST_TOTP_SECRET
from tests.factories import PASSWORD, make_couple, make_practice, make_user

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
THROTTLED = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def empty_throttle() -> None:
    cache.clear()  # the counters live in the cache


@pytest.fixture
def therapist() -> Any:
    user = make_user(make_practice(), "Sam Therapist", therapist=True)
    user.couple = make_couple(user)
    return user


def login(client: Client, username: str, password: str) -> Any:
    return client.post(reverse("account_login"), {"login": username, "password": password})


def sign_in(client: Client, user: Any) -> Any:
    """Password, then the authenticator's current code, as a person does."""
    response = login(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    return client.post(reverse("mfa_authenticate"), {"code": current_code(TEST_TOTP_SECRET)})


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def login_redirect(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("account_login")
    return parse_qs(location.query)


def couple_url(user: Any) -> str:
    return reverse("cycles:detail", args=[user.couple.case_code])


# MFA enforcement


def test_without_an_authenticator_a_signed_in_person_reaches_only_enrolment(therapist) -> None:
    client = Client()
    response = login(client, therapist.username, PASSWORD)
    assert response.status_code == 302
    for url in (couple_url(therapist), reverse("cycles:caseload"), reverse("home")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp"), url
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    assert login_redirect(client.post(reverse("account_logout"))) == {}
    assert client.get(couple_url(therapist))["Location"].startswith(reverse("account_login"))


def test_with_an_authenticator_the_code_completes_the_sign_in(therapist) -> None:
    enrol(therapist, TEST_TOTP_SECRET)
    client = Client()
    response = login(client, therapist.username, PASSWORD)
    assert response["Location"] == reverse("mfa_authenticate")
    # The password alone is not a sign-in.
    assert client.get(couple_url(therapist))["Location"].startswith(reverse("account_login"))
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200
    response = client.post(reverse("mfa_authenticate"), {"code": current_code(TEST_TOTP_SECRET)})
    assert response.status_code == 302
    assert client.get(couple_url(therapist)).status_code == 200


# Throttling


def test_the_sixth_failure_for_one_account_is_refused_even_with_the_right_password(
    therapist,
) -> None:
    enrol(therapist, TEST_TOTP_SECRET)
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(5):
            assert login(client, therapist.username, "wrong password").status_code == 200
        refused = login(client, therapist.username, PASSWORD)
        assert refused.status_code in (200, 429)
        assert THROTTLED in refused.content.decode()
        assert "_auth_user_id" not in client.session
        clock.shift(datetime.timedelta(minutes=14))
        assert THROTTLED in login(client, therapist.username, PASSWORD).content.decode()
        clock.shift(datetime.timedelta(minutes=2))
        response = login(client, therapist.username, PASSWORD)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_authenticate")


def test_twenty_failures_from_one_address_close_it_to_every_account(therapist) -> None:
    enrol(therapist, TEST_TOTP_SECRET)
    practice = therapist.practice
    others = [make_user(practice, f"Other {n}", therapist=True) for n in range(5)]
    there = Client(REMOTE_ADDR="203.0.113.7")
    with time_machine.travel(T0, tick=False) as clock:
        for other in others:
            for _ in range(4):  # under the per-account limit
                assert login(there, other.username, "wrong password").status_code == 200
        refused = login(there, therapist.username, PASSWORD)
        assert THROTTLED in refused.content.decode()
        elsewhere = login(Client(REMOTE_ADDR="198.51.100.2"), therapist.username, PASSWORD)
        assert elsewhere.status_code == 302
        clock.shift(datetime.timedelta(minutes=16))
        assert login(there, therapist.username, PASSWORD).status_code == 302


# The session


def test_the_session_key_changes_at_sign_in(therapist) -> None:
    enrol(therapist, TEST_TOTP_SECRET)
    client = Client()
    login(client, therapist.username, PASSWORD)
    before = session_key(client)  # the half-way session of the password step
    assert sign_in_code(client).status_code == 302
    after = session_key(client)
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()


def sign_in_code(client: Client) -> Any:
    return client.post(reverse("mfa_authenticate"), {"code": current_code(TEST_TOTP_SECRET)})


def test_sign_out_ends_the_session_on_the_server(therapist) -> None:
    client = Client()
    client.force_login(therapist)
    key = session_key(client)
    assert client.get(couple_url(therapist)).status_code == 200
    client.post(reverse("account_logout"))
    assert not Session.objects.filter(session_key=key).exists()
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert login_redirect(replay.get(couple_url(therapist)))["next"] == [couple_url(therapist)]


def test_sixteen_idle_minutes_sign_out_and_lead_back(therapist) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        client.force_login(therapist)
        key = session_key(client)
        assert client.get(couple_url(therapist)).status_code == 200
        clock.shift(datetime.timedelta(minutes=16))
        query = login_redirect(client.get(couple_url(therapist)))
        assert query == {"signed_out": ["idle"], "next": [couple_url(therapist)]}
        assert not Session.objects.filter(session_key=key).exists()


def test_a_background_poll_does_not_keep_the_session_alive(therapist) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        client.force_login(therapist)
        clock.shift(datetime.timedelta(minutes=10))
        poll = client.get(reverse("cycles:caseload"), headers={"X-Background-Poll": "true"})
        assert poll.status_code == 200
        clock.shift(datetime.timedelta(minutes=6))
        assert login_redirect(client.get(couple_url(therapist)))["signed_out"] == ["idle"]


def test_a_request_at_ten_minutes_keeps_the_session_alive(therapist) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        client.force_login(therapist)
        clock.shift(datetime.timedelta(minutes=10))
        assert client.get(couple_url(therapist)).status_code == 200
        clock.shift(datetime.timedelta(minutes=6))
        assert client.get(couple_url(therapist)).status_code == 200


def test_an_htmx_request_after_the_idle_limit_redirects_the_whole_page(therapist) -> None:
    """htmx would swap a plain redirect's login page into the region: the answer is
    HX-Redirect, leading back to the page the region was on (HX-Current-URL)."""
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        client.force_login(therapist)
        clock.shift(datetime.timedelta(minutes=16))
        response = client.get(
            reverse("cycles:caseload"),
            headers={
                "HX-Request": "true",
                "HX-Current-URL": f"http://testserver{couple_url(therapist)}",
            },
        )
        assert response.status_code == 200, "a plain redirect, which htmx swaps into the region"
        target = urlsplit(response["HX-Redirect"])
        assert target.path == reverse("account_login")
        assert parse_qs(target.query) == {"signed_out": ["idle"], "next": [couple_url(therapist)]}


def test_twelve_hours_end_the_session_whatever_the_activity(therapist) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        client.force_login(therapist)
        elapsed = datetime.timedelta(0)
        while elapsed + datetime.timedelta(minutes=14) <= datetime.timedelta(hours=12):
            clock.shift(datetime.timedelta(minutes=14))
            elapsed += datetime.timedelta(minutes=14)
            assert client.get(reverse("cycles:caseload")).status_code == 200, elapsed
        clock.shift(datetime.timedelta(hours=12) - elapsed + datetime.timedelta(minutes=1))
        query = login_redirect(client.get(couple_url(therapist)))
        assert query["signed_out"] == ["absolute"]


# The access trail


def test_sign_in_failure_success_and_sign_out_are_in_the_access_trail(therapist) -> None:
    enrol(therapist, TEST_TOTP_SECRET)
    client = Client(REMOTE_ADDR="192.0.2.44")
    start = timezone.now()
    login(client, therapist.username, "wrong password")
    assert sign_in(client, therapist).status_code == 302
    client.post(reverse("account_logout"))
    events = list(AccessEvent.objects.filter(at__gte=start).order_by("at", "pk"))
    actions = [e.action for e in events]
    assert "sign-in failed" in actions
    assert actions.index("sign in") < actions.index("sign out")
    by_action = {e.action: e for e in events}
    assert by_action["sign in"].user == therapist
    assert by_action["sign out"].user == therapist
    assert by_action["sign-in failed"].user is None
    assert {str(e.ip) for e in events} == {"192.0.2.44"}
    assert all("wrong password" not in e.detail for e in events)


def test_the_access_trail_records_the_address_the_server_saw_not_a_forged_header(
    therapist,
) -> None:
    """No proxy is trusted in these settings (allauth's throttle counts by REMOTE_ADDR too):
    an X-Forwarded-For the client wrote itself must not become the "from where"."""
    client = Client(REMOTE_ADDR="192.0.2.44")
    start = timezone.now()
    client.post(
        reverse("account_login"),
        {"login": therapist.username, "password": "wrong password"},
        headers={"X-Forwarded-For": "10.6.6.6"},
    )
    event = AccessEvent.objects.get(at__gte=start, action="sign-in failed")
    assert str(event.ip) == "192.0.2.44"
