"""The database itself refuses bad ruptures, repairs and summaries.

Rows are written with the ORM directly, never through services or forms, so what refuses
them is PostgreSQL: check constraints, and the triggers of migration 0003 for the rules that
span rows (a rupture's sessions belong to its couple; the repair comes later).
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ruptures.codes import (
    ConfrontationMarker,
    RuptureStatus,
    RuptureType,
    SummaryPeriod,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.models import Rupture, RuptureSummary
from sessions.models import TherapySession
from tests.factories import make_couple, make_practice, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.django_db


@contextmanager
def refused_by(constraint: str) -> Iterator[None]:
    """The write inside must fail in the database, on the named constraint or trigger."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        yield


@pytest.fixture
def therapist():
    return make_user(make_practice(), "Therapist", therapist=True)


@pytest.fixture
def couple(therapist):
    return make_couple(therapist)


@pytest.fixture
def seen_in(couple):
    """The session the rupture is seen in."""
    return make_session(couple, days_ago=14)


@pytest.fixture
def later(couple, seen_in):
    return make_session(couple, days_ago=7)


@pytest.fixture
def earlier(couple, seen_in):
    return make_session(couple, days_ago=21)


@pytest.fixture
def other_couples_session(therapist):
    # Later than `seen_in`, so only "another couple" is wrong with it.
    return make_session(make_couple(therapist), days_ago=1)


def rupture_row(session: TherapySession, **fields: Any) -> Rupture:
    values: dict[str, Any] = {
        "couple_id": session.couple_id,
        "session": session,
        "created_by": session.therapist,
        "rupture_type": RuptureType.WITHDRAWAL,
        "who_moved": WhoMoved.PARTNER_A,
        "toward": Toward.THERAPIST,
        "withdrawal_markers": WithdrawalMarker.MINIMAL_RESPONSE,
        "significance": 3,
    }
    values.update(fields)
    return Rupture.objects.create(**values)


@pytest.mark.parametrize("significance", [0, 6])
def test_significance_outside_1_to_5_is_refused(seen_in, significance):
    with refused_by("rupture_significance_1_to_5"):
        rupture_row(seen_in, significance=significance)


@pytest.mark.parametrize("significance", [1, 5])
def test_significance_at_the_ends_of_the_scale_is_accepted(seen_in, significance):
    assert rupture_row(seen_in, significance=significance).pk


@pytest.mark.parametrize("contribution", [0, 6])
def test_a_therapist_contribution_outside_1_to_5_is_refused(seen_in, contribution):
    with refused_by("rupture_contribution_1_to_5"):
        rupture_row(seen_in, therapist_contribution=contribution)


def test_a_resolution_stage_past_4_is_refused(seen_in):
    with refused_by("rupture_stage_0_to_4"):
        rupture_row(seen_in, resolution_stage=5)


def test_a_withdrawal_rupture_carries_no_confrontation_marker(seen_in):
    with refused_by("rupture_markers_of_its_type"):
        rupture_row(
            seen_in,
            rupture_type=RuptureType.WITHDRAWAL,
            withdrawal_markers=WithdrawalMarker.DENIAL,
            confrontation_markers=ConfrontationMarker.DEFENDS_SELF,
        )


def test_a_confrontation_rupture_carries_no_withdrawal_marker(seen_in):
    with refused_by("rupture_markers_of_its_type"):
        rupture_row(
            seen_in,
            rupture_type=RuptureType.CONFRONTATION,
            withdrawal_markers=WithdrawalMarker.DENIAL,
            confrontation_markers=ConfrontationMarker.DEFENDS_SELF,
        )


def test_a_confrontation_rupture_with_its_own_markers_is_accepted(seen_in):
    rupture = rupture_row(
        seen_in,
        rupture_type=RuptureType.CONFRONTATION,
        withdrawal_markers=0,
        confrontation_markers=ConfrontationMarker.DEFENDS_SELF
        | ConfrontationMarker.CONTROLS_OR_PRESSURES,
    )
    assert rupture.pk


def test_an_unknown_marker_bit_is_refused(seen_in):
    with refused_by("rupture_markers_of_its_type"):
        rupture_row(seen_in, withdrawal_markers=WithdrawalMarker.all_bits() + 1)


