"""Keeping records: the practice's retention period, the closed records past it, and their
destruction by two people (the admin asks, the couple's therapist or supervisor confirms),
which leaves a tombstone: case code, dates, who asked and who confirmed."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cycles.models import Couple, CoupleStatus, DestructionRequest, Partner, RetentionPolicy
from people.models import AccessEvent, Supervision
from ruptures.models import Rupture
from sessions.models import PrivateNote, TherapySession
from sessions.signing import sign
from tests.factories import World, make_couple, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from django.test import Client

    from people.models import User

pytestmark = pytest.mark.django_db

YEAR = 365


def as_user(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def closed_long_ago(therapist: User, *, closed_days_ago: int = 8 * YEAR) -> Couple:
    """A couple treated years ago and closed `closed_days_ago` days ago, with a signed
    session, a private note, a rupture and its reflection."""
    today = timezone.localdate()
    couple = make_couple(
        therapist, started_on=today - datetime.timedelta(days=closed_days_ago + 90)
    )
    session = make_session(
        couple, days_ago=closed_days_ago + 30, private_note="An old private note."
    )
    make_rupture(session, reflection="An old reflection.")
    sign(session, by=therapist)
    Couple.objects.filter(pk=couple.pk).update(
        status=CoupleStatus.COMPLETED, closed_on=today - datetime.timedelta(days=closed_days_ago)
    )
    couple.refresh_from_db()
    return couple


def ask(client: Client, couple: Couple) -> Any:
    return client.post(reverse("cycles:destroy", args=[couple.case_code]), follow=True)


def confirm(client: Client, couple: Couple) -> Any:
    return client.post(reverse("cycles:destroy_confirm", args=[couple.case_code]))


def test_the_admin_sets_the_retention_period_and_bad_input_changes_nothing(client):
    world = World.build()
    client = as_user(client, world.practice_admin)
    url = reverse("cycles:retention")
    assert client.get(url).context["form"]["years"].value() == 7
    for typed, message in (("0", "at least 1 year"), ("ten", "whole number"), ("", "1 to 100")):
        response = client.post(url, {"years": typed, "version": "1"})
        assert response.status_code == 200
        assert message in response.text
        assert f'value="{typed}"' in response.text or not typed
    assert not RetentionPolicy.objects.exists()

    assert client.post(url, {"years": "10", "version": "1"}).status_code == 302

    assert RetentionPolicy.for_practice(world.practice.pk).years == 10
    assert AccessEvent.objects.get(action="set retention").detail == "years=10"
    # Only the practice admin manages it.
    for person in (world.owner, world.supervisor):
        assert as_user(client, person).get(url).status_code == 404


def test_the_admin_lists_closed_records_past_retention_by_case_code_and_dates_only(client):
    world = World.build()
    old = closed_long_ago(world.owner)
    recent = closed_long_ago(world.owner, closed_days_ago=2 * YEAR)
    page = as_user(client, world.practice_admin).get(reverse("cycles:retention"))
    assert [code for code, *_ in page.context["due"]] == [old.case_code]
    assert recent.case_code not in page.text
    assert world.couple.case_code not in page.text  # open
    for partner in Partner.objects.filter(couple=old):
        assert partner.display_name not in page.text
    assert "An old private note." not in page.text
    # A shorter period brings the more recent one in.
    RetentionPolicy.objects.create(practice=world.practice, years=1)
    page = client.get(reverse("cycles:retention"))
    assert [code for code, *_ in page.context["due"]] == [old.case_code, recent.case_code]


def test_destroying_a_record_needs_two_people_and_leaves_a_tombstone(client):
    world = World.build()
    couple = closed_long_ago(world.owner)
    code, started_on, closed_on = couple.case_code, couple.started_on, couple.closed_on
    session_ids = list(TherapySession.objects.filter(couple=couple).values_list("pk", flat=True))

    # The admin's click only asks: nothing is deleted.
    asked = ask(as_user(client, world.practice_admin), couple)
    assert "must confirm" in asked.text
    assert Couple.objects.filter(pk=couple.pk).exists()
    request = DestructionRequest.objects.get(case_code=code)
    assert request.destroyed_at is None
    # The therapist and the supervisor are asked, by case code alone.
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == sorted([world.owner.email, world.supervisor.email])
    assert code in mail.outbox[0].body
    assert "An old" not in mail.outbox[0].body
    # The admin can't confirm their own request (nor read the record), nor can a colleague.
    assert confirm(client, couple).status_code == 404
    assert confirm(as_user(client, world.colleague), couple).status_code == 404
    assert Couple.objects.filter(pk=couple.pk).exists()

    page = as_user(client, world.owner).get(reverse("cycles:destroy_confirm", args=[code]))
    assert page.status_code == 200
    assert "Destroy the record of" in page.text
    done = confirm(client, couple)

    assert done.status_code == 302
    assert not Couple.objects.filter(pk=couple.pk).exists()
    assert not Partner.objects.filter(couple_id=couple.pk).exists()
    assert not TherapySession.objects.filter(pk__in=session_ids).exists()
    assert not Rupture.objects.filter(couple_id=couple.pk).exists()
    assert not PrivateNote.objects.filter(session_id__in=session_ids).exists()
    tombstone = DestructionRequest.objects.get(case_code=code)
    assert (tombstone.started_on, tombstone.closed_on) == (started_on, closed_on)
    assert (tombstone.requested_by, tombstone.confirmed_by) == (world.practice_admin, world.owner)
    assert tombstone.destroyed_at is not None
    trail = AccessEvent.objects.get(action="destroy record")
    assert trail.case_code == code
    assert trail.user == world.owner
    assert f"requested by user {world.practice_admin.pk}" in trail.detail
    assert AccessEvent.objects.filter(action="request record destruction", case_code=code).exists()
    # The admin's page lists the tombstone; the world's other couple is untouched.
    listing = as_user(client, world.practice_admin).get(reverse("cycles:retention")).text
    assert code in listing
    assert Couple.objects.filter(pk=world.couple.pk).exists()


def test_the_supervisor_may_confirm_too(client):
    world = World.build()
    couple = closed_long_ago(world.owner)
    ask(as_user(client, world.practice_admin), couple)
    assert confirm(as_user(client, world.supervisor), couple).status_code == 302
    assert not Couple.objects.filter(pk=couple.pk).exists()


def test_files_exported_from_a_destroyed_record_go_with_it(client):
    from exports.models import ExportJob, ExportKind

    world = World.build()
    couple = closed_long_ago(world.owner)
    for case_code in (couple.case_code, world.couple.case_code):
        ExportJob.objects.create(
            requested_by=world.owner,
            kind=ExportKind.COUPLE_PDF,
            params={"case_code": case_code},
            content=b"%PDF-1.7 invented",
            filename=f"{case_code}.pdf",
            content_type="application/pdf",
            expires_at=timezone.now() + datetime.timedelta(minutes=15),
        )
    ask(as_user(client, world.practice_admin), couple)
    assert confirm(as_user(client, world.owner), couple).status_code == 302

    left = ExportJob.objects.values_list("params__case_code", flat=True)
    assert list(left) == [world.couple.case_code]  # the other couple's export is untouched


def test_the_same_person_can_not_both_ask_and_confirm(client):
    world = World.build()
    both = make_user(world.practice, "Admin And Supervisor", supervisor=True, practice_admin=True)
    Supervision.objects.create(practice=world.practice, supervisor=both, therapist=world.owner)
    couple = closed_long_ago(world.owner)
    client = as_user(client, both)
    ask(client, couple)

    response = confirm(client, couple)

    assert response.status_code == 200
    assert "needs two people" in response.text
    assert Couple.objects.filter(pk=couple.pk).exists()
    assert DestructionRequest.objects.get(case_code=couple.case_code).destroyed_at is None


@pytest.mark.parametrize("closed_days_ago", [None, 2 * YEAR])
def test_a_record_within_retention_or_open_is_refused_with_a_message(client, closed_days_ago):
    world = World.build()
    couple = (
        world.couple
        if closed_days_ago is None
        else closed_long_ago(world.owner, closed_days_ago=closed_days_ago)
    )
    response = ask(as_user(client, world.practice_admin), couple)
    expected = "is not closed" if closed_days_ago is None else "within its retention period"
    assert expected in response.text
    assert not DestructionRequest.objects.exists()
    assert not mail.outbox


def test_a_longer_period_set_after_the_request_stops_the_confirmation(client):
    world = World.build()
    couple = closed_long_ago(world.owner)
    ask(as_user(client, world.practice_admin), couple)
    RetentionPolicy.objects.create(practice=world.practice, years=20)

    response = confirm(as_user(client, world.owner), couple)

    assert "within its retention period" in response.text
    assert Couple.objects.filter(pk=couple.pk).exists()


def test_the_retention_page_costs_the_same_however_many_records(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    world = World.build()
    client = as_user(client, world.practice_admin)
    ask(client, closed_long_ago(world.owner))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("cycles:retention")).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(3):
        ask(client, closed_long_ago(world.owner))
    assert len(client.get(reverse("cycles:retention")).context["due"]) == 4
    assert queries() == few
