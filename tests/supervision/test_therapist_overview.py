"""A supervisee's overview: the stored nightly roll-ups over time, each number a small chart
and a table row, each current number a link to the cases behind it; 404 for anyone else."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils.http import urlencode

from flags.runs import day_just_ended, start_run
from people.models import Supervision
from ruptures.models import CaseloadSummary, FlagKind
from supervision import review as supervision
from tests.factories import World, make_couple, make_practice, make_session, make_user
from tests.supervision import request_overhead, sign_in

pytestmark = pytest.mark.django_db

# After sign-in: the supervisee (checked against the supervisions), their roll-ups, the access
# event written and whether their notes wait for this supervisor's co-signature.
OVERVIEW_QUERIES = 4


def roll_up(**changes: Any) -> dict[str, Any]:
    """A therapist's roll-up as flags.rollups writes it."""
    data: dict[str, Any] = {
        "couples": 4,
        "sessions_held": 40,
        "ruptures": 10,
        "by_type": {"withdrawal": 6, "confrontation": 4},
        "by_status": {"resolved": 6, "partly_resolved": 1, "unresolved": 3},
        "resolution_rate": 0.6,
        "ruptures_per_session": 0.25,
        "median_sessions_to_resolution": 2,
        "mean_contribution": 2.5,
        "recent_mean_contribution": 2.8,
        "recent_contribution_rated": 5,
        "contribution_rising": None,
        "split_widening_couples": 1,
        "dropouts": 1,
        "open_flags": {FlagKind.UNRESOLVED_RUPTURE: 3, FlagKind.GONE_QUIET: 1},
        "flagged_couples": ["C-AAAAAA"],
    }
    return data | changes


def summarise(person, days: list[int], role: str = "therapist", **changes: Any) -> None:
    today = datetime.date.today()
    for n, days_ago in enumerate(days):
        CaseloadSummary.objects.create(
            practice_id=person.practice_id,
            person=person,
            role=role,
            on_date=today - datetime.timedelta(days=days_ago),
            data=roll_up(ruptures_per_session=0.2 + n / 100, **changes),
        )


@pytest.fixture
def world() -> World:
    world = World.build()
    summarise(world.owner, [3, 2, 1])
    summarise(world.supervisor, [1], role="supervisor", dropouts=99)
    summarise(world.colleague, [1], dropouts=77)
    return world


def overview(client, user, therapist):
    sign_in(client, user)
    return client.get(reverse("supervision:therapist", args=[therapist.pk]))


def test_the_supervisor_sees_a_chart_and_the_numbers_for_each_measure(client, world):
    response = overview(client, world.supervisor, world.owner)
    assert response.status_code == 200
    text = response.text
    assert text.count("<svg") == len(supervision.METRICS)
    for metric in supervision.METRICS:
        assert f'id="chart-{metric.key}-title"' in text
        assert metric.title in text
    assert len(response.context["table"]) == 3
    latest = response.context["latest"]
    assert latest.on_date == datetime.date.today() - datetime.timedelta(days=1)
    current = {m["metric"].key: m["current"] for m in response.context["metrics"]}
    assert current == {
        "ruptures_per_session": "0.22",
        "resolution_rate": "60%",
        "median_sessions_to_resolution": "2",
        "mean_contribution": "2.50",
        "recent_mean_contribution": "2.80",
        "split_widening_couples": "1",
        "dropouts": "1",
    }


def test_each_current_number_links_to_the_cases_behind_it(client, world):
    response = overview(client, world.supervisor, world.owner)
    links = {m["metric"].key: m["cases_url"] for m in response.context["metrics"]}
    review = reverse("supervision:review")
    mine = {"therapist": world.owner.pk, "period": "all"}
    assert (
        links["resolution_rate"] == f"{review}?{urlencode(mine | {'kind': 'unresolved_rupture'})}"
    )
    assert links["dropouts"] == f"{review}?{urlencode(mine | {'status': 'dropped_out'})}"
    assert links["split_widening_couples"].endswith("kind=split_alliance_widening")
    assert links["mean_contribution"].endswith("kind=high_therapist_contribution")
    assert links["ruptures_per_session"].endswith("sort=-ruptures")
    for url in links.values():
        assert url.replace("&", "&amp;") in response.text
    # The review honours every one of those links' filters.
    sign_in(client, world.supervisor)
    for url in links.values():
        filters = client.get(url).context["filters"]
        assert (filters.therapist, filters.period) == (world.owner.pk, "all")


