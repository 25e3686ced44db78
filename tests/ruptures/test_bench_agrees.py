"""The benchmark's own parts, on a small generated practice, so `bench/` can't silently rot:
the generator fills every column the models require, and the floor, the naive loop, the
set-based store and the nightly job's stored summaries agree on every couple and period."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest

from bench.aggregates import differences, floor, floor_core, naive_one_query, stored_core
from bench.experiments import store_core_set_based
from bench.nightly import FOR_DATE
from bench.practice import Size, generate
from people.audit_db import acting_as
from people.models import Practice
from ruptures.models import NightlyRun, RuptureSummary
from sessions.models import TherapySession

pytestmark = pytest.mark.django_db

SMALL = Size(therapists=3, couples=12, sessions=360, ruptures=900)


@pytest.fixture
def bench_practice() -> Practice:
    generated = generate(SMALL, FOR_DATE, seed=7)
    assert generated.counts["sessions"] == SMALL.sessions
    assert generated.counts["ruptures"] == SMALL.ruptures
    return Practice.objects.get(pk=generated.practice_id)


def test_generated_sessions_fill_what_the_session_form_would(bench_practice: Practice) -> None:
    sessions = TherapySession.objects.filter(couple__practice=bench_practice)
    assert sessions.count() == SMALL.sessions
    assert not sessions.exclude(horsemen=0).exists()
    assert not sessions.exclude(change_events=0).exists()


def test_floor_naive_loop_and_set_based_store_agree(bench_practice: Practice) -> None:
    zone = bench_practice.time_zone
    expected = floor_core(floor(bench_practice.pk, FOR_DATE, zone))
    assert len(expected) == SMALL.couples
    assert sum(c["treatment"]["ruptures"] for c in expected.values()) > 0
    assert (
        differences(expected, floor_core(naive_one_query(bench_practice.pk, FOR_DATE, zone)))[0]
        == 0
    )
    with acting_as("nightly"):
        written = store_core_set_based(bench_practice.pk, FOR_DATE, zone)
    assert written == 3 * SMALL.couples
    assert differences(expected, stored_core(bench_practice.pk, FOR_DATE)) == (0, [])


def test_nightly_job_stores_what_the_floor_computes(
    bench_practice: Practice, run_nightly: Callable[[Practice, datetime.date], NightlyRun]
) -> None:
    for night in (FOR_DATE, FOR_DATE + datetime.timedelta(days=1)):
        run_nightly(bench_practice, night)
        expected = floor_core(floor(bench_practice.pk, night, bench_practice.time_zone))
        assert RuptureSummary.objects.filter(on_date=night).count() == 3 * SMALL.couples
        assert differences(expected, stored_core(bench_practice.pk, night)) == (0, [])
