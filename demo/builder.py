"""Build the demo practice: people, couples, sessions, ruptures, cycle maps, then measures."""

from __future__ import annotations

import datetime
import itertools
import random
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from cycles.models import (
    CaseEvent,
    CaseEventKind,
    CaseShare,
    Couple,
    EmotionTerm,
    MoveDirection,
    StepKind,
)
from cycles.services import StepDraft, couple_create, cycle_map_save
from demo.data import (
    ACTIVE,
    CANCELLATION_NOTES,
    CHAIN,
    CO_THERAPIST,
    COUPLES,
    DEMO_GROUP_NAME,
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DEMO_PRACTICE_NAME,
    DEMO_SEED,
    DEMO_TOTP_SECRET,
    DROPPED_OUT,
    NO_SHOW_NOTE,
    NOT_YET_MAPPED,
    OUTCOMES,
    PAUSED,
    PRIVATE_NOTES,
    PROGRESS_NOTES,
    REVISION_NOTES,
    SESSION_HOURS,
    STEP_OPTIONS,
    BuiltCouple,
    CoupleSpec,
    DemoSummary,
    P,
    SessionPlan,
    W,
)
from demo.flag_cases import script_flag_case_ruptures, script_stuck_sessions
from demo.invitations import add_partner_addresses
from demo.measures import add_measures
from demo.observations import add_observations
from demo.plans import add_plans
from demo.ruptures import record_ruptures
from demo.safety import add_safety_screens
from demo.scripts import (
    script_dropout_ruptures,
    script_dropout_sessions,
    script_seed_case_ruptures,
    script_seed_case_sessions,
)
from demo.signing import sign_records
from people.models import ConsultationGroup, GroupMembership, Practice, Supervision, User
from people.totp import enrol
from sessions.models import Attendance, CancelledBy, SessionFormat
from sessions.services import session_log

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cycles.models import Couple
    from sessions.models import TherapySession


def demo_exists() -> bool:
    return Practice.objects.filter(name=DEMO_PRACTICE_NAME).exists()


def missing_emotion_terms() -> list[str]:
    """Terms the demo's maps name that the shared vocabulary (cycles migration 0003) lacks."""
    needed = {
        name
        for options in STEP_OPTIONS.values()
        for kind in (StepKind.SECONDARY_EMOTION, StepKind.PRIMARY_EMOTION)
        for name in options[kind]
    }
    found = EmotionTerm.objects.filter(practice__isnull=True, name__in=needed)
    return sorted(needed - set(found.values_list("name", flat=True)))


def taken_usernames() -> list[str]:
    names = [login.username for login in DEMO_LOGINS]
    return sorted(User.objects.filter(username__in=names).values_list("username", flat=True))


@transaction.atomic
def build_demo(*, today: datetime.date | None = None) -> DemoSummary:
    """Create the demo practice and its record (see the module docstring for the steps)."""
    today = today or timezone.localdate()
    rng = random.Random(DEMO_SEED)  # noqa: S311 -- invented data, nothing secret
    practice = Practice.objects.create(name=DEMO_PRACTICE_NAME, time_zone="Europe/London")
    summary = DemoSummary(users=_create_people(practice, today))
    group = ConsultationGroup.objects.create(practice=practice, name=DEMO_GROUP_NAME)
    joined = _at(practice, today - datetime.timedelta(days=300), 12)
    for login in DEMO_LOGINS:
        if login.therapist:
            user = summary.users[login.username]
            GroupMembership.objects.create(group=group, user=user, joined_at=joined)
    emotions = {term.name: term for term in EmotionTerm.objects.filter(practice__isnull=True)}
    outcomes = itertools.cycle(OUTCOMES)
    built = [
        _build_couple(spec, practice, group, summary, emotions, outcomes, rng, today)
        for spec in COUPLES
    ]
    # The measures draw from their own generators, so adding them left every row above as it was.
    add_measures(built, summary)
    add_observations(built)
    add_safety_screens(practice, built, summary, today)
    add_partner_addresses(built)
    sign_records(practice, summary.users, today)
    add_plans(built, summary, today)
    _nightly_history(practice, today)
    return summary


def _nightly_history(practice: Practice, today: datetime.date) -> None:
    """Run the nightly summaries for past dates, weekly, so flags have a history: the walk-out
    case's flags open after the walk-out and close after the repair."""
    from flags.runs import run_now

    for weeks_ago in range(6, 0, -1):
        run_now(practice, today - datetime.timedelta(days=7 * weeks_ago - 3))
    run_now(practice, today - datetime.timedelta(days=1))


