"""Moving a case to another therapist of the practice: by the practice admin or the
therapist's supervisor, with a reason, audited, both therapists told by e-mail (the case code,
nothing clinical); the record goes with the case, private notes stay their author's."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core import dates
from cycles.models import CaseEvent, CaseEventKind, Couple
from people.models import AccessEvent, Supervision
from people.totp import current_code, enrol
from sessions.models import PrivateNote
from tests.conftest import TEST_TOTP_SECRET
from tests.factories import PASSWORD, World, make_couple, make_user, version_of

if TYPE_CHECKING:
    from django.test import Client

    from people.models import User

pytestmark = pytest.mark.django_db

PRIVATE = "Private process note."  # the owner's note on the world's session (tests.factories)


def as_user(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def transfer(client: Client, couple: Couple, to: Any, why: str = "Therapist leaving") -> Any:
    return client.post(
        reverse("cycles:transfer", args=[couple.case_code]),
        {"to_therapist": str(getattr(to, "pk", to)), "why": why} | version_of(couple),
    )


def status(client: Client, user: User, url: str) -> int:
    return as_user(client, user).get(url).status_code


@pytest.mark.parametrize("mover", ["practice_admin", "supervisor"])
def test_a_case_moves_and_the_record_goes_with_it_but_not_the_private_note(
    client, django_capture_on_commit_callbacks, mover
):
    world = World.build()
    old, new = world.owner, world.colleague
    couple_url = world.couple.get_absolute_url()
    session_url = reverse("therapy_sessions:detail", args=[world.session.pk])
    assert status(client, old, couple_url) == 200
    assert status(client, new, couple_url) == 404
    assert PRIVATE in as_user(client, old).get(session_url).text

    with django_capture_on_commit_callbacks(execute=True):
        response = transfer(as_user(client, getattr(world, mover)), world.couple, new)

    assert response.status_code == 302
    world.couple.refresh_from_db()
    assert world.couple.therapist == new
    # The old therapist loses the record; the new one reads and writes it.
    assert status(client, old, couple_url) == 404
    assert status(client, old, session_url) == 404
    assert status(client, new, couple_url) == 200
    assert status(client, new, reverse("cycles:edit", args=[world.couple.case_code])) == 200
    # The private note stays its author's: not moved, never shown to the new therapist.
    new_page = as_user(client, new).get(session_url)
    assert new_page.status_code == 200
    assert PRIVATE not in new_page.text
    note = PrivateNote.objects.get(session=world.session)
    assert note.author == old
    assert not PrivateNote.objects.visible_to(new).exists()
    # The old therapist's supervisor no longer reads it; the new one's does.
    assert status(client, world.supervisor, couple_url) == 404
    assert status(client, world.other_supervisor, couple_url) == 200

    event = CaseEvent.objects.get(couple=world.couple)
    assert (event.kind, event.from_therapist, event.to_therapist) == (
        CaseEventKind.TRANSFERRED,
        old,
        new,
    )
    assert event.note == "Therapist leaving"
    trail = AccessEvent.objects.get(action="transfer case")
    assert trail.user == getattr(world, mover)
    assert trail.case_code == world.couple.case_code
    assert trail.detail == f"from user {old.pk} to user {new.pk}"
    # Both told, by the case code alone: no partner's name, nothing clinical.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == sorted([old.email, new.email])
    assert world.couple.case_code in message.subject
    assert world.couple.case_code in message.body
    for partner in world.couple.partners.all():
        assert partner.display_name not in message.body
    assert PRIVATE not in message.body


def test_the_admin_sees_case_codes_and_therapists_only(client):
    world = World.build()
    client = as_user(client, world.practice_admin)
    partners = [p.display_name for p in world.couple.partners.all()]
    listing = client.get(reverse("cycles:transfers"))
    form = client.get(reverse("cycles:transfer", args=[world.couple.case_code]))
    for page in (listing, form):
        assert page.status_code == 200
        assert world.couple.case_code in page.text
        assert str(world.owner) in page.text
        for name in partners:
            assert name not in page.text
        assert PRIVATE not in page.text
    # The admin still reads no clinical record.
    assert client.get(world.couple.get_absolute_url()).status_code == 404


def test_a_supervisor_moves_only_their_supervisees_cases(client):
    world = World.build()
    colleagues = make_couple(world.colleague)
    client = as_user(client, world.supervisor)
    codes = [c.case_code for c in client.get(reverse("cycles:transfers")).context["couples"]]
    assert codes == [world.couple.case_code]
    assert transfer(client, colleagues, world.owner).status_code == 404
    colleagues.refresh_from_db()
    assert colleagues.therapist == world.colleague


@pytest.mark.parametrize("role", ["owner", "colleague", "group_member", "outsider"])
def test_therapists_and_outsiders_move_no_case(client, role):
    world = World.build()
    assert (
        transfer(as_user(client, getattr(world, role)), world.couple, world.colleague).status_code
        == 404
    )
    world.couple.refresh_from_db()
    assert world.couple.therapist == world.owner


@pytest.mark.parametrize("target", ["outsider", "supervisor", "practice_admin", "owner", "nobody"])
def test_a_case_moves_only_to_another_therapist_of_the_practice(client, target):
    world = World.build()
    make_user(world.practice, "Inactive Therapist", therapist=True, is_active=False)
    to = {"nobody": "999999"}.get(target) or getattr(world, target)
    client = as_user(client, world.practice_admin)

    response = transfer(client, world.couple, to, why="Keep this reason")

    assert response.status_code == 200
    assert "a case can only move to one of them" in response.text
    assert "Keep this reason" in response.text
    world.couple.refresh_from_db()
    assert world.couple.therapist == world.owner
    assert not CaseEvent.objects.exists()
    assert not AccessEvent.objects.filter(action="transfer case").exists()
    assert not mail.outbox


def test_the_choice_offers_the_practices_other_active_therapists_only(client):
    world = World.build()
    make_user(world.practice, "Inactive Therapist", therapist=True, is_active=False)
    form = as_user(client, world.practice_admin).get(
        reverse("cycles:transfer", args=[world.couple.case_code])
    )
    offered = [
        label
        for value, label in form.context["form"].fields["to_therapist"].widget.choices
        if value
    ]
    assert offered == sorted([str(world.colleague), str(world.group_member)])


def test_a_transfer_needs_a_reason_and_a_fresh_form(client):
    world = World.build()
    client = as_user(client, world.practice_admin)
    refused = transfer(client, world.couple, world.colleague, why="  ")
    assert refused.status_code == 200
    assert "Say why the case moves." in refused.text
    stale = version_of(world.couple)
    Couple.objects.filter(pk=world.couple.pk).update(version=world.couple.version + 1)
    response = client.post(
        reverse("cycles:transfer", args=[world.couple.case_code]),
        {"to_therapist": world.colleague.pk, "why": "Leaving"} | stale,
    )
    assert response.status_code == 200
    assert "Someone saved this record after you opened it" in response.text
    world.couple.refresh_from_db()
    assert world.couple.therapist == world.owner
    assert Supervision.objects.filter(therapist=world.owner).exists()


def sign_in(user: User) -> Client:
    """Password, then the authenticator's code, as a person does; the page it leads to."""
    from django.test import Client

    enrol(user, TEST_TOTP_SECRET)
    browser = Client()
    browser.post(reverse("account_login"), {"login": user.username, "password": PASSWORD})
    browser.post(reverse("mfa_authenticate"), {"code": current_code(TEST_TOTP_SECRET)})
    return browser


