"""The set-based change trail (0007) paired an UPDATE's old and new rows in a nested loop, and
converted the old row to jsonb once per column compared: an UPDATE of n rows cost about n²
(6,000 rupture summaries updated in one statement: 10.3 s with the trail, 0.07 s without;
bench/experiments.py). Here each row is converted once and the function plans without
nested loops, so the pairing is a hash join: linear in the rows updated. Same trail rows,
same fields. PostgreSQL only, as 0007.
"""

from __future__ import annotations

import importlib

from django.db import migrations

trail = importlib.import_module("people.migrations.0007_set_based_trail_for_nightly_tables")

UPDATED_ROWS = """
        SELECT r, cols FROM (
            SELECT n.r,
                   (SELECT jsonb_agg(e.key ORDER BY e.key) FROM jsonb_each(n.r) AS e
                    WHERE e.key <> 'updated_at' AND e.value IS DISTINCT FROM o.r -> e.key) AS cols
            FROM (SELECT x.id, to_jsonb(x) AS r FROM new_rows AS x) AS n
            JOIN (SELECT y.id, to_jsonb(y) AS r FROM old_rows AS y) AS o ON o.id = n.id
        ) AS updated
        WHERE cols IS NOT NULL"""


def function_sql(*, linear: bool) -> str:
    """0007's function, or (linear) the same with UPDATED_ROWS pairing the rows by a hash
    join: transition tables have no statistics, so the planner is told not to nest loops."""
    sql = trail.FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    if not linear:
        return sql
    old_update = trail.WRITE_TRAIL.format(rows=trail.CHANGED_ROWS["UPDATE"])
    if old_update not in sql:
        raise RuntimeError("0007's UPDATE statement was not found in its function")
    sql = sql.replace(old_update, trail.WRITE_TRAIL.format(rows=UPDATED_ROWS), 1)
    return sql.replace("LANGUAGE plpgsql AS", "LANGUAGE plpgsql SET enable_nestloop = off AS", 1)


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(function_sql(linear=True))


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(function_sql(linear=False))


class Migration(migrations.Migration):
    dependencies = [("people", "0008_contribution_rise")]
    operations = [migrations.RunPython(forward, backward)]
