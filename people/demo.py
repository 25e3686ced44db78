"""The demo practice behind `manage.py seed_demo`: invented people and couples only.

Everything is drawn from `random.Random(DEMO_SEED)` in a fixed order, and dates are counted
back from today, so the demo always looks current and two fresh databases get the same
record. The command skips when the practice exists, which is what makes a second run a no-op.

Clinical rows are written through the services (`couple_create`, `session_log`,
`cycle_map_save`, `rupture_record`, `rupture_repair`), so the demo obeys the same rules as the
app's own screens. The building steps:

1. People: a practice admin, a supervisor, three therapists (two of them supervised), and a
   consultation group of the therapists.
2. For each `CoupleSpec`: the couple, a weekly run of sessions ending `last_days_ago` before
   today, ruptures in the sessions that took place (some repaired in a later session), cycle
   map revisions after the assessment and later in the work, then the couple's status.
3. Two couples' runs are partly scripted rather than drawn: DOMAIN.md section 5's seed case
   (walk-out, no-show, repair) and the dropout (a confrontation left unrepaired, then absence).
"""

from __future__ import annotations

import datetime
import functools
import itertools
import operator
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from cycles.models import (
    CaseShare,
    CoupleStatus,
    CyclePattern,
    CyclePosition,
    EmotionTerm,
    MoveDirection,
    StepKind,
)
from cycles.services import PartnerDetails, StepDraft, couple_create, cycle_map_save
from people.models import ConsultationGroup, GroupMembership, Practice, Supervision, User
from ruptures.codes import (
    ConfrontationMarker,
    MetacommunicationPrinciple,
    ResolutionStage,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.fields import LabelledFlag
from ruptures.services import rupture_record, rupture_repair
from sessions.models import Attendance, CancelledBy, LeftBy, SessionFormat
from sessions.services import session_log

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cycles.models import Couple
    from ruptures.models import Rupture
    from sessions.models import TherapySession

DEMO_PRACTICE_NAME = "Riverside Couples Practice"
DEMO_GROUP_NAME = "Tuesday peer consultation"
# Published on purpose: printed by every run and listed in the README.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105
DEMO_SEED = 2026


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    display_name: str
    therapist: bool = False
    supervisor: bool = False
    practice_admin: bool = False
    supervised: bool = False


# One place for the logins: the command prints them, and the README's table can be checked
# against them.
DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("admin", "practice admin", "Morgan Ashdale", practice_admin=True),
    DemoLogin("supervisor", "supervisor", "Imogen Thale", supervisor=True),
    DemoLogin(
        "therapist1", "therapist (supervised)", "Nadia Brookmere", therapist=True, supervised=True
    ),
    DemoLogin(
        "therapist2", "therapist (supervised)", "Tomas Reyne", therapist=True, supervised=True
    ),
    DemoLogin("therapist3", "therapist", "Leona Varlow", therapist=True),
)


P, W, V = CyclePosition.PURSUER, CyclePosition.WITHDRAWER, CyclePosition.VARIES
PW, PP, WW = (
    CyclePattern.PURSUE_WITHDRAW,
    CyclePattern.PURSUE_PURSUE,
    CyclePattern.WITHDRAW_WITHDRAW,
)
ACTIVE, PAUSED = CoupleStatus.ACTIVE, CoupleStatus.PAUSED
COMPLETED, DROPPED_OUT = CoupleStatus.COMPLETED, CoupleStatus.DROPPED_OUT
SHE, HE, THEY = "she/her", "he/him", "they/them"
T1, T2, T3 = "therapist1", "therapist2", "therapist3"

