"""Co-signing a treatment plan's revision when its author's notes need co-signing
(plans/signing.py, plans/signing_views.py; docs/domain.md, "Signing")."""

from __future__ import annotations

import datetime
import html
import re
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.dates import show
from people.models import AccessEvent, Supervision
from plans import signing
from plans.models import Evidence, GoalStatus, PlanCosignState, PlanRevision
from plans.services import goal_mark, plan_save
from tests.factories import World
from tests.plans.conftest import goal, save_plan
from tests.plans.test_plan_pages import plan_post

State = PlanCosignState
COMMENT = "Name the withdrawer's shutdown as a target of goal 1."


@pytest.fixture
def cosigned_world(world: World) -> World:
    """The owner's notes need the supervisor's co-signature."""
    Supervision.objects.filter(therapist=world.owner).update(notes_need_cosign=True)
    return world


def state_of(plan: PlanRevision) -> str:
    plan.refresh_from_db()
    return plan.cosign_state


def one_goal(couple: Any, **fields: Any) -> PlanRevision:
    return save_plan(couple, [goal(Evidence.DE_ESCALATION)], **fields)


def text_of(response: Any) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def signed_in(world: World, role: str) -> Client:
    client = Client()
    client.force_login(getattr(world, role))
    return client


# The state flow (plans.signing).


def test_a_therapist_whose_notes_need_no_co_signing_saves_as_before(world: World) -> None:
    plan = one_goal(world.couple)

    assert state_of(plan) == State.NOT_NEEDED
    assert signing.awaiting(world.supervisor, limit=10) == ([], 0)


def test_a_revision_awaits_and_a_newer_one_replaces_it(cosigned_world: World) -> None:
    world = cosigned_world
    first = one_goal(world.couple)
    assert state_of(first) == State.AWAITING

    second = one_goal(world.couple)

    assert state_of(first) == State.SUPERSEDED
    assert state_of(second) == State.AWAITING
    assert signing.awaiting(world.supervisor, limit=10) == ([second], 1)


def test_marking_a_goal_is_a_revision_that_awaits_too(cosigned_world: World) -> None:
    world = cosigned_world
    first = one_goal(world.couple)
    signing.cosign(first, by=world.supervisor)

    marked, _ = goal_mark(
        couple=world.couple,
        author=world.owner,
        base_revision=1,
        position=1,
        status=GoalStatus.MET,
    )

    assert state_of(first) == State.COSIGNED
    assert state_of(marked) == State.AWAITING


def test_co_signing_records_who_and_when_once(cosigned_world: World) -> None:
    world = cosigned_world
    plan = one_goal(world.couple)

    reviewed, recorded = signing.cosign(plan, by=world.supervisor, comment=" Clear. ")
    again, recorded_again = signing.cosign(plan, by=world.supervisor)

    assert (recorded, recorded_again) == (True, False)
    assert again.reviewed_at == reviewed.reviewed_at
    plan.refresh_from_db()
    assert (plan.cosign_state, plan.reviewed_by, plan.review_comment) == (
        State.COSIGNED,
        world.supervisor,
        "Clear.",
    )
    with pytest.raises(signing.SignOffRefused, match="not awaiting co-signature"):
        signing.request_changes(plan, by=world.supervisor, comment="Second thoughts.")


def test_changes_requested_say_what_and_the_next_revision_awaits_again(
    cosigned_world: World,
) -> None:
    world = cosigned_world
    plan = one_goal(world.couple)
    with pytest.raises(signing.SignOffRefused, match="Say what should change"):
        signing.request_changes(plan, by=world.supervisor, comment="  ")
    assert state_of(plan) == State.AWAITING

    signing.request_changes(plan, by=world.supervisor, comment=COMMENT)
    assert [p.pk for p in signing.sent_back(world.owner)] == [plan.pk]
    revised = one_goal(world.couple)

    assert state_of(plan) == State.CHANGES_REQUESTED  # what was asked stays on the record
    assert state_of(revised) == State.AWAITING
    assert signing.sent_back(world.owner) == []
    assert signing.awaiting(world.supervisor, limit=10) == ([revised], 1)


