"""Measuring a change to the app without making it (the lead changes the app).

`change_trail_off` shows what the change trail's triggers cost the nightly job's own writes
(per row in people migration 0005; per statement, set-based, since 0007). It was preceded
here by a proposed `flags.reconcile` (mark the flags still true as seen with one UPDATE
instead of `bulk_update` over every open flag), which the app adopted in 2f0d5f0 and later
(with 0007) replaced by writing nothing for a flag still true and worded the same.
"""

from __future__ import annotations

import datetime

from django.db import connection

from bench.aggregates import STATUSES, TYPES
from ruptures.models import CaseloadSummary, Flag, NightlyRun, RuptureSummary

NIGHTLY_TABLES = [m._meta.db_table for m in (RuptureSummary, Flag, NightlyRun, CaseloadSummary)]


def change_trail_off() -> None:
    """Inside the caller's transaction (rolled back after): disable the change trail's
    triggers (`<table>_audit_...`, set-based since people 0007) on the tables the nightly
    job writes, which hold only what it derives from clinical rows. Not a proposal to drop
    the trail; a measure of what logging every derived row costs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relname = ANY(%s) AND t.tgname LIKE %s",
            [NIGHTLY_TABLES, "%\\_audit\\_%"],
        )
        for table, trigger in cursor.fetchall():
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{trigger}"')


def trail_before_0009() -> None:
    """Inside the caller's transaction (rolled back after; PostgreSQL's DDL is transactional):
    the change trail's function as people 0007 wrote it, which paired an UPDATE's old and new
    rows in a nested loop. The baseline for what 0009 changed."""
    import importlib

    fix = importlib.import_module("people.migrations.0009_derived_trail_update_hash_join")
    with connection.cursor() as cursor:
        cursor.execute(fix.function_sql(linear=False))


def store_core_set_based(practice_id: int, for_date: datetime.date, time_zone: str) -> int:
    """Inside the caller's transaction (rolled back after): the floor's aggregate written as
    the night's 6,000 summary rows by one `INSERT ... SELECT ... ON CONFLICT`, JSON built in
    the database, the change trail's triggers on. The least a set-based redesign would do to
    compute and store a summary; returns the rows written."""
    from bench.aggregates import PERIODS, floor_params, floor_sql

    def figures(p: str) -> str:
        by_type = ", ".join(f"'{t}', nullif(f.{p}_{t}, 0)" for t in TYPES)
        by_status = ", ".join(f"'{s}', nullif(f.{p}_{s}, 0)" for s in STATUSES)
        return (
            f"jsonb_build_object('sessions', coalesce(f.{p}_sessions, 0), "
            f"'sessions_held', coalesce(f.{p}_held, 0), "
            f"'ruptures', coalesce(f.{p}_ruptures, 0), "
            f"'by_type', jsonb_strip_nulls(jsonb_build_object({by_type})), "
            f"'by_status', jsonb_strip_nulls(jsonb_build_object({by_status})), "
            f"'ruptures_per_session', f.{p}_per_session)"
        )

    periods = ", ".join(f"('{p}', {figures(p)})" for p in PERIODS)
    select = floor_sql().rsplit("ORDER BY", 1)[0]
    sql = f"""
INSERT INTO {RuptureSummary._meta.db_table} (couple_id, period, on_date, data, computed_at)
SELECT f.id, p.period, %(day)s, p.data, now()
FROM ({select}) f CROSS JOIN LATERAL (VALUES {periods}) AS p(period, data)
ON CONFLICT (couple_id, period, on_date)
DO UPDATE SET data = EXCLUDED.data, computed_at = EXCLUDED.computed_at
"""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, floor_params(practice_id, for_date, time_zone))
        return cursor.rowcount
