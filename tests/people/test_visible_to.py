"""`visible_to` and `editable_by` hold for every role and every model
(docs/domain.md#who-sees-what).

The named world is built once for the module. Besides the owner's couple it holds a full
record for the colleague's couple (supervised by the other supervisor) and for the outsider's
couple in another practice, so each row of the table below is checked both ways: a role sees
exactly what it should, and nothing of the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cycles.models import (
    CaseShare,
    Couple,
    CycleMap,
    CycleStep,
    EmotionKind,
    EmotionTerm,
    Partner,
)
from people.models import Supervision, User
from ruptures.models import Rupture, RuptureSummary
from sessions.models import PrivateNote, TherapySession
from tests.factories import (
    World,
    make_couple,
    make_cycle_map,
    make_emotion,
    make_practice,
    make_rupture,
    make_session,
    make_user,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.db.models import Model

    from people.models import Practice

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Sees:
    """What one role may reach. Couples and practices are named by their key in `Scene`."""

    reads: frozenset[str] = frozenset()  # couples whose clinical record it reads
    writes: frozenset[str] = frozenset()  # couples whose record it may change
    notes: frozenset[str] = frozenset()  # couples whose private notes it reads
    people_of: str | None = None  # the practice whose people (and own vocabulary) it sees
    shares: frozenset[str] = frozenset()  # couples whose case shares it sees
    vocabulary: bool = True  # the shared emotion vocabulary


def couples(*keys: str) -> frozenset[str]:
    return frozenset(keys)


EXPECTED: dict[str, Sees] = {
    "owner": Sees(
        reads=couples("owner"),
        writes=couples("owner"),
        notes=couples("owner"),
        people_of="harbour",
        shares=couples("owner"),
    ),
    "supervisor": Sees(reads=couples("owner"), people_of="harbour"),
    "colleague": Sees(
        reads=couples("colleague"),
        writes=couples("colleague"),
        notes=couples("colleague"),
        people_of="harbour",
        shares=couples("colleague"),
    ),
    "other_supervisor": Sees(reads=couples("colleague"), people_of="harbour"),
    # A member sees the active shares of their group (shown de-identified elsewhere), no record.
    "group_member": Sees(people_of="harbour", shares=couples("owner")),
    "practice_admin": Sees(people_of="harbour"),
    "outsider": Sees(
        reads=couples("outsider"),
        writes=couples("outsider"),
        notes=couples("outsider"),
        people_of="elsewhere",
        shares=couples("outsider"),
    ),
    "superuser": Sees(),
    "superuser_in_practice": Sees(people_of="harbour"),
    "anonymous": Sees(vocabulary=False),
}
ROLES = list(EXPECTED)

# Each clinical model and its path to the couple it belongs to.
CLINICAL: dict[type[Model], str] = {
    Couple: "pk",
    Partner: "couple",
    CycleMap: "couple",
    CycleStep: "cycle_map__couple",
    TherapySession: "couple",
    Rupture: "couple",
    RuptureSummary: "couple",
}
EDITABLE = [Couple, CycleMap, TherapySession, Rupture]


@dataclass
class Scene:
    world: World
    people: dict[str, User | AnonymousUser]
    couples: dict[str, Couple]
    practices: dict[str, Practice]
    own_terms: dict[str, EmotionTerm]
    shares: dict[str, CaseShare]

    def rows(self, model: type[Model], couple_keys: frozenset[str]) -> set[int]:
        """Every row of `model` belonging to the named couples, read without any scoping."""
        path = CLINICAL[model]
        pks = [self.couples[key].pk for key in couple_keys]
        return set(
            model._default_manager.filter(**{f"{path}__in": pks}).values_list("pk", flat=True)
        )


def full_record(couple: Couple) -> None:
    """What World.build gives the owner's couple: a session with a note, a rupture with a
    reflection, a cycle map and a summary."""
    session = make_session(couple, days_ago=10, private_note="Private process note.")
    make_rupture(session, reflection="My private reflection.")
    make_cycle_map(couple)
    RuptureSummary.objects.create(
        couple=couple, period="treatment", on_date=timezone.localdate(), data={"ruptures": 1}
    )


def build_scene() -> Scene:
    world = World.build()
    elsewhere = world.outsider.practice
    assert elsewhere is not None
    colleague_couple = make_couple(world.colleague)
    outsider_couple = make_couple(world.outsider)
    for couple in (colleague_couple, outsider_couple):
        full_record(couple)
    outsider_group = elsewhere.groups.create(name="Elsewhere consultation")
    outsider_group.members.add(world.outsider)
    shares = {
        "owner": CaseShare.objects.create(
            couple=world.couple, group=world.group, shared_by=world.owner
        ),
        # Withdrawn: its therapist still sees it; the group no longer does.
        "colleague": CaseShare.objects.create(
            couple=colleague_couple,
            group=world.group,
            shared_by=world.colleague,
            withdrawn_at=timezone.now(),
        ),
        "outsider": CaseShare.objects.create(
            couple=outsider_couple, group=outsider_group, shared_by=world.outsider
        ),
    }
    people: dict[str, User | AnonymousUser] = {
        role: getattr(world, role)
        for role in (
            "owner",
            "supervisor",
            "colleague",
            "other_supervisor",
            "group_member",
            "practice_admin",
            "outsider",
        )
    }
    people["superuser"] = make_user(None, "Root", is_superuser=True, is_staff=True)
    people["superuser_in_practice"] = make_user(
        world.practice, "Practice Root", is_superuser=True, is_staff=True
    )
    people["anonymous"] = AnonymousUser()
    return Scene(
        world=world,
        people=people,
        couples={"owner": world.couple, "colleague": colleague_couple, "outsider": outsider_couple},
        practices={"harbour": world.practice, "elsewhere": elsewhere},
        own_terms={
            "harbour": make_emotion("ache", EmotionKind.PRIMARY, practice=world.practice),
            "elsewhere": make_emotion("dread", EmotionKind.PRIMARY, practice=elsewhere),
        },
        shares=shares,
    )


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker) -> Iterator[Scene]:
    """Built once for the module and rolled back after it; each test runs in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_scene()
        transaction.set_rollback(True)