# therapist, partner A, partner B, pattern, sessions, EFT step reached, last session (days ago),
# status, flags: "seed" (DOMAIN.md's case, see _script_seed_case_sessions), "individual"
# (sessions 2 and 3 with each partner alone), "shared" (into the consultation group).
COUPLE_ROWS: tuple[tuple[Any, ...], ...] = (
    (T1, ("Maren", P, SHE), ("Teo", W, HE), PW, 12, 4, 3, ACTIVE, "seed individual shared"),
    (T1, ("Aurelie", P, SHE), ("Bram", W, HE), PW, 9, 3, 2, ACTIVE, ""),
    (T1, ("Wren", W, SHE), ("Juno", P, THEY), PW, 16, 6, 5, ACTIVE, "individual"),
    (T1, ("Cato", P, HE), ("Delphine", P, SHE), PP, 7, 2, 6, ACTIVE, ""),
    (T1, ("Emrys", W, HE), ("Fenna", P, SHE), PW, 20, 9, 23, COMPLETED, ""),
    (T2, ("Gideon", P, HE), ("Hallie", W, SHE), PW, 14, 5, 1, ACTIVE, "individual shared"),
    (T2, ("Ines", W, SHE), ("Joran", W, HE), WW, 10, 3, 4, ACTIVE, ""),
    (T2, ("Linnea", P, SHE), ("Mattias", W, HE), PW, 8, 3, 48, DROPPED_OUT, ""),
    (T2, ("Noor", P, SHE), ("Oren", V, HE), PW, 6, 2, 2, ACTIVE, ""),
    (T2, ("Petra", P, SHE), ("Soren", P, HE), PP, 11, 4, 3, ACTIVE, ""),
    (T3, ("Tamsin", W, SHE), ("Ulric", P, HE), PW, 18, 7, 6, ACTIVE, "individual"),
    (T3, ("Vesna", P, SHE), ("Yara", W, SHE), PW, 12, 4, 37, PAUSED, ""),
    (T3, ("Idris", W, HE), ("Zeb", W, HE), WW, 9, 2, 1, ACTIVE, ""),
    (T3, ("Rosalind", P, SHE), ("Quill", W, HE), PW, 15, 5, 4, ACTIVE, ""),
    (T3, ("Kestrel", V, THEY), ("Larkin", W, HE), PW, 7, 3, 5, ACTIVE, ""),
)


@dataclass(frozen=True)
class CoupleSpec:
    therapist: str  # a DemoLogin username
    partner_a: PartnerDetails
    partner_b: PartnerDetails
    pattern: str
    sessions: int
    reached_step: int
    last_days_ago: int
    status: str
    flags: frozenset[str]

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> CoupleSpec:
        therapist, a, b, pattern, sessions, step, last, status, flags = row
        a, b = PartnerDetails(*a), PartnerDetails(*b)
        return cls(therapist, a, b, pattern, sessions, step, last, status, frozenset(flags.split()))

    @property
    def seed_case(self) -> bool:
        return "seed" in self.flags


COUPLES = tuple(CoupleSpec.from_row(row) for row in COUPLE_ROWS)

SESSION_HOURS = (9, 10, 11, 13, 14, 16, 17, 18)

PROGRESS_NOTES: dict[int, tuple[str, ...]] = {
    1: (
        "Assessment: each partner's account of the relationship and what brings them now.",
        "Agreed goals: fewer escalations, more closeness; explained how we will work.",
        "Relationship history and attachment history; safety screen unremarkable.",
    ),
    2: (
        "Tracked last weekend's argument move by move; both could name their own moves.",
        "Named the cycle together and gave it a name the couple chose.",
        "Slowed down a recent fight; noticed how fast each reaction triggers the other.",
    ),
    3: (
        "Stayed with the fear under the anger; partner listened without defending.",
        "Reached shame under the shutting down; a softer tone by the end.",
        "Evoked the body response in the moment of the trigger; brief tears.",
    ),
    4: (
        "Reframed the fights as the cycle against them both, not either partner.",
        "Both agreed the cycle is the problem; fewer escalations this week.",
    ),
    5: (
        "The withdrawing partner began to say what they need rather than going quiet.",
        "Explored the longing to matter; owned it rather than protesting.",
    ),
    6: (
        "Partner took in the new vulnerability; some disbelief, then warmth.",
        "Worked on accepting the other's fear as real and not an accusation.",
    ),
    7: (
        "Enactment: a direct ask for comfort, received. A bonding moment.",
        "Softening: the blaming partner reached from fear rather than anger.",
    ),
    8: ("Used the new positions to talk through an old conflict about money.",),
    9: (
        "Reviewed the journey and the new cycle; planned for future slips.",
        "Consolidation: both told the story of the cycle and how they now exit it.",
    ),
}
CANCELLATION_NOTES = ("Cancelled; rescheduling next week.", "Cancelled for illness.", "")
NO_SHOW_NOTE = "Neither partner attended; left a message offering the next slot."
PRIVATE_NOTES = (
    "Noticed my pull to rescue the quieter partner when the other escalated; take to supervision.",
    "I felt bored in the middle stretch: am I colluding with the avoidance?",
    "Strong sense of sadness in the room that neither named. Watch next time.",
    "I sided with one partner's account for a moment; rebalance next session.",
    "Hypothesis: the shutting down began long before this relationship. Hold lightly.",
)
REFLECTIONS = (
    "I moved too fast into the enactment before the alliance could carry it.",
    "I missed the first signs of the strain and kept going with my plan.",
    "My explanation came out as a lecture; I was defending the method, not listening.",
    "I was tired and less attuned than usual; I let the silence run too long.",
)
RUPTURE_NOTES: dict[str, tuple[str, ...]] = {
    RuptureType.WITHDRAWAL: ("Went quiet and answered in single words.", "Changed the subject."),
    RuptureType.CONFRONTATION: ("Said the sessions are not helping.", "Challenged the task."),
}

