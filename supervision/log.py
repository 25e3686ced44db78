"""The supervision log: who may log and read what, the agenda a meeting is drawn up from, and
the two writes (logging a meeting, a supervisee confirming it). docs/domain.md, "Supervision
log and hours".

- A supervisor logs meetings with their own supervisees (people.Supervision) and links the
  cases of those supervisees that were discussed; they read the meetings they led.
- A supervisee reads the entries they were present at and confirms each one, once.
- The practice admin and everyone else read nothing of the log (its notes are clinical text).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from core.concurrency import create_once
from cycles.models import Couple
from flags.incidents import Incident, incidents
from people.models import User
from plans.models import PlanCosignState, PlanRevision
from ruptures.models import Flag, FlagAcknowledgement, FlagKind
from sessions.models import CosignState, TherapySession
from supervision.models import (
    MEETING_MAX_MINUTES,
    MeetingAttendance,
    MeetingQuerySet,
    SupervisionMeeting,
)

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterable

    from django.db.models import QuerySet

# The log page lists this many of the latest meetings (a year of weekly meetings and more).
LOG_SHOWN = 200


def supervisees_of(user: User) -> QuerySet[User]:
    """The supervisor's own supervisees, in name order (nobody for anyone else)."""
    if not user.is_supervisor or user.practice_id is None:
        return User.objects.none()
    return User.objects.filter(
        supervised_by__supervisor=user, practice_id=user.practice_id, is_active=True
    ).order_by("display_name", "username")


def cases_of(therapists: QuerySet[User]) -> QuerySet[Couple]:
    """The couples these therapists lead or co-lead (docs/domain.md, "Co-therapy"), by
    therapist then case code: what a meeting may link."""
    return (
        Couple.objects.filter(Q(therapist__in=therapists) | Q(co_therapist__in=therapists))
        .only("case_code", "therapist_id", "co_therapist_id", "practice_id", "status")
        .order_by("therapist_id", "case_code")
    )


@dataclass(frozen=True)
class AgendaIncident:
    """An incident on the agenda: its flags' kinds, the sessions they name, and whether the
    supervisor has acknowledged every flag of it."""

    incident: Incident
    acknowledged: bool

    @property
    def kinds_text(self) -> str:
        """ "Unresolved rupture", "Confrontation then absence and unresolved rupture"."""
        names = [str(FlagKind(flag.kind).label) for flag in self.incident.flags]
        text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return text[0] + text[1:].lower()

    @property
    def sessions_text(self) -> str:
        return self.incident.sessions_text


@dataclass
class CaseAgenda:
    """What one couple brings to supervision: its open flags as incidents (each marked
    acknowledged or not) and its session records waiting on the supervisor."""

    couple: Couple
    incidents: list[AgendaIncident] = field(default_factory=list)
    awaiting: list[int] = field(default_factory=list)  # session numbers awaiting co-signature
    changes_requested: list[int] = field(default_factory=list)
    # The treatment plan's revision awaiting co-signature, or sent back (plans.signing).
    plan_awaiting: list[int] = field(default_factory=list)
    plan_changes_requested: list[int] = field(default_factory=list)

    @property
    def has_items(self) -> bool:
        return bool(
            self.incidents
            or self.awaiting
            or self.changes_requested
            or self.plan_awaiting
            or self.plan_changes_requested
        )

    @property
    def unacknowledged(self) -> int:
        return sum(1 for item in self.incidents if not item.acknowledged)


@dataclass
class SuperviseeAgenda:
    supervisee: User
    cases: list[CaseAgenda]

    @property
    def on_agenda(self) -> list[CaseAgenda]:
        return [case for case in self.cases if case.has_items]

    @property
    def others(self) -> list[CaseAgenda]:
        return [case for case in self.cases if not case.has_items]


