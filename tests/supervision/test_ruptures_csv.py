"""The rupture-code export: built in the background (exports), one row per current rupture of
the supervisees' couples, coded values only, safe to open in a spreadsheet, and recorded."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import pytest
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone

from core.csv import csv_safe
from cycles.models import Couple, CyclePosition
from cycles.services import PartnerDetails
from exports import services
from people.models import AccessEvent, Supervision
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.models import Rupture
from ruptures.services import rupture_repair, rupture_withdraw
from supervision import review as supervision
from tests.exports import exported, job_of
from tests.factories import World, make_couple, make_practice, make_rupture, make_session, make_user
from tests.supervision import request_overhead, sign_in

pytestmark = pytest.mark.django_db

CANARY = "CANARY-7f3e"
# The start, after sign-in: the acting person set and cleared around a POST (people.audit_db),
# the row count, the access event, the purge of expired files and the job. The build: claim
# it, read it with its requester and practice, count, the one query of rows, store the file,
# purge.
START_QUERIES = 6
BUILD_QUERIES = 7


@pytest.fixture
def world() -> World:
    return World.build()


def export(client, user) -> HttpResponse:
    """The start's response when refused, else the downloaded file."""
    sign_in(client, user)
    url = reverse("supervision:ruptures_csv")
    start = client.post(url)
    if start.status_code != 302:
        return start
    return exported(client, url)


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


# --- what is in it ------------------------------------------------------------------------------


def test_the_export_is_a_csv_attachment(client, world):
    response = export(client, world.supervisor)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="rupture-codes-')
    assert rows_of(response)[0] == supervision.CSV_HEADER


def test_one_row_per_current_rupture_of_the_supervisees_couples(client, world):
    couple, first = world.couple, world.session
    later = make_session(couple, days_ago=3)
    confrontation = make_rupture(
        later,
        rupture_type=RuptureType.CONFRONTATION,
        who_moved=WhoMoved.PARTNER_B,
        toward=Toward.THERAPIST,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION
        | ConfrontationMarker.COMPLAINS_ABOUT_PROGRESS,
        significance=5,
        therapist_contribution=4,
        strategies=ResolutionStrategy.ACKNOWLEDGES_CONTRIBUTION
        | ResolutionStrategy.DISCLOSES_EXPERIENCE,
        resolution_stage=2,
    )
    repaired_later = make_session(couple, days_ago=1)
    rupture_repair(rupture=world.rupture, repaired_in=repaired_later, status=RuptureStatus.RESOLVED)
    withdrawn = make_rupture(later)
    rupture_withdraw(rupture=withdrawn, by=world.owner, reason="Logged on the wrong couple.")
    make_rupture(make_session(make_couple(world.colleague)))  # another supervisor's case

    rows = rows_of(export(client, world.supervisor))[1:]
    assert len(rows) == 2
    by_session = {int(row[2]): dict(zip(supervision.CSV_HEADER, row, strict=True)) for row in rows}
    zone = world.practice.time_zone
    first_row = by_session[first.ordinal]
    assert first_row == {
        "therapist": world.owner.username,
        "case_code": couple.case_code,
        "session_number": str(first.ordinal),
        "session_date": timezone.localtime(first.starts_at, ZoneInfo(zone)).date().isoformat(),
        "type": "Withdrawal (moving away)",
        "who_moved": "Partner A",
        "toward": "The therapist",
        "markers": "Minimal response",
        "significance": "3",
        "therapist_contribution": "",
        "strategies": "",
        "stage_reached": "0",
        "status": "Resolved",
        "repaired_in_session": str(Rupture.objects.get(pk=world.rupture.pk).repaired_in.ordinal),
    }
    second_row = by_session[Rupture.objects.get(pk=confrontation.pk).session.ordinal]
    assert second_row["type"] == "Confrontation (moving against)"
    assert second_row["who_moved"] == "Partner B"
    assert second_row["markers"] == "Rejects a therapist intervention; Complaints about progress"
    assert second_row["strategies"] == (
        "Acknowledges own contribution; Discloses own internal experience"
    )
    assert (second_row["significance"], second_row["therapist_contribution"]) == ("5", "4")
    assert (second_row["stage_reached"], second_row["status"]) == ("2", "Unresolved")
    assert second_row["repaired_in_session"] == ""