def test_a_rupture_is_seen_in_a_session_of_its_own_couple(seen_in, other_couples_session):
    with refused_by("rupture_session_of_its_couple"):
        rupture_row(other_couples_session, couple_id=seen_in.couple_id)


def test_a_rupture_is_repaired_in_a_session_of_its_own_couple(seen_in, other_couples_session):
    with refused_by("rupture_repaired_in_same_couple"):
        rupture_row(
            seen_in, repaired_in=other_couples_session, status=RuptureStatus.PARTLY_RESOLVED
        )


def test_a_rupture_is_not_repaired_in_an_earlier_session(seen_in, earlier):
    with refused_by("rupture_repaired_later"):
        rupture_row(seen_in, repaired_in=earlier, status=RuptureStatus.RESOLVED)


def test_a_rupture_is_not_repaired_in_the_session_it_was_seen_in(seen_in):
    # The trigger (repair must start later) fires before the check constraint does.
    with refused_by("rupture_repaired_later|rupture_repaired_in_other_session"):
        rupture_row(seen_in, repaired_in=seen_in, status=RuptureStatus.RESOLVED)


def test_an_unresolved_rupture_has_no_repairing_session(seen_in, later):
    with refused_by("rupture_repaired_is_not_unresolved"):
        rupture_row(seen_in, repaired_in=later, status=RuptureStatus.UNRESOLVED)


@pytest.mark.parametrize("status", [RuptureStatus.PARTLY_RESOLVED, RuptureStatus.RESOLVED])
def test_a_repair_in_a_later_session_is_accepted(seen_in, later, status):
    rupture = rupture_row(seen_in, repaired_in=later, status=status)
    rupture.refresh_from_db()
    assert rupture.repaired_in == later


def test_an_existing_rupture_cannot_be_moved_to_an_earlier_repair(seen_in, later, earlier):
    rupture = rupture_row(seen_in, repaired_in=later, status=RuptureStatus.RESOLVED)
    with refused_by("rupture_repaired_later"):
        Rupture.objects.filter(pk=rupture.pk).update(repaired_in=earlier)


def test_the_repairing_session_cannot_be_moved_before_the_rupture(seen_in, later):
    rupture_row(seen_in, repaired_in=later, status=RuptureStatus.RESOLVED)
    later.starts_at = seen_in.starts_at - datetime.timedelta(hours=1)
    with refused_by("rupture_repaired_later"):
        later.save()
    later.refresh_from_db()
    assert later.starts_at > seen_in.starts_at


def test_the_rupture_session_cannot_be_moved_after_its_repair(seen_in, later):
    rupture_row(seen_in, repaired_in=later, status=RuptureStatus.RESOLVED)
    with refused_by("rupture_repaired_later"):
        TherapySession.objects.filter(pk=seen_in.pk).update(
            starts_at=later.starts_at + datetime.timedelta(hours=1)
        )


def test_the_rupture_session_cannot_move_to_another_couple(seen_in, therapist):
    rupture_row(seen_in)
    elsewhere = make_couple(therapist)
    with refused_by("rupture_repaired_later"):
        TherapySession.objects.filter(pk=seen_in.pk).update(couple=elsewhere)


def test_sessions_can_move_while_repairs_stay_later(seen_in, later):
    rupture_row(seen_in, repaired_in=later, status=RuptureStatus.RESOLVED)
    moved = TherapySession.objects.filter(pk=later.pk).update(
        starts_at=seen_in.starts_at + datetime.timedelta(minutes=1)
    )
    assert moved == 1


@pytest.fixture
def summary(couple):
    return RuptureSummary.objects.create(
        couple=couple, period=SummaryPeriod.TREATMENT, on_date=timezone.localdate()
    )


def test_a_summary_is_kept_once_per_couple_period_and_date(summary):
    with refused_by("summary_once_per_period_and_date"):
        RuptureSummary.objects.create(
            couple=summary.couple, period=summary.period, on_date=summary.on_date
        )


def test_summaries_of_other_periods_or_dates_are_accepted(summary):
    RuptureSummary.objects.create(
        couple=summary.couple, period=SummaryPeriod.DAY, on_date=summary.on_date
    )
    RuptureSummary.objects.create(
        couple=summary.couple,
        period=summary.period,
        on_date=summary.on_date - datetime.timedelta(days=1),
    )
    assert RuptureSummary.objects.filter(couple=summary.couple).count() == 3
