"""The demo's per-partner measures: session alliance, post-session reports, CSI-4.

Written after every couple's sessions and ruptures exist, with `bulk_create`, and drawn from
one `random.Random` per couple (not the builder's), so the rest of the demo is the same as
without them. What the data shows (signal definitions in flags/measure_signals.py):

- Alliance: each partner present rates most sessions that took place; items of 5–10, rising
  slowly over the work, dipping in a session with a rupture (most for who moved), some entered
  on the partner screen. A couple's series is drawn again until the only signals it fires are
  the intended ones: alliance drops only in sessions with a rupture, split widening only where
  scripted below.
- The seed case: the partners' gap widens over the three sessions before the walk-out, the
  pursuing partner's alliance falls sharply at it, and both recover after the repair.
- The "split" couple: the gap widens over the latest three sessions, with no rupture logged.
- The dropout: partner A's alliance sags, then falls at the unrepaired confrontation.
- Reports from both partners and the therapist: always in a session with a rupture (tension
  from all), in most others (no tension), except the scripted mismatches: "unlogged" couples
  (and the seed case the week before the walk-out) have a partner reporting tension where no
  rupture was logged, and the "denied" couple a mover reporting none where one was.
- CSI-4 from each partner at session 1 and every 4 sessions (the next conjoint session when
  that one wasn't), and at the end of a finished or abandoned treatment: most couples start
  distressed and improve; the "distressed" couple stays below the cut-off; the dropout worsens.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from demo.data import COMPLETED, DROPPED_OUT, BuiltCouple, DemoSummary
from demo.scripts import REPAIR, WALK_OUT
from flags.measure_signals import SessionPoint, alliance_drops, split_widening
from people.models import SignalThresholds
from ruptures.models import Rupture
from sessions.measure_forms import absence_reason
from sessions.models import (
    AllianceRating,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    Respondent,
)
from sessions.models.measures import EnteredBy

if TYPE_CHECKING:
    from sessions.models import TherapySession

MEASURES_SEED = 4026
CSI4 = "csi4"
CSI4_ITEMS = (("happiness", 6), ("warm", 5), ("rewarding", 5), ("satisfied", 5))
CSI4_EVERY = 4
RATED_SHARE = 0.9  # of a present partner's sessions, alliance rated
REPORTED_SHARE = 0.7  # of the sessions without a rupture, reports given
NOISE = (-2, -1, -1, 0, 0, 0, 0, 1, 1, 2)  # session-to-session wobble of an alliance total
MOST_DRAWS = 200
PARTNERS = ("A", "B")
RESPONDENT = {"A": Respondent.PARTNER_A, "B": Respondent.PARTNER_B}
MOVED = {"A": "partner_a", "B": "partner_b"}

# The seed case's alliance totals (of 40), partner A then B: the three sessions both rated
# before the walk-out (A feels the therapist siding with B, B feels understood), the walk-out
# (item by item: bond, goals, tasks, fit; the task was what A rejected), then the repair and
# the two sessions after it.
SEED_BEFORE = ((30, 29), (28, 31), (25, 31))
SEED_WALK_OUT = {"A": (4, 5, 2, 5), "B": (7, 8, 7, 7)}
SEED_AFTER = ((26, 30), (29, 31), (31, 32))
Answer = tuple[bool, int | None, int | None]  # tension, how upsetting, how far resolved
NO: Answer = (False, None, None)
# The seed case's reports, by ordinal: A felt the strain the week before the walk-out though
# no rupture was logged; the walk-out upset everyone; the repair session calmed.
SEED_REPORTS: dict[int, dict[str, Answer]] = {
    WALK_OUT - 1: {"partner_a": (True, 4, 2), "partner_b": NO, "therapist": NO},
    WALK_OUT: {"partner_a": (True, 5, 1), "partner_b": (True, 4, 2), "therapist": (True, 5, 1)},
    REPAIR: {"partner_a": NO, "partner_b": NO, "therapist": (True, 2, 5)},
}


@dataclass(frozen=True)
class RuptureFacts:
    who_moved: str
    status: str
    significance: int
    repaired_later: bool


@dataclass
class SessionFacts:
    index: int
    session: TherapySession
    present: tuple[str, ...]  # the partners in the room, none when it didn't take place
    ruptures: list[RuptureFacts] = field(default_factory=list)

    @property
    def ordinal(self) -> int:
        return self.session.ordinal

    @property
    def both(self) -> bool:
        return self.present == PARTNERS


@dataclass
class MeasureRows:
    alliance: list[AllianceRating] = field(default_factory=list)
    reports: list[PostSessionReport] = field(default_factory=list)
    responses: list[MeasureResponse] = field(default_factory=list)


def missing_measures() -> list[str]:
    """Measure definitions the demo answers that the database lacks (sessions migration 0003)."""
    found = MeasureDefinition.objects.filter(practice__isnull=True, code=CSI4).exists()
    return [] if found else [CSI4]


def add_measures(built: list[BuiltCouple], summary: DemoSummary) -> None:
    """Draw every couple's measures, then write them in three inserts."""
    if not built:
        return
    csi4 = MeasureDefinition.objects.get(practice__isnull=True, code=CSI4)
    thresholds = SignalThresholds.for_practice(built[0].couple.practice_id)
    ruptures: dict[int, list[RuptureFacts]] = {}
    found = Rupture.objects.filter(couple__in=[b.couple for b in built]).order_by("pk")
    for session_id, who_moved, status, significance, repaired_in in found.values_list(
        "session_id", "who_moved", "status", "significance", "repaired_in"
    ):
        ruptures.setdefault(session_id, []).append(
            RuptureFacts(who_moved, status, significance, repaired_in is not None)
        )
    rows = MeasureRows()
    for number, one in enumerate(built):
        rng = random.Random(MEASURES_SEED + number)  # noqa: S311 -- invented data
        CoupleMeasures(one, ruptures, thresholds, csi4, rng).draw(rows)
    AllianceRating.objects.bulk_create(rows.alliance)
    PostSessionReport.objects.bulk_create(rows.reports)
    MeasureResponse.objects.bulk_create(rows.responses)
    summary.alliance_ratings += len(rows.alliance)
    summary.reports += len(rows.reports)
    summary.questionnaires += len(rows.responses)