@pytest.mark.parametrize("model", list(CLINICAL), ids=lambda m: m.__name__)
def test_every_couple_has_rows_of_every_model(scene, model):
    # Guards the table below against passing vacuously on empty records.
    for key in scene.couples:
        assert scene.rows(model, couples(key)), f"{key} couple has no {model.__name__}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", list(CLINICAL), ids=lambda m: m.__name__)
def test_clinical_rows_are_read_by_their_therapist_and_supervisor_only(scene, model, role):
    user = scene.people[role]
    visible = set(model.objects.visible_to(user).values_list("pk", flat=True))
    assert visible == scene.rows(model, EXPECTED[role].reads)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", EDITABLE, ids=lambda m: m.__name__)
def test_clinical_rows_are_changed_by_their_therapist_only(scene, model, role):
    user = scene.people[role]
    editable = set(model.objects.editable_by(user).values_list("pk", flat=True))
    assert editable == scene.rows(model, EXPECTED[role].writes)


@pytest.mark.parametrize("role", ROLES)
def test_private_notes_are_read_by_their_author_only(scene, role):
    user = scene.people[role]
    pks = [scene.couples[key].pk for key in EXPECTED[role].notes]
    expected = set(
        PrivateNote.objects.filter(
            Q(session__couple__in=pks) | Q(rupture__couple__in=pks)
        ).values_list("pk", flat=True)
    )
    visible = set(PrivateNote.objects.visible_to(user).values_list("pk", flat=True))
    assert visible == expected
    # A note and a reflection each, for whoever reads any.
    assert len(visible) == 2 * len(pks)


def test_a_supervisor_never_reads_the_private_notes_of_a_record_they_read(scene):
    supervisor = scene.people["supervisor"]
    assert TherapySession.objects.visible_to(supervisor).filter(private_notes__isnull=False)
    assert not PrivateNote.objects.visible_to(supervisor).exists()


@pytest.mark.parametrize("role", ROLES)
def test_people_are_seen_within_their_own_practice_only(scene, role):
    practice_key = EXPECTED[role].people_of
    expected = (
        set(
            User.objects.filter(practice=scene.practices[practice_key]).values_list("pk", flat=True)
        )
        if practice_key
        else set()
    )
    visible = set(User.objects.visible_to(scene.people[role]).values_list("pk", flat=True))
    assert visible == expected


@pytest.mark.parametrize("role", ROLES)
def test_the_vocabulary_is_the_shared_one_plus_the_own_practices(scene, role):
    expect = EXPECTED[role]
    shared = EmotionTerm.objects.filter(practice__isnull=True)
    expected = set(shared.values_list("pk", flat=True)) if expect.vocabulary else set()
    if expect.people_of:
        expected.add(scene.own_terms[expect.people_of].pk)
    visible = set(EmotionTerm.objects.visible_to(scene.people[role]).values_list("pk", flat=True))
    assert visible == expected


def test_the_shared_vocabulary_is_not_empty(scene):
    assert EmotionTerm.objects.filter(practice__isnull=True).count() > 2


@pytest.mark.parametrize("role", ROLES)
def test_case_shares_are_seen_by_the_therapist_and_the_groups_members(scene, role):
    expected = {scene.shares[key].pk for key in EXPECTED[role].shares}
    visible = set(CaseShare.objects.visible_to(scene.people[role]).values_list("pk", flat=True))
    assert visible == expected


def test_a_supervisor_who_stops_supervising_reads_nothing_more(scene):
    supervisor = scene.people["supervisor"]
    Supervision.objects.filter(supervisor=supervisor).delete()
    assert not Couple.objects.visible_to(supervisor).exists()
    assert not Rupture.objects.visible_to(supervisor).exists()


def test_a_therapist_moved_to_another_practice_loses_their_old_couples(scene):
    owner = User.objects.get(pk=scene.people["owner"].pk)
    owner.practice = scene.practices["elsewhere"]
    owner.save(update_fields=["practice"])
    assert not Couple.objects.visible_to(owner).exists()
    assert not Couple.objects.editable_by(owner).exists()


def test_a_therapist_no_longer_in_the_role_loses_their_couples(scene):
    owner = User.objects.get(pk=scene.people["owner"].pk)
    owner.is_therapist = False
    owner.save(update_fields=["is_therapist"])
    assert not Couple.objects.visible_to(owner).exists()
    assert not Couple.objects.editable_by(owner).exists()


def test_reading_a_supervisors_caseload_is_one_query(scene, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert len(Couple.objects.visible_to(scene.people["supervisor"])) == 1


@pytest.mark.django_db
def test_an_author_moved_to_another_practice_no_longer_reads_their_old_notes():
    world = World.build()
    assert PrivateNote.objects.visible_to(world.owner).count() == 2
    world.owner.practice = make_practice("Somewhere New")
    world.owner.save()
    assert PrivateNote.objects.visible_to(world.owner).count() == 0
