"""Read one chunk of couples, as of the end of a date, in a fixed number of queries."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import BooleanField, CharField, ExpressionWrapper, F, IntegerField, Value

from cycles.models import Couple
from flags.measure_signals import (
    Satisfaction,
    SessionPoint,
    build_points,
    load_satisfaction,
)
from ruptures.codes import RuptureStatus, RuptureType
from ruptures.models import Rupture
from sessions.models import (
    TOOK_PLACE,
    AllianceRating,
    EFTChangeEvent,
    PostSessionReport,
    SafetyReview,
    SafetyScreen,
    TherapySession,
)
from sessions.models.safety import IN_PERSON


@dataclass(frozen=True)
class SessionRow:
    pk: int
    ordinal: int
    local_date: datetime.date
    attendance: str
    change_events: int = 0  # EFTChangeEvent bits observed in the session

    @property
    def took_place(self) -> bool:
        return self.attendance in TOOK_PLACE

    @property
    def de_escalated(self) -> bool:
        return bool(self.change_events & EFTChangeEvent.DE_ESCALATION)


@dataclass(frozen=True)
class RuptureRow:
    pk: int
    session_id: int
    rupture_type: str
    who_moved: str
    markers: int
    strategies: int
    contribution: int | None
    status: str
    repaired_in_id: int | None


@dataclass(frozen=True)
class SafetyRow:
    """A partner's safety screen, or a clinician's review of their concern (`review`)."""

    pk: int
    partner: str
    at: datetime.datetime
    review: bool
    positive: bool = False
    in_person: bool = False
    session_ordinal: int | None = None


@dataclass
class CoupleData:
    pk: int
    therapist_id: int
    case_code: str
    eft_stage: int
    status: str
    sessions: list[SessionRow] = field(default_factory=list)
    ruptures: list[RuptureRow] = field(default_factory=list)
    points: list[SessionPoint] = field(default_factory=list)
    satisfaction: list[Satisfaction] = field(default_factory=list)
    safety: list[SafetyRow] = field(default_factory=list)  # in time order

    def __post_init__(self) -> None:
        self.session_by_id: dict[int, SessionRow] = {}
        self.next_attendance: dict[int, str] = {}
        self.held_after: dict[int, int] = {}

    def index(self) -> None:
        """Per session (sessions are in order): the next session's attendance, and how many
        sessions were held after it, so per-rupture questions need no scan of the sessions."""
        self.session_by_id = {s.pk: s for s in self.sessions}
        held = 0
        following = "no_session_yet"
        for session in reversed(self.sessions):
            self.next_attendance[session.pk] = following
            self.held_after[session.pk] = held
            following = session.attendance
            held += 1 if session.took_place else 0


def as_int(name: str) -> ExpressionWrapper:
    """A flag-set column read as its plain integer (the same SQL): no LabelledFlag is built
    for each of the chunk's tens of thousands of rows."""
    return ExpressionWrapper(F(name), output_field=IntegerField())


def end_of(day: datetime.date, time_zone: str) -> datetime.datetime:
    """The first instant after `day` in the practice's time zone."""
    next_day = day + datetime.timedelta(days=1)
    return datetime.datetime.combine(next_day, datetime.time.min, tzinfo=ZoneInfo(time_zone))


def couple_ids_after(
    practice_id: int, after_id: int, size: int
) -> list[tuple[int, int, str, int, str]]:
    return list(
        Couple.objects.filter(practice_id=practice_id, pk__gt=after_id)
        .order_by("pk")
        .values_list("pk", "therapist_id", "case_code", "eft_stage", "status")[:size]
    )


def states_before_later_repairs(
    couple_ids: list[int], cutoff: datetime.datetime
) -> dict[int, tuple[str, int, int | None]]:
    """For the couples' ruptures repaired in a session after the cutoff, their state before
    the first such repair: (status, strategies, repaired_in id). One query."""
    from ruptures.models import RuptureRepair

    rows = (
        RuptureRepair.objects.current()
        .filter(rupture__couple_id__in=couple_ids, session__starts_at__gte=cutoff)
        .order_by("rupture_id", "session__starts_at", "recorded_at")
        .values_list(
            "rupture_id", "status_before", as_int("strategies_before"), "repaired_in_before_id"
        )
    )
    states: dict[int, tuple[str, int, int | None]] = {}
    for rupture_id, status, strategies, repaired_in in rows:
        states.setdefault(rupture_id, (status, int(strategies), repaired_in))
    return states