@pytest.mark.parametrize("role", ["owner", "other_supervisor", "colleague"])
def test_nobody_but_a_supervisor_of_the_author_co_signs(cosigned_world: World, role: str) -> None:
    plan = one_goal(cosigned_world.couple)

    with pytest.raises(signing.SignOffRefused):
        signing.cosign(plan, by=getattr(cosigned_world, role))

    assert state_of(plan) == State.AWAITING


def test_a_review_of_a_revision_the_plan_moved_on_from_is_refused(cosigned_world: World) -> None:
    world = cosigned_world
    first = one_goal(world.couple)
    one_goal(world.couple)

    with pytest.raises(signing.StaleReview) as stale:
        signing.cosign(first, by=world.supervisor)

    assert stale.value.current == 2
    assert state_of(first) == State.SUPERSEDED


def test_the_database_refuses_a_send_back_without_words_or_a_reviewer(
    cosigned_world: World,
) -> None:
    plan = one_goal(cosigned_world.couple)
    rows = PlanRevision.objects.filter(pk=plan.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(
            cosign_state=State.CHANGES_REQUESTED,
            reviewed_by=cosigned_world.supervisor,
            reviewed_at=timezone.now(),
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(cosign_state=State.COSIGNED)


def test_the_co_signers_are_named(cosigned_world: World) -> None:
    world = cosigned_world
    Supervision.objects.create(
        practice=world.practice, supervisor=world.other_supervisor, therapist=world.owner
    )

    assert signing.cosigners([world.owner.pk, world.colleague.pk]) == {
        world.owner.pk: [world.supervisor]
    }


# The pages: the round trip, as the therapist and the supervisor use them.


def test_the_round_trip_with_a_change_request(cosigned_world: World) -> None:
    world = cosigned_world
    code = world.couple.case_code
    owner, supervisor = signed_in(world, "owner"), signed_in(world, "supervisor")
    queue = reverse("therapy_sessions:cosign_queue")
    plan_page = reverse("plans:detail", args=[code])

    saved = owner.post(
        reverse("plans:edit", args=[code]), plan_post(world.couple, [{}]), follow=True
    )
    assert "Saved revision 1 of the plan. It now waits for your supervisor's co-signature." in (
        text_of(saved)
    )
    assert "Awaiting co-signature from Owner's Supervisor." in text_of(owner.get(plan_page))

    listed = text_of(supervisor.get(queue)).split("Awaiting your co-signature")[1]
    assert f"Treatment plan, revision 1, {code}" in listed
    page = text_of(supervisor.get(reverse("plans:revision", args=[code, 1])))
    assert "This is the plan's first revision" in page
    assert "Co-sign revision 1" in page
    review = reverse("plans:review", args=[code, 1])
    empty = supervisor.post(review, {"outcome": "request_changes", "comment": ""}, follow=True)
    assert "Say what should change" in text_of(empty)
    sent = supervisor.post(review, {"outcome": "request_changes", "comment": COMMENT})
    assert sent.url == queue

    assert f"Changes requested: “{COMMENT}”" in text_of(owner.get(plan_page))
    assert COMMENT in text_of(owner.get(queue)).split("Sent back to you")[1]
    owner.post(
        reverse("plans:edit", args=[code]),
        plan_post(world.couple, [{"interventions": "Track the shutdown too."}]),
    )
    assert "Nothing waits" not in text_of(supervisor.get(queue))
    page = text_of(supervisor.get(reverse("plans:revision", args=[code, 2])))
    assert "What changed since revision 1" in page
    assert "Track the shutdown too." in page
    supervisor.post(reverse("plans:review", args=[code, 2]), {"outcome": "cosign"})

    day = show(timezone.localdate())
    assert f"Co-signed by Owner's Supervisor on {day}." in text_of(owner.get(plan_page))
    assert "Nothing waits for your co-signature." in text_of(supervisor.get(queue))
    history = text_of(owner.get(reverse("plans:history", args=[code])))
    assert f"Changes requested by Owner's Supervisor, {day}: “{COMMENT}”" in history
    actions = AccessEvent.objects.filter(case_code=code, action__contains="plan").values_list(
        "action", "detail"
    )
    assert ("requested changes to plan", "revision=1") in actions
    assert ("co-signed plan", "revision=2") in actions


def test_the_queue_holds_sessions_and_plans_oldest_first(cosigned_world: World) -> None:
    from sessions.models import CosignState, TherapySession

    world = cosigned_world
    TherapySession.objects.filter(pk=world.session.pk).update(
        signed_at=timezone.now() - datetime.timedelta(days=2),
        signed_by=world.owner,
        cosign_state=CosignState.AWAITING,
    )
    one_goal(world.couple)

    listed = text_of(signed_in(world, "supervisor").get(reverse("therapy_sessions:cosign_queue")))

    rows = listed.split("Awaiting your co-signature (2)")[1]
    assert rows.index("Session 1") < rows.index("Treatment plan, revision 1")


def test_a_double_click_records_one_co_signature(cosigned_world: World) -> None:
    world = cosigned_world
    plan = one_goal(world.couple)
    supervisor = signed_in(world, "supervisor")
    review = reverse("plans:review", args=[world.couple.case_code, 1])

    first = supervisor.post(review, {"outcome": "cosign"})
    second = supervisor.post(review, {"outcome": "cosign"}, follow=True)

    assert first.status_code == 302
    assert "Co-signed revision 1" in text_of(second)
    assert state_of(plan) == State.COSIGNED
    assert AccessEvent.objects.filter(action="co-signed plan").count() == 1


def test_a_review_from_a_page_read_before_a_newer_revision_is_refused(
    cosigned_world: World,
) -> None:
    world = cosigned_world
    code = world.couple.case_code
    first = one_goal(world.couple)
    one_goal(world.couple)  # saved while the supervisor reads revision 1

    response = signed_in(world, "supervisor").post(
        reverse("plans:review", args=[code, 1]),
        {"outcome": "request_changes", "comment": COMMENT},
        follow=True,
    )

    page = text_of(response)
    assert "revision 2 was saved since. Nothing was recorded" in page
    assert response.redirect_chain[-1][0] == reverse("plans:revision", args=[code, 2])
    assert state_of(first) == State.SUPERSEDED
    assert not AccessEvent.objects.filter(action__endswith="plan", detail="revision=1").exists()


@pytest.mark.parametrize("role", ["other_supervisor", "colleague", "outsider", "practice_admin"])
def test_others_get_404_and_record_nothing(cosigned_world: World, role: str) -> None:
    world = cosigned_world
    plan = one_goal(world.couple)
    client = signed_in(world, role)
    code = world.couple.case_code

    assert client.get(reverse("plans:revision", args=[code, 1])).status_code == 404
    post = client.post(reverse("plans:review", args=[code, 1]), {"outcome": "cosign"})

    assert post.status_code == 404
    assert state_of(plan) == State.AWAITING


def test_the_author_is_told_they_cannot_co_sign(cosigned_world: World) -> None:
    world = cosigned_world
    plan = one_goal(world.couple)
    owner = signed_in(world, "owner")
    code = world.couple.case_code

    page = text_of(owner.get(reverse("plans:revision", args=[code, 1])))
    response = owner.post(reverse("plans:review", args=[code, 1]), {"outcome": "cosign"})

    assert "Co-sign revision 1" not in page
    assert response.url == reverse("plans:revision", args=[code, 1])
    assert state_of(plan) == State.AWAITING


def test_a_revision_not_in_the_plan_is_404(cosigned_world: World) -> None:
    one_goal(cosigned_world.couple)
    client = signed_in(cosigned_world, "supervisor")

    url = reverse("plans:revision", args=[cosigned_world.couple.case_code, 7])

    assert client.get(url).status_code == 404


def test_without_co_signing_the_pages_say_nothing_of_it(world: World) -> None:
    one_goal(world.couple)
    owner = signed_in(world, "owner")

    page = text_of(owner.get(reverse("plans:detail", args=[world.couple.case_code])))
    queue = text_of(owner.get(reverse("therapy_sessions:cosign_queue")))

    assert "co-signature" not in page.lower()
    assert "Treatment plan" not in queue.split("Sent back to you")[1]


# The couple PDF and the whole record (exports) carry the co-signature.


def test_the_couple_pdf_says_who_co_signed_the_plan(cosigned_world: World) -> None:
    from tests.consultation import pdf_text
    from tests.exports import exported

    world = cosigned_world
    signing.cosign(one_goal(world.couple), by=world.supervisor)
    client = signed_in(world, "owner")

    response = exported(client, reverse("cycles:pdf", args=[world.couple.case_code]))

    text = " ".join(pdf_text(response.content).split())
    assert f"Co-signed by Owner's Supervisor on {timezone.localdate():%-d %b %Y}." in text


def test_the_whole_record_holds_each_revision_s_co_signature(cosigned_world: World) -> None:
    from exports.record import JOINT, whole_record

    world = cosigned_world
    signing.request_changes(one_goal(world.couple), by=world.supervisor, comment=COMMENT)
    one_goal(world.couple)

    record = whole_record(world.owner, world.couple.case_code, JOINT)

    table = record.table("plan_revisions")
    rows = [{f.name: record.value(row, f) for f in table.fields} for row in table.rows]
    assert [(r["cosign_state"], r["reviewed_by"], r["review_comment"]) for r in rows] == [
        ("changes_requested", "Owner's Supervisor", COMMENT),
        ("awaiting", None, ""),
    ]


def test_the_couple_page_s_plan_card_says_where_the_plan_stands(cosigned_world: World) -> None:
    world = cosigned_world
    plan = one_goal(world.couple)
    url = reverse("cycles:detail", args=[world.couple.case_code])
    owner = signed_in(world, "owner")
    assert "awaiting co-signature" in text_of(owner.get(url))

    signing.request_changes(plan, by=world.supervisor, comment=COMMENT)

    card = text_of(owner.get(url)).split('id="plan-summary"')[1].split("</section>")[0]
    assert "changes requested" in card
    assert COMMENT not in card  # the card holds counts and dates only


def test_a_long_queue_shows_the_oldest_of_sessions_and_plans_and_counts_all(
    cosigned_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessions import signing_views
    from sessions.models import CosignState, TherapySession
    from tests.factories import make_couple

    world = cosigned_world
    monkeypatch.setattr(signing_views, "QUEUE_ROWS", 2)
    TherapySession.objects.filter(pk=world.session.pk).update(
        signed_at=timezone.now() - datetime.timedelta(days=2),
        signed_by=world.owner,
        cosign_state=CosignState.AWAITING,
    )
    older, newer = one_goal(make_couple(world.owner)), one_goal(make_couple(world.owner))

    queue = text_of(signed_in(world, "supervisor").get(reverse("therapy_sessions:cosign_queue")))

    assert "Awaiting your co-signature (3)" in queue
    assert "The oldest 2 of 3 are shown." in queue
    assert "Session 1" in queue
    assert f"Treatment plan, revision 1, {older.couple.case_code}" in queue
    assert newer.couple.case_code not in queue


def test_a_co_therapist_s_revision_goes_to_their_own_supervisor(world: World) -> None:
    from cycles.models import Couple

    Couple.objects.filter(pk=world.couple.pk).update(co_therapist=world.colleague)
    Supervision.objects.filter(therapist=world.colleague).update(notes_need_cosign=True)
    plan, _ = plan_save(
        couple=world.couple,
        author=world.colleague,
        base_revision=0,
        plan_date=timezone.localdate(),
        review_on=timezone.localdate(),
        goals=[goal(Evidence.DE_ESCALATION)],
    )

    assert state_of(plan) == State.AWAITING
    assert signing.awaiting(world.other_supervisor, limit=10) == ([plan], 1)
    assert signing.awaiting(world.supervisor, limit=10) == ([], 0)
    with pytest.raises(signing.SignOffRefused):
        signing.cosign(plan, by=world.supervisor)
    assert signing.cosign(plan, by=world.other_supervisor)[1] is True
