"""plans.reviews.due: the digest's plan reviews (case codes and dates), from the current
revision of each plan, its own review date or an open goal's, whichever comes first."""

from __future__ import annotations

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cycles.models import CoupleStatus
from plans.models import Evidence
from plans.reviews import due
from tests.factories import World, make_couple
from tests.plans.conftest import goal, save_plan

TODAY = timezone.localdate()


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def test_reviews_due_by_the_date_from_the_current_revision_only(world: World) -> None:
    plan_date = days(-60)
    # Revision 1 was due long ago; revision 2 (current) is due in 5 days through an open goal.
    save_plan(
        world.couple,
        [goal(Evidence.DE_ESCALATION, review_on=days(-20))],
        plan_date=plan_date,
        review_on=days(-10),
    )
    save_plan(
        world.couple,
        [
            goal(Evidence.DE_ESCALATION, review_on=days(-30), status="met"),  # met: not due
            goal(Evidence.BLAMER_SOFTENING, review_on=days(5)),
        ],
        plan_date=plan_date,
        review_on=days(40),
    )
    later = make_couple(world.owner)
    save_plan(
        later,
        [goal(Evidence.RUPTURES_RESOLVED, review_on=days(90))],
        plan_date=plan_date,
        review_on=days(2),
    )
    finished = make_couple(world.owner)
    finished.status = CoupleStatus.COMPLETED
    finished.save()
    save_plan(
        finished,
        [goal(Evidence.DE_ESCALATION, review_on=days(1))],
        plan_date=plan_date,
        review_on=days(1),
    )
    theirs = make_couple(world.colleague)
    save_plan(
        theirs,
        [goal(Evidence.DE_ESCALATION, review_on=days(1))],
        plan_date=plan_date,
        review_on=days(1),
    )

    assert due(TODAY, [world.owner.pk]) == []
    with CaptureQueriesContext(connection) as captured:
        rows = due(days(7), [world.owner.pk])
    assert rows == [(later.case_code, days(2)), (world.couple.case_code, days(5))]
    assert len(captured) == 1
    assert due(days(7), [world.colleague.pk]) == [(theirs.case_code, days(1))]


def test_the_morning_digest_lists_plans_due_for_review_by_case_code(world: World) -> None:
    from django.core import mail

    from flags.runs import run_now

    due_plan = make_couple(world.owner)
    save_plan(
        due_plan,
        [goal(Evidence.DE_ESCALATION, review_on=days(30))],
        plan_date=days(-60),
        review_on=days(0),  # due this morning
    )
    not_yet = make_couple(world.owner)
    save_plan(
        not_yet,
        [goal(Evidence.DE_ESCALATION, review_on=days(30))],
        plan_date=days(-60),
        review_on=days(14),
    )

    run_now(world.practice, days(-1), digests=True)

    for person in (world.owner, world.supervisor):
        (digest,) = [m for m in mail.outbox if person.email in m.to]
        assert f"- 1 treatment plan due for review: {due_plan.case_code}\n" in digest.body
        assert not_yet.case_code not in digest.body


def test_a_co_therapist_has_the_co_led_plan_due_too(world: World) -> None:
    from cycles.models import Couple
    from plans.reviews import due_by_therapist

    save_plan(
        world.couple,
        [goal(Evidence.DE_ESCALATION, review_on=days(3))],
        plan_date=days(-30),
        review_on=days(20),
    )
    assert due(days(5), [world.colleague.pk]) == []
    Couple.objects.filter(pk=world.couple.pk).update(co_therapist=world.colleague)
    assert due(days(5), [world.colleague.pk]) == [(world.couple.case_code, days(3))]
    assert due(days(5), [world.owner.pk, world.colleague.pk]) == [(world.couple.case_code, days(3))]
    by_therapist = due_by_therapist(days(5), world.practice.pk)
    assert by_therapist[world.owner.pk] == by_therapist[world.colleague.pk]
