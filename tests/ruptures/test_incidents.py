"""Incidents (flags/incidents.py): a couple's open flags that name the same rupture, or the
same session's measures, are one incident; two incidents of one couple stay apart; and each
flag keeps its own history, so one kind closing leaves the others open.

The records are crafted as a therapist logs them and the flags written by the nightly run."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from flags.incidents import Incident, incident_of, incidents, sessions_text
from ruptures.codes import RuptureStatus, RuptureType
from ruptures.models import Flag, FlagKind
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user
from tests.supervision import make_flag

if TYPE_CHECKING:
    from collections.abc import Callable

    from cycles.models import Couple
    from people.models import User
    from ruptures.models import NightlyRun, Rupture
    from sessions.models import TherapySession

pytestmark = [pytest.mark.django_db]

LONDON = ZoneInfo("Europe/London")
D = datetime.date(2026, 1, 5)
WEEK = datetime.timedelta(days=7)
FOUNDING_KINDS = [
    FlagKind.UNRESOLVED_RUPTURE,
    FlagKind.CONFRONTATION_THEN_ABSENCE,
    FlagKind.HIGH_THERAPIST_CONTRIBUTION,
]


def session(couple: Couple, day: datetime.date, **fields: Any) -> TherapySession:
    starts_at = datetime.datetime.combine(day, datetime.time(10), tzinfo=LONDON)
    return make_session(couple, starts_at=starts_at, **fields)


def walk_out(couple: Couple, day: datetime.date) -> Rupture:
    """A confrontation in which the therapist had a large part, then a walk-out."""
    walked_out = session(couple, day, attendance="ended_early", left_early="partner_a")
    return make_rupture(
        walked_out,
        rupture_type=RuptureType.CONFRONTATION,
        significance=5,
        therapist_contribution=4,
    )


def open_incidents(couple: Couple) -> list[Incident]:
    return incidents(Flag.objects.open().filter(couple=couple))


@pytest.fixture
def therapist() -> User:
    return make_user(make_practice(), "Incident Therapist", therapist=True)


@pytest.fixture
def couple(therapist: User) -> Couple:
    return make_couple(therapist)


@pytest.fixture
def run(run_nightly: Callable[..., NightlyRun], therapist: User) -> Callable[..., NightlyRun]:
    return lambda for_date: run_nightly(therapist.practice, for_date)


def test_one_walk_out_opens_three_flags_that_are_one_incident(couple, run):
    rupture = walk_out(couple, D)
    run(D)

    assert sorted(Flag.objects.open().filter(couple=couple).values_list("kind", flat=True)) == (
        sorted(FOUNDING_KINDS)
    )
    (incident,) = open_incidents(couple)
    assert incident.kinds == FOUNDING_KINDS  # in the order of the flag definitions
    assert incident.sessions == [1]
    assert incident.sessions_text == "session 1"
    assert {f.evidence["ruptures"][0] for f in incident.flags} == {rupture.pk}
    assert incident.pk == min(f.pk for f in incident.flags)


def test_two_incidents_of_one_couple_stay_apart(couple, run):
    first = walk_out(couple, D)
    session(couple, D + WEEK)
    second = walk_out(couple, D + 2 * WEEK)
    run(D + 2 * WEEK)

    found = open_incidents(couple)
    assert len(found) == 2
    by_rupture = {incident.flags[0].evidence["ruptures"][0]: incident for incident in found}
    assert set(by_rupture) == {first.pk, second.pk}
    for incident in found:
        assert sorted(incident.kinds) == sorted(FOUNDING_KINDS)
    # Most recent first, as the flags are listed.
    assert [incident.sessions for incident in found] == [[3], [1]]


def test_one_kind_closing_leaves_the_others_open_and_together(couple, run):
    """Partly resolved: the unresolved rupture's flag closes (its own rule); the walk-out and
    the therapist's contribution stay open until the rupture is resolved, still one incident."""
    rupture = walk_out(couple, D)
    run(D)
    (before,) = open_incidents(couple)

    type(rupture).objects.filter(pk=rupture.pk).update(status=RuptureStatus.PARTLY_RESOLVED)
    run(D + datetime.timedelta(days=1))

    unresolved = Flag.objects.get(couple=couple, kind=FlagKind.UNRESOLVED_RUPTURE)
    assert unresolved.closed_on == D + datetime.timedelta(days=1)
    (after,) = open_incidents(couple)
    assert after.kinds == [
        FlagKind.CONFRONTATION_THEN_ABSENCE,
        FlagKind.HIGH_THERAPIST_CONTRIBUTION,
    ]
    assert {f.pk for f in after.flags} < {f.pk for f in before.flags}  # the same rows, open

    # The closed flag is history: its incident is itself alone.
    assert incident_of(unresolved, Flag.objects.open().filter(couple=couple)).flags == (unresolved,)


