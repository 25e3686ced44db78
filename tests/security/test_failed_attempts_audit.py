"""Every failed sign-in is in the access trail (issue 15), through the real login and
authenticator pages: a wrong password, an unknown username, a wrong authenticator code, and
each attempt the throttle refuses (which sends no signal of its own: people.adapters).

What a row holds: the action, the address, the person when the password step was passed (the
code step), and a reason; never what was typed, password or username.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from people.models import AccessEvent
from people.totp import current_code, enrol
from tests.conftest import TEST_TOTP_SECRET
from tests.factories import PASSWORD, make_practice, make_user

pytestmark = pytest.mark.django_db

ADDRESS = "192.0.2.61"
THROTTLED = "Too many failed login attempts"
GUESS = "hunter2-guess"
NOT_RECOGNISED = "username or password not recognised"
REFUSED = "refused: too many failed attempts"


@pytest.fixture
def therapist() -> Any:
    user = make_user(make_practice(), "Sam Therapist", therapist=True)
    enrol(user, TEST_TOTP_SECRET)
    return user


def login(client: Client, username: str, password: str) -> Any:
    return client.post(reverse("account_login"), {"login": username, "password": password})


def failures(since: Any) -> list[AccessEvent]:
    actions = ("sign-in failed", "MFA code failed")
    return list(AccessEvent.objects.filter(at__gte=since, action__in=actions).order_by("pk"))


def assert_nothing_typed_is_kept(events: list[AccessEvent], *typed: str) -> None:
    for event in events:
        stored = " ".join(
            str(getattr(event, name)) for name in ("action", "object_type", "object_id", "detail")
        )
        for text in typed:
            assert text not in stored, (text, stored)


def test_ten_failed_sign_ins_five_of_them_throttled_leave_ten_rows(therapist) -> None:
    client = Client(REMOTE_ADDR=ADDRESS)
    start = timezone.now()

    answers = [login(client, therapist.username, GUESS) for _ in range(9)]
    answers.append(login(client, therapist.username, PASSWORD))  # right, but too late

    throttled = [THROTTLED in answer.content.decode() for answer in answers]
    assert throttled == [False] * 5 + [True] * 5
    assert "_auth_user_id" not in client.session
    events = failures(start)
    assert len(events) == 10
    assert [e.detail for e in events] == [NOT_RECOGNISED] * 5 + [REFUSED] * 5
    assert {e.action for e in events} == {"sign-in failed"}
    assert {e.user_id for e in events} == {None}
    assert {str(e.ip) for e in events} == {ADDRESS}
    assert_nothing_typed_is_kept(events, GUESS, PASSWORD, therapist.username)


def test_an_unknown_username_is_audited_and_throttled_like_a_known_one() -> None:
    client = Client(REMOTE_ADDR=ADDRESS)
    start = timezone.now()

    answers = [login(client, "nobody.here", GUESS) for _ in range(7)]

    assert [THROTTLED in a.content.decode() for a in answers] == [False] * 5 + [True] * 2
    events = failures(start)
    assert [e.detail for e in events] == [NOT_RECOGNISED] * 5 + [REFUSED] * 2
    assert_nothing_typed_is_kept(events, GUESS, "nobody.here")


def test_wrong_and_throttled_authenticator_codes_are_audited_with_the_person(therapist) -> None:
    client = Client(REMOTE_ADDR=ADDRESS)
    assert login(client, therapist.username, PASSWORD)["Location"] == reverse("mfa_authenticate")
    start = timezone.now()
    right = current_code(TEST_TOTP_SECRET)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    answers = [client.post(reverse("mfa_authenticate"), {"code": wrong}) for _ in range(6)]
    answers.append(client.post(reverse("mfa_authenticate"), {"code": right}))  # too late

    assert [a.status_code for a in answers] == [200] * 7
    assert [THROTTLED in a.content.decode() for a in answers] == [False] * 5 + [True] * 2
    assert "_auth_user_id" not in client.session
    events = failures(start)
    assert len(events) == 7
    assert {e.action for e in events} == {"MFA code failed"}
    assert {e.user_id for e in events} == {therapist.pk}
    assert [e.detail for e in events][5:] == [REFUSED, REFUSED]
    assert_nothing_typed_is_kept(events, wrong, right)


def test_a_sign_in_that_gets_through_leaves_no_failure(therapist) -> None:
    client = Client(REMOTE_ADDR=ADDRESS)
    start = timezone.now()

    login(client, therapist.username, PASSWORD)
    response = client.post(reverse("mfa_authenticate"), {"code": current_code(TEST_TOTP_SECRET)})

    assert response.status_code == 302
    assert failures(start) == []
    assert AccessEvent.objects.filter(at__gte=start, action="sign in", user=therapist).exists()
