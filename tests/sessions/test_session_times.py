"""When a session was: in the practice's time zone, within the treatment, and only once.

Dates and times are typed and shown in the signed-in person's practice's time zone (people.
middleware.PracticeTimeZoneMiddleware), not the server's (Europe/London). A session can't be
dated before the couple's treatment started, nor overlap another current session of the couple
(a double submit, or a wrong time); a correction doesn't collide with itself.

"Now" is fixed: 07:56 UTC on Tuesday 10 March 2026 is 18:56 in Sydney (AEDT, UTC+11) and
07:56 in London (GMT).
"""

from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from people.middleware import PRACTICE_TIME_ZONE_KEY
from sessions.models import Attendance, PrivateNote, SessionFormat, TherapySession
from sessions.services import session_withdraw
from tests.factories import make_couple, make_practice, make_session, make_user, version_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

    from cycles.models import Couple
    from people.models import User

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
SYDNEY = ZoneInfo("Australia/Sydney")
NOW = datetime.datetime(2026, 3, 10, 7, 56, tzinfo=UTC)
TODAY = "2026-03-10"
STARTED_ON = datetime.date(2026, 1, 5)
PROGRESS_NOTE = "Tracked the cycle as it started."
PRIVATE_NOTE = "I noticed my own urge to reassure."


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass
class Practice:
    therapist: User
    couple: Couple


def practice_in(zone: str) -> Practice:
    practice = make_practice()
    practice.time_zone = zone
    practice.save(update_fields=["time_zone"])
    therapist = make_user(practice, "Zoned Therapist", therapist=True)
    return Practice(therapist, make_couple(therapist, started_on=STARTED_ON))


@pytest.fixture
def sydney() -> Practice:
    return practice_in("Australia/Sydney")


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def sydney_time(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=SYDNEY)


def session_data(date: str = TODAY, start: str = "16:00", end: str = "16:50") -> dict[str, str]:
    return {
        "date": date,
        "start_time": start,
        "end_time": end,
        "format": SessionFormat.CONJOINT,
        "attendance": Attendance.ATTENDED,
        "cancelled_by": "",
        "left_early": "",
        "eft_step": "2",
        "progress_note": PROGRESS_NOTE,
        "private_note": PRIVATE_NOTE,
    }


def new_url(couple: Couple) -> str:
    return reverse("therapy_sessions:new", args=[couple.case_code])


def edit_url(session: TherapySession) -> str:
    return reverse("therapy_sessions:edit", args=[session.pk])


def snapshot() -> list[list[dict[str, Any]]]:
    """Every session and private note, to show a refused request changed nothing."""
    return [list(m.objects.order_by("pk").values()) for m in (TherapySession, PrivateNote)]


def field_error(response: Response, auto_id: str) -> str:
    match = re.search(
        rf'id="{re.escape(auto_id)}_error"[^>]*>(.*?)</(?:ul|p)>', response.text, re.DOTALL
    )
    assert match, f"no error shown beside {auto_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def assert_typed_values_kept(response: Response, data: dict[str, str]) -> None:
    for name in ("date", "start_time", "end_time"):
        assert f'name="{name}" value="{data[name]}"' in response.text
    assert PROGRESS_NOTE in response.text
    assert PRIVATE_NOTE in response.text


# The practice's time zone ----------------------------------------------------------------


def test_a_sydney_practice_logs_a_session_at_its_own_local_time(client, sydney):
    """At 18:56 in Sydney, 16:00 to 16:50 today has happened: stored as 05:00 UTC."""
    response = signed_in(client, sydney.therapist).post(new_url(sydney.couple), session_data())

    assert response.status_code == 302
    session = TherapySession.objects.get(couple=sydney.couple)
    assert session.starts_at == datetime.datetime(2026, 3, 10, 5, 0, tzinfo=UTC)
    assert session.duration_minutes == 50


def test_a_sydney_session_still_to_come_is_refused(client, sydney):
    before = snapshot()
    data = session_data(start="19:30", end="20:20")  # 19:30 in Sydney is after 18:56
    response = signed_in(client, sydney.therapist).post(new_url(sydney.couple), data)

    assert response.status_code == 200
    assert "before it has happened" in field_error(response, "id_date")
    assert snapshot() == before


def test_the_new_session_form_is_filled_in_with_sydney_times(client, sydney):
    response = signed_in(client, sydney.therapist).get(new_url(sydney.couple))

    assert response.status_code == 200
    form = response.context["form"]
    assert form["date"].value() == datetime.date(2026, 3, 10)
    assert form["start_time"].value() == datetime.time(18, 5)
    assert form["end_time"].value() == datetime.time(18, 55)
    assert 'value="18:05"' in response.text
    assert "Practice time (Australia/Sydney)." in response.text


