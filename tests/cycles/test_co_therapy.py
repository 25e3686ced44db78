"""A co-therapist (issue #20 item 3, docs/domain.md#co-therapy): set by the practice admin or the
therapist's supervisor with a reason, the same rights on the shared record, their own private
notes, everyone concerned told; bad choices refused with a message and nothing changed.
Who reads what before and after, URL by URL: tests/security/test_co_therapy_access.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.core import mail
from django.urls import reverse

from core import dates
from cycles.models import CaseEvent, CaseEventKind, Couple
from people.models import AccessEvent
from sessions.models import NoteKind, PrivateNote
from tests.cycles.test_transfer import as_user, shown_messages, sign_in, transfer
from tests.factories import World, make_couple, make_user, version_of

if TYPE_CHECKING:
    from django.test import Client

pytestmark = pytest.mark.django_db

PRIVATE = "Private process note."  # the owner's note on the world's session (tests.factories)


def set_co(client: Client, couple: Couple, to: Any, why: str = "Co-therapy for the intensive"):
    return client.post(
        reverse("cycles:co_therapist", args=[couple.case_code]),
        {"co_therapist": str(getattr(to, "pk", to or "")), "why": why} | version_of(couple),
    )


@pytest.mark.parametrize("by", ["practice_admin", "supervisor"])
def test_a_co_therapist_joins_writes_the_record_and_keeps_their_own_private_note(
    client, django_capture_on_commit_callbacks, by
):
    world = World.build()
    co = world.colleague
    session_url = reverse("therapy_sessions:detail", args=[world.session.pk])
    assert as_user(client, co).get(world.couple.get_absolute_url()).status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        response = set_co(as_user(client, getattr(world, by)), world.couple, co)

    assert response.status_code == 302
    world.couple.refresh_from_db()
    assert (world.couple.therapist, world.couple.co_therapist) == (world.owner, co)
    page = as_user(client, co).get(world.couple.get_absolute_url())
    assert page.status_code == 200
    assert f"co-therapist: {co}" in page.text
    assert "Log a session" in page.text  # the same rights: not a read-only review
    assert world.couple.case_code in as_user(client, co).get(reverse("cycles:caseload")).text
    # Their own private note on the lead's session, beside the lead's, each its author's.
    edit = as_user(client, co).get(reverse("therapy_sessions:edit", args=[world.session.pk]))
    assert edit.status_code == 200
    assert PRIVATE not in edit.text
    form = dict(edit.context["form"].initial) | {"private_note": "Co-therapist's own note."}
    form = {k: ("" if v is None else v) for k, v in form.items()}
    saved = client.post(reverse("therapy_sessions:edit", args=[world.session.pk]), form)
    assert saved.status_code == 302, saved.context and saved.context["form"].errors
    notes = dict(PrivateNote.objects.filter(session=world.session).values_list("author", "text"))
    assert notes == {world.owner.pk: PRIVATE, co.pk: "Co-therapist's own note."}
    assert "Co-therapist's own note." not in as_user(client, world.owner).get(session_url).text
    assert PRIVATE not in as_user(client, co).get(session_url).text

    event = CaseEvent.objects.get(couple=world.couple)
    assert (event.kind, event.to_therapist, event.note) == (
        CaseEventKind.CO_THERAPIST_JOINED,
        co,
        "Co-therapy for the intensive",
    )
    trail = AccessEvent.objects.get(action="set co-therapist")
    assert trail.case_code == world.couple.case_code
    assert trail.detail == f"co-therapist user {co.pk}"
    assert sorted(m.to[0] for m in mail.outbox) == sorted([co.email, world.owner.email])
    for message in mail.outbox:
        assert world.couple.case_code in message.subject
        for partner in world.couple.partners.all():
            assert partner.display_name not in message.body


def test_the_co_therapist_leaves_and_loses_the_record(client):
    world = World.build()
    admin = as_user(client, world.practice_admin)
    set_co(admin, world.couple, world.colleague)
    world.couple.refresh_from_db()

    response = set_co(admin, world.couple, None, why="The intensive ended")

    assert response.status_code == 302
    world.couple.refresh_from_db()
    assert world.couple.co_therapist is None
    assert as_user(client, world.colleague).get(world.couple.get_absolute_url()).status_code == 404
    kinds = list(world.couple.case_events.values_list("kind", flat=True))
    assert kinds == [CaseEventKind.CO_THERAPIST_JOINED, CaseEventKind.CO_THERAPIST_LEFT]


def test_a_transfer_to_the_co_therapist_makes_them_the_only_therapist(client):
    world = World.build()
    admin = as_user(client, world.practice_admin)
    set_co(admin, world.couple, world.colleague)
    world.couple.refresh_from_db()

    assert transfer(admin, world.couple, world.colleague).status_code == 302

    world.couple.refresh_from_db()
    assert (world.couple.therapist, world.couple.co_therapist) == (world.colleague, None)
    assert as_user(client, world.owner).get(world.couple.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("target", ["outsider", "supervisor", "practice_admin", "owner", "nobody"])
def test_only_another_therapist_of_the_practice_can_be_co_therapist(client, target):
    world = World.build()
    make_user(world.practice, "Inactive Therapist", therapist=True, is_active=False)
    to = {"nobody": "999999"}.get(target) or getattr(world, target)

    response = set_co(as_user(client, world.practice_admin), world.couple, to, why="Keep me")

    assert response.status_code == 200
    assert "only they can share a case" in response.text
    assert "Keep me" in response.text
    world.couple.refresh_from_db()
    assert world.couple.co_therapist is None
    assert not CaseEvent.objects.exists()
    assert not mail.outbox


@pytest.mark.parametrize("role", ["owner", "colleague", "group_member", "outsider"])
def test_therapists_of_the_case_and_others_set_no_co_therapist(client, role):
    world = World.build()
    response = set_co(as_user(client, getattr(world, role)), world.couple, world.group_member)
    assert response.status_code == 404
    world.couple.refresh_from_db()
    assert world.couple.co_therapist is None


def test_a_supervisor_sets_co_therapists_on_their_supervisees_cases_only(client):
    world = World.build()
    theirs = make_couple(world.colleague)
    response = set_co(as_user(client, world.supervisor), theirs, world.group_member)
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.co_therapist is None


def test_a_co_therapist_needs_a_reason_a_fresh_form_and_a_change(client):
    world = World.build()
    admin = as_user(client, world.practice_admin)
    refused = set_co(admin, world.couple, world.colleague, why=" ")
    assert "Say why the co-therapy changes." in refused.text
    stale = version_of(world.couple)
    Couple.objects.filter(pk=world.couple.pk).update(version=world.couple.version + 1)
    response = admin.post(
        reverse("cycles:co_therapist", args=[world.couple.case_code]),
        {"co_therapist": world.colleague.pk, "why": "Intensive"} | stale,
    )
    assert "Someone saved this record after you opened it" in response.text
    world.couple.refresh_from_db()
    assert world.couple.co_therapist is None
    nothing = set_co(admin, world.couple, None, why="Nothing to do")
    assert nothing.status_code == 200
    assert "Nothing to change" in nothing.text
    assert not CaseEvent.objects.exists()


def test_the_co_therapist_is_told_at_their_next_sign_in(client):
    world = World.build()
    set_co(as_user(client, world.practice_admin), world.couple, world.colleague)
    day = dates.show(world.couple.case_events.get().on_date)
    home = sign_in(world.colleague).get(reverse("cycles:caseload"))
    assert shown_messages(home) == [
        f"Case {world.couple.case_code}: you joined as co-therapist on {day}."
    ]


def test_the_person_page_lists_co_therapy_cases_to_hand_on(client):
    world = World.build()
    set_co(as_user(client, world.practice_admin), world.couple, world.colleague)
    page = as_user(client, world.practice_admin).get(
        reverse("people:person", args=[world.colleague.pk])
    )
    assert "Co-therapist of" in page.text
    assert reverse("cycles:co_therapist", args=[world.couple.case_code]) in page.text


def test_a_co_therapist_on_the_same_couple_twice_is_refused_by_the_database():
    from django.db import IntegrityError, transaction

    world = World.build()
    with pytest.raises(IntegrityError), transaction.atomic():
        Couple.objects.filter(pk=world.couple.pk).update(co_therapist=world.owner)


def test_private_note_kinds_stay_one_per_author(client):
    """A second note by the same author on one session is refused by the database."""
    from django.db import IntegrityError, transaction

    world = World.build()
    with pytest.raises(IntegrityError), transaction.atomic():
        PrivateNote.objects.create(
            session=world.session, author=world.owner, kind=NoteKind.PSYCHOTHERAPY_NOTE, text="x"
        )


def test_the_caseloads_say_who_co_leads_the_case(client):
    world = World.build()
    set_co(as_user(client, world.practice_admin), world.couple, world.colleague)
    caseload = reverse("cycles:caseload")
    co_row = as_user(client, world.colleague).get(caseload).text
    assert f"co-therapist with {world.owner}" in co_row
    lead_row = as_user(client, world.owner).get(caseload).text
    assert f"co-therapist: {world.colleague}" in lead_row
    review = (
        as_user(client, world.other_supervisor)
        .get(reverse("supervision:review"), {"period": "all"})
        .text
    )
    assert world.couple.case_code in review
    assert f"with {world.colleague} (co-therapist)" in review


def test_the_sign_in_notice_dates_the_change_the_practices_way(client):
    """At sign-in the practice's format isn't active yet (people.middleware): the notice
    takes it from the person's practice."""
    world = World.build()
    type(world.practice).objects.filter(pk=world.practice.pk).update(date_format="d/m/Y")
    set_co(as_user(client, world.practice_admin), world.couple, world.colleague)
    on = world.couple.case_events.get().on_date
    home = sign_in(world.colleague).get(reverse("cycles:caseload"))
    assert shown_messages(home) == [
        f"Case {world.couple.case_code}: you joined as co-therapist on {on:%d/%m/%Y}."
    ]
