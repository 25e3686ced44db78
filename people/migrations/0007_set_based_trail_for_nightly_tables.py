"""The change trail of the four tables the nightly job writes, set-based instead of per row.

Rupture summaries, flags, nightly runs and caseload roll-ups are derived from clinical rows
that are audited themselves, and the nightly job writes them in bulk: thousands of rows per
chunk. Migration 0005's row trigger ran a PL/pgSQL function once per row (the row as jsonb, a
diff, two lookups, one INSERT): about a third of the nightly run's time (docs/benchmarks.md).

Here the same trail is written per statement: AFTER INSERT / UPDATE / DELETE ... FOR EACH
STATEMENT triggers with transition tables (REFERENCING NEW TABLE / OLD TABLE) run one
`INSERT INTO people_changeevent ... SELECT` over all the statement's rows. Nothing is lost:
still one ChangeEvent per row inserted, updated or deleted, with the same fields as 0005's
(table, row id, operation, changed column NAMES only, couple, case code, practice, actor,
database role); an UPDATE that changes nothing still writes nothing. An upsert
(INSERT ... ON CONFLICT DO UPDATE) fires the INSERT trigger for the rows it inserted and the
UPDATE trigger for those it updated, as the row trigger did.

All four tables have an `id` key (the UPDATE pairs old and new rows by it) and a `couple_id`
or a `practice_id` column, so the couple needs no lookup through a parent row.
PostgreSQL only, as 0005.
"""

from __future__ import annotations

from django.db import migrations

NIGHTLY_TABLES = [
    "ruptures_rupturesummary",
    "ruptures_flag",
    "ruptures_nightlyrun",
    "ruptures_caseloadsummary",
]

# The rows of each operation as jsonb (`r`) with the names of their changed columns (`cols`).
CHANGED_ROWS = {
    "INSERT": """
        SELECT r, (SELECT COALESCE(jsonb_agg(e.key ORDER BY e.key), '[]'::jsonb)
                   FROM jsonb_each(r) AS e WHERE e.value <> 'null'::jsonb) AS cols
        FROM (SELECT to_jsonb(n) AS r FROM new_rows AS n) AS inserted""",
    "UPDATE": """
        SELECT r, cols FROM (
            SELECT to_jsonb(n) AS r,
                   (SELECT jsonb_agg(e.key ORDER BY e.key) FROM jsonb_each(to_jsonb(n)) AS e
                    WHERE e.key <> 'updated_at'
                      AND e.value IS DISTINCT FROM to_jsonb(o) -> e.key) AS cols
            FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
        ) AS updated
        WHERE cols IS NOT NULL""",
    "DELETE": """
        SELECT to_jsonb(o) AS r, '[]'::jsonb AS cols FROM old_rows AS o""",
}

# One trail row per changed row; couple, case code and practice as the row trigger finds them.
WRITE_TRAIL = """
        INSERT INTO people_changeevent (
            table_name, row_id, operation, changed_columns, couple_id, case_code,
            actor_id, actor_label, db_user, practice_id
        )
        SELECT TG_TABLE_NAME, (d.r ->> 'id')::bigint, TG_OP, d.cols, c.id,
               COALESCE(c.case_code, ''), the_user, the_actor, left(session_user, 63),
               COALESCE(c.practice_id, (d.r ->> 'practice_id')::bigint, user_practice)
        FROM ({rows}) AS d
        LEFT JOIN cycles_couple AS c ON c.id = (d.r ->> 'couple_id')::bigint
        ORDER BY (d.r ->> 'id')::bigint;"""

FUNCTION = """
CREATE FUNCTION audit_derived_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    the_user bigint := NULLIF(current_setting('app.user_id', true), '')::bigint;
    the_actor text := left(COALESCE(current_setting('app.actor', true), ''), 40);
    user_practice bigint;
BEGIN
    IF the_user IS NOT NULL THEN
        SELECT practice_id INTO user_practice FROM people_user WHERE id = the_user;
    END IF;
    IF TG_OP = 'INSERT' THEN{insert}
    ELSIF TG_OP = 'UPDATE' THEN{update}
    ELSE{delete}
    END IF;
    RETURN NULL;
END;
$$;
""".format(**{op.lower(): WRITE_TRAIL.format(rows=rows) for op, rows in CHANGED_ROWS.items()})

TRANSITION_TABLES = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}


def row_trigger(table: str) -> str:
    """Migration 0005's per-row trigger on the table."""
    return f"{table}_audit_change"


def statement_trigger(table: str, operation: str) -> str:
    return f"{table}_audit_{operation.lower()}s"


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in NIGHTLY_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {row_trigger(table)} ON {table};")
        for operation, tables in TRANSITION_TABLES.items():
            schema_editor.execute(
                f"CREATE TRIGGER {statement_trigger(table, operation)} AFTER {operation} "
                f"ON {table} REFERENCING {tables} FOR EACH STATEMENT "
                "EXECUTE FUNCTION audit_derived_change();"
            )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in NIGHTLY_TABLES:
        for operation in TRANSITION_TABLES:
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {statement_trigger(table, operation)} ON {table};"
            )
        schema_editor.execute(
            f"CREATE TRIGGER {row_trigger(table)} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_clinical_change();"
        )
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_derived_change();")


class Migration(migrations.Migration):
    dependencies = [("people", "0006_audit_append_only")]

    operations = [migrations.RunPython(forward, backward)]