STEP_OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    CyclePosition.PURSUER: {
        StepKind.TRIGGER: ("partner goes quiet", "partner turns to the phone", "a plan changes"),
        StepKind.PERCEPTION: ("I don't matter", "I'm alone in this", "they don't care"),
        StepKind.BODY: ("tight chest, heat in the face", "heart racing, flooded"),
        StepKind.ATTACHMENT_NEED: ("to know I matter", "to know you're there for me"),
        StepKind.ACTION: ("criticises and pushes for an answer", "protests, raises the voice"),
        StepKind.SECONDARY_EMOTION: ("anger", "frustration", "resentment", "blame"),
        StepKind.PRIMARY_EMOTION: ("fear", "loneliness", "hurt", "rejection"),
    },
    CyclePosition.WITHDRAWER: {
        StepKind.TRIGGER: ("criticism", "a raised voice", "a sharp question"),
        StepKind.PERCEPTION: ("I'm failing again", "nothing I do is enough", "I'll make it worse"),
        StepKind.BODY: ("numb, heavy limbs", "wants to get out of the room"),
        StepKind.ATTACHMENT_NEED: ("to be accepted as I am", "to know I'm enough"),
        StepKind.ACTION: ("goes quiet and leaves the room", "changes the subject, shuts down"),
        StepKind.SECONDARY_EMOTION: ("numbness", "defensiveness", "indifference", "irritation"),
        StepKind.PRIMARY_EMOTION: ("shame", "inadequacy", "fear", "helplessness"),
    },
}
# The chain in EFT's order; early revisions leave out what the work has not reached yet.
CHAIN = (
    StepKind.TRIGGER,
    StepKind.PERCEPTION,
    StepKind.BODY,
    StepKind.SECONDARY_EMOTION,
    StepKind.PRIMARY_EMOTION,
    StepKind.ATTACHMENT_NEED,
    StepKind.ACTION,
)
NOT_YET_MAPPED: tuple[set[str], ...] = (
    {StepKind.BODY, StepKind.PRIMARY_EMOTION, StepKind.ATTACHMENT_NEED},
    {StepKind.ATTACHMENT_NEED},
    set(),
)
REVISION_NOTES = (
    "First map, from the assessment sessions.",
    "Added body responses and the underlying emotions reached in session.",
    "Added attachment fears and needs.",
)
S = ResolutionStrategy
WITHDRAWAL_REPAIRS = (
    S.VALIDATES_DEFENSIVE_POSTURE,
    S.INVITES_DISCUSSION,
    S.CLARIFIES_MISUNDERSTANDING,
    S.LINKS_TO_OTHER_RELATIONSHIPS,
    S.GIVES_RATIONALE,
)
CONFRONTATION_REPAIRS = (
    S.ACKNOWLEDGES_CONTRIBUTION,
    S.INVITES_DISCUSSION,
    S.CHANGES_TASKS_OR_GOALS,
    S.DISCLOSES_EXPERIENCE,
    S.REDIRECTS,
    S.LINKS_TO_THERAPY_PATTERN,
)
# Every repair outcome appears, whatever the draw (tests check each status is present).
OUTCOMES = ("resolved", "unresolved", "repaired_later", "partly", "partly_later", "resolved")