def load_chunk(
    couples: list[tuple[int, int, str, int, str]], for_date: datetime.date, time_zone: str
) -> list[CoupleData]:
    """Sessions, ruptures (as they stood then), measures and questionnaires of these couples
    up to the end of `for_date`, and their safety screens and reviews: eight queries whatever
    the chunk's size."""
    cutoff = end_of(for_date, time_zone)
    zone = ZoneInfo(time_zone)
    data = {
        pk: CoupleData(pk, therapist, code, stage, status)
        for pk, therapist, code, stage, status in couples
    }
    ids = list(data)
    session_rows = list(
        TherapySession.objects.current()
        .filter(couple_id__in=ids, starts_at__lt=cutoff)
        .order_by("couple_id", "ordinal")
        .values_list(
            "pk", "couple_id", "ordinal", "starts_at", "attendance", as_int("change_events")
        )
    )
    for pk, couple_id, ordinal, starts_at, attendance, events in session_rows:
        data[couple_id].sessions.append(
            SessionRow(pk, ordinal, starts_at.astimezone(zone).date(), attendance, int(events))
        )
    for couple in data.values():
        couple.index()
    counts: dict[int, int] = defaultdict(int)
    repairs: dict[int, int] = defaultdict(int)
    rupture_rows = list(
        Rupture.objects.current()
        .filter(couple_id__in=ids, session__starts_at__lt=cutoff)
        .values_list(
            "pk",
            "couple_id",
            "session_id",
            "rupture_type",
            "who_moved",
            as_int("withdrawal_markers"),
            as_int("confrontation_markers"),
            as_int("strategies"),
            "therapist_contribution",
            "status",
            "repaired_in_id",
        )
    )
    as_of = states_before_later_repairs(ids, cutoff)
    for (
        pk,
        couple_id,
        session_id,
        kind,
        moved,
        w_markers,
        c_markers,
        strategies,
        contribution,
        current_status,
        current_repaired_in,
    ) in rupture_rows:
        couple = data[couple_id]
        status: str = current_status
        repaired_in: int | None = current_repaired_in
        if pk in as_of:
            # Repaired in a session after the date: as it stood before that repair.
            status, strategies, repaired_in = as_of[pk]
        if repaired_in is not None and repaired_in not in couple.session_by_id:
            # Repaired in a session after the date, or withdrawn: not yet repaired then.
            status, repaired_in = RuptureStatus.UNRESOLVED, None
        markers = w_markers if kind == RuptureType.WITHDRAWAL else c_markers
        couple.ruptures.append(
            RuptureRow(
                pk,
                session_id,
                kind,
                moved,
                int(markers),
                int(strategies),
                contribution,
                status,
                repaired_in,
            )
        )
        counts[session_id] += 1
        if repaired_in is not None:
            repairs[repaired_in] += 1
    points = build_points(
        (
            (pk, couple_id, ordinal, attendance, counts[pk], repairs[pk])
            for pk, couple_id, ordinal, _, attendance, _ in session_rows
        ),
        # By couple, not by a list of thousands of session ids: a short IN list and a join.
        AllianceRating.objects.filter(
            session__couple_id__in=ids, session__starts_at__lt=cutoff
        ).values_list("session_id", "partner", "bond", "goals", "tasks", "fit"),
        PostSessionReport.objects.filter(
            session__couple_id__in=ids, session__starts_at__lt=cutoff
        ).values_list("session_id", "respondent", "tension"),
    )
    satisfaction = load_satisfaction(ids, before=cutoff)
    for couple in data.values():
        couple.points = points.get(couple.pk, [])
        couple.satisfaction = satisfaction.get(couple.pk, [])
    for couple_id, row in load_safety(ids, cutoff):
        data[couple_id].safety.append(row)
    return list(data.values())


def load_safety(couple_ids: list[int], cutoff: datetime.datetime) -> list[tuple[int, SafetyRow]]:
    """The couples' safety screens and reviews before the cutoff, in time order: one query
    (a UNION of the two tables, reviews marked "review" in the entered-by column)."""
    columns = ("kind", "pk", "couple_id", "partner", "at", "positive", "entered_by", "ordinal")
    screens = (
        SafetyScreen.objects.filter(couple_id__in=couple_ids, recorded_at__lt=cutoff)
        .annotate(kind=Value("screen", output_field=CharField()), at=F("recorded_at"))
        .annotate(ordinal=F("session__ordinal"))
        .order_by()
        .values_list(*columns)
    )
    reviews = (
        SafetyReview.objects.filter(couple_id__in=couple_ids, reviewed_at__lt=cutoff)
        .annotate(
            kind=Value("review", output_field=CharField()),
            at=F("reviewed_at"),
            positive=Value(False, output_field=BooleanField()),
            entered_by=Value("", output_field=CharField()),
            ordinal=Value(None, output_field=IntegerField()),
        )
        .order_by()
        .values_list(*columns)
    )
    rows = sorted(
        screens.union(reviews, all=True).order_by(), key=lambda r: (r[4], r[0] == "review", r[1])
    )
    return [
        (
            couple_id,
            SafetyRow(
                pk,
                partner,
                at,
                review=kind == "review",
                positive=bool(positive),
                in_person=entered_by in IN_PERSON,
                session_ordinal=ordinal,
            ),
        )
        for kind, pk, couple_id, partner, at, positive, entered_by, ordinal in rows
    ]
