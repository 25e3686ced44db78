"""The two partly scripted runs: docs/domain.md#flags's seed case, and the dropout."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from demo.data import NO_SHOW_NOTE, S, SessionPlan
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStage,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
)
from ruptures.services import rupture_record, rupture_repair
from sessions.models import Attendance, CancelledBy, LeftBy, SessionFormat

if TYPE_CHECKING:
    from sessions.models import TherapySession


# docs/domain.md#flags's case, as ordinals of a 12-session run whose last session was 3 days
# ago: the walk-out 31 days ago, the no-show a week later, the repair two weeks after the
# walk-out, then two more sessions of work.
WALK_OUT, NO_SHOW, REPAIR = 8, 9, 10


def script_seed_case_sessions(plans: list[SessionPlan]) -> None:
    for plan in plans[WALK_OUT - 2 :]:
        plan.attendance, plan.cancelled_by, plan.scripted = Attendance.ATTENDED, "", True
    walk_out, no_show = plans[WALK_OUT - 1], plans[NO_SHOW - 1]
    walk_out.attendance, walk_out.left_early = Attendance.ENDED_EARLY, LeftBy.PARTNER_A
    walk_out.duration_minutes = 40
    walk_out.private_note = "Shaken after the session. Booked supervision for tomorrow."
    no_show.attendance = Attendance.NO_SHOW
    notes = (
        "Tension high; A pressed B hard about the week's events. B went quiet.",
        "Tracked Thursday's fight; A flooded and blaming. Offered a grounding exercise; A "
        "refused it and left at minute 34. B stayed briefly and agreed to come next week.",
        NO_SHOW_NOTE,
        "Opened by naming my part in the walk-out; A spoke of feeling pushed and unheard, as at "
        "home. Explored the need under the protest. Both want to continue.",
        "Back to the cycle: A could name the fear under the blame as it rose.",
        "B stayed present while A was upset; they named the cycle together mid-argument.",
    )
    for plan, note in zip(plans[WALK_OUT - 2 :], notes, strict=True):
        plan.progress_note = note


def script_seed_case_ruptures(sessions: list[TherapySession]) -> int:
    walk_out = sessions[WALK_OUT - 1]
    rupture = rupture_record(
        session=walk_out,
        recorded_by=walk_out.therapist,
        reflection=(
            "When A called the grounding exercise pointless I felt irritated and pushed it "
            "again, and my voice rose. She was flooded; I met her protest with pressure of my "
            "own. My part in the walk-out is real. Take to supervision; open next time with it."
        ),
        rupture_type=RuptureType.CONFRONTATION,
        who_moved=WhoMoved.PARTNER_A,
        toward=Toward.THERAPIST,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION
        | ConfrontationMarker.COMPLAINS_ABOUT_ACTIVITIES,
        minute=31,
        significance=5,
        therapist_contribution=4,
        resolution_stage=ResolutionStage.AWARE,
        note="Rejected the grounding exercise as pointless, then walked out.",
        created_at=walk_out.starts_at + datetime.timedelta(hours=2),
    )
    rupture_repair(
        rupture=rupture,
        repaired_in=sessions[REPAIR - 1],
        status=RuptureStatus.RESOLVED,
        strategies=S.ACKNOWLEDGES_CONTRIBUTION
        | S.DISCLOSES_EXPERIENCE
        | S.LINKS_TO_THERAPY_PATTERN
        | S.INVITES_DISCUSSION,
        resolution_stage=ResolutionStage.UNDERLYING_NEED,
    )
    return 1


def script_dropout_sessions(plans: list[SessionPlan]) -> None:
    """An unrepaired confrontation, then absence: the pattern that goes with dropout."""
    confronted, no_show, cancelled = plans[-3:]
    confronted.attendance, confronted.cancelled_by = Attendance.ATTENDED, ""
    confronted.format, confronted.scripted = SessionFormat.CONJOINT, True
    confronted.progress_note = "A said nothing is changing and questioned the whole approach."
    no_show.attendance, no_show.cancelled_by = Attendance.NO_SHOW, ""
    cancelled.attendance, cancelled.cancelled_by = Attendance.CANCELLED, CancelledBy.PARTNER_A
    no_show.progress_note = NO_SHOW_NOTE
    cancelled.progress_note = "Partner A cancelled and said they would not come back for now."


def script_dropout_ruptures(sessions: list[TherapySession]) -> int:
    confronted = sessions[-3]
    rupture_record(
        session=confronted,
        recorded_by=confronted.therapist,
        rupture_type=RuptureType.CONFRONTATION,
        who_moved=WhoMoved.PARTNER_A,
        toward=Toward.THERAPIST,
        confrontation_markers=ConfrontationMarker.COMPLAINS_ABOUT_PROGRESS
        | ConfrontationMarker.COMPLAINS_ABOUT_THERAPIST,
        minute=55,
        significance=4,
        therapist_contribution=2,
        resolution_stage=ResolutionStage.AWARE,
        note="Said the sessions are not helping and the therapist takes B's side.",
        created_at=confronted.starts_at + datetime.timedelta(hours=2),
    )
    return 1
