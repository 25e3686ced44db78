"""Two supervisors log a meeting with the same supervisee at the same moment, on real
PostgreSQL with a connection each (supervision/log.py meeting_log): the supervisee's hours
count once, so one meeting is logged and the other refused beside its time, never both."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from people.models import Supervision
from supervision import log
from supervision.models import MeetingFormat, SupervisionMeeting
from tests.concurrency import at_once as racing
from tests.factories import make_practice, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(*steps: Callable[[], Any]) -> list[Any]:
    return racing(*steps, refused=log.MeetingClash)


def logging(supervisor: Any, supervisee: Any, starts_at: datetime.datetime) -> Callable[[], Any]:
    """One supervisor logging an hour's meeting with one supervisee: the meeting, once run."""

    def step() -> Any:
        meeting, _ = log.meeting_log(
            supervisor=supervisor,
            starts_at=starts_at,
            duration_minutes=60,
            format=MeetingFormat.INDIVIDUAL,
            observable_data="",
            supervisees=[supervisee],
            cases=[],
            notes="",
            request_token=uuid.uuid4(),
        )
        return meeting

    return step


@pytest.mark.parametrize("attempt", range(3))
def test_two_supervisors_booking_one_supervisee_at_once_log_one_meeting(attempt: int) -> None:
    practice = make_practice()
    trainee = make_user(practice, "Tess Trainee", therapist=True)
    first = make_user(practice, "Sam Supervisor", supervisor=True)
    second = make_user(practice, "Rowan Second", supervisor=True)
    for supervisor in (first, second):
        Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=trainee)
    starts_at = timezone.now().replace(microsecond=0) - datetime.timedelta(days=1)
    later = starts_at + datetime.timedelta(minutes=30)
    outcomes = at_once(logging(first, trainee, starts_at), logging(second, trainee, later))

    assert sorted(type(o).__name__ for o in outcomes) == ["MeetingClash", "SupervisionMeeting"]
    assert SupervisionMeeting.objects.filter(attendances__supervisee=trainee).count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_two_supervisors_who_supervise_each_other_never_deadlock(attempt: int) -> None:
    """A supervises B and B supervises A; each logs a meeting with the other at once. The
    rows are locked in one order, so one meeting is logged and the other refused (nobody is
    in two meetings at once), never a database deadlock."""
    practice = make_practice()
    first = make_user(practice, "Ada Peer", supervisor=True, therapist=True)
    second = make_user(practice, "Bo Peer", supervisor=True, therapist=True)
    Supervision.objects.create(practice=practice, supervisor=first, therapist=second)
    Supervision.objects.create(practice=practice, supervisor=second, therapist=first)
    starts_at = timezone.now().replace(microsecond=0) - datetime.timedelta(days=1)
    outcomes = at_once(logging(first, second, starts_at), logging(second, first, starts_at))

    assert sorted(type(o).__name__ for o in outcomes) == ["MeetingClash", "SupervisionMeeting"]
    assert SupervisionMeeting.objects.count() == 1
