"""The demo's safety screen (sessions/safety.py): the invented example screen as the demo
practice's own, and one invented case where it matters.

Cato and Delphine (the couple marked "safety") each took the screen alone at intake, both
negative; yesterday, on the hand-over screen, Delphine (partner B) answered it again and it was
positive, so therapist1 and the supervisor see a Safety concern on the case, and nobody else
does. Every name and answer here is invented.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flags import same_day
from sessions import safety
from sessions.models import MeasureDefinition, SafetyScreen
from sessions.models.measures import EnteredBy

if TYPE_CHECKING:
    from demo.data import BuiltCouple, DemoSummary
    from people.models import Practice

SAFETY_CASE = "safety"  # the flag in demo.data.COUPLE_ROWS that marks the case


def add_safety_screens(
    practice: Practice, built: list[BuiltCouple], summary: DemoSummary, today: datetime.date
) -> None:
    screen = MeasureDefinition.objects.create(practice=practice, **safety.EXAMPLE_SCREEN)
    zone = ZoneInfo(practice.time_zone)
    for entry in built:
        if SAFETY_CASE not in entry.spec.flags:
            continue
        couple, therapist = entry.couple, summary.users[entry.spec.therapist]
        intake = entry.sessions[0]
        no = {item["key"]: 0 for item in screen.items}
        taken = [
            ("A", no, intake, intake.starts_at + datetime.timedelta(minutes=5)),
            ("B", no, intake, intake.starts_at + datetime.timedelta(minutes=10)),
            (
                "B",
                no | {"afraid": 1},
                None,
                datetime.datetime.combine(
                    today - datetime.timedelta(days=1), datetime.time(17), tzinfo=zone
                ),
            ),
        ]
        for partner, answers, session, at in taken:
            stored = safety.record_screen(
                couple=couple,
                partner=partner,
                definition=screen,
                answers=answers,
                entered_by=EnteredBy.PARTNER,
                recorded_by=therapist,
                session=session,
            )
            SafetyScreen.objects.filter(pk=stored.pk).update(recorded_at=at)
        same_day.recheck_after_commit(couple.pk)
