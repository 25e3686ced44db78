"""Supervisor flags: what should be open for a couple as of a date, and reconciling that with
what is stored. Exact definitions (thresholds from people.SignalThresholds; docs/signals.md):

1. unresolved_rupture: a rupture still unresolved after its session and after at least
   `unresolved_after_sessions` later sessions held. One flag per rupture.
2. confrontation_then_absence: a confrontation rupture, not yet resolved, whose session ended
   early (a walk-out) or whose next session was a no-show, a cancellation or ended early.
3. recurring_rupture: the same marker on ruptures in at least `recurring_marker_sessions`
   different sessions within the twelve weeks ending on the date. One flag per marker.
4. high_therapist_contribution: a rupture, not yet resolved, with the therapist's contribution
   rated at least `high_contribution`. One flag per rupture.
5. split_alliance_widening: the split-widening signal holds at the latest session both
   partners rated (flags.measure_signals).
6. alliance_drop: a partner's latest total is still at least `alliance_drop_points` below
   where it stood before their most recent drop. One flag per partner.
7. report_mismatch: a report-mismatch signal at a session within the last four weeks.
8. gone_quiet: an active or paused couple whose latest rupture's session was at least
   `gone_quiet_days` ago with no session held since.
9. stuck_in_stage_one: an active couple still in EFT stage 1 after at least
   `stuck_stage_one_sessions` sessions held, with no de-escalation recorded as a change
   event on any of its sessions (a couple seen to de-escalate is not stuck; its stage is
   due an update).
10. safety_concern: a partner's safety screen was positive (the definition's rule, as it read
   the answers then) and since then neither a negative screen taken in person (entered by the
   therapist, or by the partner on the hand-over screen) nor a clinician's review of the
   concern (sessions.SafetyReview) has been recorded. A negative screen from a remote link
   does not close it: the partner may not be alone where they answered. One flag per partner;
   for the therapist and supervisor only (ruptures.models.PRIVATE_FLAG_KINDS).

A flag no longer wanted is closed on the date (never deleted); wanted again later, a new one
opens, so acknowledgements of the old one don't hide it.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cycles.models import CLOSED_STATUSES
from flags.incidents import sessions_text
from flags.measure_signals import CoupleSignals
from flags.snapshot import CoupleData, RuptureRow, SafetyRow
from flags.summaries import marker_names
from ruptures.codes import ConfrontationMarker, RuptureStatus, RuptureType, WithdrawalMarker
from ruptures.models import Flag, FlagKind
from sessions.safety import GUIDANCE

if TYPE_CHECKING:
    from people.models import SignalThresholds

# The date and the 83 days before it: twelve weeks, as the four weeks are the date and 27.
RECURRING_WINDOW = datetime.timedelta(days=83)
MISMATCH_WINDOW = datetime.timedelta(days=27)
ABSENCE = {"no_show": "a no-show", "cancelled": "a cancellation", "ended_early": "a walk-out"}


@dataclass(frozen=True)
class FlagSpec:
    kind: str
    key: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _type_name(rupture: RuptureRow) -> str:
    return "Withdrawal" if rupture.rupture_type == RuptureType.WITHDRAWAL else "Confrontation"


def _count(number: int, noun: str) -> str:
    """ "1 session", "3 sessions"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def unresolved_text(type_name: str, ordinal: int, later: int) -> str:
    """What an unresolved rupture's flag says, true whatever the count of later sessions."""
    if later == 0:
        return f"{type_name} rupture in session {ordinal}: not yet repaired; no session held since."
    return (
        f"{type_name} rupture in session {ordinal}: still unresolved after "
        f"{_count(later, 'later session')} held."
    )


def confrontation_then_absence_text(seen: int, absence: str, absent_in: int) -> str:
    """The confrontation and what followed; one sentence when both were in one session."""
    if absent_in == seen:
        return f"A confrontation rupture and {absence} in session {seen}."
    return f"Confrontation rupture in session {seen}, then {absence} in session {absent_in}."


def _evidence(
    couple: CoupleData, ruptures: list[RuptureRow], sessions: list[int] | None = None
) -> dict[str, Any]:
    ordinals = sessions or sorted({couple.session_by_id[r.session_id].ordinal for r in ruptures})
    return {"ruptures": sorted(r.pk for r in ruptures), "sessions": ordinals}


def unresolved(couple: CoupleData, after_sessions: int) -> list[FlagSpec]:
    specs = []
    for rupture in couple.ruptures:
        if rupture.status != RuptureStatus.UNRESOLVED:
            continue
        ordinal = couple.session_by_id[rupture.session_id].ordinal
        later = couple.held_after[rupture.session_id]
        if later >= after_sessions:
            specs.append(
                FlagSpec(
                    FlagKind.UNRESOLVED_RUPTURE,
                    f"rupture:{rupture.pk}",
                    unresolved_text(_type_name(rupture), ordinal, later),
                    _evidence(couple, [rupture]),
                )
            )
    return specs