def test_session_pages_show_sydney_dates_and_times(client, sydney):
    # 09:30 on the 10th in Sydney is 22:30 on the 9th in UTC and London.
    session = make_session(
        sydney.couple, starts_at=sydney_time(10, 9, 30), progress_note=PROGRESS_NOTE
    )
    signed_in(client, sydney.therapist)

    detail = client.get(reverse("therapy_sessions:detail", args=[session.pk]))
    assert "Tuesday 10 Mar 2026, 09:30" in detail.text  # the practice's date format (core.dates)

    edit = client.get(edit_url(session))
    form = edit.context["form"]
    assert form["date"].value() == datetime.date(2026, 3, 10)
    assert (form["start_time"].value(), form["end_time"].value()) == (
        datetime.time(9, 30),
        datetime.time(10, 20),
    )

    timeline = client.get(sydney.couple.get_absolute_url()).text.split('id="timeline-head"')[1]
    assert "10 Mar 2026" in timeline
    assert "9 Mar 2026" not in timeline


def test_correcting_a_sydney_session_keeps_its_sydney_time(client, sydney):
    session = make_session(sydney.couple, starts_at=sydney_time(3, 16))
    data = session_data(date="2026-03-03", start="16:00", end="16:45")

    response = signed_in(client, sydney.therapist).post(
        edit_url(session), data | version_of(session)
    )

    assert response.status_code == 302
    session.refresh_from_db()
    assert session.starts_at == sydney_time(3, 16)
    assert session.duration_minutes == 45


def test_the_zone_is_kept_for_the_request_and_restored_after_it(client, sydney):
    signed_in(client, sydney.therapist).get(new_url(sydney.couple))
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_someone_without_a_practice_keeps_the_servers_time_zone(client):
    staff = make_user(None, "Site Operator", is_staff=True, is_superuser=True)
    response = signed_in(client, staff).get(reverse("home"))
    assert response.status_code in (200, 302)
    assert PRACTICE_TIME_ZONE_KEY not in client.session


def test_the_zone_is_looked_up_once_and_then_read_from_the_session(client, sydney):
    """The first request after sign-in looks the practice's zone up; later ones don't."""
    signed_in(client, sydney.therapist)
    session = client.session
    del session[PRACTICE_TIME_ZONE_KEY]  # as after a real sign-in: nothing stored yet
    session.save()

    def practice_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(new_url(sydney.couple))
        assert response.context["form"]["start_time"].value() == datetime.time(18, 5)
        return sum('FROM "people_practice"' in q["sql"] for q in queries.captured_queries)

    assert practice_queries() == 1
    assert client.session[PRACTICE_TIME_ZONE_KEY] == [sydney.couple.practice_id, SYDNEY.key]
    assert practice_queries() == 0


def test_a_practice_zone_that_is_no_zone_falls_back_to_the_servers(client):
    broken = practice_in("Mars/Olympus_Mons")
    response = signed_in(client, broken.therapist).get(new_url(broken.couple))
    assert response.status_code == 200
    assert response.context["form"]["start_time"].value() == datetime.time(7, 5)  # London


# Within the treatment --------------------------------------------------------------------


@pytest.mark.parametrize("date", ["2026-01-04", "2025-06-01", "0001-01-01"])
def test_a_session_before_the_couples_start_is_refused_beside_the_date(client, sydney, date):
    before = snapshot()
    data = session_data(date=date)
    response = signed_in(client, sydney.therapist).post(new_url(sydney.couple), data)

    assert response.status_code == 200
    error = field_error(response, "id_date")
    assert "This couple's treatment started on 5 Jan 2026" in error
    assert "correct it on the couple's record" in error
    assert_typed_values_kept(response, data)
    assert snapshot() == before


def test_a_session_on_the_couples_start_date_is_logged(client, sydney):
    data = session_data(date="2026-01-05", start="00:00", end="00:50")
    response = signed_in(client, sydney.therapist).post(new_url(sydney.couple), data)
    assert response.status_code == 302


