"""The plan's pages run a fixed number of queries: the same with 1 goal, session and revision
as with 30 (an N+1 would grow)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from plans.models import Evidence
from sessions.models import EFTChangeEvent
from tests.factories import World, make_rupture, make_session
from tests.plans.conftest import goal, save_plan

# The session and user, the authenticator check and the last-activity save
# (tests/test_query_counts.py's PER_REQUEST), once the client has made one request.
PER_REQUEST = 2
KINDS = Evidence.values


def sized(world: World, size: int) -> None:
    for n in range(size):
        session = make_session(
            world.couple, days_ago=2 + n, change_events=EFTChangeEvent.DE_ESCALATION
        )
        make_rupture(session)
    for _ in range(size):
        save_plan(world.couple, [goal(KINDS[i % len(KINDS)]) for i in range(size)])


def counted(client: Client, url: str, django_assert_num_queries: Any, expected: int) -> Any:
    client.get(url)
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("size", [1, 30])
def test_the_plan_page(world: World, size: int, django_assert_num_queries: Any) -> None:
    sized(world, size)
    client = Client()
    client.force_login(world.owner)
    url = reverse("plans:detail", args=[world.couple.case_code])
    # The couple, the plan and its goals, up to four reads of the record, the audit event.
    response = counted(client, url, django_assert_num_queries, PER_REQUEST + 3 + min(size, 4) + 1)
    assert len(response.context["progress"]) == size


@pytest.mark.parametrize("size", [1, 30])
def test_the_plan_form(world: World, size: int, django_assert_num_queries: Any) -> None:
    sized(world, size)
    client = Client()
    client.force_login(world.owner)
    url = reverse("plans:edit", args=[world.couple.case_code])
    # The couple, the plan and its goals, the map's steps, the audit event.
    response = counted(client, url, django_assert_num_queries, PER_REQUEST + 5)
    assert len(response.context["formset"].forms) == size + 2


@pytest.mark.parametrize("size", [1, 30])
def test_the_draft_from_the_map(world: World, size: int, django_assert_num_queries: Any) -> None:
    sized(world, size)
    client = Client()
    client.force_login(world.owner)
    url = reverse("plans:edit", args=[world.couple.case_code]) + "?draft=map"
    # + the partners.
    counted(client, url, django_assert_num_queries, PER_REQUEST + 6)


@pytest.mark.parametrize("size", [2, 30])
def test_the_history_with_a_comparison(
    world: World, size: int, django_assert_num_queries: Any
) -> None:
    sized(world, size)
    client = Client()
    client.force_login(world.supervisor)
    url = reverse("plans:history", args=[world.couple.case_code]) + "?from=1&to=2"
    # The couple, the revisions, the two compared and their goals, the audit event.
    response = counted(client, url, django_assert_num_queries, PER_REQUEST + 5)
    assert len(response.context["revisions"]) == size
