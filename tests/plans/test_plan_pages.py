"""The plan's pages as the therapist and the supervisor use them: drafting from the map,
saving revisions, marking goals, the history's comparison, and every refusal of bad input."""

from __future__ import annotations

import datetime
import html
import re
import uuid
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cycles.models import CycleStep
from people.models import AccessEvent
from plans.models import Evidence, GoalStatus, PlanRevision
from tests.factories import World, make_couple, make_cycle_map
from tests.plans.conftest import goal, save_plan

TODAY = timezone.localdate()


def iso(day: datetime.date) -> str:
    return day.isoformat()


def plan_post(couple: Any, goals: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """What the browser posts from the plan form."""
    data: dict[str, Any] = {
        "base_revision": str(fields.pop("base_revision", couple.plan_revisions.count())),
        "request_token": str(fields.pop("request_token", uuid.uuid4())),
        "plan_date": fields.pop("plan_date", iso(TODAY)),
        "review_on": fields.pop("review_on", iso(TODAY + datetime.timedelta(weeks=12))),
        "change_note": fields.pop("change_note", ""),
        "goals-TOTAL_FORMS": str(len(goals)),
        "goals-INITIAL_FORMS": str(len(goals)),
    }
    for i, one in enumerate(goals):
        row = {
            "stage": "1",
            "interventions": "Name the cycle as the enemy.",
            "evidence": Evidence.DE_ESCALATION,
            "status": GoalStatus.OPEN,
            "review_on": iso(TODAY + datetime.timedelta(weeks=8)),
        } | one
        data |= {f"goals-{i}-{k}": v for k, v in row.items()}
    return data


def signed_in(world: World, role: str = "owner") -> Client:
    client = Client()
    client.force_login(getattr(world, role))
    return client


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_draft_from_the_cycle_map_fills_the_form_and_saves_nothing(world: World) -> None:
    client = signed_in(world)
    page = client.get(reverse("plans:detail", args=[world.couple.case_code]))
    assert "Draft a plan from the cycle map" in text_of(page)
    url = reverse("plans:edit", args=[world.couple.case_code])
    response = client.get(url, {"draft": "map"})
    text = text_of(response)
    a, b = (p.display_name for p in world.couple.partners.order_by("label"))
    # Stage 1 names both partners' moves; stage 2 each partner's primary emotion and need.
    assert f"{a}: criticises" in text
    assert f"{b}: goes quiet" in text
    assert f"Help {a} reach the fear beneath the move (criticises) and ask for to matter" in text
    assert f"Help {b} reach the fear beneath the move (goes quiet)" in text
    forms = response.context["formset"].forms
    assert [f.initial.get("stage") for f in forms[:4]] == [1, 2, 2, 3]
    assert forms[1].initial["evidence"] == Evidence.WITHDRAWER_REENGAGEMENT
    assert forms[2].initial["evidence"] == Evidence.BLAMER_SOFTENING
    assert not PlanRevision.objects.filter(couple=world.couple).exists()


def test_saving_makes_a_revision_with_target_snapshots(world: World) -> None:
    client = signed_in(world)
    step = CycleStep.objects.get(cycle_map=world.cycle_map, text="criticises")
    data = plan_post(world.couple, [{"targets": [str(step.pk)]}, {}])
    # The second slot is left empty: an unused slot, not a goal.
    data |= {f"goals-1-{k}": "" for k in ("stage", "interventions", "evidence", "review_on")}
    response = client.post(reverse("plans:edit", args=[world.couple.case_code]), data)
    assert response.status_code == 302
    plan = PlanRevision.objects.get(couple=world.couple)
    assert plan.revision == 1
    [only] = plan.goals.all()
    assert only.targets == [
        {"step": step.pk, "partner": "A", "kind": "action", "words": "criticises"}
    ]
    page = client.get(response["Location"])
    assert "Saved revision 1 of the plan." in text_of(page)
    assert AccessEvent.objects.filter(action="save plan", case_code=world.couple.case_code).exists()


def test_a_double_submit_saves_one_revision(world: World) -> None:
    client = signed_in(world)
    data = plan_post(world.couple, [{}])
    url = reverse("plans:edit", args=[world.couple.case_code])
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert PlanRevision.objects.filter(couple=world.couple).count() == 1


def test_a_goal_without_a_stage_is_refused_beside_it_with_the_text_kept(world: World) -> None:
    client = signed_in(world)
    data = plan_post(world.couple, [{"stage": "", "interventions": "Slow the pursuit."}])
    response = client.post(reverse("plans:edit", args=[world.couple.case_code]), data)
    assert response.status_code == 200
    text = text_of(response)
    assert "Choose the EFT stage this goal belongs to." in text
    assert "Slow the pursuit." in text
    assert not PlanRevision.objects.exists()


def test_review_dates_before_the_plan_are_refused(world: World) -> None:
    client = signed_in(world)
    before = iso(TODAY - datetime.timedelta(days=1))
    data = plan_post(world.couple, [{"review_on": before}], review_on=before)
    response = client.post(reverse("plans:edit", args=[world.couple.case_code]), data)
    assert response.status_code == 200
    assert (
        response.context["plan_form"]
        .errors["review_on"][0]
        .startswith("The review date can't be before the plan's date")
    )
    assert response.context["formset"].forms[0].errors["review_on"]
    assert not PlanRevision.objects.exists()


def test_a_target_from_another_couples_map_is_refused(world: World) -> None:
    other = make_couple(world.owner)
    theirs = make_cycle_map(other).steps.first()
    assert theirs is not None
    client = signed_in(world)
    data = plan_post(world.couple, [{"targets": [str(theirs.pk)]}])
    response = client.post(reverse("plans:edit", args=[world.couple.case_code]), data)
    assert response.status_code == 200
    assert "Choose targets from this couple's current cycle map" in text_of(response)
    assert not PlanRevision.objects.exists()


def test_a_stale_form_is_refused_with_the_newer_revision_shown_and_the_text_kept(
    world: World,
) -> None:
    client = signed_in(world)
    opened = plan_post(world.couple, [{"interventions": "My own careful wording."}])
    save_plan(world.couple, [goal(Evidence.RUPTURES_RESOLVED, interventions="Their newer goal.")])
    url = reverse("plans:edit", args=[world.couple.case_code])
    response = client.post(url, opened)
    assert response.status_code == 200
    text = text_of(response)
    assert "Not saved:" in text
    assert "Their newer goal." in text
    assert "My own careful wording." in text
    assert PlanRevision.objects.filter(couple=world.couple).count() == 1
    # Saving again from the refused form is a deliberate merge: it becomes revision 2.
    again = response.context["plan_form"].data.copy()
    again["request_token"] = str(uuid.uuid4())
    assert client.post(url, again).status_code == 302
    assert PlanRevision.objects.filter(couple=world.couple).count() == 2


def test_a_garbled_post_is_a_message_never_a_500(world: World) -> None:
    client = signed_in(world)
    url = reverse("plans:edit", args=[world.couple.case_code])
    response = client.post(url, {"plan_date": "someday", "goals-TOTAL_FORMS": "x"})
    assert response.status_code == 200
    assert "The goals could not be read from the form" in text_of(response)
    assert not PlanRevision.objects.exists()


def test_marking_a_goal_met_is_a_new_revision_and_the_history_shows_it(world: World) -> None:
    save_plan(world.couple, [goal(Evidence.DE_ESCALATION), goal(Evidence.BLAMER_SOFTENING, 2)])
    client = signed_in(world)
    url = reverse("plans:mark", args=[world.couple.case_code])
    data = {
        "position": "2",
        "status": "met",
        "base_revision": "1",
        "request_token": str(uuid.uuid4()),
    }
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # a double click marks once
    latest = PlanRevision.objects.filter(couple=world.couple).latest()
    assert latest.revision == 2
    assert [g.status for g in latest.goals.all()] == ["open", "met"]
    history = client.get(reverse("plans:history", args=[world.couple.case_code]))
    text = text_of(history)
    assert "Revision 1 → 2" in text
    assert "Status: Open → Met" in text
    assert "Goal 2 marked met." in text


def test_marking_from_a_stale_page_changes_nothing(world: World) -> None:
    save_plan(world.couple, [goal(Evidence.DE_ESCALATION)])
    save_plan(world.couple, [goal(Evidence.DE_ESCALATION, status="dropped")])
    client = signed_in(world)
    url = reverse("plans:mark", args=[world.couple.case_code])
    response = client.post(url, {"position": "1", "status": "met", "base_revision": "1"})
    assert response.status_code == 200
    assert "Not marked:" in text_of(response)
    assert PlanRevision.objects.filter(couple=world.couple).count() == 2


def test_the_supervisor_reads_the_plan_but_has_no_controls(world: World) -> None:
    save_plan(world.couple, [goal(Evidence.DE_ESCALATION, interventions="Slow it down.")])
    response = signed_in(world, "supervisor").get(
        reverse("plans:detail", args=[world.couple.case_code])
    )
    text = text_of(response)
    assert "Slow it down." in text
    assert "Edit the plan" not in text
    assert "Mark met" not in text
    for role in ("colleague", "group_member", "practice_admin", "outsider"):
        got = signed_in(world, role).get(reverse("plans:detail", args=[world.couple.case_code]))
        assert got.status_code == 404, role


def test_the_couple_page_summarises_the_plan(world: World) -> None:
    save_plan(
        world.couple,
        [
            goal(Evidence.DE_ESCALATION, 1, status="met"),
            goal(Evidence.BLAMER_SOFTENING, 2, review_on=TODAY + datetime.timedelta(days=3)),
            goal(Evidence.CSI4_ABOVE_CUTOFF, 3),
        ],
        plan_date=TODAY - datetime.timedelta(days=10),
        review_on=TODAY + datetime.timedelta(weeks=6),
    )
    text = text_of(signed_in(world).get(world.couple.get_absolute_url()))
    assert "Focus: Stage 2: restructuring" in text
    # The record says stage 1 (no session has moved the step): the card says so, never stale.
    assert "the sessions are at stage 1" in text
    assert "2 goals open, 1 met" in text
    from core.dates import show

    assert f"next review {show(TODAY + datetime.timedelta(days=3))}" in text
    assert reverse("plans:detail", args=[world.couple.case_code]) in text


def test_nobody_but_the_therapist_writes_the_plan(world: World) -> None:
    save_plan(world.couple, [goal(Evidence.DE_ESCALATION)])
    edit = reverse("plans:edit", args=[world.couple.case_code])
    mark = reverse("plans:mark", args=[world.couple.case_code])
    for role in ("supervisor", "colleague", "group_member", "practice_admin", "outsider"):
        client = signed_in(world, role)
        assert client.post(edit, plan_post(world.couple, [{}])).status_code == 404, role
        data = {"position": "1", "status": "met", "base_revision": "1"}
        assert client.post(mark, data).status_code == 404, role
    assert PlanRevision.objects.filter(couple=world.couple).count() == 1