@dataclass
class SessionPlan:
    starts_at: datetime.datetime
    format: str = SessionFormat.CONJOINT
    attendance: str = Attendance.ATTENDED
    cancelled_by: str = ""
    left_early: str = ""
    eft_step: int | None = None
    duration_minutes: int = 80
    progress_note: str = ""
    private_note: str = ""
    scripted: bool = False  # written by a script below: no random note or rupture here

    @property
    def took_place(self) -> bool:
        return self.attendance in (Attendance.ATTENDED, Attendance.ENDED_EARLY)


@dataclass
class DemoSummary:
    couples: int = 0
    sessions: int = 0
    ruptures: int = 0
    cycle_maps: int = 0
    users: dict[str, User] = field(default_factory=dict)


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
    for spec in COUPLES:
        _build_couple(spec, practice, group, summary, emotions, outcomes, rng, today)
    return summary


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
) -> None:
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
    summary.ruptures += _record_ruptures(spec, plans, sessions, outcomes, rng)
    if spec.seed_case:
        summary.ruptures += _script_seed_case_ruptures(sessions)
    if spec.status == DROPPED_OUT:
        summary.ruptures += _script_dropout_ruptures(sessions)
    summary.cycle_maps += _save_cycle_maps(couple, spec, sessions, emotions, rng)
    if "shared" in spec.flags:
        shared_at = sessions[-1].starts_at + datetime.timedelta(hours=3)
        CaseShare.objects.create(
            couple=couple, group=group, shared_by=therapist, shared_at=shared_at
        )
    if spec.status != ACTIVE:
        couple.status = spec.status
        couple.save(update_fields=["status"])
    summary.couples += 1


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
        _script_seed_case_sessions(plans)
    if spec.status == DROPPED_OUT:
        _script_dropout_sessions(plans)
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


def _record_ruptures(
    spec: CoupleSpec,
    plans: list[SessionPlan],
    sessions: list[TherapySession],
    outcomes: Iterator[str],
    rng: random.Random,
) -> int:
    """One to three ruptures in conjoint sessions that took place, some repaired later."""
    candidates = [
        index
        for index, plan in enumerate(plans)
        if plan.took_place and plan.format == SessionFormat.CONJOINT and not plan.scripted
    ]
    chosen = sorted(rng.sample(candidates, min(len(candidates), rng.randint(1, 3))))
    for index in chosen:
        later = [i for i in range(index + 1, len(plans)) if plans[i].took_place]
        outcome = next(outcomes)
        if outcome.endswith("_later") and not later:
            outcome = "unresolved"
        rupture = _record_one(spec, sessions[index], outcome, rng)
        if outcome.endswith("_later"):
            resolved = outcome == "repaired_later"
            rupture_repair(
                rupture=rupture,
                repaired_in=sessions[later[0]],
                status=RuptureStatus.RESOLVED if resolved else RuptureStatus.PARTLY_RESOLVED,
                strategies=_strategies(rupture.rupture_type, rng),
                resolution_stage=rng.choice((3, 4)) if resolved else 2,
            )
    return len(chosen)