def test_open_flags_by_kind_link_to_the_review(client, world):
    response = overview(client, world.supervisor, world.owner)
    kinds = {label: count for label, count, _ in response.context["open_flags"]}
    assert kinds == {"Unresolved rupture": 3, "Gone quiet": 1}


@pytest.mark.parametrize(
    ("viewer", "therapist"),
    [
        ("other_supervisor", "owner"),  # another supervisor's supervisee
        ("supervisor", "colleague"),  # a therapist they don't supervise
        ("supervisor", "supervisor"),  # themselves
        ("supervisor", "outsider"),  # another practice
        ("owner", "owner"),  # a therapist, not a supervisor
        ("practice_admin", "owner"),
        ("group_member", "owner"),
        ("outsider", "owner"),
    ],
)
def test_anyone_but_the_therapists_supervisor_gets_404(client, world, viewer, therapist):
    response = overview(client, getattr(world, viewer), getattr(world, therapist))
    assert response.status_code == 404


def test_a_supervision_row_across_practices_opens_nothing(client, world):
    Supervision.objects.create(
        practice=world.practice, supervisor=world.supervisor, therapist=world.outsider
    )
    assert overview(client, world.supervisor, world.outsider).status_code == 404


def test_a_rising_contribution_is_told_on_the_overview_and_in_the_review(client, world):
    summarise(world.owner, [0], contribution_rising={"from": 2.0, "to": 3.4})

    page = overview(client, world.supervisor, world.owner).text
    assert "Contribution rising" in page
    assert "averaged 3.40 over the last four weeks, up from 2.00 in the four weeks before" in page

    review = client.get(reverse("supervision:review")).text
    supervisees = review.split('aria-label="Supervisees\' overviews"')[1].split("</nav>")[0]
    owner_item = supervisees.split(str(world.owner))[1].split("</li>")[0]
    assert "Contribution rising" in owner_item


def test_a_contribution_that_has_not_risen_is_not_remarked_on(client, world):
    summarise(world.owner, [0], contribution_rising=None)

    assert "Contribution rising" not in overview(client, world.supervisor, world.owner).text
    assert "Contribution rising" not in client.get(reverse("supervision:review")).text


def test_no_summaries_yet_says_so(client, world):
    second = make_user(world.practice, "New Therapist", therapist=True)
    Supervision.objects.create(
        practice=world.practice, supervisor=world.supervisor, therapist=second
    )
    response = overview(client, world.supervisor, second)
    assert response.status_code == 200
    assert "No nightly summary has been written" in response.text
    assert "<svg" not in response.text


def test_the_overview_reads_what_the_nightly_job_wrote(client):
    world = World.build()
    make_session(make_couple(world.owner), days_ago=3)
    with TestCase.captureOnCommitCallbacks(execute=True):
        start_run(practice=world.practice, for_date=day_just_ended(world.practice))
    response = overview(client, world.supervisor, world.owner)
    latest = response.context["latest"]
    assert latest.data["couples"] == 2
    assert latest.data["ruptures"] == 1
    assert response.context["metrics"][0]["current"] != "—"


# --- charts -------------------------------------------------------------------------------------


def test_a_missing_value_breaks_the_line(world):
    metric = supervision.METRICS[0]
    day = datetime.date(2026, 11, 1)
    series = [(day + datetime.timedelta(days=n), v) for n, v in enumerate([0.2, None, 0.4, 0.5])]
    chart = supervision.line_chart(metric, series)
    assert chart.path.count("M") == 2
    assert chart.path.count("L") == 1
    assert len(chart.points) == 3
    assert chart.points[0][0] == chart.left
    assert chart.points[-1][0] == chart.right
    assert chart.points[-1][1] < chart.points[0][1]  # higher value, higher on the chart


def test_an_empty_series_draws_no_chart(world):
    chart = supervision.line_chart(supervision.METRICS[0], [(datetime.date(2026, 11, 1), None)])
    assert chart.is_empty


# --- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 30])
def test_the_overview_runs_a_fixed_number_of_queries(client, django_assert_num_queries, size):
    practice = make_practice()
    supervisor = make_user(practice, "Counted Supervisor", supervisor=True)
    therapist = make_user(practice, "Counted Therapist", therapist=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    for _ in range(size):
        make_couple(therapist)
    summarise(therapist, list(range(size, 0, -1)))
    sign_in(client, supervisor)
    url = reverse("supervision:therapist", args=[therapist.pk])
    client.get(url)
    overhead = request_overhead(client)
    with django_assert_num_queries(overhead + OVERVIEW_QUERIES):
        response = client.get(url)
    assert len(response.context["table"]) == size
