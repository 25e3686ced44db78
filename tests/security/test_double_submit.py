"""A double click or a retried request creates one record, and both requests get an answer.

Each create form is read from the page as a browser has it (its request token included),
then sent twice at the same moment by two threads against a live server on real PostgreSQL:
one row is made, neither answer is a 5xx, and both lead to the same record. A form sent
again later (the back button, a retry after a timeout) finds the same row too.
"""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from pytest_django.live_server_helper import LiveServer

from cycles.models import Couple
from ruptures.models import Rupture, RuptureRepair
from sessions.models import TherapySession
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user
from tests.security.test_stale_forms import form_fields

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@dataclass
class Browser:
    """One signed-in browser: its cookies, sent by plain HTTP to the live server."""

    server: LiveServer
    cookies: dict[str, str]

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, htmx: bool = False
    ) -> Answer:
        host = urllib.parse.urlsplit(self.server.url)
        connection = http.client.HTTPConnection(host.hostname or "", host.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if htmx:
            headers["HX-Request"] = "true"
        payload = None
        if body is not None:
            payload = urllib.parse.urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = self.server.url + path
        try:
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            text = response.read().decode()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name] = rest.split(";", 1)[0]
            return Answer(response.status, response.getheader("Location") or "", text)
        finally:
            connection.close()

    def form(self, path: str, form_id: str | None = None) -> dict[str, Any]:
        """GET the page; the form's fields and the CSRF token, as the browser holds them."""
        page = self.request("GET", path)
        assert page.status == 200, page.text[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token
        return form_fields(page.text, form_id) | {"csrfmiddlewaretoken": token.group(1)}


@dataclass
class Answer:
    status: int
    location: str
    text: str


def browser_for(user: Any, server: LiveServer) -> Browser:
    client = Client()
    client.force_login(user)
    return Browser(
        server, {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    )


def twice_at_once(send: Callable[[], Answer]) -> list[Answer]:
    """The same request from two threads released together, as a double click sends it."""
    start = threading.Barrier(2)
    answers: list[Answer] = []

    def click() -> None:
        start.wait()
        answers.append(send())

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 2
    return answers


def assert_one_answer_for_both(answers: list[Answer]) -> None:
    assert all(a.status < 500 for a in answers), [a.status for a in answers]
    assert {a.status for a in answers} == {302}, [a.text[:300] for a in answers]
    assert len({a.location for a in answers}) == 1, [a.location for a in answers]


@pytest.fixture
def therapist() -> Any:
    return make_user(make_practice(), "Dana Doubleclick", therapist=True)


def test_new_couple_clicked_twice_opens_one_record(therapist: Any, live_server: LiveServer) -> None:
    browser = browser_for(therapist, live_server)
    data = browser.form("/couples/new/") | {
        "partner_a_name": "Wren Harrow",
        "partner_b_name": "Ode Harrow",
        "eft_step": "1",
        "started_on": "2026-11-02",
    }
    answers = twice_at_once(lambda: browser.request("POST", "/couples/new/", data))
    assert_one_answer_for_both(answers)
    assert Couple.objects.filter(therapist=therapist).count() == 1
    # Sent again later (a retry after a timeout): still the one record.
    again = browser.request("POST", "/couples/new/", data)
    assert (again.status, again.location) == (302, answers[0].location)
    assert Couple.objects.filter(therapist=therapist).count() == 1


def test_new_session_clicked_twice_logs_one_session(
    therapist: Any, live_server: LiveServer
) -> None:
    couple = make_couple(therapist)
    browser = browser_for(therapist, live_server)
    path = f"/couples/{couple.case_code}/sessions/new/"
    data = browser.form(path) | {"progress_note": "Clicked twice."}
    answers = twice_at_once(lambda: browser.request("POST", path, data))
    assert_one_answer_for_both(answers)
    assert TherapySession.objects.filter(couple=couple).count() == 1


def test_two_different_sessions_logged_at_once_are_both_kept(
    therapist: Any, live_server: LiveServer
) -> None:
    """Two tabs logging two sessions at the same moment: no 500, numbered one after the other."""
    couple = make_couple(therapist)
    browser = browser_for(therapist, live_server)
    path = f"/couples/{couple.case_code}/sessions/new/"
    first = browser.form(path)
    second = browser.form(path) | {"start_time": "07:00", "end_time": "07:50"}
    forms = iter([first, second])
    lock = threading.Lock()

    def send() -> Answer:
        with lock:
            data = next(forms)
        return browser.request("POST", path, data)

    answers = twice_at_once(send)
    assert [a.status for a in answers] == [302, 302]
    ordinals = sorted(
        TherapySession.objects.filter(couple=couple).values_list("ordinal", flat=True)
    )
    assert ordinals == [1, 2]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_record_the_rupture_clicked_twice_records_one(
    therapist: Any, live_server: LiveServer, htmx: bool
) -> None:
    session = make_session(make_couple(therapist), days_ago=1)
    browser = browser_for(therapist, live_server)
    data = browser.form(f"/sessions/{session.pk}/", "rupture-add") | {
        "new-rupture_type": "withdrawal",
        "new-withdrawal_markers": ["MINIMAL_RESPONSE"],
        "new-who_moved": "partner_a",
        "new-toward": "therapist",
        "new-significance": "3",
        "new-resolution_stage": "0",
        "new-status": "unresolved",
        "new-note": "Clicked twice.",
    }
    path = f"/sessions/{session.pk}/ruptures/"
    answers = twice_at_once(lambda: browser.request("POST", path, data, htmx=htmx))
    assert all(a.status in {200, 302} for a in answers), [a.status for a in answers]
    assert Rupture.objects.filter(session=session).count() == 1


def test_mark_repaired_clicked_twice_repairs_once(therapist: Any, live_server: LiveServer) -> None:
    couple = make_couple(therapist)
    earlier = make_session(couple, days_ago=9)
    rupture = make_rupture(earlier)
    later = make_session(couple, days_ago=1)
    browser = browser_for(therapist, live_server)
    # The repair form as "Repaired here…" loads it into the session page.
    form_path = f"/sessions/{later.pk}/repairs/{rupture.pk}/form/"
    data = browser.form(form_path, f"repair-{rupture.pk}") | {
        f"repair{rupture.pk}-status": "partly_resolved"
    }
    path = f"/sessions/{later.pk}/repairs/{rupture.pk}/"
    answers = twice_at_once(lambda: browser.request("POST", path, data))
    assert_one_answer_for_both(answers)
    assert RuptureRepair.objects.filter(rupture=rupture).count() == 1


def test_acknowledge_clicked_twice_acknowledges_once(live_server: LiveServer) -> None:
    from ruptures.models import FlagAcknowledgement, FlagKind
    from supervision import review as supervision
    from tests.factories import World
    from tests.supervision import make_flag

    world = World.build()
    today = supervision.practice_today(world.supervisor)
    flag = make_flag(world.couple, FlagKind.UNRESOLVED_RUPTURE, today)
    browser = browser_for(world.supervisor, live_server)
    data = browser.form(f"/couples/{world.couple.case_code}/", f"ack-{flag.pk}") | {
        "comment": "Seen; let's talk about it on Thursday."
    }
    path = f"/supervision/flags/{flag.pk}/acknowledge/"
    answers = twice_at_once(lambda: browser.request("POST", path, data))
    assert_one_answer_for_both(answers)
    assert FlagAcknowledgement.objects.filter(flag=flag).count() == 1
