"""Ruptures drawn at random in the sessions that took place, some repaired in a later one."""

from __future__ import annotations

import datetime
import functools
import operator
import random
from typing import TYPE_CHECKING, Any

from core.fields import LabelledFlag
from demo.data import (
    CONFRONTATION_REPAIRS,
    REFLECTIONS,
    RUPTURE_NOTES,
    WITHDRAWAL_REPAIRS,
    CoupleSpec,
    P,
    SessionPlan,
    V,
    W,
)
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
from ruptures.services import rupture_record, rupture_repair
from sessions.models import SessionFormat

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ruptures.models import Rupture
    from sessions.models import TherapySession


def record_ruptures(
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
