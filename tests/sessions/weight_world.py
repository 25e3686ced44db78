"""A long treatment, made fast: many sessions and open ruptures of one couple, bulk-created.

Used by test_page_weight.py (and the before/after measure of issue 17).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from cycles.models import Couple
from people.models import User
from ruptures.codes import RuptureStatus, RuptureType, Toward, WhoMoved
from ruptures.models import Rupture
from sessions.models import AllianceRating, TherapySession
from sessions.models.measures import EnteredBy
from tests.factories import make_couple, make_practice, make_user


@dataclass
class Treatment:
    therapist: User
    couple: Couple
    sessions: list[TherapySession]  # oldest first

    @property
    def latest(self) -> TherapySession:
        return self.sessions[-1]


def long_treatment(count: int, therapist: User | None = None) -> Treatment:
    """`count` weekly sessions of one couple, each with an alliance rating per partner, one
    open withdrawal rupture and, every third session, a confrontation resolved in the next."""
    if therapist is None:
        therapist = make_user(make_practice(), therapist=True)
    couple = make_couple(therapist)
    start = timezone.now() - datetime.timedelta(days=7 * count + 1)
    sessions = TherapySession.objects.bulk_create(
        TherapySession(
            couple=couple,
            therapist=therapist,
            starts_at=start + datetime.timedelta(days=7 * n),
            ordinal=n + 1,
            progress_note=f"Session {n + 1}: worked on the pursue-withdraw cycle.",
        )
        for n in range(count)
    )
    ruptures = []
    for n, session in enumerate(sessions):
        ruptures.append(
            Rupture(
                couple=couple,
                session=session,
                rupture_type=RuptureType.WITHDRAWAL,
                who_moved=WhoMoved.PARTNER_B,
                toward=Toward.THERAPIST,
                withdrawal_markers=1,
                significance=1 + n % 5,
                created_by=therapist,
            )
        )
        if n % 3 == 0 and n + 1 < count:
            ruptures.append(
                Rupture(
                    couple=couple,
                    session=session,
                    rupture_type=RuptureType.CONFRONTATION,
                    who_moved=WhoMoved.PARTNER_A,
                    toward=Toward.THERAPIST,
                    confrontation_markers=1,
                    significance=3,
                    status=RuptureStatus.RESOLVED,
                    repaired_in=sessions[n + 1],
                    created_by=therapist,
                )
            )
    Rupture.objects.bulk_create(ruptures)
    AllianceRating.objects.bulk_create(
        AllianceRating(
            session=session,
            partner=partner,
            bond=5 + n % 4,
            goals=6,
            tasks=5 + n % 3,
            fit=7,
            entered_by=EnteredBy.THERAPIST,
        )
        for n, session in enumerate(sessions)
        for partner in "AB"
    )
    return Treatment(therapist, couple, sessions)
