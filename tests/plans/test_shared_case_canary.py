"""The canary: a plan's free text (a goal's interventions, the targets' words, the change note,
the supervisor's comment sending it back) never reaches a consultation group, on the shared
case page or in its PDF; its vocabulary does."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from cycles.models import CaseShare, CycleStep
from people.models import Supervision
from plans import signing
from plans.models import Evidence, GoalStatus
from tests.consultation import found_in, page_text, pdf_text
from tests.factories import World
from tests.plans.conftest import goal, save_plan

CANARY = "Plan-canary-7Q"


def test_no_plan_free_text_reaches_the_shared_case_or_its_pdf(world: World) -> None:
    step = CycleStep.objects.get(cycle_map=world.cycle_map, text="criticises")
    step.text = f"{CANARY} target words"
    step.save()
    snapshot = {"step": step.pk, "partner": "A", "kind": step.kind, "words": step.text}
    Supervision.objects.filter(therapist=world.owner).update(notes_need_cosign=True)
    plan = save_plan(
        world.couple,
        [
            goal(
                Evidence.DE_ESCALATION,
                interventions=f"{CANARY} interventions",
                targets=[snapshot],
                status=GoalStatus.MET,
            ),
            goal(Evidence.CSI4_ABOVE_CUTOFF, 3, interventions=f"{CANARY} consolidation"),
        ],
        change_note=f"{CANARY} change note",
    )
    signing.request_changes(plan, by=world.supervisor, comment=f"{CANARY} supervisor's comment")
    share = CaseShare.objects.create(couple=world.couple, group=world.group, shared_by=world.owner)
    client = Client()
    client.force_login(world.group_member)
    args = [world.group.pk, share.code]
    page = page_text(client.get(reverse("consultation:case", args=args)).content)
    pdf = pdf_text(client.get(reverse("consultation:case_pdf", args=args)).content)
    # The therapist's own plan page shows the canary: the check below is not blind.
    owner = Client()
    owner.force_login(world.owner)
    own = page_text(owner.get(reverse("plans:detail", args=[world.couple.case_code])).content)
    assert found_in(own, [f"{CANARY} interventions", f"{CANARY} target words"]) != []
    comment = f"{CANARY} supervisor's comment"
    assert found_in(own, [comment]) == [comment]
    for text in (page, pdf):
        assert found_in(text, [CANARY]) == []
        shown = [
            "Stage 1: de-escalation",
            "De-escalation (change event)",
            "Stage 3: consolidation",
            "CSI-4 above the distress cut-off for both partners",
            "Change events met: De-escalation",
        ]
        assert found_in(text, shown) == shown
