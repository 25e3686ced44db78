"""Derived signals from the per-partner measures, with exact definitions.

Every function here is pure: it takes a couple's series and the practice's thresholds and
returns findings, each naming the session it fires at. The loader at the bottom reads the
series for many couples at once in a fixed number of queries, for the couple page and the
nightly summaries alike. Definitions (also in docs/signals.md):

- Split alliance gap at a session: |total of partner A − total of partner B|, where a total is
  bond + goals + tasks + fit (0–40), for sessions both partners rated.
- Split widening fires at the latest of W consecutive both-rated sessions (W =
  `split_window_sessions`) when the gap never narrows across them and grows by at least
  `split_min_increase` from the first to the last.
- Alliance drop fires at a session where a partner's total is at least
  `alliance_drop_points` below that partner's previous rated session.
- Report mismatch fires at a session where a partner reported tension and the therapist
  saw none: logged no rupture there, repaired none there, and did not report tension in
  their own post-session report; or the therapist saw tension (logged a rupture there, or
  reported tension in their own report at a session with no repair) and a partner reported
  none.
- Satisfaction: below the measure's cut-off at the partner's latest response; reliable change
  when the latest total differs from the first by at least the measure's reliable change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Count, Q

if TYPE_CHECKING:
    import datetime
    from collections.abc import Iterable

    from people.models import SignalThresholds
    from sessions.models import MeasureDefinition

PARTNERS = ("A", "B")


@dataclass
class SessionPoint:
    """What the signals need of one session."""

    session_id: int
    ordinal: int
    took_place: bool
    rupture_count: int = 0
    repair_count: int = 0  # earlier ruptures repaired in this session
    alliance: dict[str, int] = field(default_factory=dict)  # "A"/"B" -> total 0–40
    tension: dict[str, bool] = field(default_factory=dict)  # respondent -> reported tension

    @property
    def total_a(self) -> int | None:
        return self.alliance.get("A")

    @property
    def total_b(self) -> int | None:
        return self.alliance.get("B")

    @property
    def gap(self) -> int | None:
        if "A" in self.alliance and "B" in self.alliance:
            return abs(self.alliance["A"] - self.alliance["B"])
        return None


class SignalKind(models.TextChoices):
    """What a couple's measures say between the nightly runs (docs/domain.md#signals); each
    opens the flag of the same name (flags.rules)."""

    SPLIT_WIDENING = "split_widening", "Split alliance widening"
    ALLIANCE_DROP = "alliance_drop", "Alliance drop"
    REPORT_MISMATCH = "report_mismatch", "Report mismatch"


@dataclass(frozen=True)
class Finding:
    kind: SignalKind
    session_id: int
    ordinal: int
    detail: str
    partner: str = ""
    values: tuple[float, ...] = ()

    @property
    def label(self) -> str:
        return str(SignalKind(self.kind).label)


@dataclass(frozen=True)
class Score:
    session_id: int
    ordinal: int
    total: Decimal


@dataclass
class Satisfaction:
    """One measure's series for one partner and what it says."""

    code: str
    name: str
    partner: str
    scores: list[Score]
    cutoff: Decimal | None
    reliable_change: Decimal | None
    lower_is_worse: bool = True
    maximum: int = 21

    @property
    def latest(self) -> Score | None:
        return self.scores[-1] if self.scores else None

    @property
    def below_cutoff(self) -> bool:
        if self.latest is None or self.cutoff is None:
            return False
        if self.lower_is_worse:
            return self.latest.total < self.cutoff
        return self.latest.total > self.cutoff

    @property
    def change(self) -> Decimal | None:
        if len(self.scores) < 2:
            return None
        return self.scores[-1].total - self.scores[0].total

    @property
    def reliable(self) -> str:
        """ "improved", "deteriorated" or "" (no reliable change, or too few scores)."""
        change, threshold = self.change, self.reliable_change
        if change is None or threshold is None or abs(change) < threshold:
            return ""
        better = change > 0 if self.lower_is_worse else change < 0
        return "improved" if better else "deteriorated"


def split_gaps(points: list[SessionPoint]) -> list[tuple[SessionPoint, int]]:
    return [
        (p, abs(p.alliance["A"] - p.alliance["B"]))
        for p in points
        if "A" in p.alliance and "B" in p.alliance
    ]


