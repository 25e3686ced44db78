"""The couple PDF carries the treatment plan: each goal's stage, interventions, evidence,
status and what the record says of it (docs/domain.md, "Treatment plan")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse

from plans.models import Evidence
from sessions.models import EFTChangeEvent
from tests.consultation import pdf_text
from tests.exports import exported
from tests.factories import World, make_session
from tests.plans.conftest import goal, save_plan

if TYPE_CHECKING:
    from django.test import Client

INTERVENTION = "Slow the protest polka down and name it as the common enemy."


def test_the_couple_pdf_prints_the_plan_and_its_evidence(client: Client, world: World) -> None:
    save_plan(world.couple, [goal(Evidence.DE_ESCALATION, interventions=INTERVENTION)])
    make_session(world.couple, days_ago=2, change_events=int(EFTChangeEvent.DE_ESCALATION))
    client.force_login(world.owner)

    response = exported(client, reverse("cycles:pdf", args=[world.couple.case_code]))

    assert response.status_code == 200
    text = " ".join(pdf_text(response.content).split())
    assert "Treatment plan (revision 1" in text
    assert INTERVENTION in text
    assert "De-escalation recorded in 1 session" in text  # read from the record, not typed