def confrontation_then_absence(couple: CoupleData) -> list[FlagSpec]:
    specs = []
    for rupture in couple.ruptures:
        if (
            rupture.rupture_type != RuptureType.CONFRONTATION
            or rupture.status == RuptureStatus.RESOLVED
        ):
            continue
        seen = couple.session_by_id[rupture.session_id]
        later = [s for s in couple.sessions if s.ordinal > seen.ordinal]
        if seen.attendance == "ended_early":
            absent, sessions = seen, [seen.ordinal]
        elif later and later[0].attendance in ABSENCE:
            absent, sessions = later[0], [seen.ordinal, later[0].ordinal]
        else:
            continue
        specs.append(
            FlagSpec(
                FlagKind.CONFRONTATION_THEN_ABSENCE,
                f"rupture:{rupture.pk}",
                confrontation_then_absence_text(
                    seen.ordinal, ABSENCE[absent.attendance], absent.ordinal
                ),
                _evidence(couple, [rupture], sessions),
            )
        )
    return specs


# The 3RS wording of each marker, by its stored name (the two types' names don't overlap).
MARKER_LABELS = {
    m.name or "": m.label for kind in (WithdrawalMarker, ConfrontationMarker) for m in kind
}


def recurring(couple: CoupleData, for_date: datetime.date, sessions_needed: int) -> list[FlagSpec]:
    since = for_date - RECURRING_WINDOW
    by_marker: dict[str, list[RuptureRow]] = defaultdict(list)
    for rupture in couple.ruptures:
        if couple.session_by_id[rupture.session_id].local_date >= since:
            for name in marker_names(rupture):
                by_marker[name].append(rupture)
    specs = []
    for name, ruptures in sorted(by_marker.items()):
        sessions = sorted({couple.session_by_id[r.session_id].ordinal for r in ruptures})
        if len(sessions) >= sessions_needed:
            specs.append(
                FlagSpec(
                    FlagKind.RECURRING_RUPTURE,
                    f"marker:{name}",
                    f"Marker “{MARKER_LABELS[name]}” in {sessions_text(sessions)}.",
                    _evidence(couple, ruptures, sessions),
                )
            )
    return specs


def high_contribution(couple: CoupleData, threshold: int) -> list[FlagSpec]:
    return [
        FlagSpec(
            FlagKind.HIGH_THERAPIST_CONTRIBUTION,
            f"rupture:{r.pk}",
            f"Therapist contribution rated {r.contribution}/5 in session "
            f"{couple.session_by_id[r.session_id].ordinal}.",
            _evidence(couple, [r]),
        )
        for r in couple.ruptures
        if r.contribution is not None
        and r.contribution >= threshold
        and r.status != RuptureStatus.RESOLVED
    ]


def split_widening(couple: CoupleData, signals: CoupleSignals) -> list[FlagSpec]:
    rated = [p for p in couple.points if "A" in p.alliance and "B" in p.alliance]
    if not rated:
        return []
    latest = rated[-1]
    at_latest = [f for f in signals.split_widening if f.session_id == latest.session_id]
    if not at_latest:
        return []
    finding = at_latest[0]
    return [
        FlagSpec(
            FlagKind.SPLIT_ALLIANCE_WIDENING,
            "",
            finding.detail,
            {"sessions": [latest.ordinal], "gaps": list(finding.values)},
        )
    ]


def alliance_drop(couple: CoupleData, signals: CoupleSignals, points: int) -> list[FlagSpec]:
    specs = []
    for partner in ("A", "B"):
        drops = [f for f in signals.alliance_drops if f.partner == partner]
        rated = [p for p in couple.points if partner in p.alliance]
        if not drops or not rated:
            continue
        before = drops[-1].values[0]
        latest = rated[-1].alliance[partner]
        if latest <= before - points:
            specs.append(
                FlagSpec(
                    FlagKind.ALLIANCE_DROP,
                    f"partner:{partner}",
                    alliance_drop_text(
                        partner, before, drops[-1].ordinal, latest, rated[-1].ordinal
                    ),
                    {"sessions": [drops[-1].ordinal, rated[-1].ordinal]},
                )
            )
    return specs


def alliance_drop_text(
    partner: str, before: float, drop_in: int, latest: float, latest_in: int
) -> str:
    """Where the partner's alliance stands against where it stood before their drop."""
    if latest_in == drop_in:
        return (
            f"Partner {partner}'s alliance fell to {latest:g} in session {drop_in}, "
            f"from {before:g}."
        )
    return (
        f"Partner {partner}'s alliance is {latest:g} in session {latest_in}, still down from "
        f"{before:g} before session {drop_in}."
    )


def mismatches(
    couple: CoupleData, signals: CoupleSignals, for_date: datetime.date
) -> list[FlagSpec]:
    since = for_date - MISMATCH_WINDOW
    return [
        FlagSpec(
            FlagKind.REPORT_MISMATCH,
            f"session:{f.session_id}:{f.partner}",
            f.detail,
            {"sessions": [f.ordinal]},
        )
        for f in signals.mismatches
        if couple.session_by_id[f.session_id].local_date >= since
    ]


