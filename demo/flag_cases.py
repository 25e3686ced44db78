"""Scripted runs that show the rarer flags (docs/domain.md#signals-a-supervisor-wants-flagged),
so a newcomer meets every kind of flag in the demo:

- "recurring": the same withdrawal marker (minimal response) in the last three sessions held,
  an impasse forming;
- "quiet": a rupture in the last session held, then no session for weeks (a paused couple);
- "stuck": weekly sessions all attended, still in stage 1, no de-escalation recorded.

They draw nothing from the builder's random generator, so every other couple is as before.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from demo.data import SessionPlan
from ruptures.codes import (
    ResolutionStage,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.services import rupture_record
from sessions.models import Attendance, SessionFormat

if TYPE_CHECKING:
    from demo.data import CoupleSpec
    from sessions.models import TherapySession

RECURRING_NOTES = (
    "Both went quiet when the week's distance came up; one-word answers.",
    "Again minimal answers when asked about the weekend; moved on too quickly.",
    "Third week running: short answers as soon as closeness is the topic.",
)


def script_stuck_sessions(plans: list[SessionPlan]) -> None:
    """Every session attended and conjoint: many sessions held, all of them in stage 1."""
    for plan in plans:
        plan.attendance, plan.cancelled_by = Attendance.ATTENDED, ""
        plan.format = SessionFormat.CONJOINT


def script_flag_case_ruptures(spec: CoupleSpec, sessions: list[TherapySession]) -> int:
    recorded = 0
    if "recurring" in spec.flags:
        recorded += _recurring(sessions)
    if "quiet" in spec.flags:
        recorded += _quiet(sessions)
    return recorded


def _held_conjoint(sessions: list[TherapySession]) -> list[TherapySession]:
    return [s for s in sessions if s.took_place and s.format == SessionFormat.CONJOINT]


def _recurring(sessions: list[TherapySession]) -> int:
    last_three = _held_conjoint(sessions)[-3:]
    for session, note in zip(last_three, RECURRING_NOTES, strict=True):
        rupture_record(
            session=session,
            recorded_by=session.therapist,
            rupture_type=RuptureType.WITHDRAWAL,
            who_moved=WhoMoved.BOTH,
            toward=Toward.THERAPIST,
            withdrawal_markers=WithdrawalMarker.MINIMAL_RESPONSE,
            minute=20,
            significance=2,
            therapist_contribution=2,
            status=RuptureStatus.PARTLY_RESOLVED,
            resolution_stage=ResolutionStage.EXPLORED,
            strategies=ResolutionStrategy.VALIDATES_DEFENSIVE_POSTURE,
            note=note,
            created_at=session.starts_at + datetime.timedelta(hours=2),
        )
    return len(last_three)


def _quiet(sessions: list[TherapySession]) -> int:
    last = _held_conjoint(sessions)[-1]
    rupture_record(
        session=last,
        recorded_by=last.therapist,
        rupture_type=RuptureType.WITHDRAWAL,
        who_moved=WhoMoved.PARTNER_A,
        toward=Toward.THERAPIST,
        withdrawal_markers=WithdrawalMarker.MINIMAL_RESPONSE,
        minute=40,
        significance=3,
        resolution_stage=ResolutionStage.AWARE,
        note="Went quiet when the pause was discussed; left it unspoken.",
        created_at=last.starts_at + datetime.timedelta(hours=2),
    )
    return 1
