"""The Django admin is scoped like every other view, and changes no clinical record.

A practice admin manages the people of their practice and reads nothing clinical; a therapist
or supervisor with staff status sees, read-only, what `visible_to` gives them; the admin
answers a row outside its queryset with a redirect to the admin index (Django's
"doesn't exist" message), never the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cycles.models import (
    CaseShare,
    Couple,
    CoupleStatus,
    CycleMap,
    CycleStep,
    EmotionKind,
    EmotionTerm,
    Partner,
)
from people.models import ConsultationGroup, Practice, Supervision, User
from ruptures.models import Rupture, RuptureSummary
from sessions.models import PrivateNote, TherapySession
from tests.factories import (
    World,
    make_couple,
    make_cycle_map,
    make_emotion,
    make_rupture,
    make_session,
    make_user,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.db.models import Model

pytestmark = pytest.mark.django_db

# Every clinical model in the admin, and its path to the couple it belongs to.
CLINICAL: dict[type[Model], str] = {
    Couple: "pk",
    Partner: "couple",
    CycleMap: "couple",
    CycleStep: "cycle_map__couple",
    TherapySession: "couple",
    PrivateNote: "session__couple",
    Rupture: "couple",
    RuptureSummary: "couple",
    CaseShare: "couple",
}
MODEL_IDS = [model.__name__ for model in CLINICAL]

# Which admins list a row of the owner's couple, per role (all of them staff here).
LISTS_THE_OWNERS_ROW: dict[str, set[type[Model]]] = {
    "owner": set(CLINICAL),
    "supervisor": set(CLINICAL) - {PrivateNote, CaseShare},
    "practice_admin": set(),
    "superuser": set(),
}


@dataclass
class Scene:
    world: World
    superuser: User
    colleagues: Couple  # the colleague's couple, with a full record; nobody here reads it
    elsewhere: Practice

    def person(self, role: str) -> User:
        return self.superuser if role == "superuser" else getattr(self.world, role)

    def row(self, model: type[Model], couple: Couple | None = None) -> Model:
        path = CLINICAL[model]
        row = model._default_manager.filter(**{path: (couple or self.world.couple).pk}).first()
        assert row is not None
        return row


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        User.objects.filter(pk__in=[world.owner.pk, world.supervisor.pk]).update(is_staff=True)
        for person in (world.owner, world.supervisor):
            person.refresh_from_db()
        CaseShare.objects.create(couple=world.couple, group=world.group, shared_by=world.owner)
        colleagues = make_couple(world.colleague)
        session = make_session(colleagues, private_note="Colleague's note.")
        make_rupture(session)
        make_cycle_map(colleagues)
        RuptureSummary.objects.create(
            couple=colleagues, period="treatment", on_date=timezone.localdate()
        )
        # Withdrawn, so the group's members (the owner among them) no longer see it.
        CaseShare.objects.create(
            couple=colleagues,
            group=world.group,
            shared_by=world.colleague,
            withdrawn_at=timezone.now(),
        )
        elsewhere = world.outsider.practice
        assert elsewhere is not None
        yield Scene(
            world=world,
            superuser=make_user(None, "Root", is_superuser=True, is_staff=True),
            colleagues=colleagues,
            elsewhere=elsewhere,
        )
        transaction.set_rollback(True)


def admin_url(model: type[Model], view: str, *args: object) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def password_url(person: User) -> str:
    # Django's UserAdmin names this URL after auth.User whatever the user model.
    return reverse("admin:auth_user_password_change", args=[person.pk])


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def sent_away(response) -> bool:
    """The admin's answer to a row outside its queryset: back to the index, with a warning."""
    return response.status_code == 302 and response["Location"] == reverse("admin:index")


# The practice admin


def test_the_practice_admin_opens_the_admin_index(client, scene):
    client.force_login(scene.world.practice_admin)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert admin_url(User, "changelist") in response.text


def test_the_people_list_shows_only_the_own_practices_people(client, scene):
    client.force_login(scene.world.practice_admin)
    shown = listed(client.get(admin_url(User, "changelist")))
    assert shown == set(
        User.objects.filter(practice=scene.world.practice).values_list("pk", flat=True)
    )
    assert scene.world.outsider.pk not in shown
    assert scene.superuser.pk not in shown


