"""Who sets co-signing (issue 19, item 2): per supervisee, the practice admin on the person's
page or the supervisor on their supervisee's overview; one rule (Supervision.set_cosigning),
each change audited, and the Sign-off list follows it."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.urls import reverse

from people.models import AccessEvent, Supervision
from sessions.models import CosignState, TherapySession
from tests.factories import World, make_practice, make_user

pytestmark = pytest.mark.django_db


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def text(response: object) -> str:
    return html.unescape(response.content.decode())  # type: ignore[attr-defined]


def set_by_admin(world: World, needed: str, *, by: object | None = None) -> object:
    return signed_in(by or world.practice_admin).post(
        reverse("people:cosigning", args=[world.owner.pk]),
        {"supervisor": world.supervisor.pk, "notes_need_cosign": needed},
        follow=True,
    )


def needs_cosign(world: World) -> bool:
    return Supervision.objects.get(
        supervisor=world.supervisor, therapist=world.owner
    ).notes_need_cosign


def test_the_person_page_shows_each_supervisor_and_whether_they_co_sign() -> None:
    world = World.build()
    page = text(
        signed_in(world.practice_admin).get(reverse("people:person", args=[world.owner.pk]))
    )
    assert "Owner's Supervisor" in page
    assert "Not needed" in page
    assert "Needs Owner's Supervisor's co-signature" in page
    supervisor_page = text(
        signed_in(world.practice_admin).get(reverse("people:person", args=[world.supervisor.pk]))
    )
    assert "Supervises" in supervisor_page
    assert "Owner Therapist" in supervisor_page


def test_the_practice_admin_turns_co_signing_on_and_the_signed_note_waits() -> None:
    world = World.build()
    page = text(set_by_admin(world, "yes"))
    assert "now wait for Owner's Supervisor's co-signature" in page
    assert "Co-signs their notes" in page
    assert needs_cosign(world)
    event = AccessEvent.objects.get(action="set co-signing")
    assert event.user == world.practice_admin
    assert f"supervisor={world.supervisor.pk} needed=True" in event.detail

    owner = signed_in(world.owner)
    owner.post(reverse("therapy_sessions:sign", args=[world.session.pk]))
    session = TherapySession.objects.get(pk=world.session.pk)
    assert session.cosign_state == CosignState.AWAITING
    queue = text(signed_in(world.supervisor).get(reverse("therapy_sessions:cosign_queue")))
    assert world.couple.case_code in queue

    page = text(set_by_admin(world, "no"))
    assert "no longer wait for Owner's Supervisor" in page
    assert not needs_cosign(world)


def test_setting_it_twice_says_nothing_changed() -> None:
    world = World.build()
    set_by_admin(world, "yes")
    page = text(set_by_admin(world, "yes"))
    assert "Nothing changed: it was already so." in page
    assert needs_cosign(world)


@pytest.mark.parametrize("who", ["owner", "supervisor", "colleague", "outsider_admin"])
def test_only_the_practice_admin_of_the_practice_sets_it_here(who: str) -> None:
    world = World.build()
    if who == "outsider_admin":
        user = make_user(
            make_practice("Elsewhere"), "Else Admin", practice_admin=True, is_staff=True
        )
    else:
        user = getattr(world, who)
    response = set_by_admin(world, "yes", by=user)
    assert response.status_code == 404  # type: ignore[attr-defined]
    assert not needs_cosign(world)
    assert not AccessEvent.objects.filter(action="set co-signing").exists()


def test_a_supervisor_who_does_not_supervise_the_person_is_refused() -> None:
    world = World.build()
    response = signed_in(world.practice_admin).post(
        reverse("people:cosigning", args=[world.owner.pk]),
        {"supervisor": world.other_supervisor.pk, "notes_need_cosign": "yes"},
    )
    assert response.status_code == 404
    assert not Supervision.objects.filter(notes_need_cosign=True).exists()


def test_the_supervisor_sets_it_through_the_same_rule_and_it_is_audited() -> None:
    world = World.build()
    supervisor = signed_in(world.supervisor)
    url = reverse("supervision:cosign_setting", args=[world.owner.pk])
    supervisor.post(url, {"notes_need_cosign": "yes"})
    assert needs_cosign(world)
    assert AccessEvent.objects.filter(action="set co-signing", user=world.supervisor).exists()
    page = text(
        signed_in(world.practice_admin).get(reverse("people:person", args=[world.owner.pk]))
    )
    assert "Co-signs their notes" in page


def test_it_waits_in_the_queue_of_the_supervisor_who_co_signs_only() -> None:
    """Two supervisors: the record waits for the one whose co-signature is needed; the other
    reads it and may still co-sign, covering, but it isn't on their list."""
    import datetime

    from django.utils import timezone

    from plans.models import PlanCosignState, PlanRevision

    world = World.build()
    second = make_user(world.practice, "Second Supervisor", supervisor=True)
    Supervision.objects.create(practice=world.practice, supervisor=second, therapist=world.owner)
    set_by_admin(world, "yes")
    signed_in(world.owner).post(reverse("therapy_sessions:sign", args=[world.session.pk]))
    today = timezone.localdate()
    PlanRevision.objects.create(
        couple=world.couple,
        revision=1,
        author=world.owner,
        plan_date=today,
        review_on=today + datetime.timedelta(days=60),
        cosign_state=PlanCosignState.AWAITING,
    )
    queue_url = reverse("therapy_sessions:cosign_queue")

    theirs = text(signed_in(world.supervisor).get(queue_url))
    assert "Awaiting your co-signature (2)" in theirs
    other = text(signed_in(second).get(queue_url))
    assert "Nothing waits for your co-signature." in other
    assert world.couple.case_code not in other

    signed_in(second).post(
        reverse("therapy_sessions:review", args=[world.session.pk]),
        {"outcome": "cosign", "comment": ""},
    )
    assert TherapySession.objects.get(pk=world.session.pk).cosign_state == CosignState.COSIGNED


