"""The one de-identification layer every consultation-group view and export goes through.

It lists what it lets through (HIPAA Safe Harbor's spirit, docs/domain.md#who-sees-what), rather
than
what it removes: each value below is read from an allowed column with `values_list`, and only
controlled vocabulary, codes, ordinals and numbers leave this module. No model instance, name,
date (session ordinals instead), free text, place or contact detail is ever handed on, so a
template cannot reach one by accident.

Let through:
- the share's own random code (not the couple's case code or id), cycle pattern, EFT stage and
  step, each partner's position as "Partner A"/"Partner B";
- the latest cycle map's steps as kind + vocabulary term + move direction (free text dropped;
  a step with only free text shows as its kind alone);
- sessions by ordinal with format, attendance and the EFT change events and Four Horsemen
  observed (checklist labels); ruptures by session ordinal with type, who
  moved, toward whom, markers, strategies, significance, contribution, stage reached, status and
  the repairing session's ordinal;
- alliance totals and questionnaire totals by session ordinal; open flags by kind and ordinals;
- the current treatment plan's goals as stage, evidence kind and status, and the change events
  of the goals marked met (the goals' interventions and targets never leave).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Field, Model

from core.fields import FlagSetField, LabelledFlag
from cycles.models import CyclePattern, CyclePosition, EFTStep, MoveDirection, StepKind
from ruptures.codes import RuptureType

if TYPE_CHECKING:
    from cycles.models import CaseShare

# What of a rupture a group may see: its coded columns, by name. A column not named here never
# leaves this module; each is shown by its label from the model (choices or flag-set labels).
RUPTURE_COLUMNS = (
    "session_id",
    "rupture_type",
    "who_moved",
    "toward",
    "withdrawal_markers",
    "confrontation_markers",
    "strategies",
    "significance",
    "therapist_contribution",
    "resolution_stage",
    "status",
    "repaired_in_id",
)
SESSION_COLUMNS = ("pk", "ordinal", "format", "attendance", "change_events", "horsemen")
# What of a plan's goal a group may see: never its interventions or targets (free text).
PLAN_GOAL_COLUMNS = ("stage", "evidence", "status")


def label(model: type[Model], name: str, value: Any) -> Any:
    """A coded value as the model names it: a choice's label, a flag set's labels (a tuple);
    other values (numbers) as they are."""
    column = model._meta.get_field(name)
    if isinstance(column, FlagSetField):
        return _labels(value, column.flag)
    if isinstance(column, Field) and column.choices:
        return dict(column.flatchoices).get(value, value)
    return value


@dataclass(frozen=True)
class SharedStep:
    kind: str  # the StepKind code
    kind_label: str
    term: str = ""
    move: str = ""


@dataclass(frozen=True)
class SharedRupture:
    ordinal: int
    rupture_type: str
    who_moved: str
    toward: str
    markers: tuple[str, ...]
    strategies: tuple[str, ...]
    significance: int
    contribution: int | None
    stage: str
    status: str
    repaired_in: int | None


@dataclass
class SharedCase:
    code: str
    pattern: str
    stage: int
    step: str
    positions: dict[str, str]
    chains: dict[str, list[SharedStep]] = field(default_factory=dict)
    # (ordinal, format, attendance, the change events and horsemen observed)
    sessions: list[tuple[int, str, str, tuple[str, ...]]] = field(default_factory=list)
    ruptures: list[SharedRupture] = field(default_factory=list)
    alliance: list[tuple[int, int | None, int | None]] = field(default_factory=list)
    questionnaires: list[tuple[str, int, str, float]] = field(default_factory=list)
    flags: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    # The current plan's goals: (stage, evidence kind, status), vocabulary only.
    plan_goals: list[tuple[str, str, str]] = field(default_factory=list)
    change_events_met: tuple[str, ...] = ()


def _labels(value: int, flag: type[LabelledFlag]) -> tuple[str, ...]:
    return tuple(member.label for member in flag if value & int(member))


def shared_case(share: CaseShare) -> SharedCase:
    """The de-identified presentation of one active share (a fixed number of queries)."""
    from cycles.models import Couple

    couple_id = share.couple_id
    pattern, stage, step = (
        Couple.objects.filter(pk=couple_id)
        .values_list("cycle_pattern", "eft_stage", "eft_step")
        .get()
    )
    case = SharedCase(
        code=share.code,
        pattern=CyclePattern(pattern).label,
        stage=stage,
        step=EFTStep(step).label,
        positions=_positions(couple_id),
    )
    case.chains = _chains(couple_id)
    ordinals = _sessions(case, couple_id)
    _ruptures(case, couple_id, ordinals)
    _measures(case, couple_id, ordinals)
    _flags(case, couple_id)
    _plan(case, couple_id)
    return case


def _positions(couple_id: int) -> dict[str, str]:
    from cycles.models import Partner

    rows = Partner.objects.filter(couple_id=couple_id).values_list("label", "position")
    return {label: CyclePosition(position).label for label, position in rows}


def _chains(couple_id: int) -> dict[str, list[SharedStep]]:
    from cycles.models import CycleMap, CycleStep

    latest = CycleMap.objects.filter(couple_id=couple_id).order_by("-revision").values("pk")[:1]
    rows = (
        CycleStep.objects.filter(cycle_map_id__in=latest)
        .order_by("partner__label", "position")
        .values_list("partner__label", "kind", "emotion__name", "move")
    )
    chains: dict[str, list[SharedStep]] = {"A": [], "B": []}
    for label, kind, term, move in rows:
        chains[label].append(
            SharedStep(
                kind=kind,
                kind_label=StepKind(kind).label,
                term=term or "",  # a vocabulary term only; the step's free text never leaves
                move=MoveDirection(move).label if move else "",
            )
        )
    return chains


def _sessions(case: SharedCase, couple_id: int) -> dict[int, int]:
    from sessions.models import Attendance, TherapySession

    rows = (
        TherapySession.objects.current()
        .filter(couple_id=couple_id)
        .order_by("ordinal")
        .values(*SESSION_COLUMNS)
    )
    ordinals = {}
    for row in rows:
        ordinals[row["pk"]] = row["ordinal"]
        shown = {name: label(TherapySession, name, row[name]) for name in SESSION_COLUMNS[2:]}
        observed = shown["change_events"] + shown["horsemen"]
        attendance = Attendance(row["attendance"]).brief
        case.sessions.append((row["ordinal"], shown["format"], attendance, observed))
    return ordinals


def _ruptures(case: SharedCase, couple_id: int, ordinals: dict[int, int]) -> None:
    from ruptures.models import Rupture

    rows = Rupture.objects.current().filter(couple_id=couple_id).values(*RUPTURE_COLUMNS)
    for row in rows:
        shown = {name: label(Rupture, name, row[name]) for name in RUPTURE_COLUMNS}
        withdrawal = row["rupture_type"] == RuptureType.WITHDRAWAL
        repaired_in = row["repaired_in_id"]
        case.ruptures.append(
            SharedRupture(
                ordinal=ordinals[row["session_id"]],
                rupture_type=shown["rupture_type"],
                who_moved=shown["who_moved"],
                toward=shown["toward"],
                markers=shown["withdrawal_markers" if withdrawal else "confrontation_markers"],
                strategies=shown["strategies"],
                significance=shown["significance"],
                contribution=shown["therapist_contribution"],
                stage=shown["resolution_stage"],
                status=shown["status"],
                repaired_in=ordinals.get(repaired_in) if repaired_in else None,
            )
        )
    case.ruptures.sort(key=lambda r: r.ordinal)


def _measures(case: SharedCase, couple_id: int, ordinals: dict[int, int]) -> None:
    from sessions.models import AllianceRating, MeasureResponse

    totals: dict[int, dict[str, int]] = {}
    for session_id, partner, bond, goals, tasks, fit in AllianceRating.objects.filter(
        session_id__in=list(ordinals)
    ).values_list("session_id", "partner", "bond", "goals", "tasks", "fit"):
        totals.setdefault(ordinals[session_id], {})[partner] = bond + goals + tasks + fit
    case.alliance = [(n, t.get("A"), t.get("B")) for n, t in sorted(totals.items())]
    rows = MeasureResponse.objects.filter(session_id__in=list(ordinals)).values_list(
        "definition__name", "session_id", "partner", "total"
    )
    case.questionnaires = sorted(
        (name, ordinals[session_id], partner, float(total))
        for name, session_id, partner, total in rows
    )


def _flags(case: SharedCase, couple_id: int) -> None:
    from ruptures.models import PRIVATE_FLAG_KINDS, Flag, FlagKind

    # A safety concern is never shown to a group, nor counted: it is the couple's therapist's
    # and supervisor's alone (sessions/safety.py).
    rows = (
        Flag.objects.open()
        .filter(couple_id=couple_id)
        .exclude(kind__in=PRIVATE_FLAG_KINDS)
        .values_list("kind", "evidence")
    )
    case.flags = sorted(
        (FlagKind(kind).label, tuple(int(n) for n in (evidence or {}).get("sessions", [])))
        for kind, evidence in rows
    )


def _plan(case: SharedCase, couple_id: int) -> None:
    """The current revision's goals by their coded columns only (PLAN_GOAL_COLUMNS)."""
    from plans.models import CHANGE_EVENT_OF, GoalStatus, PlanGoal, PlanRevision

    latest = PlanRevision.objects.filter(couple_id=couple_id).order_by("-revision").values("pk")
    rows = (
        PlanGoal.objects.filter(plan_id__in=latest[:1])
        .order_by("position")
        .values_list(*PLAN_GOAL_COLUMNS)
    )
    met = []
    for stage, evidence, status in rows:
        case.plan_goals.append(
            (
                label(PlanGoal, "stage", stage),
                label(PlanGoal, "evidence", evidence),
                label(PlanGoal, "status", status),
            )
        )
        if status == GoalStatus.MET and evidence in CHANGE_EVENT_OF:
            met.append(CHANGE_EVENT_OF[evidence].label)
    case.change_events_met = tuple(dict.fromkeys(met))
