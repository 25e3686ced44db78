"""The database itself refuses bad sessions and private notes.

Rows are written with the ORM directly, never through services or forms, so what refuses
them is PostgreSQL's constraints (named in the error) and nothing in Python.
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions.models import Attendance, CancelledBy, LeftBy, NoteKind, PrivateNote, TherapySession
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cycles.models import Couple

pytestmark = pytest.mark.django_db


@contextmanager
def refused_by(constraint: str) -> Iterator[None]:
    """The write inside must fail in the database, on the named constraint."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        yield


@pytest.fixture
def couple():
    return make_couple(make_user(make_practice(), "Therapist", therapist=True))


def session_row(couple: Couple, **fields: Any) -> TherapySession:
    values: dict[str, Any] = {
        "couple": couple,
        "therapist": couple.therapist,
        "starts_at": timezone.now() - datetime.timedelta(days=1),
        "ordinal": 1,
    }
    values.update(fields)
    return TherapySession.objects.create(**values)


@pytest.mark.parametrize("minutes", [0, 481])
def test_a_duration_outside_1_to_480_minutes_is_refused(couple, minutes):
    with refused_by("session_duration_range"):
        session_row(couple, duration_minutes=minutes)


@pytest.mark.parametrize("minutes", [1, 480])
def test_a_duration_at_the_ends_of_the_range_is_accepted(couple, minutes):
    assert session_row(couple, duration_minutes=minutes).pk


@pytest.mark.parametrize("step", [0, 10])
def test_an_eft_step_outside_1_to_9_is_refused(couple, step):
    with refused_by("session_eft_step_range"):
        session_row(couple, eft_step=step)


@pytest.mark.parametrize("step", [None, 1, 9])
def test_no_eft_step_or_one_in_range_is_accepted(couple, step):
    assert session_row(couple, eft_step=step).pk


def test_the_first_session_is_number_1(couple):
    with refused_by("session_ordinal_positive"):
        session_row(couple, ordinal=0)


def test_a_cancelled_session_says_who_cancelled(couple):
    with refused_by("session_cancelled_by_when_cancelled"):
        session_row(couple, attendance=Attendance.CANCELLED, cancelled_by="")


@pytest.mark.parametrize(
    "attendance", [Attendance.ATTENDED, Attendance.NO_SHOW, Attendance.ENDED_EARLY]
)
def test_only_a_cancelled_session_has_a_canceller(couple, attendance):
    left = LeftBy.PARTNER_A if attendance == Attendance.ENDED_EARLY else ""
    with refused_by("session_cancelled_by_when_cancelled"):
        session_row(
            couple, attendance=attendance, cancelled_by=CancelledBy.THERAPIST, left_early=left
        )


def test_a_cancelled_session_with_its_canceller_is_accepted(couple):
    session = session_row(couple, attendance=Attendance.CANCELLED, cancelled_by=CancelledBy.BOTH)
    assert session.cancelled_by == CancelledBy.BOTH


def test_a_session_ended_early_says_who_left(couple):
    with refused_by("session_who_left_when_ended_early"):
        session_row(couple, attendance=Attendance.ENDED_EARLY, left_early="")


def test_only_a_session_ended_early_has_someone_who_left(couple):
    with refused_by("session_who_left_when_ended_early"):
        session_row(couple, attendance=Attendance.ATTENDED, left_early=LeftBy.PARTNER_B)


def test_a_session_number_is_used_once_per_couple(couple):
    session_row(couple, ordinal=1)
    with refused_by("session_number_once_per_couple"):
        session_row(couple, ordinal=1)


def test_a_withdrawn_session_frees_its_number(couple):
    first = session_row(couple, ordinal=1)
    TherapySession.objects.filter(pk=first.pk).update(
        withdrawn_at=timezone.now(),
        withdrawn_by=couple.therapist,
        withdrawal_reason="Logged for the wrong couple.",
    )
    session_row(couple, ordinal=1)
    assert TherapySession.objects.filter(couple=couple, ordinal=1).count() == 2


def test_a_session_is_withdrawn_only_with_who_and_why(couple):
    session = session_row(couple)
    with refused_by("session_withdrawal_has_reason"):
        TherapySession.objects.filter(pk=session.pk).update(withdrawn_at=timezone.now())


def test_a_private_note_is_on_a_session_or_a_rupture_not_both(couple):
    session = make_session(couple)
    rupture = make_rupture(session)
    for kind in (NoteKind.PSYCHOTHERAPY_NOTE, NoteKind.RUPTURE_REFLECTION):
        with refused_by("private_note_on_one_thing"):
            PrivateNote.objects.create(
                author=couple.therapist, kind=kind, session=session, rupture=rupture, text="x"
            )


def test_a_private_note_is_on_something(couple):
    with refused_by("private_note_on_one_thing"):
        PrivateNote.objects.create(
            author=couple.therapist, kind=NoteKind.PSYCHOTHERAPY_NOTE, text="x"
        )


def test_a_private_note_is_of_the_kind_of_what_it_is_on(couple):
    session = make_session(couple)
    with refused_by("private_note_on_one_thing"):
        PrivateNote.objects.create(
            author=couple.therapist, kind=NoteKind.RUPTURE_REFLECTION, session=session, text="x"
        )


def test_a_note_on_a_session_and_a_reflection_on_a_rupture_are_accepted(couple):
    session = make_session(couple)
    rupture = make_rupture(session)
    PrivateNote.objects.create(
        author=couple.therapist, kind=NoteKind.PSYCHOTHERAPY_NOTE, session=session, text="x"
    )
    PrivateNote.objects.create(
        author=couple.therapist, kind=NoteKind.RUPTURE_REFLECTION, rupture=rupture, text="y"
    )
    assert PrivateNote.objects.filter(author=couple.therapist).count() == 2
