"""Reads for the supervisor's screens: the caseload review, a supervisee's overview over time,
and the rupture-code export.

Every read starts from `Couple.objects.visible_to(user)` (people.access) and narrows it to the
couples of the therapists the user supervises, so a supervisor who also has couples of their
own reviews only their supervisees' here, and a therapist never reaches their own flags to
acknowledge them.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    Min,
    OrderBy,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    StringAgg,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from core import charts, dates
from core.concurrency import create_once
from core.csv import streamed_lines
from cycles.models import Couple, CoupleQuerySet
from flags.incidents import Incident, incident_of, incidents
from flags.rollups import ChartedFigure, RollUp
from people.access import supervises, supervisor_of
from people.models import Supervision, User
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.models import CaseloadSummary, Flag, FlagAcknowledgement, FlagKind, Rupture
from sessions.models import TherapySession

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.fields import LabelledFlag

REVIEW_WINDOW_DAYS = 7
SUMMARY_HISTORY = 180  # nightly roll-ups drawn on a supervisee's overview (about six months)


# --- who --------------------------------------------------------------------------------------


def is_supervisor(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_supervisor", False))


def supervisee_ids(user: User) -> QuerySet[Supervision, Any]:
    """The therapists the user supervises, as a subquery (never a Python list)."""
    if not is_supervisor(user):
        return Supervision.objects.none().values("therapist_id")
    return Supervision.objects.filter(supervisor=user).values("therapist_id")


def supervisees(user: User) -> QuerySet[User]:
    """The user's supervisees in their own practice, by name: the review's therapist filter."""
    if not is_supervisor(user):
        return User.objects.none()
    return (
        User.objects.visible_to(user)
        .filter(pk__in=supervisee_ids(user))
        .order_by("display_name", "username")
    )


def with_contribution_trend(therapists: QuerySet[User]) -> QuerySet[User]:
    """Each supervisee with `contribution_rising` from their latest nightly roll-up
    ({"from": 2.1, "to": 3.4} or None; flags.rollups): a subquery, no query more."""
    latest = CaseloadSummary.objects.filter(person=OuterRef("pk"), role="therapist").order_by(
        "-on_date"
    )
    return therapists.annotate(
        contribution_rising=Subquery(latest.values("data__contribution_rising")[:1])
    )


def supervised_couples(user: User) -> CoupleQuerySet:
    """Couples the user reads as a supervisor: visible to them, and of a supervisee."""
    if not is_supervisor(user):
        return Couple.objects.none()
    return Couple.objects.visible_to(user).filter(supervisor_of(user))


def acknowledgeable_flags(user: User) -> QuerySet[Flag]:
    """Flags the user may acknowledge: readable, and on a couple of a therapist they supervise
    (so never their own couples' flags, even when they are a therapist too)."""
    if not is_supervisor(user):
        return Flag.objects.none()
    return Flag.objects.visible_to(user).filter(supervisor_of(user, "couple__"))


def can_acknowledge(user: User, couple: Couple) -> bool:
    """For the couple page: whether to offer the acknowledgement form (one query)."""
    return supervises(user, couple)


@transaction.atomic
def flag_acknowledge(
    *,
    flag: Flag,
    by: User,
    comment: str,
    follow_up_on: datetime.date | None,
    request_token: uuid.UUID | None = None,
) -> FlagAcknowledgement:
    """A supervisor's acknowledgement of a flag; a form sent twice with the same
    `request_token` acknowledges once (core/concurrency.py)."""

    def acknowledge(token: uuid.UUID | None) -> FlagAcknowledgement:
        return FlagAcknowledgement.objects.create(
            flag=flag, by=by, comment=comment, follow_up_on=follow_up_on, request_token=token
        )

    acknowledgement, _ = create_once(
        FlagAcknowledgement.objects.filter(flag=flag, by=by),
        token=request_token,
        parent=flag,
        create=acknowledge,
    )
    return acknowledgement


def flag_and_its_incident(user: User, pk: int) -> tuple[Flag, Incident]:
    """The flag the user may acknowledge and the incident it belongs to (flags.incidents):
    one query, the flag and its couple's open flags together. Raises Flag.DoesNotExist for a
    flag that isn't theirs to acknowledge."""
    its_couple = Flag.objects.filter(pk=pk).values("couple_id")[:1]
    rows = list(
        acknowledgeable_flags(user)
        .filter(Q(pk=pk) | Q(couple_id=Subquery(its_couple), closed_on__isnull=True))
        .select_related("couple__practice")
    )
    flag = next((row for row in rows if row.pk == pk), None)
    if flag is None:
        raise Flag.DoesNotExist
    return flag, incident_of(flag, [row for row in rows if row.is_open])


def flag_token(token: uuid.UUID | None, flag: Flag, lead: Flag) -> uuid.UUID | None:
    """The request token of one flag's acknowledgement in an incident's: the form's own for
    the flag it was addressed to, one derived from it for each other flag, so the same form
    sent twice finds every row its first copy made (the column is unique)."""
    if token is None or flag.pk == lead.pk:
        return token
    return uuid.uuid5(token, f"flag:{flag.pk}")


@transaction.atomic
def incident_acknowledge(
    *,
    incident: Incident,
    addressed_to: Flag,
    by: User,
    comment: str,
    follow_up_on: datetime.date | None,
    request_token: uuid.UUID | None = None,
) -> list[FlagAcknowledgement]:
    """One acknowledgement of an incident: the one comment and follow-up recorded against
    every flag in it, at the same moment (so the couple page shows it once), each row under
    its own request token (a double click acknowledges once). Flags are taken in id order,
    so two acknowledgements of one incident at once queue on the same first row."""
    at = timezone.now()
    saved = []
    for flag in sorted(incident.flags, key=lambda f: f.pk):

        def acknowledge(token: uuid.UUID | None, flag: Flag = flag) -> FlagAcknowledgement:
            return FlagAcknowledgement.objects.create(
                flag=flag,
                by=by,
                at=at,
                comment=comment,
                follow_up_on=follow_up_on,
                request_token=token,
            )

        acknowledgement, _ = create_once(
            FlagAcknowledgement.objects.filter(flag=flag, by=by),
            token=flag_token(request_token, flag, addressed_to),
            parent=flag,
            create=acknowledge,
        )
        saved.append(acknowledgement)
    return saved


@dataclass(frozen=True)
class ShownIncident:
    """An incident as the supervisor's screens and the couple page show it: its flags, how
    many of them are acknowledged, and (on the couple page) the acknowledgements made of it,
    each once though it is recorded against every flag."""

    incident: Incident
    acknowledgements: tuple[FlagAcknowledgement, ...] = ()

    @cached_property
    def acknowledged_count(self) -> int:
        """Its flags acknowledged (read when shown: the acknowledgement form doesn't)."""
        return sum(1 for flag in self.flags if _acknowledged(flag))

    @property
    def flags(self) -> tuple[Any, ...]:
        return self.incident.flags

    @property
    def pk(self) -> int:
        return self.incident.pk

    @property
    def lead(self) -> Any:
        return self.incident.lead

    @property
    def is_shared(self) -> bool:
        return self.incident.is_shared

    @property
    def opened_on(self) -> datetime.date:
        return self.incident.opened_on

    @property
    def sessions_text(self) -> str:
        return self.incident.sessions_text

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_count == len(self.flags)

    @property
    def pending_count(self) -> int:
        """Flags of the incident not yet acknowledged (a flag that opened since, a reopened one)."""
        return len(self.flags) - self.acknowledged_count

    @property
    def kinds_text(self) -> str:
        """ "confrontation then absence, high therapist contribution and unresolved rupture"."""
        names = [flag_kind_label(flag.kind).lower() for flag in self.flags]
        if len(names) == 1:
            return names[0]
        return ", ".join(names[:-1]) + " and " + names[-1]

    @property
    def label(self) -> str:
        """What an acknowledgement of it acknowledges, for a button's hidden text."""
        if not self.is_shared:
            return f"the {self.kinds_text} flag"
        return f"the incident of {len(self.flags)} flags ({self.kinds_text})"


def _acknowledged(flag: Any) -> bool:
    """A review row's packed flag knows; a Flag reads its prefetched acknowledgements."""
    if isinstance(flag, OpenFlag):
        return flag.acknowledged
    return bool(flag.acknowledgements.all())


def shown(incident: Incident, *, with_acknowledgements: bool = False) -> ShownIncident:
    """`with_acknowledgements`: each acknowledgement of the incident once (those made of it
    together are one per flag, same author, moment and comment), oldest first; the flags'
    acknowledgements prefetched (acknowledgements_prefetch)."""
    seen: dict[tuple[Any, ...], FlagAcknowledgement] = {}
    if with_acknowledgements:
        for flag in incident.flags:
            for ack in flag.acknowledgements.all():
                key = (ack.by_id, ack.at, ack.comment, ack.follow_up_on)
                seen.setdefault(key, ack)
    ordered = sorted(seen.values(), key=lambda ack: (ack.at, ack.pk))
    return ShownIncident(incident, tuple(ordered))


def shown_incidents(
    open_flags: Iterable[Any], *, with_acknowledgements: bool = False
) -> list[ShownIncident]:
    """One couple's open flags as the incidents to show, most recent first."""
    return [
        shown(incident, with_acknowledgements=with_acknowledgements)
        for incident in incidents(open_flags)
    ]


def acknowledgements_prefetch() -> Prefetch:
    """For the couple page's flags: each flag's acknowledgements, oldest first, with who."""
    return Prefetch(
        "acknowledgements",
        queryset=FlagAcknowledgement.objects.select_related("by").order_by("at", "pk"),
    )


def practice_today(user: User) -> datetime.date:
    """Today in the user's practice's time zone, where nightly flags are dated: the request's
    active zone (people.middleware.PracticeTimeZoneMiddleware), no query."""
    return timezone.localdate()


# --- the caseload review ----------------------------------------------------------------------

# Open flags a review row lists, most recent first; the row counts the rest and links to the
# couple page, which lists them all. A couple's open flags grow with its unresolved ruptures
# (one flag each), so without a cap the page grew with them: 1.6 MB for 25 couples of 40 flags
# (issue 17). Three keep a page of 25 rows near 60 KB, with room under the 100 KB that
# tests/supervision/test_review_weight.py pins for long names and every filter in `next`.
REVIEW_FLAGS_SHOWN = 3


@dataclass(frozen=True)
class OpenFlag:
    """One open flag as the review row carries it (parsed from `open_flag_list`)."""

    pk: int
    kind: str
    opened_on: datetime.date
    acknowledged: bool
    evidence: dict[str, Any]  # what flags.incidents groups by

    def get_kind_display(self) -> str:
        """As Flag's, so the acknowledgement templates take either."""
        return flag_kind_label(self.kind)


def flag_kind_label(kind: str) -> str:
    try:
        return str(FlagKind(kind).label)
    except ValueError:
        return kind


def parse_open_flags(packed: str | None) -> list[OpenFlag]:
    """`open_flag_list` is "pk|kind|opened_on|acknowledged|evidence" entries joined by ";"
    (for_review); kinds are codes, dates ISO and the evidence JSON of numbers only, so neither
    separator can occur inside an entry. Returned
    most recent first (then by kind), as for_review picks them: the aggregate is unordered, as
    SQLite before 3.44 (the embedded demo's) cannot order inside an aggregate."""
    flags = []
    for entry in (packed or "").split(";"):
        parts = entry.split("|")
        if len(parts) != 5:
            continue
        pk, kind, opened_on, acknowledged, evidence = parts
        try:
            loaded = json.loads(evidence) if evidence else {}
        except ValueError:
            loaded = {}
        flags.append(
            OpenFlag(
                pk=int(pk),
                kind=kind,
                opened_on=datetime.date.fromisoformat(opened_on[:10]),
                acknowledged=acknowledged == "1",
                evidence=loaded if isinstance(loaded, dict) else {},
            )
        )
    return sorted(flags, key=lambda flag: (-flag.opened_on.toordinal(), flag.kind, flag.pk))


def for_review(couples: CoupleQuerySet) -> CoupleQuerySet:
    """The caseload row (CoupleQuerySet.for_caseload, with `open_flag_count`) plus each
    couple's REVIEW_FLAGS_SHOWN most recent open flags and the day the oldest of all its open
    flags opened, all as subqueries of the one row query.

    The listed flags come packed in one string per couple (StringAgg), so a page of rows is
    one query, and its size bounded, whatever the number of flags; `parse_open_flags` unpacks
    it.
    """
    # order_by(): Flag's default ordering would join the couple into every subquery.
    open_flags = Flag.objects.open().filter(couple=OuterRef("pk")).order_by()
    # The most recent few, in the order parse_open_flags sorts them (a LIMIT inside IN: the
    # aggregate itself can't be limited, nor ordered on SQLite before 3.44).
    shown = (
        Flag.objects.open()
        .filter(couple=OuterRef(OuterRef("pk")))
        .order_by("-opened_on", "kind", "pk")
        .values("pk")[:REVIEW_FLAGS_SHOWN]
    )
    acknowledged = FlagAcknowledgement.objects.filter(flag=OuterRef("pk"))
    entry = Concat(
        Cast("pk", CharField()),
        Value("|"),
        "kind",
        Value("|"),
        Cast("opened_on", CharField()),
        Value("|"),
        Case(When(Exists(acknowledged), then=Value("1")), default=Value("0")),
        Value("|"),
        Cast("evidence", CharField()),
        output_field=CharField(),
    )
    packed = (
        open_flags.filter(pk__in=shown)
        .values("couple")
        .annotate(packed=StringAgg(entry, Value(";")))
        .values("packed")
    )
    oldest = open_flags.values("couple").annotate(first=Min("opened_on")).values("first")
    return couples.for_caseload().annotate(
        open_flag_list=Subquery(packed, output_field=CharField()),
        oldest_flag_opened_on=Subquery(oldest),
    )


def review_rows(couples: Iterable[Couple], today: datetime.date) -> list[Couple]:
    """The page's couples, each given `review_flags` (its REVIEW_FLAGS_SHOWN most recent open
    flags, most recent first), `review_incidents` (those flags as incidents, flags.incidents:
    one line and one acknowledgement each), `more_flag_count` (its open flags not listed) and
    `flag_age` (days since the oldest open flag opened; None without one) for the template."""
    rows = list(couples)
    for couple in rows:
        opened = getattr(couple, "oldest_flag_opened_on", None)
        packed = getattr(couple, "open_flag_list", "")
        flags = parse_open_flags(packed)
        couple.review_flags = flags  # type: ignore[attr-defined]
        couple.review_incidents = shown_incidents(flags)  # type: ignore[attr-defined]
        more = getattr(couple, "open_flag_count", 0) - len(flags)
        couple.more_flag_count = max(more, 0)  # type: ignore[attr-defined]
        couple.flag_age = (today - opened).days if opened else None  # type: ignore[attr-defined]
    return rows


@dataclass(frozen=True)
class ReviewFilters:
    """The review's query string, validated: anything unknown falls back to the default."""

    therapist: int | None = None
    kind: str = ""
    status: str = "all"
    period: str = "week"
    acknowledgement: str = ""
    sort: str = "therapist"

    def query(self, **changes: Any) -> dict[str, str]:
        """The query-string parameters of these filters (with `changes`), defaults left out."""
        values = {
            "therapist": self.therapist or "",
            "kind": self.kind,
            "status": "" if self.status == "all" else self.status,
            "period": "" if self.period == "week" else self.period,
            "ack": self.acknowledgement,
            "sort": "" if self.sort == "therapist" else self.sort,
        } | changes
        return {key: str(value) for key, value in values.items() if value not in ("", None)}


# Sort keys of the review: the columns each orders by ("-" in front: descending within the key).
SORTS: dict[str, tuple[str, ...]] = {
    "therapist": ("therapist__display_name", "therapist__username", "case_code"),
    "case": ("case_code",),
    "last_session": ("last_session_at", "case_code"),
    "ruptures": ("open_rupture_count", "case_code"),
    "flags": ("open_flag_count", "case_code"),
    # Flag age grows as the oldest open flag's date goes back: ascending age is newest first.
    "flag_age": ("-oldest_flag_opened_on", "case_code"),
}


def ordering(sort: str) -> list[OrderBy]:
    """`sort` is a key of SORTS, with "-" in front for descending. Couples without a value
    (no session yet, no open flag) go last either way; ties go by case code, then id."""
    descending = sort.startswith("-")
    result = []
    for name in SORTS[sort.removeprefix("-")]:
        column = F(name.lstrip("-"))
        if name.startswith("-") != descending:
            result.append(column.desc(nulls_last=True))
        else:
            result.append(column.asc(nulls_last=True))
    return [*result, F("pk").asc()]


def review_queryset(
    user: User, filters: ReviewFilters, *, today: datetime.date, now: datetime.datetime
) -> CoupleQuerySet:
    """The review's rows for the filters, sorted: one query (plus the paginator's count)."""
    couples = supervised_couples(user)
    if filters.therapist:
        couples = couples.filter(
            Q(therapist_id=filters.therapist) | Q(co_therapist_id=filters.therapist)
        )
    if filters.status != "all":
        couples = couples.filter(status=filters.status)
    if filters.kind:
        couples = couples.filter(
            Exists(Flag.objects.open().filter(couple=OuterRef("pk"), kind=filters.kind))
        )
    if filters.acknowledgement:
        unacknowledged = Exists(
            Flag.objects.open().filter(
                ~Exists(FlagAcknowledgement.objects.filter(flag=OuterRef("pk"))),
                couple=OuterRef("pk"),
            )
        )
        couples = couples.filter(
            unacknowledged
            if filters.acknowledgement == "pending"
            else Exists(Flag.objects.open().filter(couple=OuterRef("pk"))) & ~unacknowledged
        )
    if filters.period == "week":
        couples = couples.filter(this_week(today=today, now=now))
    return for_review(couples).order_by(*ordering(filters.sort))


def this_week(*, today: datetime.date, now: datetime.datetime) -> Q:
    """A session in the last seven days, or a flag (open or since closed) opened in them."""
    since = now - datetime.timedelta(days=REVIEW_WINDOW_DAYS)
    recent_session = TherapySession.objects.current().filter(
        couple=OuterRef("pk"), starts_at__gte=since, starts_at__lte=now
    )
    recent_flag = Flag.objects.filter(
        couple=OuterRef("pk"), opened_on__gte=today - datetime.timedelta(days=REVIEW_WINDOW_DAYS)
    )
    return Q(Exists(recent_session)) | Q(Exists(recent_flag))


# --- a supervisee's overview over time --------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One number of the nightly roll-up (flags.rollups) drawn over time."""

    key: ChartedFigure  # a figure of flags.rollups.RollUp, checked by the type checker
    title: str
    unit: str  # how the value reads: "rate", "percent", "number"
    description: str
    cases: dict[str, str]  # the review's filters that list the cases behind the number

    def value(self, data: RollUp) -> float | None:
        raw = data.get(self.key)
        if raw is None:
            return None
        return float(raw) * 100 if self.unit == "percent" else float(raw)

    def show(self, value: float | None) -> str:
        if value is None:
            return "—"
        if self.unit == "percent":
            return f"{value:.0f}%"
        return f"{value:g}" if self.unit == "number" else f"{value:.2f}"


METRICS = [
    Metric(
        "ruptures_per_session",
        "Ruptures per session",
        "rate",
        "Ruptures recorded per session held, over the whole treatment of every couple.",
        {"sort": "-ruptures"},
    ),
    Metric(
        "resolution_rate",
        "Resolution rate",
        "percent",
        "Share of ruptures resolved.",
        {"kind": FlagKind.UNRESOLVED_RUPTURE},
    ),
    Metric(
        "median_sessions_to_resolution",
        "Median sessions to resolution",
        "number",
        "Sessions from a rupture to the session that resolved it (pooled median).",
        {"kind": FlagKind.UNRESOLVED_RUPTURE},
    ),
    Metric(
        "mean_contribution",
        "Mean therapist contribution",
        "rate",
        "The therapist's rated contribution to ruptures (1–5), on average.",
        {"kind": FlagKind.HIGH_THERAPIST_CONTRIBUTION},
    ),
    Metric(
        "recent_mean_contribution",
        "Therapist contribution, last four weeks",
        "rate",
        "The rated contribution to ruptures (1–5) in the four weeks ending that day: a rise "
        "is worth talking over in supervision.",
        {"kind": FlagKind.HIGH_THERAPIST_CONTRIBUTION},
    ),
    Metric(
        "split_widening_couples",
        "Split alliances widening",
        "number",
        "Couples whose partners' alliance gap is growing.",
        {"kind": FlagKind.SPLIT_ALLIANCE_WIDENING},
    ),
    Metric(
        "dropouts",
        "Dropouts",
        "number",
        "Couples who dropped out of treatment.",
        {"status": "dropped_out"},
    ),
]


def therapist_summaries(user: User, therapist: User) -> list[CaseloadSummary]:
    """The supervisee's nightly roll-ups (role therapist), oldest first: one query."""
    latest = (
        CaseloadSummary.objects.visible_to(user)
        .filter(person=therapist, role="therapist")
        .order_by("-on_date")[:SUMMARY_HISTORY]
    )
    return sorted(latest, key=lambda row: row.on_date)


# The overview's small line charts, built on core.charts (the couple page's charts' engine)
# and drawn by templates/supervision/_line_chart.html.
LINE_DESCRIPTION = (
    "One point per nightly summary; a gap where there was no value. "
    "The numbers are in the table below."
)


def line_chart(metric: Metric, series: list[tuple[datetime.date, float | None]]) -> charts.Chart:
    """One metric over the dates; a missing value breaks the line rather than inventing one."""
    chart = charts.Chart(
        id=f"chart-{metric.key}",
        title=f"{metric.title} over time",
        description=LINE_DESCRIPTION,
        frame=charts.SMALL,
    )
    known = [value for _, value in series if value is not None]
    if not known:
        return chart
    first, last = series[0][0], series[-1][0]
    x = chart.frame.x_scale(first.toordinal(), last.toordinal())
    top = 100.0 if metric.unit == "percent" else charts.nice_top(max(known))
    y = chart.frame.y_scale(0, top)

    def point(day: datetime.date, value: float) -> charts.Point:
        shown = metric.show(value)
        title = f"{dates.show(day)}: {shown}"
        return charts.Point(x(day.toordinal()), y(value), day, shown, title)

    chart.series.append(
        charts.series(
            metric.key, (None if value is None else point(day, value) for day, value in series)
        )
    )
    chart.y_ticks = [
        charts.Tick(y(v), f"{v:g}" if metric.unit == "rate" else metric.show(v))
        for v in charts.evenly(top, 2)
    ]
    chart.x_ticks = [charts.Tick(chart.left, first.strftime("%-d %b"), "start")]
    if last != first:
        chart.x_ticks.append(charts.Tick(chart.right, last.strftime("%-d %b"), "end"))
    return chart


# --- the rupture-code export ------------------------------------------------------------------

CSV_HEADER = [
    "therapist",
    "case_code",
    "session_number",
    "session_date",
    "type",
    "who_moved",
    "toward",
    "markers",
    "significance",
    "therapist_contribution",
    "strategies",
    "stage_reached",
    "status",
    "repaired_in_session",
]

# Coded columns only: never `note`, the private reflection (sessions.PrivateNote) or names.
CSV_FIELDS = [
    "couple__therapist__username",
    "couple__case_code",
    "couple__practice__time_zone",
    "session__ordinal",
    "session__starts_at",
    "rupture_type",
    "who_moved",
    "toward",
    "withdrawal_markers",
    "confrontation_markers",
    "significance",
    "therapist_contribution",
    "strategies",
    "resolution_stage",
    "status",
    "repaired_in__ordinal",
]


def export_ruptures(user: User) -> QuerySet[Rupture, dict[str, Any]]:
    """Every current rupture of the supervisees' couples, as coded values: one query."""
    if not is_supervisor(user):
        return Rupture.objects.none().values(*CSV_FIELDS)
    return (
        Rupture.objects.current()
        .filter(couple__in=supervised_couples(user))
        .order_by("couple__therapist__username", "couple__case_code", "session__ordinal", "pk")
        .values(*CSV_FIELDS)
    )


def _label(choices: Any, code: str) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return code


def _labels(kind: type[LabelledFlag], flags: int | None) -> str:
    return "; ".join(kind(int(flags or 0)).labels())


def csv_row(row: dict[str, Any]) -> list[object]:
    """One rupture's cells, labelled; core.csv makes them formula-safe on the way out."""
    if row["rupture_type"] == RuptureType.WITHDRAWAL:
        markers = _labels(WithdrawalMarker, row["withdrawal_markers"])
    else:
        markers = _labels(ConfrontationMarker, row["confrontation_markers"])
    zone = ZoneInfo(row["couple__practice__time_zone"])
    started = timezone.localtime(row["session__starts_at"], zone)
    return [
        row["couple__therapist__username"],
        row["couple__case_code"],
        row["session__ordinal"],
        started.date().isoformat(),
        _label(RuptureType, row["rupture_type"]),
        _label(WhoMoved, row["who_moved"]),
        _label(Toward, row["toward"]),
        markers,
        row["significance"],
        row["therapist_contribution"],
        _labels(ResolutionStrategy, row["strategies"]),
        row["resolution_stage"],
        _label(RuptureStatus, row["status"]),
        row["repaired_in__ordinal"],
    ]


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    return streamed_lines(CSV_HEADER, (csv_row(row) for row in rows))
