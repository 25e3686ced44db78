"""Attendance says who, the way a clinician reads it: "Cancelled by Partner A", never the
lower-cased "partner a" of a choice label; the session page and the couple page say the same."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sessions.models import Attendance, CancelledBy, LeftBy
from tests.factories import make_couple, make_practice, make_session, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def therapist():
    return make_user(make_practice(), "Sam Therapist", therapist=True)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        (
            {"attendance": Attendance.CANCELLED, "cancelled_by": CancelledBy.PARTNER_A},
            "Cancelled by Partner A",
        ),
        (
            {"attendance": Attendance.CANCELLED, "cancelled_by": CancelledBy.THERAPIST},
            "Cancelled by the therapist",
        ),
        (
            {"attendance": Attendance.CANCELLED, "cancelled_by": CancelledBy.BOTH},
            "Cancelled by both partners",
        ),
        (
            {"attendance": Attendance.ENDED_EARLY, "left_early": LeftBy.PARTNER_B},
            "Ended early / walked out (Partner B left)",
        ),
        (
            {"attendance": Attendance.ENDED_EARLY, "left_early": LeftBy.BOTH},
            "Ended early / walked out (Both partners left)",
        ),
        ({"attendance": Attendance.NO_SHOW}, "No-show"),
    ],
)
def test_the_session_page_and_the_couple_page_say_who(client, therapist, fields, said):
    couple = make_couple(therapist)
    session = make_session(couple, **fields)
    client.force_login(therapist)

    session_page = client.get(reverse("therapy_sessions:detail", args=[session.pk]))
    couple_page = client.get(reverse("cycles:detail", args=[couple.case_code]))

    for page in (session_page, couple_page):
        text = page.content.decode()
        assert page.status_code == 200
        assert said in text
        assert "partner a" not in text.replace("partner A", "")  # no lower-cased label
        assert "partner b left" not in text