def test_a_person_of_another_practice_is_not_opened(client, scene):
    client.force_login(scene.world.practice_admin)
    assert sent_away(client.get(admin_url(User, "change", scene.world.outsider.pk)))
    response = client.get(password_url(scene.world.outsider))
    assert response.status_code == 404


def test_only_the_own_practice_is_listed_and_opened(client, scene):
    client.force_login(scene.world.practice_admin)
    assert listed(client.get(admin_url(Practice, "changelist"))) == {scene.world.practice.pk}
    assert sent_away(client.get(admin_url(Practice, "change", scene.elsewhere.pk)))


@pytest.mark.parametrize("model", list(CLINICAL), ids=MODEL_IDS)
def test_the_practice_admin_sees_no_clinical_rows(client, scene, model):
    client.force_login(scene.world.practice_admin)
    assert listed(client.get(admin_url(model, "changelist"))) == set()


@pytest.mark.parametrize("model", list(CLINICAL), ids=MODEL_IDS)
def test_the_practice_admin_is_sent_away_from_a_clinical_row(client, scene, model):
    client.force_login(scene.world.practice_admin)
    response = client.get(admin_url(model, "change", scene.row(model).pk), follow=True)
    assert response.redirect_chain == [(reverse("admin:index"), 302)]
    assert "doesn’t exist" in response.text
    assert scene.world.couple.case_code not in response.text


def test_the_practice_admin_cannot_change_the_owners_couple(client, scene):
    couple = scene.world.couple
    client.force_login(scene.world.practice_admin)
    response = client.post(
        admin_url(Couple, "change", couple.pk), {"status": CoupleStatus.COMPLETED}
    )
    assert sent_away(response)
    couple.refresh_from_db()
    assert couple.status == CoupleStatus.ACTIVE


# Staff therapists and supervisors: read-only, scoped


@pytest.mark.parametrize("model", list(CLINICAL), ids=MODEL_IDS)
@pytest.mark.parametrize("role", list(LISTS_THE_OWNERS_ROW))
def test_each_clinical_admin_lists_only_what_the_person_may_read(client, scene, role, model):
    user = scene.person(role)
    client.force_login(user)
    shown = listed(client.get(admin_url(model, "changelist")))
    assert shown == set(model.objects.visible_to(user).values_list("pk", flat=True))
    assert (scene.row(model).pk in shown) == (model in LISTS_THE_OWNERS_ROW[role])
    assert scene.row(model, scene.colleagues).pk not in shown


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_the_couple_opens_read_only_for_its_therapist_and_supervisor(client, scene, role):
    client.force_login(scene.person(role))
    response = client.get(admin_url(Couple, "change", scene.world.couple.pk))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert response.context["title"].startswith("View")
    assert 'name="_save"' not in response.text


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_the_colleagues_couple_is_not_opened(client, scene, role):
    client.force_login(scene.person(role))
    assert sent_away(client.get(admin_url(Couple, "change", scene.colleagues.pk)))


@pytest.mark.parametrize("role", ["owner", "supervisor"])
@pytest.mark.parametrize("model", list(CLINICAL), ids=MODEL_IDS)
def test_nothing_clinical_is_added_in_the_admin(client, scene, role, model):
    client.force_login(scene.person(role))
    assert client.get(admin_url(model, "add")).status_code == 403
    before = model._default_manager.count()
    assert client.post(admin_url(model, "add"), {}).status_code == 403
    assert model._default_manager.count() == before


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_posting_a_change_to_the_couple_is_refused_and_changes_nothing(client, scene, role):
    couple = scene.world.couple
    client.force_login(scene.person(role))
    response = client.post(
        admin_url(Couple, "change", couple.pk),
        {
            "therapist": scene.world.colleague.pk,
            "cycle_pattern": couple.cycle_pattern,
            "eft_step": 9,
            "status": CoupleStatus.COMPLETED,
            "started_on": couple.started_on.isoformat(),
        },
    )
    assert response.status_code == 403
    couple.refresh_from_db()
    assert (couple.therapist, couple.eft_step, couple.status) == (
        scene.world.owner,
        1,
        CoupleStatus.ACTIVE,
    )