def test_the_export_never_holds_private_text_notes_or_names(client, world):
    couple = make_couple(
        world.owner,
        partner_a=PartnerDetails(f"{CANARY}-partner-a", CyclePosition.PURSUER),
        partner_b=PartnerDetails(f"{CANARY}-partner-b", CyclePosition.WITHDRAWER),
    )
    session = make_session(
        couple, private_note=f"{CANARY}-process-note", progress_note=f"{CANARY}-progress"
    )
    make_rupture(session, reflection=f"{CANARY}-reflection", note=f"{CANARY}-rupture-note")
    response = export(client, world.supervisor)
    body = response.content.decode()
    assert couple.case_code in body
    assert CANARY not in body
    assert "My private reflection" not in body  # the world's own rupture's reflection
    assert "Private process note" not in body


def test_cells_that_could_run_as_formulas_are_escaped():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_safe(f'{start}HYPERLINK("http://x")') == (f'\'{start}HYPERLINK("http://x")')
    assert csv_safe("C-7KQ2M9") == "C-7KQ2M9"
    assert csv_safe(3) == "3"
    assert csv_safe(None) == ""
    assert csv_safe("") == ""
    assert csv_safe("a=b") == "a=b"


def test_a_case_code_or_username_starting_like_a_formula_is_escaped(client, world):
    world.owner.username = "=cmd|' /C calc'!A0"
    world.owner.save(update_fields=["username"])
    Couple.objects.filter(pk=world.couple.pk).update(case_code="@SUM(A1:A9)")
    rows = rows_of(export(client, world.supervisor))[1:]
    assert [(row[0], row[1]) for row in rows] == [("'=cmd|' /C calc'!A0", "'@SUM(A1:A9)")]


# --- the record of it ---------------------------------------------------------------------------


def test_the_export_is_recorded_with_its_row_count(client, world):
    make_rupture(make_session(world.couple, days_ago=2))
    sign_in(client, world.supervisor)
    exported(client, reverse("supervision:ruptures_csv"))
    event = AccessEvent.objects.get(action="export csv")
    assert event.user == world.supervisor
    assert event.practice == world.practice
    assert event.detail == "ruptures.csv rows=2"
    assert event.case_code == ""


def test_an_export_long_after_signing_in_asks_to_confirm_who_it_is_first(client, world):
    sign_in(client, world.supervisor)
    session = client.session
    for method in session["account_authentication_methods"]:
        method["at"] -= 60 * 60
    session.save()
    response = client.post(reverse("supervision:ruptures_csv"))
    assert response.status_code == 302
    assert "reauthenticate" in response["Location"]
    assert not AccessEvent.objects.filter(action="export csv").exists()


# --- who ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["owner", "colleague", "group_member", "practice_admin", "outsider"]
)
def test_non_supervisors_get_404(client, world, role):
    assert export(client, getattr(world, role)).status_code == 404
    assert not AccessEvent.objects.filter(action="export csv").exists()


def test_another_supervisor_exports_only_their_supervisees_ruptures(client, world):
    make_rupture(make_session(make_couple(world.colleague)))
    rows = rows_of(export(client, world.other_supervisor))[1:]
    assert [row[0] for row in rows] == [world.colleague.username]


def test_a_supervisor_of_another_practice_exports_nothing_of_this_one(client, world):
    stranger = make_user(make_practice(), "Stranger", supervisor=True)
    assert rows_of(export(client, stranger)) == [supervision.CSV_HEADER]
    Supervision.objects.create(
        practice=world.practice, supervisor=world.supervisor, therapist=world.outsider
    )
    make_rupture(make_session(make_couple(world.outsider)))
    rows = rows_of(export(client, world.supervisor))[1:]
    assert {row[0] for row in rows} == {world.owner.username}


# --- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 30])
def test_the_export_runs_a_fixed_number_of_queries(client, django_assert_num_queries, size):
    practice = make_practice()
    supervisor = make_user(practice, "Counted Supervisor", supervisor=True)
    therapist = make_user(practice, "Counted Therapist", therapist=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    couples = [make_couple(therapist) for _ in range(max(1, size // 3))]
    for n in range(size):
        session = make_session(couples[n % len(couples)], days_ago=size - n)
        kind = RuptureType.CONFRONTATION if n % 2 else RuptureType.WITHDRAWAL
        make_rupture(session, rupture_type=kind)
    sign_in(client, supervisor)
    url = reverse("supervision:ruptures_csv")
    client.get(url)
    overhead = request_overhead(client)
    with django_assert_num_queries(overhead + START_QUERIES):
        start = client.post(url)
    job = job_of(start)
    with django_assert_num_queries(BUILD_QUERIES):
        services.build(job.pk)
    job.refresh_from_db()
    rows = list(csv.reader(io.StringIO(bytes(job.content).decode())))
    assert len(rows) == size + 1
    markers = {row[7] for row in rows[1:]}
    assert WithdrawalMarker.MINIMAL_RESPONSE.label in markers
    assert markers <= {"Minimal response", "Rejects a therapist intervention"}