def split_widening(points: list[SessionPoint], *, window: int, min_increase: int) -> list[Finding]:
    gaps = split_gaps(points)
    findings = []
    for end in range(window - 1, len(gaps)):
        run = gaps[end - window + 1 : end + 1]
        values = [gap for _, gap in run]
        never_narrows = all(later >= earlier for earlier, later in pairwise(values))
        if never_narrows and values[-1] - values[0] >= min_increase:
            point = run[-1][0]
            findings.append(
                Finding(
                    kind=SignalKind.SPLIT_WIDENING,
                    session_id=point.session_id,
                    ordinal=point.ordinal,
                    detail=f"The partners' alliance gap grew from {values[0]} to {values[-1]} "
                    f"over {window} sessions.",
                    values=tuple(float(v) for v in values),
                )
            )
    return findings


def alliance_drops(points: list[SessionPoint], *, threshold: int) -> list[Finding]:
    findings = []
    for partner in PARTNERS:
        rated = [p for p in points if partner in p.alliance]
        for before, after in pairwise(rated):
            fall = before.alliance[partner] - after.alliance[partner]
            if fall >= threshold:
                findings.append(
                    Finding(
                        kind=SignalKind.ALLIANCE_DROP,
                        session_id=after.session_id,
                        ordinal=after.ordinal,
                        partner=partner,
                        detail=f"Partner {partner}'s alliance fell from "
                        f"{before.alliance[partner]} to {after.alliance[partner]}.",
                        values=(before.alliance[partner], after.alliance[partner]),
                    )
                )
    return sorted(findings, key=lambda f: (f.ordinal, f.partner))


def report_mismatches(points: list[SessionPoint]) -> list[Finding]:
    findings = []
    for point in points:
        for partner in PARTNERS:
            detail = mismatch(point, partner)
            if not detail:
                continue
            findings.append(
                Finding(
                    kind=SignalKind.REPORT_MISMATCH,
                    session_id=point.session_id,
                    ordinal=point.ordinal,
                    partner=partner,
                    detail=detail,
                )
            )
    return findings


def mismatch(point: SessionPoint, partner: str) -> str:
    """How partner A's or B's post-session report disagrees with what the therapist saw at
    the session (their log and their own report), or "" when it doesn't."""
    said = point.tension.get(f"partner_{partner.lower()}")
    therapist_said = point.tension.get("therapist")
    if said is True and not (point.rupture_count or point.repair_count or therapist_said):
        if therapist_said is False:
            return f"Partner {partner} reported tension; the therapist reported none."
        return f"Partner {partner} reported tension; no rupture was logged or repaired."
    if said is False and point.rupture_count:
        return f"A rupture was logged; partner {partner} reported no tension."
    if said is False and therapist_said and not point.repair_count:
        # (Tension the therapist felt while repairing an earlier rupture is the repair's.)
        return f"The therapist reported tension; partner {partner} reported none."
    return ""


@dataclass
class CoupleSignals:
    points: list[SessionPoint]
    split_widening: list[Finding]
    alliance_drops: list[Finding]
    mismatches: list[Finding]
    satisfaction: list[Satisfaction]

    @property
    def latest_gap(self) -> int | None:
        gaps = split_gaps(self.points)
        return gaps[-1][1] if gaps else None

    @property
    def distressed(self) -> list[Satisfaction]:
        return [s for s in self.satisfaction if s.below_cutoff]

    @property
    def by_measure(self) -> dict[str, list[Satisfaction]]:
        grouped: dict[str, list[Satisfaction]] = defaultdict(list)
        for series in self.satisfaction:
            grouped[series.code].append(series)
        return dict(grouped)

    @property
    def findings(self) -> list[Finding]:
        return sorted(
            [*self.split_widening, *self.alliance_drops, *self.mismatches],
            key=lambda f: (f.ordinal, f.kind, f.partner),
        )


def derive(
    points: list[SessionPoint], satisfaction: list[Satisfaction], thresholds: SignalThresholds
) -> CoupleSignals:
    return CoupleSignals(
        points=points,
        split_widening=split_widening(
            points,
            window=thresholds.split_window_sessions,
            min_increase=thresholds.split_min_increase,
        ),
        alliance_drops=alliance_drops(points, threshold=thresholds.alliance_drop_points),
        mismatches=report_mismatches(points),
        satisfaction=satisfaction,
    )


# pk, couple id, ordinal, attendance, ruptures logged, earlier ruptures repaired there
SessionRow = tuple[int, int, int, str, int, int]


