"""A large fictional practice, written straight into PostgreSQL with COPY.

Not the app's services (one row at a time): the few hundred thousand clinical rows go in with
psycopg's COPY, the handful of people and couples with bulk_create. The data still satisfies
every check constraint and the repair-integrity triggers (they fire on COPY too): repairs are
in later sessions of the same couple, markers are of the rupture's type, and so on.

Each COPY row is a dict from model field name to value; `copy_rows` takes the columns from the
model, so nothing here depends on the order of a model's fields. The order of a row's keys is
still the order its values are drawn from the seeded generator: reordering them changes the
data, not the columns.

Everything is drawn from one seeded generator, so a given size and seed always gives the same
practice. Dates are laid out around `for_date`, the night the benchmark summarises: active
couples are seen weekly up to around that date (a few have sessions after it, and repairs
after it, which the nightly run must not count yet), others stopped earlier.
"""

from __future__ import annotations

import datetime
import json
import random
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction

from cycles.models import CASE_CODE_ALPHABET, Couple, EFTStep, Partner
from people.models import Practice, Supervision, User
from ruptures.codes import (
    ConfrontationMarker,
    MetacommunicationPrinciple,
    ResolutionStrategy,
    WithdrawalMarker,
)
from ruptures.models import Rupture, RuptureRepair
from sessions.models import TOOK_PLACE as HELD  # attendances of a session that took place
from sessions.models import (
    AllianceRating,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    TherapySession,
)

PRACTICE_NAME = "Bench practice (generated)"
TIME_ZONE = "Europe/London"
PATTERNS = [("pursue_withdraw", 0.7), ("pursue_pursue", 0.15), ("withdraw_withdraw", 0.15)]

type Row = dict[str, Any]  # one COPY row: model field name -> value


@dataclass(frozen=True)
class Size:
    therapists: int = 50
    couples: int = 2000
    sessions: int = 60_000
    ruptures: int = 150_000

    def scaled(self, factor: float) -> Size:
        if factor == 1:
            return self
        return Size(
            therapists=max(2, round(self.therapists * factor)),
            couples=max(2, round(self.couples * factor)),
            sessions=max(10, round(self.sessions * factor)),
            ruptures=max(10, round(self.ruptures * factor)),
        )


@dataclass
class Generated:
    practice_id: int
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Session:
    pk: int
    couple_id: int
    therapist_id: int
    ordinal: int
    starts_at: datetime.datetime
    attendance: str
    withdrawn: bool


def weighted(rng: random.Random, choices: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def some_bits(rng: random.Random, flag: Iterable[int], low: int, high: int) -> int:
    members = [int(m) for m in flag]
    value = 0
    for bit in rng.sample(members, rng.randint(low, high)):
        value |= bit
    return value


def copy_rows(model: type[models.Model], rows: Iterable[Mapping[str, Any]]) -> int:
    """COPY rows into the model's table; each row maps field names (a foreign key by its name,
    `couple`, with the id as value) to values, primary key included, and all give the same names.

    The columns are the model's concrete fields that the rows give, in the model's order
    (`copy_columns` refuses what the database couldn't fill); each row's values are taken by
    name, so a model change can't shift them.
    """
    meta = model._meta
    quote = connection.ops.quote_name
    rows = iter(rows)
    first = next(rows, None)
    written = 0
    if first is not None:
        fields = copy_columns(model, first.keys())
        names = [f.name for f in fields]
        # itemgetter (one C call a row, not a Python loop over the names): COPY speed.
        pick = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        columns = ", ".join(quote(str(f.column)) for f in fields)
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy,
        ):
            for row in chain([first], rows):
                try:
                    values = pick(row)
                except KeyError as error:
                    raise RuntimeError(
                        f"{meta.label}: row {written + 1} does not give {error.args[0]!r}"
                    ) from error
                if len(row) != len(names):
                    raise RuntimeError(
                        f"{meta.label}: row {written + 1} gives {sorted(set(row) - set(names))}"
                        f" beyond the first row's {names}"
                    )
                copy.write_row(values)
                written += 1
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), "
            f"(SELECT COALESCE(max({quote(str(meta.pk.column))}), 1) FROM {quote(meta.db_table)}))",
            [meta.db_table, meta.pk.column],
        )
    return written


