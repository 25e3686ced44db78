"""The two yardsticks the nightly run is timed against, and the check that all three agree.

The "core" of a couple's summary, for each of the three periods (the day, the last four
weeks, the treatment), as of the end of the date in the practice's time zone:
sessions, sessions held, ruptures, ruptures by type, by status (a repair in a session after
the date, or in a withdrawn session, does not count yet: that rupture is unresolved), and
ruptures per session held. The same rules as flags/snapshot.py and summaries.py,
including the repair log: a rupture repaired in a session after the date counts as it stood
before that repair (RuptureRepair's status and repaired-in "before").

- `floor`: one hand-written SQL aggregate computing the core for every couple at once.
- `naive_one_query`: the loop the issue names, one query per couple: the floor's aggregate
  for that couple alone.
- `stored_core`: the same figures read back from the nightly run's RuptureSummary rows.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from cycles.models import Couple
from flags.snapshot import end_of
from flags.summaries import FOUR_WEEKS
from ruptures.models import Rupture, RuptureRepair, RuptureSummary
from sessions.models import TherapySession

Core = dict[int, dict[str, dict[str, Any]]]  # couple id -> period -> figures
PERIODS = ("day", "four_weeks", "treatment")
TYPES = ("withdrawal", "confrontation")
STATUSES = ("unresolved", "partly_resolved", "resolved")


def _period_columns() -> tuple[str, str]:
    """The FILTERed counts of the floor's two aggregates, for every period."""
    window = {
        "day": "local_date >= %(day)s",
        "four_weeks": "local_date >= %(four_weeks)s",
        "treatment": "TRUE",
    }
    sessions, ruptures = [], []
    for period, cond in window.items():
        sessions += [
            f"count(*) FILTER (WHERE {cond}) AS {period}_sessions",
            f"count(*) FILTER (WHERE {cond} AND held) AS {period}_held",
        ]
        ruptures.append(f"count(*) FILTER (WHERE {cond}) AS {period}_ruptures")
        ruptures += [
            f"count(*) FILTER (WHERE {cond} AND rupture_type = '{t}') AS {period}_{t}"
            for t in TYPES
        ]
        ruptures += [
            f"count(*) FILTER (WHERE {cond} AND status = '{s}') AS {period}_{s}" for s in STATUSES
        ]
    return ",\n        ".join(sessions), ",\n        ".join(ruptures)


def floor_sql(one_couple: bool = False) -> str:
    """The floor's statement; with `one_couple`, the same for the couple `%(couple)s` only
    (the naive one-query-per-couple loop)."""
    session_counts, rupture_counts = _period_columns()
    couple_filter = (
        "couple_id = %(couple)s"
        if one_couple
        else (
            f"couple_id IN (SELECT id FROM {Couple._meta.db_table}"
            " WHERE practice_id = %(practice)s)"
        )
    )
    sessions = TherapySession._meta.db_table
    ruptures = Rupture._meta.db_table
    repairs = RuptureRepair._meta.db_table
    couples = Couple._meta.db_table
    per_session = ",\n    ".join(
        f"round(coalesce(r.{p}_ruptures, 0)::numeric / nullif(s.{p}_held, 0), 2) AS {p}_per_session"
        for p in PERIODS
    )
    return f"""
WITH cur AS MATERIALIZED (
    SELECT id, couple_id,
           attendance IN ('attended', 'ended_early') AS held,
           (starts_at AT TIME ZONE %(tz)s)::date AS local_date
    FROM {sessions}
    WHERE withdrawn_at IS NULL AND starts_at < %(cutoff)s
      AND {couple_filter}
),
s AS (
    SELECT couple_id,
        {session_counts}
    FROM cur GROUP BY couple_id
),
later AS (
    SELECT DISTINCT ON (log.rupture_id)
           log.rupture_id, log.status_before, log.repaired_in_before_id
    FROM {repairs} log JOIN {sessions} s ON s.id = log.session_id
    WHERE s.starts_at >= %(cutoff)s AND log.withdrawn_at IS NULL
      {"AND s.couple_id = %(couple)s" if one_couple else ""}
    ORDER BY log.rupture_id, s.starts_at, log.recorded_at
),
rr AS (
    SELECT r.couple_id, r.rupture_type, seen.local_date,
           CASE WHEN later.rupture_id IS NOT NULL THEN
                    CASE WHEN later.repaired_in_before_id IS NOT NULL AND NOT coalesce(
                              before.withdrawn_at IS NULL AND before.starts_at < %(cutoff)s,
                              false)
                         THEN 'unresolved' ELSE later.status_before END
                WHEN r.repaired_in_id IS NOT NULL AND NOT coalesce(
                         repair.withdrawn_at IS NULL AND repair.starts_at < %(cutoff)s, false)
                    THEN 'unresolved'
                ELSE r.status END AS status
    FROM {ruptures} r
    JOIN cur seen ON seen.id = r.session_id
    LEFT JOIN later ON later.rupture_id = r.id
    LEFT JOIN {sessions} repair ON repair.id = r.repaired_in_id
    LEFT JOIN {sessions} before ON before.id = later.repaired_in_before_id
    WHERE r.withdrawn_at IS NULL
),
r AS (
    SELECT couple_id,
        {rupture_counts}
    FROM rr GROUP BY couple_id
)
SELECT c.id, s.*, r.*,
    {per_session}
FROM {couples} c
LEFT JOIN s ON s.couple_id = c.id
LEFT JOIN r ON r.couple_id = c.id
WHERE {"c.id = %(couple)s" if one_couple else "c.practice_id = %(practice)s"}
ORDER BY c.id
"""


