"""Database triggers for what a check constraint cannot see across tables.

A rupture's session must belong to the rupture's couple; its repairing session must belong
to the same couple and start later than the rupture's session. Changing a session's start or
couple may not break that either. PostgreSQL (tests, production) and SQLite (the embedded
default) both get the rule, raising an integrity error Django reports as IntegrityError.
"""

from __future__ import annotations

from django.db import migrations

SESSIONS = "therapy_sessions_therapysession"
RUPTURES = "ruptures_rupture"

POSTGRES_FORWARD = f"""
CREATE FUNCTION rupture_repair_integrity() RETURNS trigger AS $$
DECLARE
    seen_couple bigint;
    seen_start timestamptz;
    repair_couple bigint;
    repair_start timestamptz;
BEGIN
    SELECT couple_id, starts_at INTO seen_couple, seen_start FROM {SESSIONS} WHERE id = NEW.session_id;
    IF seen_couple IS DISTINCT FROM NEW.couple_id THEN
        RAISE EXCEPTION 'rupture_session_of_its_couple' USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.repaired_in_id IS NOT NULL THEN
        SELECT couple_id, starts_at INTO repair_couple, repair_start FROM {SESSIONS} WHERE id = NEW.repaired_in_id;
        IF repair_couple IS DISTINCT FROM NEW.couple_id THEN
            RAISE EXCEPTION 'rupture_repaired_in_same_couple' USING ERRCODE = 'check_violation';
        END IF;
        IF repair_start <= seen_start THEN
            RAISE EXCEPTION 'rupture_repaired_later' USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER rupture_repair_integrity
    BEFORE INSERT OR UPDATE OF session_id, repaired_in_id, couple_id ON {RUPTURES}
    FOR EACH ROW EXECUTE FUNCTION rupture_repair_integrity();

CREATE FUNCTION session_keeps_rupture_integrity() RETURNS trigger AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM {RUPTURES} r
        JOIN {SESSIONS} seen ON seen.id = r.session_id
        LEFT JOIN {SESSIONS} repair ON repair.id = r.repaired_in_id
        WHERE (r.session_id = NEW.id OR r.repaired_in_id = NEW.id)
          AND (seen.couple_id <> r.couple_id
               OR repair.couple_id <> r.couple_id
               OR repair.starts_at <= seen.starts_at)
    ) THEN
        RAISE EXCEPTION 'rupture_repaired_later' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER session_keeps_rupture_integrity
    AFTER UPDATE OF starts_at, couple_id ON {SESSIONS}
    FOR EACH ROW EXECUTE FUNCTION session_keeps_rupture_integrity();
"""

POSTGRES_BACKWARD = f"""
DROP TRIGGER IF EXISTS session_keeps_rupture_integrity ON {SESSIONS};
DROP FUNCTION IF EXISTS session_keeps_rupture_integrity();
DROP TRIGGER IF EXISTS rupture_repair_integrity ON {RUPTURES};
DROP FUNCTION IF EXISTS rupture_repair_integrity();
"""

SQLITE_RUPTURE_BODY = f"""
BEGIN
    SELECT RAISE(ABORT, 'rupture_session_of_its_couple')
    WHERE (SELECT couple_id FROM {SESSIONS} WHERE id = NEW.session_id) IS NOT NEW.couple_id;
    SELECT RAISE(ABORT, 'rupture_repaired_in_same_couple')
    WHERE NEW.repaired_in_id IS NOT NULL
      AND (SELECT couple_id FROM {SESSIONS} WHERE id = NEW.repaired_in_id) IS NOT NEW.couple_id;
    SELECT RAISE(ABORT, 'rupture_repaired_later')
    WHERE NEW.repaired_in_id IS NOT NULL
      AND (SELECT starts_at FROM {SESSIONS} WHERE id = NEW.repaired_in_id)
          <= (SELECT starts_at FROM {SESSIONS} WHERE id = NEW.session_id);
END;
"""

SQLITE_FORWARD = [
    f"CREATE TRIGGER rupture_repair_integrity_insert BEFORE INSERT ON {RUPTURES} FOR EACH ROW "
    + SQLITE_RUPTURE_BODY,
    f"CREATE TRIGGER rupture_repair_integrity_update BEFORE UPDATE ON {RUPTURES} FOR EACH ROW "
    + SQLITE_RUPTURE_BODY,
    f"""CREATE TRIGGER session_keeps_rupture_integrity AFTER UPDATE OF starts_at, couple_id
    ON {SESSIONS} FOR EACH ROW BEGIN
        SELECT RAISE(ABORT, 'rupture_repaired_later') WHERE EXISTS (
            SELECT 1 FROM {RUPTURES} r
            JOIN {SESSIONS} seen ON seen.id = r.session_id
            LEFT JOIN {SESSIONS} repair ON repair.id = r.repaired_in_id
            WHERE (r.session_id = NEW.id OR r.repaired_in_id = NEW.id)
              AND (seen.couple_id <> r.couple_id
                   OR repair.couple_id <> r.couple_id
                   OR repair.starts_at <= seen.starts_at));
    END;""",
]

SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS rupture_repair_integrity_insert",
    "DROP TRIGGER IF EXISTS rupture_repair_integrity_update",
    "DROP TRIGGER IF EXISTS session_keeps_rupture_integrity",
]


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    run(schema_editor, POSTGRES_FORWARD, SQLITE_FORWARD)


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    run(schema_editor, POSTGRES_BACKWARD, SQLITE_BACKWARD)


def run(schema_editor, postgres_sql: str, sqlite_statements: list[str]) -> None:  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(postgres_sql)
    elif vendor == "sqlite":
        for statement in sqlite_statements:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"No repair-integrity triggers written for {vendor}.")


class Migration(migrations.Migration):
    dependencies = [
        ("ruptures", "0002_initial"),
        ("therapy_sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