def copy_columns(model: type[models.Model], given: Collection[str]) -> list[models.Field[Any, Any]]:
    """The model's concrete fields named in `given`, in the model's order.

    Refuses a name that is not a concrete field of the model, and leaving out a NOT NULL field
    that has no `db_default`: the database has no defaults for Django's Python-side defaults,
    so a model change must show up here, not as bad data. Generated fields can't be written.
    """
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.generated]
    unknown = sorted(set(given) - {f.name for f in fields})
    if unknown:
        raise RuntimeError(
            f"{meta.label}: {unknown} are not writable fields of the model"
            " (a foreign key goes by its field name: `couple`, not `couple_id`)"
        )
    missing = [
        f.name
        for f in fields
        if not f.null and f.name not in given and f.db_default is models.NOT_PROVIDED
    ]
    if missing:
        raise RuntimeError(f"{meta.label}: the generator does not fill {missing}")
    return [f for f in fields if f.name in given]


def session_counts(rng: random.Random, couples: int, total: int) -> list[int]:
    """Sessions per couple: summing exactly to `total`, spread about ±2/3 of the mean."""
    base, extra = divmod(total, couples)
    counts = [base + (1 if i < extra else 0) for i in range(couples)]
    spread = max(0, (base * 2) // 3)
    for i in range(couples // 2):
        d = rng.randint(-spread, spread)
        j = couples - 1 - i
        if counts[i] + d >= 1 and counts[j] - d >= 1:
            counts[i] += d
            counts[j] -= d
    return counts


def generate(size: Size, for_date: datetime.date, seed: int = 20261115) -> Generated:
    """Write the whole practice in one transaction; the database must be freshly migrated."""
    started = time.perf_counter()
    rng = random.Random(seed)
    zone = ZoneInfo(TIME_ZONE)
    with audit_triggers_off(), transaction.atomic():
        practice = Practice.objects.create(name=PRACTICE_NAME, time_zone=TIME_ZONE)
        therapists, supervisors = _people(practice, size.therapists)
        couples = _couples(rng, practice, therapists, size.couples, for_date)
        sessions = _sessions(rng, couples, size.sessions, for_date, zone)
        counts = {
            "therapists": len(therapists),
            "supervisors": len(supervisors),
            "couples": len(couples),
            "partners": 2 * len(couples),
            "sessions": copy_rows(TherapySession, _session_rows(rng, sessions)),
        }
        repair_log: list[Row] = []
        counts["ruptures"] = copy_rows(
            Rupture, _rupture_rows(rng, sessions, size.ruptures, for_date, repair_log)
        )
        counts["repairs"] = copy_rows(RuptureRepair, repair_log)
        held = [s for s in sessions if s.attendance in HELD]
        counts["alliance_ratings"] = copy_rows(AllianceRating, _ratings(rng, held))
        counts["post_session_reports"] = copy_rows(PostSessionReport, _reports(rng, held))
        csi = MeasureDefinition.objects.get(practice=None, code="csi4")
        counts["questionnaires"] = copy_rows(MeasureResponse, _questionnaires(rng, held, csi))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Generated(practice.pk, counts, time.perf_counter() - started)


@contextmanager
def audit_triggers_off() -> Iterator[None]:
    """The change trail's triggers (people migrations 0005 and 0007, `<table>_audit_...`) off
    while seeding: the trail of generated rows means nothing, and would triple the time.
    Every other trigger (the repair-integrity rule) stays on. Back on before the nightly runs,
    whose writes the trail must record as in production."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgname LIKE %s",
            ["%\\_audit\\_%"],
        )
        found = cursor.fetchall()
        for table, trigger in found:
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{trigger}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            # Inside an outer transaction (the test suite's), deferred foreign-key checks
            # would still be pending and PostgreSQL refuses to alter those tables: run them.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, trigger in found:
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER "{trigger}"')


def _people(practice: Practice, count: int) -> tuple[list[User], list[User]]:
    unusable = make_password(None)
    people = [
        User(
            username=f"bench-therapist-{i:03d}",
            password=unusable,  # nobody signs in as these
            email=f"therapist{i:03d}@bench.invalid",
            display_name=f"Therapist {i:03d}",
            practice=practice,
            is_therapist=True,
            is_supervisor=i % 10 == 0,
        )
        for i in range(count)
    ]
    people.append(
        User(
            username="bench-admin",
            password=unusable,
            email="admin@bench.invalid",
            display_name="Practice admin",
            practice=practice,
            is_practice_admin=True,
        )
    )
    User.objects.bulk_create(people)
    therapists = [p for p in people if p.is_therapist]
    supervisors = [p for p in therapists if p.is_supervisor]
    Supervision.objects.bulk_create(
        [
            Supervision(
                practice=practice, supervisor=supervisors[i % len(supervisors)], therapist=t
            )
            for i, t in enumerate(therapists)
            if supervisors and t != supervisors[i % len(supervisors)]
        ]
    )
    return therapists, supervisors


def _couples(
    rng: random.Random,
    practice: Practice,
    therapists: list[User],
    count: int,
    for_date: datetime.date,
) -> list[Couple]:
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("C-" + "".join(rng.choice(CASE_CODE_ALPHABET) for _ in range(6)))
    couples = []
    for i, code in enumerate(sorted(codes, key=lambda _: rng.random())):
        step = weighted(
            rng, [(rng.randint(1, 4), 0.5), (rng.randint(5, 7), 0.3), (rng.randint(8, 9), 0.2)]
        )
        couples.append(
            Couple(
                practice=practice,
                therapist=therapists[i % len(therapists)],
                case_code=code,
                cycle_pattern=weighted(
                    rng,
                    [
                        ("pursue_withdraw", 0.7),
                        ("pursue_pursue", 0.15),
                        ("withdraw_withdraw", 0.15),
                    ],
                ),
                eft_step=step,
                eft_stage=EFTStep.stage_of(step),
                status=weighted(
                    rng,
                    [("active", 0.65), ("paused", 0.1), ("completed", 0.15), ("dropped_out", 0.1)],
                ),
                started_on=for_date,  # set from the first session below
            )
        )
    Couple.objects.bulk_create(couples)
    Partner.objects.bulk_create(
        [
            Partner(
                couple=c,
                label=label,
                display_name=f"Partner {label} of {c.case_code}",
                position=position,
            )
            for c in couples
            for label, position in (("A", "pursuer"), ("B", "withdrawer"))
        ]
    )
    return couples


def _last_session_day(rng: random.Random, status: str, for_date: datetime.date) -> datetime.date:
    if status == "active":
        if rng.random() < 0.06:  # gone quiet
            return for_date - datetime.timedelta(days=rng.randint(22, 60))
        return for_date + datetime.timedelta(days=rng.randint(-6, 13))
    if status == "paused":
        return for_date - datetime.timedelta(days=rng.randint(14, 90))
    return for_date - datetime.timedelta(days=rng.randint(30, 240))


def _sessions(
    rng: random.Random,
    couples: list[Couple],
    total: int,
    for_date: datetime.date,
    zone: ZoneInfo,
) -> list[_Session]:
    sessions: list[_Session] = []
    pk = 0
    started_on = []
    for couple, count in zip(couples, session_counts(rng, len(couples), total), strict=True):
        last = _last_session_day(rng, couple.status, for_date)
        hour = rng.randint(8, 18)
        days = [last]
        for _ in range(count - 1):  # weekly, with the odd week missed
            days.append(days[-1] - datetime.timedelta(days=7 * (2 if rng.random() < 0.08 else 1)))
        days.reverse()
        started_on.append((couple.pk, days[0]))
        for ordinal, day in enumerate(days, start=1):
            pk += 1
            sessions.append(
                _Session(
                    pk=pk,
                    couple_id=couple.pk,
                    therapist_id=couple.therapist_id,  # type: ignore[attr-defined]
                    ordinal=ordinal,
                    starts_at=datetime.datetime.combine(
                        day, datetime.time(hour, rng.choice((0, 30))), tzinfo=zone
                    ),
                    attendance=weighted(
                        rng,
                        [
                            ("attended", 0.80),
                            ("cancelled", 0.07),
                            ("no_show", 0.05),
                            ("ended_early", 0.08),
                        ],
                    ),
                    withdrawn=rng.random() < 0.005,
                )
            )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Couple._meta.db_table} SET started_on = %s WHERE id = %s",
            [(day, pk) for pk, day in started_on],
        )
    return sessions


def _session_rows(rng: random.Random, sessions: list[_Session]) -> Iterator[Row]:
    for s in sessions:
        yield {
            "id": s.pk,
            "couple": s.couple_id,
            "therapist": s.therapist_id,
            "starts_at": s.starts_at,
            "duration_minutes": rng.choice((50, 50, 50, 80)),
            "ordinal": s.ordinal,
            "format": weighted(
                rng, [("conjoint", 0.9), ("individual_a", 0.05), ("individual_b", 0.05)]
            ),
            "attendance": s.attendance,
            "cancelled_by": rng.choice(("partner_a", "partner_b", "both", "therapist"))
            if s.attendance == "cancelled"
            else "",
            "left_early": rng.choice(("partner_a", "partner_b", "both"))
            if s.attendance == "ended_early"
            else "",
            "eft_step": rng.randint(1, 9) if rng.random() < 0.7 else None,
            # No Four Horsemen or change events recorded: the nightly job doesn't read them.
            "horsemen": 0,
            "change_events": 0,
            "progress_note": "",
            "created_at": s.starts_at,
            "updated_at": s.starts_at,
            "withdrawn_at": s.starts_at + datetime.timedelta(days=1) if s.withdrawn else None,
            "withdrawn_by": s.therapist_id if s.withdrawn else None,
            "withdrawal_reason": "Logged against the wrong couple." if s.withdrawn else "",
            # Unsigned, as a practice's newest records are (signing changes no summary).
            "signed_at": None,
            "signed_by": None,
            "cosign_state": "",
        }


OTHER_PARTNER = {"partner_a": "partner_b", "partner_b": "partner_a"}
RECENT = [("resolved", 0.3), ("partly_resolved", 0.25), ("unresolved", 0.45)]
OLDER = [("resolved", 0.72), ("partly_resolved", 0.18), ("unresolved", 0.10)]


def _repairs(
    rng: random.Random,
    rupture_id: int,
    later: list[_Session],
    status: str,
    strategies: int,
    stage: int,
    log: list[Row],
) -> tuple[int, int]:
    """The repair log (RuptureRepair) as ruptures.services.rupture_repair writes it: each
    repair with the rupture's state just before it. Some resolved ruptures were first partly
    repaired in one session, then resolved in a later one. Returns the last repair's session
    and the rupture's strategies after the repairs."""
    if status == "resolved" and len(later) >= 2 and rng.random() < 0.15:
        first, second = sorted(rng.sample(later, 2), key=lambda t: t.pk)
        steps = [(first, "partly_resolved"), (second, "resolved")]
    else:
        steps = [(rng.choice(later), status)]
    partly_before = status == "resolved" and len(steps) == 1 and rng.random() < 0.3
    before_status = "partly_resolved" if partly_before else "unresolved"
    before_strategies = strategies & some_bits(rng, ResolutionStrategy, 0, 10)
    before_stage = rng.randint(0, stage)
    before_repaired_in: int | None = None
    for session, new_status in steps:
        used = strategies & ~before_strategies if new_status == status else 0
        log.append(
            {
                "id": len(log) + 1,
                "rupture": rupture_id,
                "session": session.pk,
                "status": new_status,
                "strategies": used,
                "resolution_stage": stage,
                "status_before": before_status,
                "strategies_before": before_strategies,
                "stage_before": before_stage,
                "repaired_in_before": before_repaired_in,
                "recorded_at": session.starts_at + datetime.timedelta(minutes=58),
                "recorded_by": session.therapist_id,
                "withdrawal_reason": "",  # not undone
            }
        )
        before_status, before_strategies = new_status, before_strategies | used
        before_repaired_in = session.pk
    return steps[-1][0].pk, strategies


def _rupture_rows(
    rng: random.Random,
    sessions: list[_Session],
    count: int,
    for_date: datetime.date,
    log: list[Row],
) -> Iterator[Row]:
    """Ruptures in sessions that took place; a repair, when there is one, is in one of the
    couple's next few held sessions (so later, same couple: the triggers' rule), and is
    logged in `log`. Ruptures of the last three weeks are often still open; older ones
    mostly resolved, not all."""
    recent_since = for_date - datetime.timedelta(days=21)
    by_couple: dict[int, list[_Session]] = {}
    for s in sessions:
        by_couple.setdefault(s.couple_id, []).append(s)
    position = {s.pk: i for group in by_couple.values() for i, s in enumerate(group)}
    held = [s for s in sessions if s.attendance in HELD]
    chosen = sorted(rng.choices(held, k=count), key=lambda s: s.pk)
    for pk, s in enumerate(chosen, start=1):
        kind = "withdrawal" if rng.random() < 0.55 else "confrontation"
        flag = WithdrawalMarker if kind == "withdrawal" else ConfrontationMarker
        markers = some_bits(rng, flag, 1, 3)
        mover = weighted(
            rng, [("partner_a", 0.4), ("partner_b", 0.4), ("both", 0.1), ("therapist", 0.1)]
        )
        if mover == "therapist":
            toward = rng.choice(("partner_a", "partner_b", "both_partners"))
        elif mover == "both" or rng.random() < 0.7:
            toward = "therapist"
        else:
            toward = OTHER_PARTNER[mover]
        status = weighted(rng, RECENT if s.starts_at.date() >= recent_since else OLDER)
        strategies = some_bits(rng, ResolutionStrategy, 0, 3)
        stage = rng.randint(0, 4)
        repaired_in = None
        if status != "unresolved" and rng.random() < 0.6:
            group = by_couple[s.couple_id]
            later = [
                t for t in group[position[s.pk] + 1 : position[s.pk] + 5] if t.attendance in HELD
            ]
            if later:
                repaired_in, strategies = _repairs(rng, pk, later, status, strategies, stage, log)
        withdrawn = rng.random() < 0.01
        yield {
            "id": pk,
            "couple": s.couple_id,
            "session": s.pk,
            "minute": rng.randint(0, 49) if rng.random() < 0.8 else None,
            "rupture_type": kind,
            "who_moved": mover,
            "toward": toward,
            "withdrawal_markers": markers if kind == "withdrawal" else 0,
            "confrontation_markers": markers if kind == "confrontation" else 0,
            "significance": rng.randint(1, 5),
            "therapist_contribution": rng.randint(1, 5) if rng.random() < 0.6 else None,
            "strategies": strategies,
            "principles": some_bits(rng, MetacommunicationPrinciple, 0, 3),
            "resolution_stage": stage,
            "status": status,
            "repaired_in": repaired_in,
            "note": "",
            "created_by": s.therapist_id,
            "created_at": s.starts_at,
            "updated_at": s.starts_at,
            "withdrawn_at": s.starts_at + datetime.timedelta(days=2) if withdrawn else None,
            "withdrawn_by": s.therapist_id if withdrawn else None,
            "withdrawal_reason": "Coded twice." if withdrawn else "",
        }


def _ratings(rng: random.Random, held: list[_Session]) -> Iterator[Row]:
    """Most held sessions rated by both partners; each partner's level drifts, now and then
    dropping sharply (alliance drops), and the two drift apart in some couples (splits)."""
    level: dict[tuple[int, str], float] = {}
    pk = 0
    for s in held:
        if rng.random() >= 0.65:
            continue
        for partner in ("A", "B"):
            if rng.random() < 0.08:
                continue  # this partner didn't rate
            key = (s.couple_id, partner)
            current = level.get(key, rng.uniform(5.5, 9.0))
            current += rng.gauss(0, 0.5) - (rng.uniform(1.5, 3.0) if rng.random() < 0.05 else 0)
            current = min(10.0, max(1.0, current + (0.3 if current < 5 else 0)))
            level[key] = current
            items = {
                item: min(10, max(0, round(current + rng.gauss(0, 0.8))))
                for item in ("bond", "goals", "tasks", "fit")
            }
            pk += 1
            yield {
                "id": pk,
                "session": s.pk,
                "partner": partner,
                **items,
                "entered_by": rng.choice(("therapist", "partner")),
                "absent_but_recorded": False,
                "recorded_at": s.starts_at + datetime.timedelta(minutes=55),
            }


def _reports(rng: random.Random, held: list[_Session]) -> Iterator[Row]:
    pk = 0
    for s in held:
        if rng.random() >= 0.4:
            continue
        for respondent in ("partner_a", "partner_b", "therapist"):
            tension = rng.random() < 0.55
            pk += 1
            yield {
                "id": pk,
                "session": s.pk,
                "respondent": respondent,
                "tension": tension,
                "upsetting": rng.randint(1, 5) if tension else None,
                "resolved": rng.randint(1, 5) if tension else None,
                "entered_by": "therapist"
                if respondent == "therapist"
                else rng.choice(("therapist", "partner")),
                "recorded_at": s.starts_at + datetime.timedelta(minutes=56),
            }


def _questionnaires(
    rng: random.Random, held: list[_Session], csi: MeasureDefinition
) -> Iterator[Row]:
    """The CSI-4 from both partners at every fourth session (when it was held)."""
    items = [(str(i["key"]), int(i["min"]), int(i["max"])) for i in csi.items]
    trend: dict[tuple[int, str], float] = {}
    pk = 0
    for s in held:
        if s.ordinal % 4 != 1:
            continue
        for partner in ("A", "B"):
            key = (s.couple_id, partner)
            share = min(1.0, max(0.0, trend.get(key, rng.uniform(0.3, 0.75)) + rng.gauss(0, 0.06)))
            trend[key] = share
            answers = {
                k: min(hi, max(lo, round(lo + (hi - lo) * share + rng.gauss(0, 0.6))))
                for k, lo, hi in items
            }
            pk += 1
            yield {
                "id": pk,
                "definition": csi.pk,
                "session": s.pk,
                "partner": partner,
                "answers": json.dumps(answers),
                "total": Decimal(sum(answers.values())),
                "entered_by": "partner",
                "absent_but_recorded": False,
                "recorded_at": s.starts_at + datetime.timedelta(minutes=57),
                "recorded_by": s.therapist_id,
            }
