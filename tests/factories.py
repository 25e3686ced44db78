"""Factories for tests: plain functions, invented data only, and one small named world.

`World.build()` makes the people every access test needs (an owner, a colleague, the owner's
supervisor, another supervisor, a consultation-group member, a practice admin and a therapist
of another practice) and one couple of the owner with a full record.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from cycles.models import Couple, CycleMap, CyclePosition, EmotionKind, EmotionTerm, StepKind
from cycles.services import PartnerDetails, StepDraft, couple_create, cycle_map_save
from people.models import ConsultationGroup, GroupMembership, Practice, Supervision, User
from ruptures.codes import ConfrontationMarker, RuptureType, Toward, WhoMoved, WithdrawalMarker
from ruptures.models import Rupture, RuptureSummary
from ruptures.services import rupture_record
from sessions.models import TherapySession
from sessions.services import session_log

PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)


def make_practice(name: str | None = None) -> Practice:
    return Practice.objects.create(name=name or f"Practice {next(_counter)}")


def make_user(
    practice: Practice | None,
    name: str | None = None,
    *,
    therapist: bool = False,
    supervisor: bool = False,
    practice_admin: bool = False,
    **extra: Any,
) -> User:
    n = next(_counter)
    username = (name or f"person{n}").lower().replace(" ", ".") + f".{n}"
    return User.objects.create_user(
        username=username,
        password=PASSWORD,
        email=f"{username}@example.invalid",
        display_name=name or f"Person {n}",
        practice=practice,
        is_therapist=therapist,
        is_supervisor=supervisor,
        is_practice_admin=practice_admin,
        **extra,
    )


# Couples' treatment starts this long ago unless a test says otherwise: sessions can't be
# logged before it (sessions.forms.SessionForm).
STARTED_DAYS_AGO = 400


def make_couple(therapist: User, **fields: Any) -> Couple:
    n = next(_counter)
    fields.setdefault(
        "started_on", timezone.localdate() - datetime.timedelta(days=STARTED_DAYS_AGO)
    )
    partner_a = fields.pop("partner_a", PartnerDetails(f"Avery {n}", CyclePosition.PURSUER))
    partner_b = fields.pop("partner_b", PartnerDetails(f"Blake {n}", CyclePosition.WITHDRAWER))
    return couple_create(therapist=therapist, partner_a=partner_a, partner_b=partner_b, **fields)


def make_session(
    couple: Couple, days_ago: int = 7, *, private_note: str = "", **fields: Any
) -> TherapySession:
    starts_at = fields.pop("starts_at", timezone.now() - datetime.timedelta(days=days_ago))
    return session_log(
        couple=couple,
        therapist=couple.therapist,
        starts_at=starts_at,
        private_note=private_note,
        **fields,
    )


def make_rupture(session: TherapySession, *, reflection: str = "", **fields: Any) -> Rupture:
    kind = fields.pop("rupture_type", RuptureType.WITHDRAWAL)
    defaults: dict[str, Any] = {
        "rupture_type": kind,
        "who_moved": WhoMoved.PARTNER_A,
        "toward": Toward.THERAPIST,
        "significance": 3,
    }
    if kind == RuptureType.WITHDRAWAL:
        defaults["withdrawal_markers"] = WithdrawalMarker.MINIMAL_RESPONSE
    else:
        defaults["confrontation_markers"] = ConfrontationMarker.REJECTS_INTERVENTION
    defaults.update(fields)
    return rupture_record(
        session=session, recorded_by=session.couple.therapist, reflection=reflection, **defaults
    )


def make_emotion(
    name: str, kind: str = EmotionKind.PRIMARY, practice: Practice | None = None
) -> EmotionTerm:
    term, _ = EmotionTerm.objects.get_or_create(
        practice=practice, name=name, defaults={"kind": kind}
    )
    return term


def make_cycle_map(couple: Couple, author: User | None = None) -> CycleMap:
    fear = make_emotion("fear", EmotionKind.PRIMARY)
    anger = make_emotion("anger", EmotionKind.SECONDARY)
    chain_a = [
        StepDraft(StepKind.TRIGGER, "partner goes quiet"),
        StepDraft(StepKind.SECONDARY_EMOTION, emotion=anger),
        StepDraft(StepKind.PRIMARY_EMOTION, emotion=fear),
        StepDraft(StepKind.ATTACHMENT_NEED, "to matter"),
        StepDraft(StepKind.ACTION, "criticises", move="pursuing"),
    ]
    chain_b = [
        StepDraft(StepKind.TRIGGER, "criticism"),
        StepDraft(StepKind.PRIMARY_EMOTION, emotion=fear),
        StepDraft(StepKind.ACTION, "goes quiet", move="withdrawing"),
    ]
    return cycle_map_save(
        couple=couple,
        author=author or couple.therapist,
        base_revision=couple.cycle_maps.count(),
        chains={"A": chain_a, "B": chain_b},
    )


@dataclass
class World:
    """The named people of access tests, and one fully recorded couple of the owner."""

    practice: Practice
    owner: User
    colleague: User
    supervisor: User
    other_supervisor: User
    group_member: User
    practice_admin: User
    outsider: User
    group: ConsultationGroup
    couple: Couple
    session: TherapySession
    rupture: Rupture
    cycle_map: CycleMap
    summary: RuptureSummary

    @classmethod
    def build(cls) -> World:
        practice = make_practice("Harbour Couples Practice")
        owner = make_user(practice, "Owner Therapist", therapist=True)
        colleague = make_user(practice, "Colleague Therapist", therapist=True)
        supervisor = make_user(practice, "Owner's Supervisor", supervisor=True)
        other_supervisor = make_user(practice, "Other Supervisor", supervisor=True)
        group_member = make_user(practice, "Group Member", therapist=True)
        practice_admin = make_user(practice, "Practice Admin", practice_admin=True, is_staff=True)
        outsider_practice = make_practice("Elsewhere Practice")
        outsider = make_user(outsider_practice, "Outside Therapist", therapist=True)
        Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=owner)
        Supervision.objects.create(
            practice=practice, supervisor=other_supervisor, therapist=colleague
        )
        group = ConsultationGroup.objects.create(practice=practice, name="Thursday consultation")
        for member in (owner, group_member):
            GroupMembership.objects.create(group=group, user=member)
        couple = make_couple(owner)
        session = make_session(couple, days_ago=10, private_note="Private process note.")
        rupture = make_rupture(session, reflection="My private reflection.")
        cycle_map = make_cycle_map(couple)
        summary = RuptureSummary.objects.create(
            couple=couple,
            period="treatment",
            # Dated the couple's start: a summary dated after a nightly run's day is a later look,
            # whose flags that run leaves alone (flags.runs.evaluate).
            on_date=couple.started_on,
            data={"ruptures": 1},
        )
        return cls(
            practice=practice,
            owner=owner,
            colleague=colleague,
            supervisor=supervisor,
            other_supervisor=other_supervisor,
            group_member=group_member,
            practice_admin=practice_admin,
            outsider=outsider,
            group=group,
            couple=couple,
            session=session,
            rupture=rupture,
            cycle_map=cycle_map,
            summary=summary,
        )


def version_of(record: Any, prefix: str = "") -> dict[str, str]:
    """The `version` field an edit form for `record` carries when opened now
    (core/concurrency.py): posted with the form's other fields, as a browser does."""
    version = type(record)._default_manager.values_list("version", flat=True).get(pk=record.pk)
    return {f"{prefix}-version" if prefix else "version": str(version)}


def measures_stamp_of(session: TherapySession) -> dict[str, str]:
    """The stamp the measures page carries when opened now (sessions.services.measures_stamp)."""
    from sessions.services import measures_stamp

    return {"measures_stamp": measures_stamp(session)}