def agenda(people: list[User], couples: list[Couple]) -> list[SuperviseeAgenda]:
    """Per supervisee (`people`: supervisees_of the supervisor), per couple they lead or
    co-lead (`couples`: cases_of them, the lists the meeting form offers too): open flags
    grouped into incidents (flags.incidents), unacknowledged first, and the supervisee's own
    sessions and plan revisions awaiting co-signature or sent back.

    Three queries, whatever the caseload: the couples' open flags (each with whether it was
    acknowledged), the sessions and the plan revisions waiting on co-signature.
    """
    ids = [person.pk for person in people]
    acknowledged = FlagAcknowledgement.objects.filter(flag=OuterRef("pk"))
    open_flags = (
        Flag.objects.open()
        .filter(couple__in=[c.pk for c in couples])
        .annotate(acknowledged=Exists(acknowledged))
        .order_by("couple_id", "opened_on", "pk")
    )
    flags_by_couple: dict[int, list[Flag]] = {}
    for flag in open_flags:
        flags_by_couple.setdefault(flag.couple_id, []).append(flag)
    waiting = (
        TherapySession.objects.current()
        .filter(
            couple__in=[c.pk for c in couples],
            therapist_id__in=ids,
            cosign_state__in=[CosignState.AWAITING, CosignState.CHANGES_REQUESTED],
        )
        .order_by("couple_id", "ordinal")
        .values_list("couple_id", "ordinal", "cosign_state")
    )
    by_couple = {c.pk: CaseAgenda(couple=c) for c in couples}
    for couple_id, ordinal, state in waiting:
        case = by_couple[couple_id]
        if state == CosignState.AWAITING:
            case.awaiting.append(ordinal)
        else:
            case.changes_requested.append(ordinal)
    plans_waiting = (
        PlanRevision.objects.filter(
            couple__in=[c.pk for c in couples],
            author_id__in=ids,
            cosign_state__in=[PlanCosignState.AWAITING, PlanCosignState.CHANGES_REQUESTED],
        )
        .order_by("couple_id", "revision")
        .values_list("couple_id", "revision", "cosign_state")
    )
    for couple_id, revision, state in plans_waiting:
        case = by_couple[couple_id]
        if state == PlanCosignState.AWAITING:
            case.plan_awaiting.append(revision)
        else:
            case.plan_changes_requested.append(revision)
    for couple_id, flags in flags_by_couple.items():
        grouped = [
            AgendaIncident(incident, all(getattr(f, "acknowledged", False) for f in incident.flags))
            for incident in incidents(flags)
        ]
        # Unacknowledged first; within each, most recent first (flags.incidents' order).
        by_couple[couple_id].incidents = sorted(grouped, key=lambda item: item.acknowledged)
    return [
        SuperviseeAgenda(
            supervisee=person,
            cases=[
                by_couple[c.pk] for c in couples if person.pk in (c.therapist_id, c.co_therapist_id)
            ],
        )
        for person in people
    ]


def clashing_meeting(
    supervisor: User,
    starts_at: datetime.datetime,
    duration_minutes: int,
    supervisees: Iterable[User] = (),
) -> SupervisionMeeting | None:
    """A meeting overlapping [starts_at, starts_at + duration), if any, that one of this
    meeting's people (the supervisor or `supervisees`) led or attended: nobody is in two
    meetings at once, so an hour of supervision is counted once.

    Meetings last at most MEETING_MAX_MINUTES, so only those starting that long before the
    new one's start can reach into it: one indexed range read, checked here.
    """
    ends_at = starts_at + datetime.timedelta(minutes=duration_minutes)
    earliest = starts_at - datetime.timedelta(minutes=MEETING_MAX_MINUTES)
    people = {supervisor.pk, *(person.pk for person in supervisees)}
    whose = Q(supervisor_id__in=people) | Q(attendances__supervisee_id__in=people)
    nearby = (
        SupervisionMeeting.objects.filter(whose, starts_at__gt=earliest, starts_at__lt=ends_at)
        .distinct()
        .order_by("starts_at")
    )
    return next((m for m in nearby if m.ends_at > starts_at), None)


