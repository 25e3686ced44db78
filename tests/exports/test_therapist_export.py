"""A therapist exports their own caseload's rupture codes: the supervisor's CSV (same columns,
coded values only) over the couples they treat, built in the background, after a recent
check, recorded with its row count, downloadable by them only and only for 15 minutes."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports.models import ExportJob
from people.models import AccessEvent
from ruptures.services import rupture_withdraw
from tests.exports import exported, job_of, start_export
from tests.factories import World, make_couple, make_rupture, make_session

pytestmark = pytest.mark.django_db

URL = reverse("exports:caseload_ruptures")


@pytest.fixture
def world() -> World:
    return World.build()


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


def test_the_therapist_gets_their_own_couples_ruptures_only(world):
    second = make_couple(world.owner)
    make_rupture(make_session(second, days_ago=3), reflection="Only mine to read.")
    withdrawn = make_rupture(make_session(second, days_ago=2))
    rupture_withdraw(rupture=withdrawn, by=world.owner, reason="Logged on the wrong couple.")
    colleagues = make_couple(world.colleague)
    make_rupture(make_session(colleagues, days_ago=3))
    elsewhere = make_couple(world.outsider)
    make_rupture(make_session(elsewhere, days_ago=3))
    client = signed_in(world.owner)

    page = client.get(URL)
    assert page.status_code == 200
    assert "Rupture codes of my caseload (CSV)" in page.content.decode()
    download = exported(client, URL)

    assert download.status_code == 200
    assert download["Content-Disposition"].startswith(
        'attachment; filename="caseload-rupture-codes-'
    )
    table = rows(download.content)
    header, body = table[0], table[1:]
    assert header[:2] == ["therapist", "case_code"]
    assert sorted(row[1] for row in body) == sorted([world.couple.case_code, second.case_code])
    assert {row[0] for row in body} == {world.owner.username}
    text = download.content.decode()
    assert "Only mine to read." not in text  # no reflections
    assert world.couple.partners.first().display_name not in text  # no names
    assert colleagues.case_code not in text
    assert elsewhere.case_code not in text


def test_the_start_is_recorded_with_its_row_count(world):
    exported(signed_in(world.owner), URL)
    event = AccessEvent.objects.get(action="export csv")
    assert event.user == world.owner
    assert event.detail == "caseload-rupture-codes.csv rows=1"


@pytest.mark.parametrize(
    "role", ["supervisor", "other_supervisor", "practice_admin", "group_member", "outsider"]
)
def test_only_therapists_export_and_only_their_own(world, role):
    client = signed_in(getattr(world, role))
    person = getattr(world, role)
    if person.is_therapist:
        # A therapist with no couples gets a file with the header only.
        body = rows(exported(client, URL).content)
        assert len(body) == 1
        return
    assert client.get(URL).status_code == 404
    assert client.post(URL).status_code == 404
    assert not ExportJob.objects.exists()
    assert not AccessEvent.objects.filter(action="export csv").exists()


def test_the_file_is_for_the_therapist_only_and_for_15_minutes(world):
    client = signed_in(world.owner)
    job = job_of(start_export(client, URL))
    download = reverse("exports:download", args=[job.token])
    assert client.get(download).status_code == 200
    for other in (world.supervisor, world.colleague):
        assert signed_in(other).get(download).status_code == 404
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=16)):
        assert signed_in(world.owner).get(download).status_code == 404


def test_an_export_long_after_signing_in_asks_to_confirm_who_it_is_first(world):
    client = signed_in(world.owner)
    session = client.session
    for method in session["account_authentication_methods"]:
        method["at"] -= 60 * 60
    session.save()
    response = client.post(URL)
    assert response.status_code == 302
    assert reverse("account_reauthenticate") in response["Location"]
    assert not ExportJob.objects.exists()
    assert not AccessEvent.objects.filter(action="export csv").exists()


def test_the_caseload_offers_the_export_to_a_therapist_only(world):
    link = f'href="{URL}"'
    assert link in signed_in(world.owner).get(reverse("cycles:caseload")).content.decode()
    assert link not in signed_in(world.supervisor).get(reverse("cycles:caseload")).content.decode()