def test_a_record_waiting_when_co_signing_is_turned_off_stays_in_a_supervisors_queue() -> None:
    """Turned off (or its supervisor gone) while a record waits: it is in the queue of every
    supervisor of its author, never in nobody's."""
    world = World.build()
    set_by_admin(world, "yes")
    signed_in(world.owner).post(reverse("therapy_sessions:sign", args=[world.session.pk]))
    set_by_admin(world, "no")
    queue = text(signed_in(world.supervisor).get(reverse("therapy_sessions:cosign_queue")))
    assert "Awaiting your co-signature (1)" in queue
    assert world.couple.case_code in queue
    # Not in the queue of a supervisor of someone else.
    other = text(signed_in(world.other_supervisor).get(reverse("therapy_sessions:cosign_queue")))
    assert world.couple.case_code not in other


def test_a_practice_admin_who_is_supervised_cant_exempt_their_own_notes() -> None:
    world = World.build()
    admin = world.practice_admin
    type(admin).objects.filter(pk=admin.pk).update(is_therapist=True)
    Supervision.objects.create(
        practice=world.practice,
        supervisor=world.supervisor,
        therapist=admin,
        notes_need_cosign=True,
    )
    client = signed_in(admin)
    page = text(client.get(reverse("people:person", args=[admin.pk])))
    assert "Co-signs their notes" in page
    assert "Stop co-signing" not in page
    response = client.post(
        reverse("people:cosigning", args=[admin.pk]),
        {"supervisor": world.supervisor.pk, "notes_need_cosign": "no"},
        follow=True,
    )
    assert "You can't do this to your own account here" in text(response)
    assert Supervision.objects.get(therapist=admin).notes_need_cosign
    assert not AccessEvent.objects.filter(action="set co-signing").exists()


def test_the_django_admin_shows_co_signing_but_never_changes_it() -> None:
    world = World.build()
    row = Supervision.objects.get(supervisor=world.supervisor, therapist=world.owner)
    client = signed_in(world.practice_admin)
    url = reverse("admin:people_supervision_change", args=[row.pk])
    response = client.get(url)
    assert response.status_code == 200
    page = text(response)
    assert "Notes need co-signing" in page
    assert 'name="notes_need_cosign"' not in page
    client.post(
        url,
        {
            "practice": world.practice.pk,
            "supervisor": world.supervisor.pk,
            "therapist": world.owner.pk,
            "started_on": row.started_on.isoformat(),
            "notes_need_cosign": "on",
        },
    )
    row.refresh_from_db()
    assert not row.notes_need_cosign


def test_a_record_waiting_for_a_deactivated_supervisor_goes_to_the_active_ones() -> None:
    world = World.build()
    covering = make_user(world.practice, "Covering Supervisor", supervisor=True)
    Supervision.objects.create(practice=world.practice, supervisor=covering, therapist=world.owner)
    set_by_admin(world, "yes")
    signed_in(world.owner).post(reverse("therapy_sessions:sign", args=[world.session.pk]))
    queue_url = reverse("therapy_sessions:cosign_queue")
    assert world.couple.case_code not in text(signed_in(covering).get(queue_url))

    type(world.supervisor).objects.filter(pk=world.supervisor.pk).update(is_active=False)

    assert "Awaiting your co-signature (1)" in text(signed_in(covering).get(queue_url))


def test_the_django_admin_never_lists_the_admins_own_supervision() -> None:
    world = World.build()
    admin = world.practice_admin
    type(admin).objects.filter(pk=admin.pk).update(is_therapist=True)
    own = Supervision.objects.create(
        practice=world.practice,
        supervisor=world.supervisor,
        therapist=admin,
        notes_need_cosign=True,
    )
    client = signed_in(admin)
    listing = text(client.get(reverse("admin:people_supervision_changelist")))
    assert "Owner Therapist" in listing
    assert "Practice Admin" not in listing
    client.post(
        reverse("admin:people_supervision_delete", args=[own.pk]), {"post": "yes"}, follow=True
    )
    assert Supervision.objects.filter(pk=own.pk).exists()