def build_points(
    session_rows: Iterable[SessionRow],
    ratings: Iterable[tuple[int, str, int, int, int, int]],
    reports: Iterable[tuple[int, str, bool]],
) -> dict[int, list[SessionPoint]]:
    """Assemble each couple's series from rows already read (sessions in order)."""
    by_session: dict[int, SessionPoint] = {}
    series: dict[int, list[SessionPoint]] = defaultdict(list)
    for pk, couple_id, ordinal, attendance, ruptures, repairs in session_rows:
        point = SessionPoint(
            session_id=pk,
            ordinal=ordinal,
            took_place=attendance in ("attended", "ended_early"),
            rupture_count=ruptures,
            repair_count=repairs,
        )
        by_session[pk] = point
        series[couple_id].append(point)
    for session_id, partner, bond, goals, tasks, fit in ratings:
        if session_id in by_session:
            by_session[session_id].alliance[partner] = bond + goals + tasks + fit
    for session_id, respondent, tension in reports:
        if session_id in by_session:
            by_session[session_id].tension[respondent] = tension
    return series


def rating_rows(session_ids: Iterable[int]) -> Iterable[tuple[int, str, int, int, int, int]]:
    from sessions.models import AllianceRating

    return AllianceRating.objects.filter(session_id__in=list(session_ids)).values_list(
        "session_id", "partner", "bond", "goals", "tasks", "fit"
    )


def report_rows(session_ids: Iterable[int]) -> Iterable[tuple[int, str, bool]]:
    from sessions.models import PostSessionReport

    return PostSessionReport.objects.filter(session_id__in=list(session_ids)).values_list(
        "session_id", "respondent", "tension"
    )


def load_points(couple_ids: Iterable[int]) -> dict[int, list[SessionPoint]]:
    """Each couple's current sessions in order, with alliance totals, reports and rupture
    counts: three queries whatever the number of couples or sessions."""
    from sessions.models import TherapySession

    ids = list(couple_ids)
    sessions = list(
        TherapySession.objects.current()
        .filter(couple_id__in=ids)
        .annotate(
            current_ruptures=Count(
                "ruptures", filter=Q(ruptures__withdrawn_at__isnull=True), distinct=True
            ),
            current_repairs=Count(
                "repairs", filter=Q(repairs__withdrawn_at__isnull=True), distinct=True
            ),
        )
        .order_by("couple_id", "ordinal")
        .values_list(
            "pk", "couple_id", "ordinal", "attendance", "current_ruptures", "current_repairs"
        )
    )
    session_ids = [row[0] for row in sessions]
    series = build_points(sessions, rating_rows(session_ids), report_rows(session_ids))
    return {couple_id: series.get(couple_id, []) for couple_id in ids}


def load_satisfaction(
    couple_ids: Iterable[int], before: datetime.datetime | None = None
) -> dict[int, list[Satisfaction]]:
    """Every questionnaire series per couple and partner (up to `before`): two queries, the
    responses as plain rows (a nightly chunk reads thousands) and their measures once."""
    from sessions.models import MeasureDefinition, MeasureResponse

    responses = MeasureResponse.objects.filter(
        session__couple_id__in=list(couple_ids), session__withdrawn_at__isnull=True
    )
    if before is not None:
        responses = responses.filter(session__starts_at__lt=before)
    rows = list(
        responses.order_by(
            "session__couple_id", "definition__code", "partner", "session__starts_at"
        ).values_list(
            "session__couple_id",
            "definition_id",
            "partner",
            "session_id",
            "session__ordinal",
            "total",
        )
    )
    definitions = {
        d.pk: d for d in MeasureDefinition.objects.filter(pk__in={row[1] for row in rows})
    }
    found: dict[int, dict[tuple[int, str], Satisfaction]] = defaultdict(dict)
    for couple_id, definition_id, partner, session_id, ordinal, total in rows:
        series = found[couple_id].get((definition_id, partner))
        if series is None:
            series = new_series(definitions[definition_id], partner)
            found[couple_id][(definition_id, partner)] = series
        series.scores.append(Score(session_id, ordinal, Decimal(total)))
    return {couple_id: list(by_key.values()) for couple_id, by_key in found.items()}


def new_series(definition: MeasureDefinition, partner: str) -> Satisfaction:
    return Satisfaction(
        code=definition.code,
        name=definition.name,
        partner=partner,
        scores=[],
        cutoff=definition.cutoff,
        reliable_change=definition.reliable_change,
        lower_is_worse=definition.lower_is_worse,
        maximum=definition.total_range[1],
    )


def signals_for(couple_id: int, thresholds: SignalThresholds) -> CoupleSignals:
    points = load_points([couple_id])[couple_id]
    satisfaction = load_satisfaction([couple_id]).get(couple_id, [])
    return derive(points, satisfaction, thresholds)