def floor_params(practice_id: int, for_date: datetime.date, time_zone: str) -> dict[str, Any]:
    return {
        "tz": time_zone,
        "cutoff": end_of(for_date, time_zone),
        "practice": practice_id,
        "day": for_date,
        "four_weeks": for_date - FOUR_WEEKS,
    }


def floor(practice_id: int, for_date: datetime.date, time_zone: str) -> list[tuple[Any, ...]]:
    """The floor: run the one aggregate and fetch every couple's row. This is what is timed."""
    with transaction.atomic(), connection.cursor() as cursor:
        # Without this, PostgreSQL may JIT-compile the query (its cost estimate passes
        # jit_above_cost), spending longer compiling than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(floor_sql(), floor_params(practice_id, for_date, time_zone))
        columns = [c.name for c in cursor.description]
        rows = cursor.fetchall()
    return [tuple(columns), *rows]


def naive_one_query(
    practice_id: int, for_date: datetime.date, time_zone: str, step: int = 1
) -> list[tuple[Any, ...]]:
    """The naive loop the issue names: per couple, one query (the floor's aggregate for that
    couple alone); with `step` above 1, only every step-th couple. Same rows as `floor`."""
    couples = list(
        Couple.objects.filter(practice_id=practice_id).order_by("pk").values_list("pk", flat=True)
    )
    params = floor_params(practice_id, for_date, time_zone)
    sql = floor_sql(one_couple=True)
    rows: list[tuple[Any, ...]] = []
    columns: tuple[str, ...] = ()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        for couple_id in couples[::step]:
            cursor.execute(sql, {**params, "couple": couple_id})
            columns = tuple(c.name for c in cursor.description)
            rows += cursor.fetchall()
    return [columns, *rows]


def floor_core(result: list[tuple[Any, ...]]) -> Core:
    columns, rows = result[0], result[1:]
    core: Core = {}
    for values in rows:
        row = {name: value for name, value in zip(columns, values, strict=True)}
        core[row["id"]] = {
            p: _figures(
                sessions=row[f"{p}_sessions"] or 0,
                held=row[f"{p}_held"] or 0,
                ruptures=row[f"{p}_ruptures"] or 0,
                by_type={t: row[f"{p}_{t}"] or 0 for t in TYPES},
                by_status={s: row[f"{p}_{s}"] or 0 for s in STATUSES},
                per_session=row[f"{p}_per_session"],
            )
            for p in PERIODS
        }
    return core


def _figures(
    *,
    sessions: int,
    held: int,
    ruptures: int,
    by_type: dict[str, int],
    by_status: dict[str, int],
    per_session: float | Decimal | None,
) -> dict[str, Any]:
    return {
        "sessions": sessions,
        "sessions_held": held,
        "ruptures": ruptures,
        "by_type": {k: v for k, v in by_type.items() if v},
        "by_status": {k: v for k, v in by_status.items() if v},
        "ruptures_per_session": None if per_session is None else float(per_session),
    }


def stored_core(practice_id: int, for_date: datetime.date) -> Core:
    """The core figures as the nightly run stored them."""
    core: Core = {}
    for row in RuptureSummary.objects.filter(
        couple__practice_id=practice_id, on_date=for_date
    ).values("couple_id", "period", "data"):
        data = row["data"]
        core.setdefault(row["couple_id"], {})[row["period"]] = _figures(
            sessions=data["sessions"],
            held=data["sessions_held"],
            ruptures=data["ruptures"],
            by_type=data["by_type"],
            by_status=data["by_status"],
            per_session=data["ruptures_per_session"],
        )
    return core


def differences(
    expected: Core, found: Core, limit: int = 3, only_found: bool = False
) -> tuple[int, list[str]]:
    """How many (couple, period) figures differ, and a few examples (`only_found`: compare
    only the couples in `found`, a sample). Ruptures per session may differ by one in the
    last place: SQL rounds the exact ratio half up, Python rounds its float."""
    count, examples = 0, list[str]()
    for couple_id in sorted(set(found) if only_found else set(expected) | set(found)):
        for period in PERIODS:
            a = expected.get(couple_id, {}).get(period)
            b = found.get(couple_id, {}).get(period)
            if a is not None and b is not None:
                x, y = a["ruptures_per_session"], b["ruptures_per_session"]
                if x is not None and y is not None and abs(x - y) <= 0.011:
                    a = {**a, "ruptures_per_session": y}
            if a != b:
                count += 1
                if len(examples) < limit:
                    examples.append(f"couple {couple_id} {period}: expected {a}, found {b}")
    return count, examples
