"""Co-signing a plan revision at the same moment as something else, on real PostgreSQL with a
connection per request (plans/signing.py): a double click records one co-signature, and a
review racing a new revision of the plan is either recorded before it or refused after it,
never recorded on a revision the plan has already moved on from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from people.models import AccessEvent, Supervision
from plans import signing
from plans.models import Evidence, PlanCosignState, PlanRevision
from tests.concurrency import at_once as racing
from tests.factories import make_couple, make_practice, make_user
from tests.plans.conftest import goal, save_plan

pytestmark = pytest.mark.django_db(transaction=True)

State = PlanCosignState


def scene() -> tuple[Any, Any, PlanRevision]:
    practice = make_practice()
    trainee = make_user(practice, "Tara Trainee", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(
        practice=practice, supervisor=supervisor, therapist=trainee, notes_need_cosign=True
    )
    plan = save_plan(make_couple(trainee), [goal(Evidence.DE_ESCALATION)])
    return trainee, supervisor, plan


def at_once(*steps: Callable[[], Any]) -> list[Any]:
    return racing(*steps, refused=signing.SignOffRefused)


def test_a_double_click_on_co_sign_records_once() -> None:
    _, supervisor, plan = scene()
    url = reverse("plans:review", args=[plan.couple.case_code, 1])

    signed_in = Client()
    signed_in.force_login(supervisor)
    key = signed_in.cookies[settings.SESSION_COOKIE_NAME].value

    def click() -> int:
        tab = Client()  # the same browser's session, as a double click sends it
        tab.cookies[settings.SESSION_COOKIE_NAME] = key
        return tab.post(url, {"outcome": "cosign"}).status_code

    assert at_once(click, click, click) == [302, 302, 302]
    plan.refresh_from_db()
    assert plan.cosign_state == State.COSIGNED
    assert AccessEvent.objects.filter(action="co-signed plan").count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_a_review_racing_a_new_revision_never_lands_on_a_replaced_one(attempt: int) -> None:
    _, supervisor, plan = scene()

    review, _ = at_once(
        lambda: signing.cosign(plan, by=supervisor),
        lambda: save_plan(plan.couple, [goal(Evidence.RUPTURES_RESOLVED)]),
    )

    states = dict(
        PlanRevision.objects.filter(couple=plan.couple).values_list("revision", "cosign_state")
    )
    assert states[2] == State.AWAITING
    if isinstance(review, signing.StaleReview):  # the save went first
        assert states[1] == State.SUPERSEDED
    else:  # the review went first, and stays on the revision it read
        assert review[1] is True
        assert states[1] == State.COSIGNED
