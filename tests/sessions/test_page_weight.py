"""The session page and the couple page weigh the same however long the treatment (issue 17).

A couple with many sessions and many open ruptures: the session page lists a page of the
earlier open ruptures, each loading its repair form only when asked for, and the couple page
shows a page of the latest sessions and open ruptures and charts the latest sessions. Both
stay within a small margin in bytes between a treatment past every cap and one four times
as long.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse

from cycles.views import CHARTED_SESSIONS, OPEN_RUPTURES_SHOWN, TIMELINE_SHOWN
from sessions.views import EARLIER_OPEN_SHOWN
from tests.sessions.weight_world import Treatment, long_treatment

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client

pytestmark = pytest.mark.django_db

# Past every cap (20 listed, 50 charted), and four times that.
SHORT, LONG = 60, 240
assert max(CHARTED_SESSIONS, TIMELINE_SHOWN, EARLIER_OPEN_SHOWN, OPEN_RUPTURES_SHOWN) < SHORT
# Longer session numbers and counts ("session 239" for "session 59") are all that may grow.
MARGIN = 1.03
HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def treatments(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[int, Treatment]]:
    with django_db_blocker.unblock(), transaction.atomic():
        short = long_treatment(SHORT)
        yield {SHORT: short, LONG: long_treatment(LONG, therapist=short.therapist)}
        transaction.set_rollback(True)


@pytest.fixture
def client(client: Client, treatments: dict[int, Treatment]) -> Client:
    client.force_login(treatments[SHORT].therapist)
    return client


def session_page(client: Client, treatment: Treatment, **params: str) -> Any:
    url = reverse("therapy_sessions:detail", args=[treatment.latest.pk])
    response = client.get(url, params)
    assert response.status_code == 200
    return response


def couple_page(client: Client, treatment: Treatment, **params: str) -> Any:
    response = client.get(treatment.couple.get_absolute_url(), params)
    assert response.status_code == 200
    return response


def count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


def test_the_session_page_lists_a_page_of_open_ruptures_and_no_repair_form(client, treatments):
    for size, treatment in treatments.items():
        page = session_page(client, treatment)
        # Every session but the latest left one withdrawal rupture open.
        assert page.context["earlier_open_total"] == size - 1
        assert count(r'class="open-rupture"', page.text) == EARLIER_OPEN_SHOWN
        assert count(r'<form id="repair-', page.text) == 0
        assert count(r'hx-get="/sessions/\d+/repairs/\d+/form/"', page.text) == EARLIER_OPEN_SHOWN
        ordinals = [r.session.ordinal for r in page.context["earlier_open"]]
        assert ordinals == list(range(size - 1, size - 1 - EARLIER_OPEN_SHOWN, -1))
        assert f"of {size - 1}, most recent first" in page.text
        assert 'href="?open=2#repairs"' in page.text


def test_the_rest_of_the_open_ruptures_are_a_page_away(client, treatments):
    treatment = treatments[SHORT]
    last = session_page(client, treatment, open="3")  # 59 open: 41 to 59, 21 to 40, 1 to 20
    assert [r.session.ordinal for r in last.context["earlier_open"]][-1] == 1
    assert count(r'class="open-rupture"', last.text) == 19
    assert 'href="?open=2#repairs"' in last.text
    past_the_end = session_page(client, treatment, open="99")
    assert past_the_end.context["earlier_open_page"] == 3


def test_a_repair_form_is_one_small_form_with_its_guards(client, treatments):
    treatment = treatments[LONG]
    rupture = session_page(client, treatment).context["earlier_open"][0]
    url = reverse("ruptures:repair_form", args=[treatment.latest.pk, rupture.pk])
    response = client.get(url, headers=HTMX)
    assert response.status_code == 200
    assert count(r"<form ", response.text) == 1
    assert f'<form id="repair-{rupture.pk}"' in response.text
    assert f'name="repair{rupture.pk}-version" value="{rupture.version}"' in response.text
    assert f'name="repair{rupture.pk}-request_token"' in response.text
    assert len(response.content) < 6_000


def test_the_session_page_weighs_the_same_for_a_longer_treatment(client, treatments):
    short = len(session_page(client, treatments[SHORT]).content)
    long = len(session_page(client, treatments[LONG]).content)
    assert long <= short * MARGIN, (short, long)


def test_the_couple_page_shows_the_latest_sessions_and_open_ruptures(client, treatments):
    for size, treatment in treatments.items():
        page = couple_page(client, treatment)
        ordinals = [s.ordinal for s in page.context["sessions"]]
        assert ordinals == list(range(size - TIMELINE_SHOWN + 1, size + 1))
        assert count(r'<a href="/sessions/\d+/">\d+</a></td>', page.text) == TIMELINE_SHOWN
        assert len(page.context["open_ruptures"]) == OPEN_RUPTURES_SHOWN
        assert page.context["open_shown"].total == size
        assert len(page.context["charted_points"]) == CHARTED_SESSIONS
        assert "?sessions=2#timeline" in page.text  # without JavaScript: the next page


def test_show_earlier_sessions_loads_the_rows_before_them(client, treatments):
    treatment = treatments[SHORT]
    rows = couple_page(client, treatment, sessions="2")  # what the htmx link asks for
    htmx_rows = client.get(treatment.couple.get_absolute_url(), {"sessions": "2"}, headers=HTMX)
    assert "<html" not in htmx_rows.text
    assert count(r"<tr>", htmx_rows.text) == TIMELINE_SHOWN
    assert [s.ordinal for s in htmx_rows.context["sessions"]] == list(range(21, 41))
    assert 'hx-get="/couples/' in htmx_rows.text
    assert "sessions=3" in htmx_rows.text
    # Without JavaScript, the same link is the whole page with those sessions.
    assert [s.ordinal for s in rows.context["sessions"]] == list(range(21, 41))
    assert "<html" in rows.text


def test_the_couple_page_weighs_the_same_for_a_longer_treatment(client, treatments):
    short = len(couple_page(client, treatments[SHORT]).content)
    long = len(couple_page(client, treatments[LONG]).content)
    assert long <= short * MARGIN, (short, long)