def shown_messages(page: Any) -> list[str]:
    """The messages about cases (allauth's own "Successfully signed in" aside)."""
    return [str(m) for m in page.context["messages"] if str(m).startswith("Case ")]


def test_both_therapists_are_told_once_at_their_next_sign_in(client):
    world = World.build()
    old, new = world.owner, world.colleague
    transfer(as_user(client, world.practice_admin), world.couple, new)
    day = dates.show(world.couple.case_events.get().on_date)
    code = world.couple.case_code

    new_home = sign_in(new).get(reverse("cycles:caseload"))
    old_home = sign_in(old).get(reverse("cycles:caseload"))

    assert shown_messages(new_home) == [f"Case {code} was transferred to you from {old} on {day}."]
    assert shown_messages(old_home) == [f"Case {code} was transferred from you to {new} on {day}."]
    event = world.couple.case_events.get()
    assert event.new_therapist_told_at is not None
    assert event.old_therapist_told_at is not None
    # Told once: the next sign-in (past the authenticator code already used) says nothing.
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=90), tick=False):
        again = sign_in(new).get(reverse("cycles:caseload"))
    assert again.status_code == 200
    assert shown_messages(again) == []


def test_the_transfer_list_costs_the_same_however_many_cases(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    world = World.build()
    client = as_user(client, world.practice_admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("cycles:transfers")).status_code == 200
        return len(captured)

    few = queries()
    for therapist in (world.owner, world.colleague, world.group_member):
        make_couple(therapist)
    assert queries() == few
