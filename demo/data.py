"""The demo's fixed content: logins, couples, and the texts and codes the builder draws from."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cycles.models import CoupleStatus, CyclePattern, CyclePosition, StepKind
from cycles.services import PartnerDetails
from people.models import User
from ruptures.codes import ResolutionStrategy, RuptureType
from sessions.models import TOOK_PLACE, Attendance, SessionFormat

if TYPE_CHECKING:
    from cycles.models import Couple
    from sessions.models import TherapySession

DEMO_PRACTICE_NAME = "Riverside Couples Practice"
DEMO_GROUP_NAME = "Tuesday peer consultation"
# Published on purpose: printed by every run and listed in the README.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105
# The demo users' authenticator secret (base32), so a newcomer can sign in without a phone:
# `manage.py demo_code` prints the current code (DEBUG only). Never used outside the demo.
DEMO_TOTP_SECRET = "KRUGKIDDPFRWYZJAORUGKIDBNRUWC3TD"  # noqa: S105
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
REFERRED, CLOSED_OTHER = CoupleStatus.REFERRED, CoupleStatus.CLOSED_OTHER
SHE, HE, THEY = "she/her", "he/him", "they/them"
T1, T2, T3 = "therapist1", "therapist2", "therapist3"

# therapist, partner A, partner B, pattern, sessions, EFT step reached, last session (days ago),
# status, flags: "seed" (docs/domain.md's seed case, see scripts.py), "individual" (sessions 2 and
# 3 with
# each partner alone), "shared" (into the consultation group), and for the measures (see
# measures.py): "split" (the partners' alliance gap widens late, with no rupture), "distressed"
# (satisfaction stays below the CSI-4 cut-off), "unlogged" (a partner reports tension in a
# session without a logged rupture), "denied" (a partner reports none in a rupture session);
# and for the rarer flags (see flag_cases.py): "recurring" (one marker in the last three
# sessions), "quiet" (a rupture, then weeks without a session), "stuck" (many sessions, all
# attended, still in stage 1); "co": CO_THERAPIST co-leads the case (docs/domain.md#co-therapy).
CO_THERAPIST = T1
COUPLE_ROWS: tuple[tuple[Any, ...], ...] = (
    (T1, ("Maren", P, SHE), ("Teo", W, HE), PW, 12, 4, 3, ACTIVE, "seed individual shared"),
    (T1, ("Aurelie", P, SHE), ("Bram", W, HE), PW, 9, 3, 2, ACTIVE, "unlogged"),
    (T1, ("Wren", W, SHE), ("Juno", P, THEY), PW, 16, 6, 5, ACTIVE, "individual"),
    (T1, ("Cato", P, HE), ("Delphine", P, SHE), PP, 7, 2, 6, ACTIVE, "safety"),
    (T1, ("Emrys", W, HE), ("Fenna", P, SHE), PW, 20, 9, 23, COMPLETED, ""),
    (T2, ("Gideon", P, HE), ("Hallie", W, SHE), PW, 14, 5, 1, ACTIVE, "individual shared unlogged"),
    (T2, ("Ines", W, SHE), ("Joran", W, HE), WW, 10, 3, 4, ACTIVE, "denied recurring"),
    (T2, ("Linnea", P, SHE), ("Mattias", W, HE), PW, 8, 3, 48, DROPPED_OUT, ""),
    (T2, ("Noor", P, SHE), ("Oren", V, HE), PW, 6, 2, 2, REFERRED, ""),
    (T2, ("Petra", P, SHE), ("Soren", P, HE), PP, 11, 4, 3, ACTIVE, "split"),
    (T3, ("Tamsin", W, SHE), ("Ulric", P, HE), PW, 18, 7, 6, ACTIVE, "individual unlogged co"),
    (T3, ("Vesna", P, SHE), ("Yara", W, SHE), PW, 12, 4, 37, PAUSED, "quiet"),
    (T3, ("Idris", W, HE), ("Zeb", W, HE), WW, 9, 2, 1, ACTIVE, "distressed"),
    (T3, ("Rosalind", P, SHE), ("Quill", W, HE), PW, 15, 5, 4, CLOSED_OTHER, ""),
    (T3, ("Kestrel", V, THEY), ("Larkin", W, HE), PW, 14, 2, 5, ACTIVE, "stuck"),
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
    scripted: bool = False  # written by scripts.py: no random note or rupture here

    @property
    def took_place(self) -> bool:
        return self.attendance in TOOK_PLACE


@dataclass
class DemoSummary:
    couples: int = 0
    sessions: int = 0
    ruptures: int = 0
    cycle_maps: int = 0
    alliance_ratings: int = 0
    reports: int = 0
    questionnaires: int = 0
    users: dict[str, User] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltCouple:
    """What the measures step needs of a couple the builder made."""

    spec: CoupleSpec
    couple: Couple
    sessions: list[TherapySession]
