"""The co-signing pages run a fixed number of queries: the sign-off queue with one plan
revision waiting as with many, a revision's page with one goal as with 30 (an N+1 would grow)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from people.models import Supervision
from plans import signing
from plans.models import Evidence
from tests.factories import World, make_couple
from tests.plans.conftest import goal, save_plan
from tests.plans.test_plan_queries import PER_REQUEST, counted

KINDS = Evidence.values


@pytest.fixture
def cosigned_world(world: World) -> World:
    Supervision.objects.filter(therapist=world.owner).update(notes_need_cosign=True)
    return world


def goals(size: int) -> list[Any]:
    return [goal(KINDS[i % len(KINDS)]) for i in range(size)]


@pytest.mark.parametrize("size", [2, 30])
def test_a_revision_awaiting_the_supervisor(
    cosigned_world: World, size: int, django_assert_num_queries: Any
) -> None:
    world = cosigned_world
    for _ in range(size):
        save_plan(world.couple, goals(size))
    client = Client()
    client.force_login(world.supervisor)
    url = reverse("plans:revision", args=[world.couple.case_code, size])
    # The couple, the revision and the one before, their goals, the latest and last
    # co-signed numbers, whether this person co-signs, who co-signs, the audit event.
    response = counted(client, url, django_assert_num_queries, PER_REQUEST + 7)
    assert response.context["may_review"]
    assert len(response.context["changes"].goals) == size


@pytest.mark.parametrize("size", [1, 30])
def test_the_plan_page_awaiting(
    cosigned_world: World, size: int, django_assert_num_queries: Any
) -> None:
    save_plan(cosigned_world.couple, goals(size))
    client = Client()
    client.force_login(cosigned_world.owner)
    url = reverse("plans:detail", args=[cosigned_world.couple.case_code])
    # As tests/plans/test_plan_queries.py's plan page, and who co-signs.
    counted(client, url, django_assert_num_queries, PER_REQUEST + 3 + min(size, 4) + 1 + 1)


@pytest.mark.parametrize("waiting", [1, 6])
def test_the_supervisor_s_queue_with_plans(
    cosigned_world: World, waiting: int, django_assert_num_queries: Any
) -> None:
    world = cosigned_world
    for _ in range(waiting):
        save_plan(make_couple(world.owner), goals(2))
    client = Client()
    client.force_login(world.supervisor)
    # The sessions awaiting and their count, the plan revisions awaiting with theirs, the
    # sessions sent back, and the unsigned ones and their count (empty for a supervisor who
    # holds no sessions).
    response = counted(
        client, reverse("therapy_sessions:cosign_queue"), django_assert_num_queries, PER_REQUEST + 6
    )
    assert response.context["awaiting_total"] == waiting
    assert len(response.context["awaiting"]) == waiting


@pytest.mark.parametrize("sent_back", [1, 6])
def test_the_therapist_s_queue_with_plans_sent_back(
    cosigned_world: World, sent_back: int, django_assert_num_queries: Any
) -> None:
    world = cosigned_world
    for _ in range(sent_back):
        plan = save_plan(make_couple(world.owner), goals(2))
        signing.request_changes(plan, by=world.supervisor, comment="Say more of goal 2.")
    client = Client()
    client.force_login(world.owner)
    # The sessions awaiting (none: a therapist supervises nobody) and their count, the
    # sessions and plan revisions sent back, the unsigned sessions and their count.
    response = counted(
        client, reverse("therapy_sessions:cosign_queue"), django_assert_num_queries, PER_REQUEST + 6
    )
    assert len(response.context["plans_sent_back"]) == sent_back
