"""The couple page and the measures page read the measures in a fixed number of queries,
whatever the length of the treatment (flags/measure_signals.py load_points, load_satisfaction)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ruptures.codes import RuptureStatus
from ruptures.services import rupture_repair, rupture_withdraw
from sessions.models import AllianceRating, MeasureDefinition, MeasureResponse, PostSessionReport
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client

    from cycles.models import Couple
    from people.models import User
    from sessions.models import TherapySession

pytestmark = pytest.mark.django_db

# Every signed-in request: the session and the user (enrolment and activity are remembered in
# the session, so RequireMFAMiddleware and SessionLimitsMiddleware add nothing here).
REQUEST_QUERIES = 2
# Then the couple, its partners, the latest cycle map and its steps, the timeline with its
# ruptures and repairs, the access event written, the latest summary, the open flags,
# load_points (sessions, alliance, reports), load_satisfaction (the questionnaires, as plain
# rows, and their measures), the thresholds, the case's shares and the groups it could be
# shared with, the flags' acknowledgements, the page of open ruptures (a query of its own
# since the timeline shows only the latest sessions: issue 17), the treatment plan's card, and
# the safety card's screens, assessments and the practice's safety screens (issue 22).
COUPLE_PAGE_QUERIES = REQUEST_QUERIES + 22
# Then the session, the stored alliance, reports and questionnaire answers, the visible
# measure definitions, the access event written, the couple's partners and the stamp a save is
# checked against (sessions.services.measures_stamp, one query).
MEASURES_PAGE_QUERIES = REQUEST_QUERIES + 8


def record_treatment(couple: Couple, sessions: int) -> list[TherapySession]:
    """`sessions` weekly sessions, each with both partners' alliance, all three reports, a CSI-4
    from both partners every fourth session and a rupture every third (one withdrawn, one
    repaired later)."""
    csi4 = MeasureDefinition.objects.get(practice=None, code="csi4")
    start = timezone.now() - datetime.timedelta(weeks=sessions)
    made = [
        make_session(couple, ordinal=n, starts_at=start + datetime.timedelta(weeks=n))
        for n in range(1, sessions + 1)
    ]
    AllianceRating.objects.bulk_create(
        AllianceRating(
            session=session,
            partner=partner,
            bond=n % 11,
            goals=7,
            tasks=(n * 3) % 11,
            fit=6,
            entered_by="therapist",
        )
        for n, session in enumerate(made)
        for partner in ("A", "B")
    )
    PostSessionReport.objects.bulk_create(
        PostSessionReport(
            session=session,
            respondent=respondent,
            tension=n % 2 == 0,
            upsetting=3 if n % 2 == 0 else None,
            resolved=2 if n % 2 == 0 else None,
            entered_by="partner",
        )
        for n, session in enumerate(made)
        for respondent in ("partner_a", "partner_b", "therapist")
    )
    MeasureResponse.objects.bulk_create(
        MeasureResponse(
            definition=csi4,
            session=session,
            partner=partner,
            answers={"happiness": 3, "warm": n % 6, "rewarding": 3, "satisfied": 2},
            total=8 + n % 6,
            entered_by="partner",
        )
        for n, session in enumerate(made)
        if n % 4 == 0
        for partner in ("A", "B")
    )
    ruptures = [make_rupture(session) for session in made[::3]]
    if len(ruptures) > 2:
        rupture_withdraw(rupture=ruptures[1], by=couple.therapist, reason="Logged twice.")
        rupture_repair(
            rupture=ruptures[0],
            repaired_in=made[4],
            status=RuptureStatus.RESOLVED,
            resolution_stage=4,
        )
    return made


@dataclass
class Scene:
    owner: User
    short: Couple
    short_session: TherapySession
    long: Couple
    long_session: TherapySession


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        owner = make_user(make_practice(), "Counted Therapist", therapist=True)
        short = make_couple(owner)
        long = make_couple(owner)
        (short_session,) = record_treatment(short, 1)
        long_sessions = record_treatment(long, 50)
        yield Scene(
            owner=owner,
            short=short,
            short_session=short_session,
            long=long,
            long_session=long_sessions[24],
        )
        transaction.set_rollback(True)


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_long_treatment_has_what_is_counted(scene):
    sessions = scene.long.sessions.all()

    assert sessions.count() == 50
    assert AllianceRating.objects.filter(session__in=sessions).count() == 100
    assert PostSessionReport.objects.filter(session__in=sessions).count() == 150
    assert MeasureResponse.objects.filter(session__in=sessions).count() == 26
    assert sum(s.ruptures.count() for s in sessions) == 17


def test_couple_page_reads_one_session_or_fifty_in_the_same_queries(client, scene):
    client.force_login(scene.owner)
    client.get(reverse("cycles:detail", args=[scene.short.case_code]))  # warm caches

    short = count_queries(client, reverse("cycles:detail", args=[scene.short.case_code]))
    long = count_queries(client, reverse("cycles:detail", args=[scene.long.case_code]))

    assert (short, long) == (COUPLE_PAGE_QUERIES, COUPLE_PAGE_QUERIES)


def test_couple_page_of_the_long_treatment_shows_its_fifty_sessions_measures(client, scene):
    client.force_login(scene.owner)

    response = client.get(reverse("cycles:detail", args=[scene.long.case_code]))

    points = response.context["signals"].points
    assert len(points) == 50
    assert all(set(p.alliance) == {"A", "B"} for p in points)
    assert len(response.context["satisfaction_sections"][0]["series"]) == 2


def test_measures_page_reads_in_the_same_queries_whatever_the_treatment(client, scene):
    client.force_login(scene.owner)
    client.get(reverse("therapy_sessions:measures", args=[scene.short_session.pk]))

    short = count_queries(
        client, reverse("therapy_sessions:measures", args=[scene.short_session.pk])
    )
    long = count_queries(client, reverse("therapy_sessions:measures", args=[scene.long_session.pk]))

    assert (short, long) == (MEASURES_PAGE_QUERIES, MEASURES_PAGE_QUERIES)
