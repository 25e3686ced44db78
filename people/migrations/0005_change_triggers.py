"""The change audit: one PL/pgSQL trigger function on every clinical table.

Every INSERT, UPDATE and DELETE of a clinical row, whoever makes it (the app's views, the
nightly job's bulk_create(update_conflicts=True) and bulk_update, a raw SQL session), adds a
people.ChangeEvent row inside the same transaction. The function stores column NAMES only,
never values, so notes and reflections never reach the trail.

1. The row as jsonb: NEW for INSERT and UPDATE, OLD for DELETE.
2. The columns: for UPDATE, the keys whose values differ between to_jsonb(OLD) and
   to_jsonb(NEW), ignoring updated_at; an UPDATE that changes nothing writes nothing. For
   INSERT, the columns given a value; for DELETE, none.
3. The couple: the row's couple_id (the couple's own id for cycles_couple), else through the
   row's session, rupture, cycle map or flag; its practice and case code from cycles_couple.
4. The practice, when there is no couple: the row's practice_id, else the acting user's.
5. The actor: current_setting('app.user_id', true) and current_setting('app.actor', true),
   set by people.audit_db (the middleware for requests, `acting_as` for tasks), and the
   database role (session_user) for changes made outside the app.

PostgreSQL only: on SQLite (the embedded demo database) nothing is installed here and the
demo keeps no change trail; people 0006 still makes its audit tables append-only there.

A clinical model added later needs its table added to a new migration calling
`attach(...)` with the same function (CREATE TRIGGER ... EXECUTE FUNCTION
audit_clinical_change()).
"""

from __future__ import annotations

from django.db import migrations

CLINICAL_TABLES = [
    "cycles_couple",
    "cycles_partner",
    "cycles_cyclemap",
    "cycles_cyclestep",
    "cycles_caseshare",
    "therapy_sessions_therapysession",
    "therapy_sessions_privatenote",
    "therapy_sessions_alliancerating",
    "therapy_sessions_postsessionreport",
    "therapy_sessions_measureresponse",
    "ruptures_rupture",
    "ruptures_rupturerepair",
    "ruptures_rupturesummary",
    "ruptures_flag",
    "ruptures_flagacknowledgement",
    "ruptures_nightlyrun",
    "ruptures_caseloadsummary",
]

FUNCTION = """
CREATE FUNCTION audit_clinical_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
    row_data jsonb := COALESCE(new_row, old_row);
    changed jsonb := '[]'::jsonb;
    the_couple bigint;
    the_practice bigint;
    the_case_code text;
    the_user bigint := NULLIF(current_setting('app.user_id', true), '')::bigint;
    the_actor text := COALESCE(current_setting('app.actor', true), '');
BEGIN
    -- 2. Column names only: the values (notes, reflections) never leave their table.
    IF TG_OP = 'UPDATE' THEN
        SELECT COALESCE(jsonb_agg(n.key ORDER BY n.key), '[]'::jsonb) INTO changed
        FROM jsonb_each(new_row) AS n
        WHERE n.key <> 'updated_at' AND n.value IS DISTINCT FROM old_row -> n.key;
        IF changed = '[]'::jsonb THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT COALESCE(jsonb_agg(n.key ORDER BY n.key), '[]'::jsonb) INTO changed
        FROM jsonb_each(new_row) AS n
        WHERE n.value <> 'null'::jsonb;
    END IF;

    -- 3. The couple the row belongs to, directly or through its parent.
    IF TG_TABLE_NAME = 'cycles_couple' THEN
        the_couple := (row_data ->> 'id')::bigint;
        the_practice := (row_data ->> 'practice_id')::bigint;
        the_case_code := row_data ->> 'case_code';
    ELSE
        the_couple := (row_data ->> 'couple_id')::bigint;
        IF the_couple IS NULL AND row_data ->> 'session_id' IS NOT NULL THEN
            SELECT couple_id INTO the_couple FROM therapy_sessions_therapysession
            WHERE id = (row_data ->> 'session_id')::bigint;
        END IF;
        IF the_couple IS NULL AND row_data ->> 'rupture_id' IS NOT NULL THEN
            SELECT couple_id INTO the_couple FROM ruptures_rupture
            WHERE id = (row_data ->> 'rupture_id')::bigint;
        END IF;
        IF the_couple IS NULL AND row_data ->> 'cycle_map_id' IS NOT NULL THEN
            SELECT couple_id INTO the_couple FROM cycles_cyclemap
            WHERE id = (row_data ->> 'cycle_map_id')::bigint;
        END IF;
        IF the_couple IS NULL AND row_data ->> 'flag_id' IS NOT NULL THEN
            SELECT couple_id INTO the_couple FROM ruptures_flag
            WHERE id = (row_data ->> 'flag_id')::bigint;
        END IF;
        IF the_couple IS NOT NULL THEN
            SELECT practice_id, case_code INTO the_practice, the_case_code FROM cycles_couple
            WHERE id = the_couple;
        END IF;
    END IF;

    -- 4. Rows of no couple (nightly runs, caseload summaries) name their practice.
    IF the_practice IS NULL THEN
        the_practice := (row_data ->> 'practice_id')::bigint;
    END IF;
    IF the_practice IS NULL AND the_user IS NOT NULL THEN
        SELECT practice_id INTO the_practice FROM people_user WHERE id = the_user;
    END IF;

    -- 5. Who: the app's user and label, and the database role.
    INSERT INTO people_changeevent (
        table_name, row_id, operation, changed_columns, couple_id, case_code,
        actor_id, actor_label, db_user, practice_id
    ) VALUES (
        TG_TABLE_NAME, (row_data ->> 'id')::bigint, TG_OP, changed, the_couple,
        COALESCE(the_case_code, ''), the_user, left(the_actor, 40), left(session_user, 63),
        the_practice
    );
    RETURN NULL;
END;
$$;
"""


def trigger_name(table: str) -> str:
    return f"{table}_audit_change"


def attach(table: str) -> str:
    return (
        f"CREATE TRIGGER {trigger_name(table)} AFTER INSERT OR UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_clinical_change();"
    )


def detach(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table};"


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return  # the change trail is PostgreSQL-only: see the docstring
    schema_editor.execute(FUNCTION)
    for table in CLINICAL_TABLES:
        schema_editor.execute(attach(table))


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in CLINICAL_TABLES:
        schema_editor.execute(detach(table))
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_clinical_change();")


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0004_changeevent"),
        ("cycles", "0004_share_code"),
        ("therapy_sessions", "0004_encrypt_private_notes"),
        ("ruptures", "0006_repair_log"),
    ]

    operations = [migrations.RunPython(forward, backward)]
