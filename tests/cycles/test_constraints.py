"""The database itself refuses bad couples, partners, cycle maps and shares.

Rows are written with the ORM directly, never through services or forms, so what refuses
them is PostgreSQL's constraints (named in the error) and nothing in Python.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cycles.models import (
    CaseShare,
    Couple,
    CycleMap,
    CyclePosition,
    CycleStep,
    EmotionKind,
    Partner,
    StepKind,
)
from people.models import ConsultationGroup, Supervision
from tests.factories import make_couple, make_cycle_map, make_emotion, make_practice, make_user

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.django_db


@contextmanager
def refused_by(constraint: str) -> Iterator[None]:
    """The write inside must fail in the database, on the named constraint."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        yield


@pytest.fixture
def therapist():
    return make_user(make_practice(), "Therapist", therapist=True)


@pytest.fixture
def couple(therapist):
    return make_couple(therapist)


def test_a_couple_has_no_third_partner(couple):
    with refused_by("two_partners_per_couple"):
        Partner.objects.create(
            couple=couple, label="A", display_name="Casey", position=CyclePosition.VARIES
        )
    assert couple.partners.count() == 2


def test_a_partner_is_labelled_a_or_b(therapist):
    couple = Couple.objects.create(practice=therapist.practice, therapist=therapist)
    with refused_by("partner_label_a_or_b"):
        Partner.objects.create(
            couple=couple, label="C", display_name="Casey", position=CyclePosition.VARIES
        )


def test_both_labels_are_accepted(therapist):
    couple = Couple.objects.create(practice=therapist.practice, therapist=therapist)
    for label in ("A", "B"):
        Partner.objects.create(
            couple=couple, label=label, display_name=label, position=CyclePosition.VARIES
        )
    assert sorted(couple.partners.values_list("label", flat=True)) == ["A", "B"]


@pytest.mark.parametrize(("stage", "step"), [(2, 1), (1, 5), (3, 7), (2, 8)])
def test_a_stage_that_does_not_hold_the_step_is_refused_on_update(couple, stage, step):
    # Couple.save() derives the stage from the step, so go round it.
    with refused_by("couple_stage_holds_step"):
        Couple.objects.filter(pk=couple.pk).update(eft_stage=stage, eft_step=step)


def test_a_stage_that_does_not_hold_the_step_is_refused_on_bulk_create(therapist):
    with refused_by("couple_stage_holds_step"):
        Couple.objects.bulk_create(
            [Couple(practice=therapist.practice, therapist=therapist, eft_stage=3, eft_step=1)]
        )


@pytest.mark.parametrize(("stage", "step"), [(1, 4), (2, 5), (2, 7), (3, 8), (3, 9)])
def test_every_stage_holding_its_step_is_accepted(couple, stage, step):
    assert Couple.objects.filter(pk=couple.pk).update(eft_stage=stage, eft_step=step) == 1


@pytest.mark.parametrize("step", [0, 10])
def test_an_eft_step_outside_1_to_9_is_refused(therapist, step):
    with refused_by("couple_stage_holds_step"):
        Couple.objects.create(practice=therapist.practice, therapist=therapist, eft_step=step)


def test_nobody_supervises_themselves():
    practice = make_practice()
    person = make_user(practice, "Both Roles", therapist=True, supervisor=True)
    with refused_by("supervision_not_self"):
        Supervision.objects.create(practice=practice, supervisor=person, therapist=person)


@pytest.fixture
def group(therapist):
    return ConsultationGroup.objects.create(practice=therapist.practice, name="Tuesday group")


def test_a_case_is_shared_into_a_group_once_while_active(couple, group, therapist):
    CaseShare.objects.create(couple=couple, group=group, shared_by=therapist)
    with refused_by("case_shared_once_per_group"):
        CaseShare.objects.create(couple=couple, group=group, shared_by=therapist)


def test_a_withdrawn_share_lets_the_case_be_shared_again(couple, group, therapist):
    first = CaseShare.objects.create(couple=couple, group=group, shared_by=therapist)
    CaseShare.objects.filter(pk=first.pk).update(withdrawn_at=timezone.now())
    CaseShare.objects.create(couple=couple, group=group, shared_by=therapist)
    assert CaseShare.objects.filter(couple=couple, group=group).count() == 2
    assert CaseShare.objects.filter(couple=couple, group=group).active().count() == 1


@pytest.fixture
def cycle_map(couple):
    return make_cycle_map(couple)


@pytest.mark.parametrize(
    "kind", [StepKind.TRIGGER, StepKind.PERCEPTION, StepKind.ATTACHMENT_NEED, StepKind.ACTION]
)
def test_an_emotion_only_goes_on_an_emotion_step(cycle_map, kind):
    partner = cycle_map.couple.partners.get(label="A")
    fear = make_emotion("fear", EmotionKind.PRIMARY)
    with refused_by("cycle_step_emotion_only_on_emotion_steps"):
        CycleStep.objects.create(
            cycle_map=cycle_map, partner=partner, position=99, kind=kind, emotion=fear
        )


@pytest.mark.parametrize("kind", [StepKind.PRIMARY_EMOTION, StepKind.SECONDARY_EMOTION])
def test_an_emotion_step_takes_an_emotion(cycle_map, kind):
    partner = cycle_map.couple.partners.get(label="A")
    fear = make_emotion("fear", EmotionKind.PRIMARY)
    step = CycleStep.objects.create(
        cycle_map=cycle_map, partner=partner, position=99, kind=kind, emotion=fear
    )
    assert step.emotion == fear


def test_a_revision_number_is_used_once_per_couple(cycle_map):
    with refused_by("cycle_map_revision_once"):
        CycleMap.objects.create(couple=cycle_map.couple, revision=1, author=cycle_map.author)


def test_the_same_revision_number_is_fine_for_another_couple(cycle_map, therapist):
    other = make_couple(therapist)
    CycleMap.objects.create(couple=other, revision=1, author=therapist)
    assert CycleMap.objects.filter(revision=1).count() == 2


def test_revisions_start_at_1(couple):
    with refused_by("cycle_map_revision_positive"):
        CycleMap.objects.create(couple=couple, revision=0, author=couple.therapist)