@pytest.mark.parametrize("model", [Rupture, TherapySession, PrivateNote], ids=lambda m: m.__name__)
def test_posting_a_change_to_the_owners_own_rows_is_refused(client, scene, model):
    row = scene.row(model)
    client.force_login(scene.world.owner)
    response = client.post(admin_url(model, "change", row.pk), {"note": "x", "text": "x"})
    assert response.status_code == 403
    fresh = model._default_manager.get(pk=row.pk)
    assert fresh.updated_at == row.updated_at


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_nothing_clinical_is_deleted_in_the_admin(client, scene, role):
    couple = scene.world.couple
    client.force_login(scene.person(role))
    assert client.get(admin_url(Couple, "delete", couple.pk)).status_code == 403
    assert client.post(admin_url(Couple, "delete", couple.pk), {"post": "yes"}).status_code == 403
    client.post(
        admin_url(Couple, "changelist"),
        {"action": "delete_selected", "_selected_action": [couple.pk], "post": "yes"},
    )
    assert Couple.objects.filter(pk=couple.pk).exists()


def test_a_consultation_group_that_received_a_case_is_never_deleted(client, scene):
    """Who shared which case with which group is a record of disclosure: it outlives the
    group. A group nobody shared into can still be deleted."""
    group = scene.world.group
    client.force_login(scene.world.practice_admin)
    User.objects.filter(pk=scene.world.practice_admin.pk).update(is_staff=True)
    response = client.post(admin_url(ConsultationGroup, "delete", group.pk), {"post": "yes"})
    assert response.status_code == 200
    assert "Cannot delete consultation group" in response.content.decode()
    assert ConsultationGroup.objects.filter(pk=group.pk).exists()
    assert CaseShare.objects.filter(group=group).count() == 2
    empty = ConsultationGroup.objects.create(practice=scene.world.practice, name="Unused group")
    response = client.post(admin_url(ConsultationGroup, "delete", empty.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not ConsultationGroup.objects.filter(pk=empty.pk).exists()


def test_a_private_note_opens_for_its_author_only(client, scene):
    note = scene.row(PrivateNote)
    client.force_login(scene.world.owner)
    assert client.get(admin_url(PrivateNote, "change", note.pk)).status_code == 200
    for role in ("supervisor", "practice_admin", "superuser"):
        client.force_login(scene.person(role))
        assert sent_away(client.get(admin_url(PrivateNote, "change", note.pk))), role


def test_a_therapist_without_staff_status_is_sent_to_the_admin_login(client, scene):
    client.force_login(scene.world.colleague)
    response = client.get(admin_url(Couple, "changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("model", [User, Supervision, ConsultationGroup], ids=lambda m: m.__name__)
def test_people_and_groups_are_managed_by_practice_admins_only(client, scene, model):
    client.force_login(scene.world.owner)  # staff, but not a practice admin
    assert client.get(admin_url(model, "changelist")).status_code == 403
    client.force_login(scene.world.practice_admin)
    assert client.get(admin_url(model, "changelist")).status_code == 200


def test_a_staff_therapist_cannot_open_a_colleagues_record_in_the_admin(client, scene):
    client.force_login(scene.world.owner)
    assert client.get(admin_url(User, "change", scene.world.colleague.pk)).status_code == 403
    assert client.get(password_url(scene.world.colleague)).status_code == 403


def test_the_vocabulary_admin_lists_the_shared_and_own_practices_terms(client, scene):
    own = make_emotion("ache", EmotionKind.PRIMARY, practice=scene.world.practice)
    other = make_emotion("dread", EmotionKind.PRIMARY, practice=scene.elsewhere)
    client.force_login(scene.world.practice_admin)
    shown = listed(client.get(admin_url(EmotionTerm, "changelist")))
    assert own.pk in shown
    assert other.pk not in shown
    assert (
        set(EmotionTerm.objects.filter(practice__isnull=True).values_list("pk", flat=True)) <= shown
    )


# The person forms cannot move anyone out of the practice or make a superuser


def person_form(person: User, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "username": person.username,
        "display_name": person.display_name,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "is_therapist": "on" if person.is_therapist else "",
        "is_supervisor": "on" if person.is_supervisor else "",
        "is_practice_admin": "on" if person.is_practice_admin else "",
        "is_active": "on" if person.is_active else "",
        "is_staff": "on" if person.is_staff else "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_the_change_form_ignores_practice_and_superuser_fields(client, scene):
    colleague = scene.world.colleague
    client.force_login(scene.world.practice_admin)
    response = client.post(
        admin_url(User, "change", colleague.pk),
        person_form(
            colleague,
            display_name="Colleague Renamed",
            practice=scene.elsewhere.pk,
            is_superuser="on",
            user_permissions=[],
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    colleague.refresh_from_db()
    assert colleague.display_name == "Colleague Renamed"  # the form was saved
    assert colleague.practice == scene.world.practice
    assert colleague.is_superuser is False


def test_the_add_form_puts_the_person_in_the_own_practice_and_never_a_superuser(client, scene):
    client.force_login(scene.world.practice_admin)
    response = client.post(
        admin_url(User, "add"),
        {
            "username": "new.therapist",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase-42",
            "password2": "a-long-enough-passphrase-42",
            "display_name": "New Therapist",
            "email": "new.therapist@example.invalid",
            "is_therapist": "on",
            "practice": scene.elsewhere.pk,
            "is_superuser": "on",
            "is_staff": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    person = User.objects.get(username="new.therapist")
    assert person.practice == scene.world.practice
    assert person.is_superuser is False
    assert person.is_therapist is True


def test_a_superuser_of_the_practice_is_beyond_the_practice_admin(client, scene):
    # Else the practice admin could reset the superuser's password and become one.
    root = make_user(scene.world.practice, "Practice Root", is_superuser=True, is_staff=True)
    client.force_login(scene.world.practice_admin)
    assert root.pk not in listed(client.get(admin_url(User, "changelist")))
    assert sent_away(client.get(admin_url(User, "change", root.pk)))
    response = client.post(
        password_url(root),
        {
            "usable_password": "true",
            "password1": "taken-over-passphrase-42",
            "password2": "taken-over-passphrase-42",
        },
    )
    assert response.status_code == 404
    root.refresh_from_db()
    assert not root.check_password("taken-over-passphrase-42")


def test_a_supervision_names_people_of_the_own_practice_only(client, scene):
    client.force_login(scene.world.practice_admin)
    response = client.post(
        admin_url(Supervision, "add"),
        {
            "supervisor": scene.world.supervisor.pk,
            "therapist": scene.world.outsider.pk,
            "started_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 200
    assert "therapist" in response.context["adminform"].form.errors
    assert not Supervision.objects.filter(therapist=scene.world.outsider).exists()


def test_a_supervision_added_by_the_practice_admin_is_in_their_practice(client, scene):
    client.force_login(scene.world.practice_admin)
    response = client.post(
        admin_url(Supervision, "add"),
        {
            "supervisor": scene.world.supervisor.pk,
            "therapist": scene.world.colleague.pk,
            "started_on": timezone.localdate().isoformat(),
            "practice": scene.elsewhere.pk,
        },
    )
    assert response.status_code == 302
    supervision = Supervision.objects.get(
        supervisor=scene.world.supervisor, therapist=scene.world.colleague
    )
    assert supervision.practice == scene.world.practice


def test_a_practice_admin_cannot_set_a_therapists_password(client, scene):
    owner = scene.world.owner
    before = User.objects.get(pk=owner.pk).password
    client.force_login(scene.world.practice_admin)
    response = client.post(
        password_url(owner),
        {
            "password1": "a-new-secret-9876",
            "password2": "a-new-secret-9876",
            "usable_password": "true",
        },
    )
    assert response.status_code == 403
    assert User.objects.get(pk=owner.pk).password == before


def test_a_practice_admin_cannot_grant_themselves_a_role(client, scene):
    admin_person = scene.world.practice_admin
    client.force_login(admin_person)
    page = client.get(admin_url(User, "change", admin_person.pk))
    assert page.status_code == 200
    assert 'name="is_supervisor"' not in page.content.decode()
    client.post(
        admin_url(User, "change", admin_person.pk),
        {"username": admin_person.username, "is_supervisor": "on", "is_practice_admin": "on"},
    )
    admin_person.refresh_from_db()
    assert not admin_person.is_supervisor


def test_a_practice_admin_cannot_make_themselves_a_supervisor_of_anyone(client, scene):
    client.force_login(scene.world.practice_admin)
    page = client.get(admin_url(Supervision, "add"))
    form = page.context["adminform"].form
    assert scene.world.practice_admin not in form.fields["supervisor"].queryset
    assert set(form.fields["therapist"].queryset) == set(
        User.objects.filter(practice=scene.world.practice, is_therapist=True)
    )
