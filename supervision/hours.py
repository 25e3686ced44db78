"""Hours for licensure: a clinician's direct client-contact hours from the sessions they held
and their supervision hours from the log, per month and in total, counted by the practice's
rules (supervision.models.HoursRules). docs/domain.md, "Supervision log and hours".

Counting, in one place:

1. A session counts when it was held by this clinician (TherapySession.therapist): attendance
   attended or ended early (a walk-out counts the minutes recorded for it), and not withdrawn.
   Cancelled sessions and no-shows count nothing.
2. Relational hours are the conjoint sessions (both partners in the room); individual hours
   are the individual sessions inside the couple's therapy. Direct hours are both.
3. Supervision counts the meetings the clinician was present at, individual and group apart,
   observable-data hours (recording or live observation) apart again, and each split into
   confirmed (the supervisee confirmed the entry) and unconfirmed.
4. Months and weeks are the practice's (its time zone): a session at 23:30 on 31 January in
   London belongs to January whatever the server's zone.
5. The weekly ratio: in a week with client contact, the units of supervision due are the
   base units plus one per `client_hours_per_extra_unit` client-contact hours (whole ones);
   a unit is `individual_unit_minutes` of individual or `group_unit_minutes` of group
   supervision. A week whose units fall short raises the ratio alert.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.utils import timezone

from people.models import User
from ruptures.models import Flag
from sessions.models import TOOK_PLACE, CosignState, SessionFormat, TherapySession
from sessions.signing import supervises_author
from supervision.log import supervisees_of
from supervision.models import HoursRules, MeetingAttendance, MeetingFormat

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

HUNDREDTH = Decimal("0.01")


def hours(minutes: int) -> Decimal:
    """Minutes as hours to two decimals (50 minutes: 0.83)."""
    return (Decimal(minutes) / 60).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


# --- who may see whose hours --------------------------------------------------------------------

FULL = "full"  # the clinician, or their supervisor: hours with case codes
COUNTS = "counts"  # the practice admin: hours and signing counts, no case codes


def hours_access(viewer: User, clinician: User) -> str | None:
    """How much of the clinician's hours the viewer sees: FULL, COUNTS, or None (a 404).

    The clinician their own; their supervisor theirs; the practice admin anyone's of the
    practice, without case codes; nobody across practices."""
    if viewer.practice_id is None or viewer.practice_id != clinician.practice_id:
        return None
    if not clinician.is_therapist:
        return None
    if viewer.pk == clinician.pk:
        return FULL
    if viewer.is_supervisor and supervises_author(viewer, clinician.pk):
        return FULL
    if viewer.is_practice_admin:
        return COUNTS
    return None


# --- one clinician, month by month ---------------------------------------------------------


@dataclass
class Period:
    """Minutes of one month (or one week, or the total), by category."""

    start: datetime.date | None = None
    relational: int = 0  # conjoint sessions
    individual: int = 0  # individual sessions inside the couple's therapy
    supervision_individual: int = 0
    supervision_group: int = 0
    supervision_observable: int = 0
    supervision_confirmed: int = 0
    supervision_unconfirmed: int = 0
    case_codes: set[str] = field(default_factory=set)

    @property
    def direct(self) -> int:
        return self.relational + self.individual

    @property
    def supervision(self) -> int:
        return self.supervision_individual + self.supervision_group

    def add(self, other: Period) -> None:
        for name in (
            "relational",
            "individual",
            "supervision_individual",
            "supervision_group",
            "supervision_observable",
            "supervision_confirmed",
            "supervision_unconfirmed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.case_codes |= other.case_codes

    def in_hours(self) -> dict[str, Decimal]:
        """Every category in hours, under the names CSV_COLUMNS and the pages use."""
        return {name: hours(getattr(self, name)) for name, _ in CATEGORIES}


# (attribute, label) of every category, in the order the page, the CSV and the PDF show them.
CATEGORIES = [
    ("direct", "Direct client-contact hours"),
    ("relational", "Relational (conjoint) hours"),
    ("individual", "Individual-client hours"),
    ("supervision", "Supervision hours"),
    ("supervision_individual", "Individual supervision hours"),
    ("supervision_group", "Group supervision hours"),
    ("supervision_observable", "Supervision with observable data (hours)"),
    ("supervision_confirmed", "Supervision confirmed (hours)"),
    ("supervision_unconfirmed", "Supervision unconfirmed (hours)"),
]


@dataclass
class RatioWeek:
    start: datetime.date
    client_minutes: int
    units: Decimal
    due: int

    @property
    def client_hours(self) -> Decimal:
        return hours(self.client_minutes)


@dataclass
class ClinicianHours:
    clinician: User
    rules: HoursRules
    months: list[Period]
    total: Period
    alerts: list[RatioWeek]  # weeks whose supervision fell short, latest first
    supervisors: list[str]

    def progress(self) -> list[tuple[str, Decimal, int]]:
        """(label, hours so far, target) for each target the practice sets (a target of 0
        is one its board doesn't count apart)."""
        rules, total = self.rules, self.total
        every = [
            ("Direct client contact", total.direct, rules.direct_target_hours),
            ("Relational", total.relational, rules.relational_target_hours),
            ("Supervision", total.supervision, rules.supervision_target_hours),
            ("With observable data", total.supervision_observable, rules.observable_target_hours),
        ]
        return [(label, hours(minutes), target) for label, minutes, target in every if target]


def held_sessions(clinician: User) -> QuerySet[TherapySession]:
    """The sessions that count: held by the clinician, not withdrawn."""
    return TherapySession.objects.current().filter(therapist=clinician, attendance__in=TOOK_PLACE)


def _local_date(value: datetime.datetime | datetime.date) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def clinician_hours(clinician: User, tz: ZoneInfo, rules: HoursRules) -> ClinicianHours:
    """The clinician's hours by month, total and weekly ratio alerts. Three queries: the held
    sessions grouped by month, week, format and case; the attended meetings grouped by month,
    week, kind and confirmation; the clinician's supervisors' names."""
    months: dict[datetime.date, Period] = {}
    weeks: dict[datetime.date, Period] = {}

    def bucket(table: dict[datetime.date, Period], start: Any) -> Period:
        day = _local_date(start)
        return table.setdefault(day, Period(start=day))

    sessions = (
        held_sessions(clinician)
        .annotate(month=TruncMonth("starts_at", tzinfo=tz), week=TruncWeek("starts_at", tzinfo=tz))
        .values("month", "week", "format", "couple__case_code")
        .annotate(minutes=Sum("duration_minutes"))
        .order_by()
    )
    for held in sessions:
        category = "relational" if held["format"] == SessionFormat.CONJOINT else "individual"
        for table, start in ((months, held["month"]), (weeks, held["week"])):
            period = bucket(table, start)
            setattr(period, category, getattr(period, category) + held["minutes"])
        bucket(months, held["month"]).case_codes.add(held["couple__case_code"])

    confirmed = ExpressionWrapper(Q(confirmed_at__isnull=False), output_field=BooleanField())
    meetings = (
        MeetingAttendance.objects.filter(supervisee=clinician)
        .annotate(
            month=TruncMonth("meeting__starts_at", tzinfo=tz),
            week=TruncWeek("meeting__starts_at", tzinfo=tz),
            confirmed=confirmed,
        )
        .values("month", "week", "meeting__format", "meeting__observable_data", "confirmed")
        .annotate(minutes=Sum("meeting__duration_minutes"))
        .order_by()
    )
    for attended in meetings:
        minutes = attended["minutes"]
        group = attended["meeting__format"] == MeetingFormat.GROUP
        for table, start in ((months, attended["month"]), (weeks, attended["week"])):
            period = bucket(table, start)
            if group:
                period.supervision_group += minutes
            else:
                period.supervision_individual += minutes
            if attended["meeting__observable_data"]:
                period.supervision_observable += minutes
            if attended["confirmed"]:
                period.supervision_confirmed += minutes
            else:
                period.supervision_unconfirmed += minutes

    ordered = [months[key] for key in sorted(months)]
    total = Period()
    for period in ordered:
        total.add(period)
    alerts = [
        week
        for week in (_ratio(key, weeks[key], rules) for key in sorted(weeks, reverse=True))
        if week is not None and week.units < week.due
    ]
    supervisors = list(
        User.objects.filter(
            Q(supervisions__therapist=clinician)
            | Q(meetings_led__attendances__supervisee=clinician)
        )
        .distinct()
        .order_by("display_name", "username")
    )
    return ClinicianHours(
        clinician=clinician,
        rules=rules,
        months=ordered,
        total=total,
        alerts=alerts,
        supervisors=[str(s) for s in supervisors],
    )


def _ratio(start: datetime.date, week: Period, rules: HoursRules) -> RatioWeek | None:
    """The week's supervision units against those due (None for a week without clients)."""
    if week.direct == 0:
        return None
    due = rules.weekly_base_units + week.direct // (60 * rules.client_hours_per_extra_unit)
    units = (
        Decimal(week.supervision_individual) / rules.individual_unit_minutes
        + Decimal(week.supervision_group) / rules.group_unit_minutes
    )
    return RatioWeek(
        start=start,
        client_minutes=week.direct,
        units=units.quantize(HUNDREDTH),
        due=due,
    )


# --- many clinicians, one row each ---------------------------------------------------------


def _minutes(queryset: QuerySet[Any], path: str, by: str) -> Coalesce:
    """A subquery: the sum of `path` over `queryset`'s rows for the outer clinician."""
    summed = (
        queryset.filter(**{by: OuterRef("pk")})
        .order_by()
        .values(by)
        .annotate(total=Sum(path))
        .values("total")
    )
    return Coalesce(Subquery(summed, output_field=IntegerField()), Value(0))


def _count(queryset: QuerySet[Any], by: str) -> Coalesce:
    counted = (
        queryset.filter(**{by: OuterRef("pk")})
        .order_by()
        .values(by)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def overview(people: QuerySet[User], *, with_flags: bool) -> QuerySet[User]:
    """Each clinician with their hours in minutes (relational, individual, supervision,
    confirmed supervision) and signing counts (unsigned records of sessions already begun,
    records awaiting co-signature, records sent back to amend), and, for a supervisor, their
    couples' open flags. One query.
    """
    held = TherapySession.objects.current().filter(attendance__in=TOOK_PLACE)
    sessions = TherapySession.objects.current().filter(starts_at__lte=timezone.now())
    annotated = people.annotate(
        relational_minutes=_minutes(
            held.filter(format=SessionFormat.CONJOINT), "duration_minutes", "therapist"
        ),
        individual_minutes=_minutes(
            held.exclude(format=SessionFormat.CONJOINT), "duration_minutes", "therapist"
        ),
        supervision_minutes=_minutes(
            MeetingAttendance.objects.all(), "meeting__duration_minutes", "supervisee"
        ),
        confirmed_minutes=_minutes(
            MeetingAttendance.objects.filter(confirmed_at__isnull=False),
            "meeting__duration_minutes",
            "supervisee",
        ),
        unsigned=_count(
            TherapySession.objects.unsigned().filter(starts_at__lte=timezone.now()), "therapist"
        ),
        awaiting=_count(sessions.filter(cosign_state=CosignState.AWAITING), "therapist"),
        sent_back=_count(sessions.filter(cosign_state=CosignState.CHANGES_REQUESTED), "therapist"),
    )
    if with_flags:
        annotated = annotated.annotate(open_flags=_open_flags())
    return annotated


def _open_flags() -> Coalesce:
    """Open flags on the couples the clinician leads or co-leads, as the review's therapist
    filter lists them."""
    led = Q(couple__therapist=OuterRef("pk")) | Q(couple__co_therapist=OuterRef("pk"))
    counted = Flag.objects.open().filter(led).order_by().values(n=Func("pk", function="COUNT"))
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def overview_people(viewer: User) -> tuple[QuerySet[User], bool]:
    """Whose hours the overview lists, and whether with their open flags: a supervisor's
    supervisees (with flags); a practice admin's every therapist of the practice (counts only).
    """
    if viewer.practice_id is None:
        return User.objects.none(), False
    if viewer.is_supervisor:
        return supervisees_of(viewer), True
    if viewer.is_practice_admin:
        practice = User.objects.filter(
            practice_id=viewer.practice_id, is_therapist=True, is_active=True
        )
        return practice.order_by("display_name", "username"), False
    return User.objects.none(), False


@dataclass(frozen=True)
class OverviewRow:
    clinician: User
    direct: Decimal
    relational: Decimal
    supervision: Decimal
    confirmed: Decimal
    open_flags: int | None  # None: not shown to this viewer (the practice admin)
    unsigned: int
    awaiting: int
    sent_back: int  # signed records the supervisor sent back, waiting for an amendment


def overview_rows(people: QuerySet[User], *, with_flags: bool) -> list[OverviewRow]:
    """The overview's rows in hours (one query)."""
    return [
        OverviewRow(
            clinician=person,
            direct=hours(person.relational_minutes + person.individual_minutes),  # type: ignore[attr-defined]
            relational=hours(person.relational_minutes),  # type: ignore[attr-defined]
            supervision=hours(person.supervision_minutes),  # type: ignore[attr-defined]
            confirmed=hours(person.confirmed_minutes),  # type: ignore[attr-defined]
            open_flags=person.open_flags if with_flags else None,  # type: ignore[attr-defined]
            unsigned=person.unsigned,  # type: ignore[attr-defined]
            awaiting=person.awaiting,  # type: ignore[attr-defined]
            sent_back=person.sent_back,  # type: ignore[attr-defined]
        )
        for person in overview(people, with_flags=with_flags)
    ]