Totals = dict[int, dict[str, int]]  # session index -> partner -> alliance total (0–40)


class CoupleMeasures:
    """One couple's measures: drawn, checked against the signals they should fire, stored."""

    def __init__(
        self,
        built: BuiltCouple,
        ruptures: dict[int, list[RuptureFacts]],
        thresholds: SignalThresholds,
        csi4: MeasureDefinition,
        rng: random.Random,
    ) -> None:
        self.spec, self.csi4, self.rng, self.thresholds = built.spec, csi4, rng, thresholds
        self.therapist_id = built.couple.therapist_id
        self.facts = [
            SessionFacts(index, session, _present(session), ruptures.get(session.pk, []))
            for index, session in enumerate(built.sessions)
        ]
        self.held = [facts for facts in self.facts if facts.present]
        self.dropout = self.spec.status == DROPPED_OUT
        self.partner_screen_share = rng.choice((0.0, 0.3, 0.6, 0.9))
        self.entries: dict[tuple[int, str], str] = {}
        # Sessions whose alliance a script sets, and the signals the series must (may) fire.
        self.forced: set[int] = set()
        self.required_widening: set[int] = set()
        self.allowed_widening: set[int] = set()
        self.required_drops: set[tuple[int, str]] = set()
        self.split_window: list[SessionFacts] = []
        self.seed_sessions: tuple[list[SessionFacts], SessionFacts, list[SessionFacts]] | None
        self.seed_sessions = None
        if self.spec.seed_case:
            self._expect_seed_case()
        if "split" in self.spec.flags:
            self._expect_split()
        if self.dropout:
            self.allowed_widening |= {facts.ordinal for facts in self.held[-2:]}

    def draw(self, rows: MeasureRows) -> None:
        self._alliance(rows)
        self._reports(rows)
        self._questionnaires(rows)

    # Alliance

    def _expect_seed_case(self) -> None:
        before = [f for f in self.facts[: WALK_OUT - 1] if f.both][-len(SEED_BEFORE) :]
        after = [f for f in self.facts[REPAIR - 1 :] if f.both][: len(SEED_AFTER)]
        self.seed_sessions = (before, self.facts[WALK_OUT - 1], after)
        self.forced |= {f.index for f in (*before, self.facts[WALK_OUT - 1], *after)}
        self.required_widening.add(before[-1].ordinal)
        self.allowed_widening |= {before[-1].ordinal, WALK_OUT}
        self.required_drops.add((WALK_OUT, "A"))

    def _expect_split(self) -> None:
        """The latest three sessions in a row both partners attended, with no rupture in them."""
        both = [f for f in self.facts if f.both]
        window = self.thresholds.split_window_sessions
        for end in range(len(both), window - 1, -1):
            run = both[end - window : end]
            if not any(f.ruptures for f in run):
                self.split_window = run
                break
        else:
            raise RuntimeError("demo: the split couple has no run of sessions without a rupture")
        self.forced |= {f.index for f in self.split_window}
        self.required_widening.add(self.split_window[-1].ordinal)
        self.allowed_widening |= {f.ordinal for f in self.split_window}

    def _alliance(self, rows: MeasureRows) -> None:
        for _ in range(MOST_DRAWS):
            totals = self._draw_totals()
            self._apply_scripts(totals)
            if self._fires_as_intended(totals):
                break
        else:
            raise RuntimeError(f"demo: no alliance series fits the plan for {self.spec}")
        for facts in self.facts:
            for partner, total in totals.get(facts.index, {}).items():
                entered_by = self._entered_by(facts, partner)
                bond, goals, tasks, fit = self._items(facts, partner, total)
                rows.alliance.append(
                    AllianceRating(
                        session=facts.session,
                        partner=partner,
                        bond=bond,
                        goals=goals,
                        tasks=tasks,
                        fit=fit,
                        entered_by=entered_by,
                        recorded_at=_recorded_at(facts.session, entered_by),
                    )
                )

    def _draw_totals(self) -> Totals:
        """A slow rise (a sag for the dropout's partner A), a wobble, and dips at ruptures."""
        rng, totals = self.rng, Totals()
        for partner in PARTNERS:
            start = rng.randint(25, 31)
            sags = self.dropout and partner == "A"
            end = start - 4 if sags else min(start + rng.randint(2, 6), 37)
            for k, facts in enumerate(self.held):
                if partner not in facts.present:
                    continue
                if facts.index not in self.forced and rng.random() > RATED_SHARE:
                    continue
                level = start + (end - start) * k / max(len(self.held) - 1, 1)
                total = round(level) + rng.choice(NOISE) - self._dip(facts, partner)
                if sags and facts is self.held[-1]:  # the confrontation, then absence
                    total -= rng.randint(4, 5)
                totals.setdefault(facts.index, {})[partner] = max(18, min(40, total))
        return totals

    def _dip(self, facts: SessionFacts, partner: str) -> int:
        fall = 0
        for rupture in facts.ruptures:
            if rupture.who_moved in (MOVED[partner], "both"):
                fall += self.rng.randint(2, 4)
            elif rupture.who_moved == "therapist":
                fall += self.rng.randint(1, 3)
            else:
                fall += self.rng.randint(0, 1)
        return fall

    def _apply_scripts(self, totals: Totals) -> None:
        if self.seed_sessions is not None:
            before, walk_out, after = self.seed_sessions
            for facts, (a, b) in zip(before, SEED_BEFORE, strict=True):
                totals[facts.index] = {"A": a, "B": b}
            totals[walk_out.index] = {p: sum(items) for p, items in SEED_WALK_OUT.items()}
            for facts, (a, b) in zip(after, SEED_AFTER, strict=True):
                totals[facts.index] = {"A": a, "B": b}
        if self.split_window:
            # Partner A holds steady; partner B drifts away three points a session, no rupture.
            level = max(26, min(totals[self.split_window[0].index]["A"], 36))
            for step, facts in enumerate(self.split_window):
                totals[facts.index] = {"A": level + min(step, 1), "B": level - 1 - 3 * step}

    def _fires_as_intended(self, totals: Totals) -> bool:
        points = [
            SessionPoint(
                session_id=facts.session.pk,
                ordinal=facts.ordinal,
                took_place=bool(facts.present),
                rupture_count=len(facts.ruptures),
                alliance=dict(totals.get(facts.index, {})),
            )
            for facts in self.facts
        ]
        widening = split_widening(
            points,
            window=self.thresholds.split_window_sessions,
            min_increase=self.thresholds.split_min_increase,
        )
        widened = {finding.ordinal for finding in widening}
        drops = alliance_drops(points, threshold=self.thresholds.alliance_drop_points)
        dropped = {(finding.ordinal, finding.partner) for finding in drops}
        at_ruptures = {facts.ordinal for facts in self.facts if facts.ruptures}
        return (
            self.required_widening <= widened <= self.allowed_widening
            and self.required_drops <= dropped
            and all(ordinal in at_ruptures for ordinal, _ in dropped)
        )

    def _items(self, facts: SessionFacts, partner: str, total: int) -> tuple[int, int, int, int]:
        if self.spec.seed_case and facts.ordinal == WALK_OUT:
            return SEED_WALK_OUT[partner]
        base, extra = divmod(total, 4)
        items = [base] * 4
        for i in self.rng.sample(range(4), extra):
            items[i] += 1
        source, target = self.rng.sample(range(4), 2)
        if self.rng.random() < 0.6 and items[source] > 5 and items[target] < 10:
            items[source], items[target] = items[source] - 1, items[target] + 1
        bond, goals, tasks, fit = items
        return bond, goals, tasks, fit

    def _entered_by(self, facts: SessionFacts, partner: str) -> str:
        """The partner screen or the therapist, the same for all of one partner's answers."""
        key = (facts.index, partner)
        if key not in self.entries:
            on_screen = self.rng.random() < self.partner_screen_share
            if self.spec.seed_case and facts.ordinal == WALK_OUT:
                on_screen = False  # A left; the therapist entered what she sent afterwards
            self.entries[key] = EnteredBy.PARTNER if on_screen else EnteredBy.THERAPIST
        return self.entries[key]

    # Post-session reports

    def _reports(self, rows: MeasureRows) -> None:
        unlogged = self._pick_unlogged()
        denied = self._pick_denied()
        for facts in self.held:
            scripted = SEED_REPORTS.get(facts.ordinal) if self.spec.seed_case else None
            must = scripted is not None or bool(facts.ruptures) or facts.index == unlogged[0]
            if not must and self.rng.random() > REPORTED_SHARE:
                continue
            for partner in (*facts.present, ""):
                respondent = RESPONDENT[partner] if partner else Respondent.THERAPIST
                if scripted is not None:
                    tension, upsetting, resolved = scripted[respondent]
                elif (facts.index, respondent) in (unlogged, denied):
                    tension, upsetting, resolved = self._unexpected(facts)
                else:
                    tension, upsetting, resolved = self._answer(facts, partner)
                entered_by = self._entered_by(facts, partner) if partner else EnteredBy.THERAPIST
                rows.reports.append(
                    PostSessionReport(
                        session=facts.session,
                        respondent=respondent,
                        tension=tension,
                        upsetting=upsetting,
                        resolved=resolved,
                        entered_by=entered_by,
                        recorded_at=_recorded_at(facts.session, entered_by),
                    )
                )

    def _pick_unlogged(self) -> tuple[int, str]:
        """A later session with no rupture logged where one partner felt tension."""
        if "unlogged" not in self.spec.flags:
            return (-1, "")
        later = [f for f in self.held[len(self.held) // 2 :] if f.both and not f.ruptures]
        return (self.rng.choice(later).index, RESPONDENT[self.rng.choice(PARTNERS)])

    def _pick_denied(self) -> tuple[int, str]:
        """The first rupture a partner moved in, which that partner then reports as none."""
        if "denied" not in self.spec.flags:
            return (-1, "")
        for facts in self.held:
            for partner in PARTNERS:
                if any(r.who_moved == MOVED[partner] for r in facts.ruptures):
                    return (facts.index, RESPONDENT[partner])
        return (-1, "")

    def _unexpected(self, facts: SessionFacts) -> Answer:
        """Tension where none was logged; none where a rupture was."""
        if facts.ruptures:
            return NO
        return (True, self.rng.randint(2, 3), self.rng.randint(2, 4))

    def _answer(self, facts: SessionFacts, partner: str) -> Answer:
        """Tension exactly when a rupture was logged: as upsetting as it was significant (less
        for a partner who didn't move), resolved by the end as far as it was in the session."""
        if not facts.ruptures:
            return NO
        rupture = max(facts.ruptures, key=lambda r: r.significance)
        involved = not partner or rupture.who_moved in (MOVED[partner], "both", "therapist")
        upsetting = rupture.significance - (0 if involved else 1) + self.rng.choice((-1, 0, 0, 1))
        if rupture.repaired_later or rupture.status == "unresolved":
            resolved = self.rng.randint(1, 2)
        elif rupture.status == "partly_resolved":
            resolved = self.rng.randint(2, 3)
        else:
            resolved = self.rng.randint(3, 5)
        return (True, max(1, min(5, upsetting)), resolved)

    # CSI-4

    def _questionnaires(self, rows: MeasureRows) -> None:
        """At session 1 and every 4 sessions (or the next conjoint one), and at the end."""
        chosen: list[SessionFacts] = []
        for first in range(0, len(self.facts), CSI4_EVERY):
            found = next((f for f in self.facts[first : first + CSI4_EVERY] if f.both), None)
            if found is not None:
                chosen.append(found)
        last = [f for f in self.facts if f.both][-1]
        if self.spec.status in (COMPLETED, DROPPED_OUT) and last not in chosen:
            chosen.append(last)
        for partner in PARTNERS:
            start, rate, ceiling = self._course(last.ordinal)
            for facts in chosen:
                wobble = self.rng.choice((-1, 0, 0, 1)) if facts.ordinal > 1 else 0
                total = max(0, min(ceiling, round(start + rate * (facts.ordinal - 1)) + wobble))
                entered_by = self._entered_by(facts, partner)
                rows.responses.append(
                    MeasureResponse(
                        definition=self.csi4,
                        session=facts.session,
                        partner=partner,
                        answers=self._answers(total),
                        total=Decimal(total),
                        entered_by=entered_by,
                        recorded_at=_recorded_at(facts.session, entered_by),
                        recorded_by_id=self.therapist_id,
                    )
                )

    def _course(self, last_ordinal: int) -> tuple[int, float, int]:
        """Intake total, change per session, and the highest total the partner reaches."""
        rng = self.rng
        if "distressed" in self.spec.flags:
            return rng.randint(8, 10), 0.15, 13
        if self.dropout:
            start = rng.randint(11, 13)
            return start, -rng.randint(6, 7) / max(last_ordinal - 1, 1), 21
        start = rng.randint(8, 13) if rng.random() < 0.85 else rng.randint(14, 16)
        return start, rng.uniform(0.4, 0.6), 20

    def _answers(self, total: int) -> dict[str, int]:
        """Items summing to the total, each in its range, near their share of the scale."""
        tops = dict(CSI4_ITEMS)
        answers = {key: round(total * top / 21) for key, top in CSI4_ITEMS}
        while (gap := total - sum(answers.values())) != 0:
            step = 1 if gap > 0 else -1
            room = [k for k, v in answers.items() if 0 <= v + step <= tops[k]]
            answers[self.rng.choice(room)] += step
        return answers


def _present(session: TherapySession) -> tuple[str, ...]:
    return tuple(partner for partner in PARTNERS if not absence_reason(session, partner))


def _recorded_at(session: TherapySession, entered_by: str) -> datetime.datetime:
    """On the partner screen just after the session, or by the therapist with the notes."""
    if entered_by == EnteredBy.PARTNER:
        return session.starts_at + datetime.timedelta(minutes=session.duration_minutes + 5)
    return session.starts_at + datetime.timedelta(hours=2, minutes=10)
