"""Therapists' and supervisors' roll-ups (flags.rollups), from a real nightly run.

A therapist's contribution is "rising" when their mean rated contribution over the last four
weeks is at least the practice's `contribution_rise` above the same figure four weeks earlier,
with at least three rated ruptures in each window (docs/signals.md).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from people.models import SignalThresholds, Supervision
from ruptures.models import CaseloadSummary
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Callable

    from people.models import Practice, User

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
D = datetime.date(2026, 3, 30)  # the date summarised; D - 28 is the date compared with
EARLIER = D - datetime.timedelta(days=28)


def at(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=LONDON)


class Scene:
    def __init__(self) -> None:
        self.practice = make_practice()  # in Europe/London
        self.therapist = make_user(self.practice, "Rolled Therapist", therapist=True)
        self.colleague = make_user(self.practice, "Other Therapist", therapist=True)
        self.supervisor = make_user(self.practice, "Rolled Supervisor", supervisor=True)
        Supervision.objects.create(
            practice=self.practice, supervisor=self.supervisor, therapist=self.therapist
        )
        self.couple = make_couple(self.therapist)

    def ruptures_on(self, day: datetime.date, *contributions: int | None) -> None:
        """A session of the therapist's couple on `day`, with one rupture per contribution."""
        session = make_session(self.couple, starts_at=at(day))
        for contribution in contributions:
            make_rupture(session, therapist_contribution=contribution)

    def roll_up(self, person: User, on: datetime.date, role: str = "therapist") -> dict[str, Any]:
        return CaseloadSummary.objects.get(person=person, role=role, on_date=on).data


@pytest.fixture
def scene() -> Scene:
    return Scene()


def nights(run_nightly: Callable[..., Any], practice: Practice) -> None:
    run_nightly(practice, EARLIER)
    run_nightly(practice, D)


def test_the_roll_ups_add_up_the_couples_treatment_and_last_four_weeks(scene, run_nightly):
    scene.ruptures_on(EARLIER - datetime.timedelta(days=10), 1, 3)
    scene.ruptures_on(D - datetime.timedelta(days=3), 4, None)
    make_rupture(make_session(make_couple(scene.colleague), starts_at=at(D)))

    run_nightly(scene.practice, D)

    mine = scene.roll_up(scene.therapist, D)
    assert (mine["couples"], mine["ruptures"], mine["sessions_held"]) == (1, 4, 2)
    assert mine["mean_contribution"] == pytest.approx(8 / 3, abs=0.01)  # 1, 3 and 4
    assert (mine["recent_mean_contribution"], mine["recent_contribution_rated"]) == (4, 1)
    supervisor = scene.roll_up(scene.supervisor, D, role="supervisor")
    assert (supervisor["couples"], supervisor["ruptures"]) == (1, 4)  # not the colleague's
    assert scene.roll_up(scene.colleague, D)["ruptures"] == 1


def test_a_rise_of_the_practices_size_marks_the_contribution_rising(scene, run_nightly):
    scene.ruptures_on(EARLIER - datetime.timedelta(days=14), 2, 2)
    scene.ruptures_on(EARLIER - datetime.timedelta(days=7), 2)
    scene.ruptures_on(D - datetime.timedelta(days=14), 3, 4)
    scene.ruptures_on(D - datetime.timedelta(days=7), 3)

    nights(run_nightly, scene.practice)

    assert scene.roll_up(scene.therapist, EARLIER)["contribution_rising"] is None  # no history
    rising = scene.roll_up(scene.therapist, D)["contribution_rising"]
    assert rising == {"from": 2.0, "to": pytest.approx(3.33, abs=0.01)}


def test_a_smaller_rise_than_the_practice_set_is_not_marked(scene, run_nightly):
    SignalThresholds.objects.create(practice=scene.practice, contribution_rise=Decimal("1.5"))
    scene.ruptures_on(EARLIER - datetime.timedelta(days=7), 2, 2, 2)
    scene.ruptures_on(D - datetime.timedelta(days=7), 3, 3, 4)  # +1.33

    nights(run_nightly, scene.practice)

    assert scene.roll_up(scene.therapist, D)["contribution_rising"] is None


def test_an_exact_rise_of_the_threshold_is_marked(scene, run_nightly):
    scene.ruptures_on(EARLIER - datetime.timedelta(days=7), 1, 2, 3)  # 2.0
    scene.ruptures_on(D - datetime.timedelta(days=7), 2, 3, 4)  # 3.0: exactly 1.0 more

    nights(run_nightly, scene.practice)

    assert scene.roll_up(scene.therapist, D)["contribution_rising"] == {"from": 2.0, "to": 3.0}


def test_a_rise_just_short_of_the_threshold_is_not_marked(scene, run_nightly):
    scene.ruptures_on(EARLIER - datetime.timedelta(days=7), 2, 2, 2)  # 2.0
    scene.ruptures_on(D - datetime.timedelta(days=14), *[3] * 13)
    scene.ruptures_on(D - datetime.timedelta(days=7), *[3] * 11, 2)  # 74 / 25 = 2.96

    nights(run_nightly, scene.practice)

    assert scene.roll_up(scene.therapist, D)["recent_mean_contribution"] == 2.96  # +0.96
    assert scene.roll_up(scene.therapist, D)["contribution_rising"] is None


def test_fewer_than_three_rated_ruptures_in_either_window_mark_nothing(scene, run_nightly):
    scene.ruptures_on(EARLIER - datetime.timedelta(days=7), 1, 1, None, None)  # two rated
    scene.ruptures_on(D - datetime.timedelta(days=7), 5, 5, 5)

    nights(run_nightly, scene.practice)

    now = scene.roll_up(scene.therapist, D)
    assert (now["recent_mean_contribution"], now["contribution_rising"]) == (5, None)


def _treatment(split_widening_findings: int) -> dict[str, Any]:
    """A couple's treatment summary as the roll-up reads it: nothing but a split history."""
    return {
        "sessions_held": 10,
        "ruptures": 0,
        "by_type": {},
        "by_status": {},
        "sessions_to_resolution": [],
        "contribution_sum": 0,
        "contribution_rated": 0,
        "signals": {"split_widening": split_widening_findings},
    }


def test_split_alliances_widening_counts_couples_widening_now_not_once_in_treatment() -> None:
    from flags.rollups import roll_up
    from ruptures.models import FlagKind

    couples = [
        (1, "active", "C-100001", _treatment(2), {}),  # widened earlier, narrowed since
        (2, "active", "C-100002", _treatment(3), {}),  # widening at its latest session
        (3, "active", "C-100003", _treatment(0), {}),
    ]
    flags = {2: [FlagKind.SPLIT_ALLIANCE_WIDENING], 3: [FlagKind.GONE_QUIET]}
    figures = roll_up(couples, flags)
    assert figures["split_widening_couples"] == 1
    assert figures["flagged_couples"] == ["C-100002", "C-100003"]


def test_the_roll_up_figures_are_the_typed_contract_the_overview_reads() -> None:
    """flags.rollups writes exactly RollUp's figures, and every chart of the supervisor's
    overview draws one of them: renaming a figure on either side fails here."""
    from typing import get_args

    from flags.rollups import ChartedFigure, RollUp, roll_up
    from supervision.review import METRICS

    assert set(roll_up([], {})) == set(RollUp.__annotations__)
    assert set(get_args(ChartedFigure)) <= set(RollUp.__annotations__)
    assert {metric.key for metric in METRICS} <= set(get_args(ChartedFigure))
