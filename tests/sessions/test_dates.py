"""Dates shown and typed in the practice's format: the session form's date is a text input
whose placeholder is the format, that reads the format and ISO and says how when it can't; the
session page heading, the couple's session list and the caseload show the practice's format."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core import dates
from people.models import Practice
from sessions.models import Attendance, SessionFormat, TherapySession
from tests.factories import make_couple, make_practice, make_session, make_user

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 11, 3)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("j M Y", "3 Nov 2026"),
        ("d/m/Y", "03/11/2026"),
        ("m/d/Y", "11/03/2026"),
        ("Y-m-d", "2026-11-03"),
    ],
)
def test_each_format_shows_and_reads_back_its_own_dates_and_iso(key, shown):
    with dates.override(key):
        assert dates.show(DAY) == shown
        assert dates.parse(shown) == DAY
        assert dates.parse("2026-11-03") == DAY
        assert dates.parse("31/02/2026") is None


def test_day_and_month_are_read_the_practices_way_round():
    with dates.override("d/m/Y"):
        assert dates.parse("04/11/2026") == datetime.date(2026, 11, 4)
    with dates.override("m/d/Y"):
        assert dates.parse("04/11/2026") == datetime.date(2026, 4, 11)


def practice_with(key: str) -> Practice:
    practice = make_practice()
    Practice.objects.filter(pk=practice.pk).update(date_format=key)
    practice.refresh_from_db()
    return practice


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)  # keeps the practice's zone and format in the session
    return client


def session_form(date: str) -> dict[str, str]:
    return {
        "date": date,
        "start_time": "10:00",
        "end_time": "10:50",
        "format": SessionFormat.CONJOINT,
        "attendance": Attendance.ATTENDED,
        "cancelled_by": "",
        "left_early": "",
        "eft_step": "2",
        "progress_note": "Named the cycle together.",
        "private_note": "",
    }


def test_the_session_form_reads_the_practices_format_and_shows_it_as_the_hint():
    therapist = make_user(practice_with("d/m/Y"), "Sam Therapist", therapist=True)
    couple = make_couple(therapist)
    client = signed_in(therapist)
    url = reverse("therapy_sessions:new", args=[couple.case_code])
    day = timezone.localdate() - datetime.timedelta(days=3)

    form = client.get(url).content.decode()
    assert 'placeholder="DD/MM/YYYY"' in form
    assert 'type="date"' not in form

    response = client.post(url, session_form(day.strftime("%d/%m/%Y")))
    assert response.status_code == 302
    session = TherapySession.objects.get(couple=couple)
    assert timezone.localtime(session.starts_at).date() == day

    page = client.get(response["Location"]).content.decode()
    assert f"{day:%A} {day:%d/%m/%Y}, 10:00" in page  # the heading
    couple_page = client.get(reverse("cycles:detail", args=[couple.case_code])).content.decode()
    assert f">{day:%d/%m/%Y}</time>" in couple_page
    caseload = client.get(reverse("cycles:caseload")).content.decode()
    assert f">{day:%d/%m/%Y}</time>" in caseload


def test_a_date_the_practice_cant_mean_is_a_message_by_the_field_and_nothing_is_saved():
    therapist = make_user(practice_with("m/d/Y"), "Sam Therapist", therapist=True)
    couple = make_couple(therapist)
    client = signed_in(therapist)
    url = reverse("therapy_sessions:new", args=[couple.case_code])

    response = client.post(url, session_form("25/11/2026"))  # day first: not this practice's

    text = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid date as MM/DD/YYYY, e.g. 12/07/2026 (or as 2026-12-07)." in text
    assert 'value="25/11/2026"' in text  # what was typed stays
    assert not TherapySession.objects.filter(couple=couple).exists()


def test_the_default_format_is_7_dec_2026_and_iso_is_accepted_too():
    therapist = make_user(make_practice(), "Sam Therapist", therapist=True)
    couple = make_couple(therapist)
    session = make_session(couple, days_ago=5)
    client = signed_in(therapist)
    day = timezone.localtime(session.starts_at).date()

    couple_page = client.get(reverse("cycles:detail", args=[couple.case_code])).content.decode()
    assert f">{day.day} {day:%b %Y}</time>" in couple_page
    edit = client.get(reverse("therapy_sessions:edit", args=[session.pk])).content.decode()
    assert f'value="{day.day} {day:%b %Y}"' in edit
    assert 'placeholder="7 Dec 2026"' in edit


def test_a_practice_admin_sets_the_format_in_the_admin_and_sees_it_at_once():
    practice = make_practice()
    admin = make_user(practice, "Pat Admin", practice_admin=True, is_staff=True)
    client = signed_in(admin)
    url = reverse("admin:people_practice_change", args=[practice.pk])
    page = client.get(url).content.decode()
    assert "07/12/2026 (day/month/year)" in page

    response = client.post(
        url, {"name": practice.name, "time_zone": practice.time_zone, "date_format": "Y-m-d"}
    )

    assert response.status_code == 302
    practice.refresh_from_db()
    assert practice.date_format == "Y-m-d"
    assert client.session["practice_date_format"] == "Y-m-d"