def _create_people(practice: Practice, today: datetime.date) -> dict[str, User]:
    # One hash for all: the password is public anyway, and each hash costs about half a second.
    password = make_password(DEMO_PASSWORD)
    joined = _at(practice, today - datetime.timedelta(days=400), 9)
    users: dict[str, User] = {}
    for login in DEMO_LOGINS:
        first, last = login.display_name.split(" ", 1)
        users[login.username] = User.objects.create(
            username=login.username,
            password=password,
            first_name=first,
            last_name=last,
            display_name=login.display_name,
            email=f"{login.username}@riverside.example",
            practice=practice,
            is_therapist=login.therapist,
            is_supervisor=login.supervisor,
            is_practice_admin=login.practice_admin,
            is_staff=login.practice_admin,
            date_joined=joined,
        )
        enrol(users[login.username], DEMO_TOTP_SECRET)
    supervisor = next(users[login.username] for login in DEMO_LOGINS if login.supervisor)
    for login in DEMO_LOGINS:
        if login.supervised:
            Supervision.objects.create(
                practice=practice,
                supervisor=supervisor,
                therapist=users[login.username],
                started_on=today - datetime.timedelta(days=365),
            )
    return users


def _at(practice: Practice, day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=ZoneInfo(practice.time_zone))


def _build_couple(
    spec: CoupleSpec,
    practice: Practice,
    group: ConsultationGroup,
    summary: DemoSummary,
    emotions: dict[str, EmotionTerm],
    outcomes: Iterator[str],
    rng: random.Random,
    today: datetime.date,
) -> BuiltCouple:
    therapist = summary.users[spec.therapist]
    plans = _plan_sessions(spec, practice, rng, today)
    couple = couple_create(
        therapist=therapist,
        partner_a=spec.partner_a,
        partner_b=spec.partner_b,
        cycle_pattern=spec.pattern,
        eft_step=spec.reached_step,
        started_on=plans[0].starts_at.date(),
    )
    sessions = [
        session_log(
            couple=couple,
            therapist=therapist,
            starts_at=plan.starts_at,
            private_note=plan.private_note,
            ordinal=ordinal,
            format=plan.format,
            attendance=plan.attendance,
            cancelled_by=plan.cancelled_by,
            left_early=plan.left_early,
            eft_step=plan.eft_step,
            duration_minutes=plan.duration_minutes,
            progress_note=plan.progress_note,
            created_at=plan.starts_at + datetime.timedelta(hours=2),
        )
        for ordinal, plan in enumerate(plans, start=1)
    ]
    summary.sessions += len(sessions)
    summary.ruptures += record_ruptures(spec, plans, sessions, outcomes, rng)
    if spec.seed_case:
        summary.ruptures += script_seed_case_ruptures(sessions)
    if spec.status == DROPPED_OUT:
        summary.ruptures += script_dropout_ruptures(sessions)
    summary.ruptures += script_flag_case_ruptures(spec, sessions)
    summary.cycle_maps += _save_cycle_maps(couple, spec, sessions, emotions, rng)
    if "co" in spec.flags:
        _add_co_therapist(couple, summary, started_on=plans[0].starts_at.date())
    if "shared" in spec.flags:
        shared_at = sessions[-1].starts_at + datetime.timedelta(hours=3)
        CaseShare.objects.create(
            couple=couple, group=group, shared_by=therapist, shared_at=shared_at
        )
    if spec.status != ACTIVE:
        couple.status = spec.status
        if couple.is_closed:  # closed (discharged) the day of its last session
            couple.closed_on = timezone.localtime(sessions[-1].starts_at).date()
        couple.save(update_fields=["status", "closed_on"])
    summary.couples += 1
    return BuiltCouple(spec, couple, sessions)