def gone_quiet(couple: CoupleData, for_date: datetime.date, days: int) -> list[FlagSpec]:
    if couple.status not in ("active", "paused") or not couple.ruptures:
        return []
    last = max(
        (couple.session_by_id[r.session_id] for r in couple.ruptures), key=lambda s: s.ordinal
    )
    held_since = any(s.ordinal > last.ordinal and s.took_place for s in couple.sessions)
    quiet = (for_date - last.local_date).days
    if held_since or quiet < days:
        return []
    return [
        FlagSpec(
            FlagKind.GONE_QUIET,
            "",
            f"No session held in the {_count(quiet, 'day')} since the rupture in session "
            f"{last.ordinal}.",
            {"sessions": [last.ordinal]},
        )
    ]


def stuck(couple: CoupleData, sessions_needed: int) -> list[FlagSpec]:
    held = sum(1 for s in couple.sessions if s.took_place)
    if couple.status != "active" or couple.eft_stage != 1 or held < sessions_needed:
        return []
    if any(s.de_escalated for s in couple.sessions):
        return []
    return [
        FlagSpec(
            FlagKind.STUCK_IN_STAGE_ONE,
            "",
            f"Still in stage 1 (de-escalation) after {_count(held, 'session')} held; "
            "no de-escalation recorded.",
            {"sessions": [couple.sessions[-1].ordinal]},
        )
    ]


def safety_concern_text(partner: str, screen: SafetyRow) -> str:
    where = "answered remotely" if not screen.in_person else "answered in the practice"
    if screen.session_ordinal is not None:
        where += f", session {screen.session_ordinal}"
    return f"Partner {partner}'s safety screen was positive ({where}). {GUIDANCE}"


def safety_concern(couple: CoupleData) -> list[FlagSpec]:
    specs = []
    for partner in ("A", "B"):
        concern: list[SafetyRow] = []  # the positive screens since the concern opened
        for row in couple.safety:
            if row.partner != partner:
                continue
            if row.review or (not row.positive and row.in_person):
                concern = []
            elif row.positive:
                concern.append(row)
        if concern:
            ordinals = sorted({r.session_ordinal for r in concern if r.session_ordinal})
            specs.append(
                FlagSpec(
                    FlagKind.SAFETY_CONCERN,
                    f"partner:{partner}",
                    safety_concern_text(partner, concern[-1]),
                    {"screens": [r.pk for r in concern], "sessions": ordinals},
                )
            )
    return specs


def desired(
    couple: CoupleData, signals: CoupleSignals, for_date: datetime.date, t: SignalThresholds
) -> list[FlagSpec]:
    if couple.status in CLOSED_STATUSES:
        return []  # a closed case gets no new flags, and reconcile closes its open ones
    return [
        *safety_concern(couple),
        *unresolved(couple, t.unresolved_after_sessions),
        *confrontation_then_absence(couple),
        *recurring(couple, for_date, t.recurring_marker_sessions),
        *high_contribution(couple, t.high_contribution),
        *split_widening(couple, signals),
        *alliance_drop(couple, signals, t.alliance_drop_points),
        *mismatches(couple, signals, for_date),
        *gone_quiet(couple, for_date, t.gone_quiet_days),
        *stuck(couple, t.stuck_stage_one_sessions),
    ]


def reconcile(wanted: dict[int, list[FlagSpec]], for_date: datetime.date) -> tuple[int, int]:
    """Open new flags, close those no longer true, and reword those whose detail or evidence
    changed: four queries (plus one per 200 flags reworded). A flag still true and unchanged
    is not written at all: an open flag is true as of its practice's latest finished run.

    Returns (opened, closed). Running it twice for one date changes nothing the second time.
    """
    stored = {
        (couple_id, kind, key): (pk, opened_on, detail, evidence)
        for pk, couple_id, kind, key, opened_on, detail, evidence in Flag.objects.open()
        .filter(couple_id__in=list(wanted))
        .values_list("pk", "couple_id", "kind", "key", "opened_on", "detail", "evidence")
    }
    specs = {(cid, s.kind, s.key): s for cid, found in wanted.items() for s in found}
    new = [
        Flag(
            couple_id=cid,
            kind=kind,
            key=key,
            opened_on=for_date,
            detail=spec.detail,
            evidence=spec.evidence,
        )
        for (cid, kind, key), spec in specs.items()
        if (cid, kind, key) not in stored
    ]
    changed, closed = [], []
    for identity, (pk, opened_on, detail, evidence) in stored.items():
        spec = specs.get(identity)
        if spec is None:
            if for_date >= opened_on:
                closed.append(pk)
        elif (detail, evidence) != (spec.detail, spec.evidence):
            changed.append(Flag(pk=pk, detail=spec.detail, evidence=spec.evidence))
    Flag.objects.bulk_create(new)
    # Only flags whose wording or evidence changed are rewritten: rewriting every open flag
    # each night was most of a steady night's time at scale (docs/benchmarks.md).
    Flag.objects.bulk_update(changed, ["detail", "evidence"], batch_size=200)
    Flag.objects.filter(pk__in=closed).update(closed_on=for_date)
    return len(new), len(closed)