def _record_one(
    spec: CoupleSpec, session: TherapySession, outcome: str, rng: random.Random
) -> Rupture:
    """A rupture typed by who moved: pursuers mostly confront, withdrawers mostly withdraw."""
    positions = {
        WhoMoved.PARTNER_A: spec.partner_a.position,
        WhoMoved.PARTNER_B: spec.partner_b.position,
    }
    other = {WhoMoved.PARTNER_A: Toward.PARTNER_B, WhoMoved.PARTNER_B: Toward.PARTNER_A}
    draw = rng.random()
    if draw < 0.08:  # the 3RS 2022 revision rates the therapist moving away or against too
        mover = WhoMoved.THERAPIST
        rupture_type = rng.choice(RuptureType.values)
        toward = rng.choice((Toward.PARTNER_A, Toward.PARTNER_B, Toward.BOTH_PARTNERS))
    else:
        mover = WhoMoved.BOTH if draw < 0.15 else rng.choice(list(positions))
        share_confronting: dict[str, float] = {P: 0.8, W: 0.2}
        confronts = share_confronting.get(positions.get(mover, V), 0.5)
        rupture_type = (
            RuptureType.CONFRONTATION if rng.random() < confronts else RuptureType.WITHDRAWAL
        )
        toward = Toward.THERAPIST if rng.random() < 0.7 else other.get(mover, Toward.THERAPIST)
    flag = WithdrawalMarker if rupture_type == RuptureType.WITHDRAWAL else ConfrontationMarker
    fields: dict[str, Any] = {
        "rupture_type": rupture_type,
        "who_moved": mover,
        "toward": toward,
        f"{rupture_type}_markers": _some(flag, rng, 1, 2),  # withdrawal_/confrontation_markers
        "minute": rng.randint(5, 70),
        "significance": rng.randint(1, 4),
        "therapist_contribution": rng.choice((None, 1, 2, 2, 3, 3, 4)),
        "note": rng.choice(RUPTURE_NOTES[rupture_type]),
        "created_at": session.starts_at + datetime.timedelta(hours=2),
    }
    if outcome in ("resolved", "partly"):
        resolved = outcome == "resolved"
        fields["status"] = RuptureStatus.RESOLVED if resolved else RuptureStatus.PARTLY_RESOLVED
        fields["resolution_stage"] = rng.choice((3, 4)) if resolved else 2
        fields["strategies"] = _strategies(rupture_type, rng)
        fields["principles"] = _some(MetacommunicationPrinciple, rng, 1, 3)
    else:
        fields["resolution_stage"] = rng.choice((ResolutionStage.NONE, ResolutionStage.AWARE))
    reflection = ""
    if (fields["therapist_contribution"] or 0) >= 3 and rng.random() < 0.6:
        reflection = rng.choice(REFLECTIONS)
    return rupture_record(
        session=session, recorded_by=session.therapist, reflection=reflection, **fields
    )


def _some[F: LabelledFlag](flag: type[F], rng: random.Random, least: int, most: int) -> F:
    return functools.reduce(operator.or_, rng.sample(list(flag), rng.randint(least, most)))


def _strategies(rupture_type: str, rng: random.Random) -> ResolutionStrategy:
    """Withdrawal repair explores what blocks the feeling; confrontation repair engages it."""
    pool = WITHDRAWAL_REPAIRS if rupture_type == RuptureType.WITHDRAWAL else CONFRONTATION_REPAIRS
    return functools.reduce(operator.or_, rng.sample(pool, rng.randint(1, 3)))


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


# DOMAIN.md section 5's case, as ordinals of a 12-session run whose last session was 3 days
# ago: the walk-out 31 days ago, the no-show a week later, the repair two weeks after the
# walk-out, then two more sessions of work.
WALK_OUT, NO_SHOW, REPAIR = 8, 9, 10


def _script_seed_case_sessions(plans: list[SessionPlan]) -> None:
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


def _script_seed_case_ruptures(sessions: list[TherapySession]) -> int:
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


def _script_dropout_sessions(plans: list[SessionPlan]) -> None:
    """An unrepaired confrontation, then absence: the pattern that goes with dropout."""
    confronted, no_show, cancelled = plans[-3:]
    confronted.attendance, confronted.cancelled_by = Attendance.ATTENDED, ""
    confronted.format, confronted.scripted = SessionFormat.CONJOINT, True
    confronted.progress_note = "A said nothing is changing and questioned the whole approach."
    no_show.attendance, no_show.cancelled_by = Attendance.NO_SHOW, ""
    cancelled.attendance, cancelled.cancelled_by = Attendance.CANCELLED, CancelledBy.PARTNER_A
    no_show.progress_note = NO_SHOW_NOTE
    cancelled.progress_note = "Partner A cancelled and said they would not come back for now."


def _script_dropout_ruptures(sessions: list[TherapySession]) -> int:
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
