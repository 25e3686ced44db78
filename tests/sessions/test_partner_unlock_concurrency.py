"""Guesses at the partner screen's unlock sent all at once (sessions/partner_lock.py): each is
counted after the ones before it, on real PostgreSQL with one connection per request, so a
burst can't check the password more than the 5 times allowed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse

from people.models import AccessEvent
from tests.factories import make_couple, make_practice, make_session, make_user

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 10


def test_a_burst_of_guesses_checks_the_password_at_most_five_times() -> None:
    therapist = make_user(make_practice(), "Robin Therapist", therapist=True)
    session = make_session(make_couple(therapist), days_ago=1)
    device = Client()
    device.force_login(therapist)
    start = reverse("therapy_sessions:partner_screen_start", args=[session.pk, "A"])
    assert device.post(start, {"include": ""}).status_code == 302
    key = device.cookies[settings.SESSION_COOKIE_NAME].value
    ready = threading.Barrier(BURST)

    def guess(n: int) -> int:
        tab = Client()
        tab.cookies[settings.SESSION_COOKIE_NAME] = key
        ready.wait()
        try:
            answer = tab.post(reverse("partner_screen_unlock"), {"password": f"guess-{n}"})
            return answer.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(BURST) as pool:
        statuses = list(pool.map(guess, range(BURST)))

    assert set(statuses) <= {200, 302}
    details = list(
        AccessEvent.objects.filter(action="partner screen unlock failed", user=therapist)
        .order_by("pk")
        .values_list("detail", flat=True)
    )
    tries = [d for d in details if d != "no tries left"]
    # Every try number once: no two guesses were counted as the same try.
    assert tries == [f"try {n} of 5" for n in range(1, 6)]
    assert not Session.objects.filter(session_key=key).exists()
