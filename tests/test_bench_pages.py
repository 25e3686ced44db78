"""bench/pages.py's parts on a small generated practice, so the page benchmark can't rot: every
page it times answers as a user would see it (a renamed URL or a broken page fails here)."""

from __future__ import annotations

import pytest

from bench.nightly import FOR_DATE
from bench.pages import Results, measure, page_list, run_nights
from bench.practice import Size, generate

pytestmark = pytest.mark.django_db

SMALL = Size(therapists=3, couples=12, sessions=360, ruptures=900)


def test_every_page_the_bench_times_answers() -> None:
    generated = generate(SMALL, FOR_DATE, seed=7)
    results = Results()
    nights = run_nights(generated.practice_id, 1)
    assert nights["count"] == 1
    measure(page_list(generated.practice_id, results), reps=1, results=results)
    statuses = {page.name: page.status for page in results.pages}
    assert "couple page, 200 sessions" in statuses
    assert all(status in (200, 302) for status in statuses.values()), statuses
    assert results.baseline_s > 0