def test_moving_a_session_before_the_couples_start_is_refused(client, sydney):
    session = make_session(sydney.couple, starts_at=sydney_time(3, 16))
    before = snapshot()
    data = session_data(date="2025-12-30")
    response = signed_in(client, sydney.therapist).post(
        edit_url(session), data | version_of(session)
    )

    assert response.status_code == 200
    assert "started on 5 Jan 2026" in field_error(response, "id_date")
    assert_typed_values_kept(response, data)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("zone", "date"),
    [
        ("America/New_York", "9999-12-31"),  # later than UTC can hold, west of Greenwich
        ("Australia/Sydney", "0001-01-01"),  # earlier than UTC can hold, east of it
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_refused_not_a_server_error(client, zone, date):
    practice = practice_in(zone)
    practice.couple.started_on = datetime.date(1, 1, 1)
    practice.couple.save(update_fields=["started_on"])
    before = snapshot()
    response = signed_in(client, practice.therapist).post(
        new_url(practice.couple), session_data(date=date, start="00:00", end="00:50")
    )
    assert response.status_code == 200
    assert field_error(response, "id_date")
    assert snapshot() == before


# Only once -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param("16:00", "16:50", id="same-time"),
        pytest.param("16:30", "17:20", id="starts-during-it"),
        pytest.param("15:30", "16:10", id="ends-during-it"),
        pytest.param("15:00", "18:00", id="around-it"),
        pytest.param("16:10", "16:20", id="within-it"),
    ],
)
def test_a_session_overlapping_another_is_refused_beside_the_start(client, sydney, start, end):
    make_session(sydney.couple, starts_at=sydney_time(3, 9))
    other = make_session(sydney.couple, starts_at=sydney_time(3, 16), duration_minutes=50)
    before = snapshot()
    data = session_data(date="2026-03-03", start=start, end=end)

    response = signed_in(client, sydney.therapist).post(new_url(sydney.couple), data)

    assert response.status_code == 200
    assert other.ordinal == 2
    error = field_error(response, "id_start_time")
    assert "Session 2 of this couple is already logged for 3 Mar 2026, 16:00–16:50" in error
    assert "correct session 2 instead" in error
    assert_typed_values_kept(response, data)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("start", "end"), [("15:10", "16:00"), ("16:50", "17:40")], ids=["just-before", "just-after"]
)
def test_a_session_next_to_another_is_logged(client, sydney, start, end):
    make_session(sydney.couple, starts_at=sydney_time(3, 16), duration_minutes=50)
    data = session_data(date="2026-03-03", start=start, end=end)
    response = signed_in(client, sydney.therapist).post(new_url(sydney.couple), data)
    assert response.status_code == 302
    assert TherapySession.objects.filter(couple=sydney.couple).count() == 2


def test_a_double_submit_logs_the_session_once(client, sydney):
    signed_in(client, sydney.therapist)
    first = client.post(new_url(sydney.couple), session_data())
    assert first.status_code == 302
    before = snapshot()

    again = client.post(new_url(sydney.couple), session_data())

    assert again.status_code == 200
    assert "Session 1 of this couple is already logged" in field_error(again, "id_start_time")
    assert snapshot() == before
    assert TherapySession.objects.filter(couple=sydney.couple).count() == 1


def test_another_couples_session_at_the_same_time_is_no_overlap(client, sydney):
    other_couple = make_couple(sydney.therapist, started_on=STARTED_ON)
    make_session(other_couple, starts_at=sydney_time(10, 16))
    response = signed_in(client, sydney.therapist).post(new_url(sydney.couple), session_data())
    assert response.status_code == 302


def test_a_withdrawn_session_leaves_its_time_free(client, sydney):
    mistaken = make_session(sydney.couple, starts_at=sydney_time(10, 16))
    session_withdraw(session=mistaken, by=sydney.therapist, reason="Logged twice")
    response = signed_in(client, sydney.therapist).post(new_url(sydney.couple), session_data())
    assert response.status_code == 302
    assert TherapySession.objects.current().filter(couple=sydney.couple).count() == 1


def test_correcting_a_session_does_not_collide_with_itself(client, sydney):
    session = make_session(sydney.couple, starts_at=sydney_time(3, 16), duration_minutes=50)
    data = session_data(date="2026-03-03", start="16:10", end="17:00")  # overlaps its old time
    response = signed_in(client, sydney.therapist).post(
        edit_url(session), data | version_of(session)
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.starts_at == sydney_time(3, 16, 10)


def test_moving_a_session_onto_another_is_refused_beside_the_start(client, sydney):
    make_session(sydney.couple, starts_at=sydney_time(3, 16), duration_minutes=50)
    later = make_session(sydney.couple, starts_at=sydney_time(9, 16))
    before = snapshot()
    data = session_data(date="2026-03-03", start="16:20", end="17:10")

    response = signed_in(client, sydney.therapist).post(edit_url(later), data | version_of(later))

    assert response.status_code == 200
    assert "Session 1 of this couple is already logged" in field_error(response, "id_start_time")
    assert_typed_values_kept(response, data)
    assert snapshot() == before