def _plan_sessions(
    spec: CoupleSpec, practice: Practice, rng: random.Random, today: datetime.date
) -> list[SessionPlan]:
    """Weekly sessions at the couple's usual hour, the last one `last_days_ago` before today.

    `last_days_ago` is at least 1, so every session and every row stamped a few hours after
    one (notes, ruptures, map revisions, shares) lies in the past.
    """
    hour = rng.choice(SESSION_HOURS)
    last_day = today - datetime.timedelta(days=spec.last_days_ago)
    plans = [
        SessionPlan(_at(practice, last_day - datetime.timedelta(weeks=spec.sessions - n), hour))
        for n in range(1, spec.sessions + 1)
    ]
    for index, plan in enumerate(plans[1:-1], start=1):
        draw = rng.random()
        if draw < 0.08:
            plan.attendance = Attendance.CANCELLED
            plan.cancelled_by = rng.choice(CancelledBy.values)
            plan.progress_note = rng.choice(CANCELLATION_NOTES)
        elif draw < 0.1:
            plan.attendance, plan.progress_note = Attendance.NO_SHOW, NO_SHOW_NOTE
        if "individual" in spec.flags and index in (1, 2):
            plan.format = SessionFormat.INDIVIDUAL_A if index == 1 else SessionFormat.INDIVIDUAL_B
    if spec.seed_case:
        script_seed_case_sessions(plans)
    if spec.status == DROPPED_OUT:
        script_dropout_sessions(plans)
    if "stuck" in spec.flags:
        script_stuck_sessions(plans)
    held = [plan for plan in plans if plan.took_place]
    for k, plan in enumerate(held):
        plan.eft_step = 1 + round((spec.reached_step - 1) * k / max(len(held) - 1, 1))
        if plan.format != SessionFormat.CONJOINT:
            plan.duration_minutes = 50
        if not plan.scripted:
            plan.progress_note = rng.choice(PROGRESS_NOTES[plan.eft_step])
            if rng.random() < 0.08:
                plan.private_note = rng.choice(PRIVATE_NOTES)
    if spec.status == PAUSED:
        held[-1].progress_note = "Agreed to pause for a family move; review in a month."
    return plans


def _save_cycle_maps(
    couple: Couple,
    spec: CoupleSpec,
    sessions: list[TherapySession],
    emotions: dict[str, EmotionTerm],
    rng: random.Random,
) -> int:
    """Two or three revisions: after the assessment, mid-way, and late in longer work."""
    sides = {"A": _side(spec.partner_a.position), "B": _side(spec.partner_b.position)}
    chosen = {
        label: {kind: rng.choice(options) for kind, options in STEP_OPTIONS[side].items()}
        for label, side in sides.items()
    }
    if spec.seed_case:
        chosen["A"][StepKind.BODY] = "flooded: racing heart, heat in the face"
        chosen["A"][StepKind.SECONDARY_EMOTION] = "blame"
    after = [2, len(sessions) // 2] + ([len(sessions) - 2] if len(sessions) >= 10 else [])
    for revision, index in enumerate(after, start=1):
        chains = {
            label: [
                _draft(kind, chosen[label][kind], side, emotions)
                for kind in CHAIN
                if kind not in NOT_YET_MAPPED[revision - 1]
            ]
            for label, side in sides.items()
        }
        cycle_map_save(
            couple=couple,
            author=couple.therapist,
            base_revision=revision - 1,
            chains=chains,
            change_note=REVISION_NOTES[revision - 1],
            created_at=sessions[index].starts_at + datetime.timedelta(hours=3),
        )
    return len(after)


def _side(position: str) -> str:
    """A partner whose position varies is mapped on the side they take most: pursuing."""
    return W if position == W else P


def _draft(kind: str, chosen: str, side: str, emotions: dict[str, EmotionTerm]) -> StepDraft:
    if kind in (StepKind.SECONDARY_EMOTION, StepKind.PRIMARY_EMOTION):
        return StepDraft(kind, emotion=emotions[chosen])
    if kind == StepKind.ACTION:
        move = MoveDirection.WITHDRAWING if side == W else MoveDirection.PURSUING
        return StepDraft(kind, chosen, move=move)
    return StepDraft(kind, chosen)


def _add_co_therapist(couple: Couple, summary: DemoSummary, started_on: datetime.date) -> None:
    """The trainee co-leads this case with its senior therapist from the start (set by the
    practice admin, as cycles.services.co_therapist_set does; told already, so no sign-in
    message about an invented past)."""
    co, admin = summary.users[CO_THERAPIST], summary.users["admin"]
    Couple.objects.filter(pk=couple.pk).update(co_therapist=co)
    couple.co_therapist = co
    CaseEvent.objects.create(
        couple=couple,
        kind=CaseEventKind.CO_THERAPIST_JOINED,
        on_date=started_on,
        note="Co-therapy for the trainee's relational hours.",
        by=admin,
        to_therapist=co,
        new_therapist_told_at=timezone.now(),
    )