class MeetingClash(Exception):
    """Another meeting of the supervisor's was logged over this time in the meantime."""

    def __init__(self, meeting: SupervisionMeeting) -> None:
        super().__init__("The supervisor has a meeting at that time.")
        self.meeting = meeting


@transaction.atomic
def meeting_log(
    *,
    supervisor: User,
    starts_at: datetime.datetime,
    duration_minutes: int,
    format: str,
    observable_data: str,
    supervisees: Iterable[User],
    cases: Iterable[Couple],
    notes: str,
    request_token: uuid.UUID | None,
) -> tuple[SupervisionMeeting, bool]:
    """Log one meeting, once per request token; (meeting, created).

    Logs naming the same supervisor or supervisee take turns on those people's rows (locked
    together, in id order), so two meetings sent at the same moment can't both pass the
    overlap check: the second raises MeetingClash.
    The form has checked the rest (theirs only, sizes, no future date).
    """

    supervisees_present = list(supervisees)
    # The supervisor's and the supervisees' rows, locked in one ordered read before anything
    # else (create_once then finds the supervisor's already held), so two logs naming the same
    # people take turns and two supervisors naming each other can't deadlock.
    people = sorted({supervisor.pk, *(person.pk for person in supervisees_present)})
    list(User.objects.select_for_update().filter(pk__in=people).order_by("pk").values("pk"))

    def create(token: uuid.UUID | None) -> SupervisionMeeting:
        clash = clashing_meeting(supervisor, starts_at, duration_minutes, supervisees_present)
        if clash is not None:
            raise MeetingClash(clash)
        meeting = SupervisionMeeting.objects.create(
            practice_id=cast("int", supervisor.practice_id),  # supervisors have a practice
            supervisor=supervisor,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            format=format,
            observable_data=observable_data,
            notes=notes,
            request_token=token,
        )
        MeetingAttendance.objects.bulk_create(
            MeetingAttendance(meeting=meeting, supervisee=person) for person in supervisees_present
        )
        meeting.cases.set(list(cases))
        return meeting

    return create_once(
        SupervisionMeeting.objects.led_by(supervisor),
        token=request_token,
        parent=supervisor,
        create=create,
    )


def meeting_confirm(*, attendance: MeetingAttendance, by: User) -> bool:
    """The supervisee confirms their entry: True if this call confirmed it, False if it
    already was (a second click, another tab). A conditional update: run twice, it confirms
    once and keeps the first time."""
    confirmed = MeetingAttendance.objects.filter(
        pk=attendance.pk, supervisee=by, confirmed_at__isnull=True
    ).update(confirmed_at=timezone.now(), confirmed_by=by)
    return confirmed == 1


def led_for_log(supervisor: User) -> MeetingQuerySet:
    """The supervisor's meetings, with who attended (and confirmed) and the cases: three
    queries for the list."""
    return (
        SupervisionMeeting.objects.led_by(supervisor)
        .prefetch_related(
            Prefetch(
                "attendances",
                queryset=MeetingAttendance.objects.select_related("supervisee").order_by(
                    "supervisee__display_name"
                ),
            ),
            Prefetch("cases", queryset=Couple.objects.only("case_code").order_by("case_code")),
        )
        .order_by("-starts_at")
    )


def attended_for_log(supervisee: User) -> QuerySet[MeetingAttendance]:
    """The supervisee's entries, each with its meeting, supervisor and cases: two queries."""
    return (
        MeetingAttendance.objects.of_supervisee(supervisee)
        .select_related("meeting", "meeting__supervisor")
        .prefetch_related(
            Prefetch(
                "meeting__cases",
                queryset=Couple.objects.only("case_code").order_by("case_code"),
            )
        )
        .order_by("-meeting__starts_at")
    )


def may_read_log(user: User) -> bool:
    """Who has a log to read: supervisors (their meetings) and therapists (their entries)."""
    return bool(user.practice_id is not None and (user.is_supervisor or user.is_therapist))


def codes(couples: Iterable[Any]) -> str:
    return ", ".join(c.case_code for c in couples)