def test_reopening_one_kind_joins_the_incident_as_a_new_flag(couple, run):
    rupture = walk_out(couple, D)
    run(D)
    type(rupture).objects.filter(pk=rupture.pk).update(status=RuptureStatus.PARTLY_RESOLVED)
    run(D + datetime.timedelta(days=1))
    type(rupture).objects.filter(pk=rupture.pk).update(status=RuptureStatus.UNRESOLVED)
    run(D + datetime.timedelta(days=2))

    unresolved = Flag.objects.filter(couple=couple, kind=FlagKind.UNRESOLVED_RUPTURE)
    assert unresolved.count() == 2  # the closed one kept, a new one open
    (incident,) = open_incidents(couple)
    assert incident.kinds == FOUNDING_KINDS
    assert incident.opened_on == D


# --- crafted flags: the rule itself ---------------------------------------------------------


def flag(couple: Couple, kind: str, key: str, **evidence: Any) -> Flag:
    made = make_flag(couple, kind, D, key=key)
    Flag.objects.filter(pk=made.pk).update(evidence=evidence)
    made.refresh_from_db()
    return made


def test_flags_about_one_sessions_measures_are_one_incident(couple):
    drop_a = flag(couple, FlagKind.ALLIANCE_DROP, "partner:A", sessions=[4, 6])
    drop_b = flag(couple, FlagKind.ALLIANCE_DROP, "partner:B", sessions=[4, 4])
    mismatch = flag(couple, FlagKind.REPORT_MISMATCH, "session:9:A", sessions=[4])
    elsewhere = flag(couple, FlagKind.REPORT_MISMATCH, "session:10:B", sessions=[5])

    found = {frozenset(f.pk for f in i.flags) for i in open_incidents(couple)}
    assert found == {frozenset({drop_a.pk, drop_b.pk, mismatch.pk}), frozenset({elsewhere.pk})}


def test_patterns_over_many_sessions_stand_alone(couple):
    """A recurring marker names several ruptures: it would join separate incidents into one,
    so it stands alone, as do the course flags that name a session in passing."""
    unresolved = flag(couple, FlagKind.UNRESOLVED_RUPTURE, "rupture:1", ruptures=[1], sessions=[1])
    recurring = flag(
        couple, FlagKind.RECURRING_RUPTURE, "marker:X", ruptures=[1, 2, 3], sessions=[1, 2, 3]
    )
    quiet = flag(couple, FlagKind.GONE_QUIET, "", sessions=[1])
    stuck = flag(couple, FlagKind.STUCK_IN_STAGE_ONE, "", sessions=[1])
    bare = make_flag(couple, FlagKind.SPLIT_ALLIANCE_WIDENING, D)  # no evidence

    found = open_incidents(couple)
    assert len(found) == 5
    assert all(not i.is_shared for i in found)
    assert {i.pk for i in found} == {unresolved.pk, recurring.pk, quiet.pk, stuck.pk, bare.pk}


def test_incidents_of_two_couples_never_mix_when_given_one_couple_at_a_time(couple, therapist):
    other = make_couple(therapist)
    mine = flag(couple, FlagKind.UNRESOLVED_RUPTURE, "rupture:7", ruptures=[7], sessions=[1])
    flag(other, FlagKind.UNRESOLVED_RUPTURE, "rupture:8", ruptures=[8], sessions=[1])
    (incident,) = open_incidents(couple)
    assert incident.flags == (mine,)


@pytest.mark.parametrize(
    ("numbers", "said"),
    [
        ([], ""),
        ([3], "session 3"),
        ([1, 2], "sessions 1 and 2"),
        ([1, 4, 7], "sessions 1, 4 and 7"),
    ],
)
def test_sessions_are_listed_as_a_person_says_them(numbers, said):
    assert sessions_text(numbers) == said
