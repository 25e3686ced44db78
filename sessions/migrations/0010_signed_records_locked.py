"""The database refuses a change to a signed session's record except through an amendment
(docs/domain.md, "Signing").

A signed record is the session's content (start, duration, format, attendance, who cancelled
or left, EFT step, observations, progress note, withdrawal), its ruptures as observed (type,
who, toward whom, markers, significance, the therapist's part, minute, note, withdrawal; not
their later repair, which belongs to the session that repairs them) and the repairs made in it.
An update, or a rupture or repair added to it, is refused unless the session has an amendment
`applying` — true only inside the amendment's own transaction (sessions.signing.amend), so no
other transaction can ride on it. A signed record can't be unsigned.

The change trail (people 0005) is attached to the two new tables. PostgreSQL only, like the
change trail: on SQLite (the embedded demo) the application's own checks refuse these changes.
"""

from __future__ import annotations

from django.db import migrations

FUNCTION = """
CREATE FUNCTION refuse_signed_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    the_session bigint;
BEGIN
    IF TG_TABLE_NAME = 'therapy_sessions_therapysession' THEN
        IF OLD.signed_at IS NULL THEN
            RETURN NEW;
        END IF;
        IF NEW.signed_at IS NULL THEN
            RAISE EXCEPTION 'session % is signed: a signed record cannot be unsigned', OLD.id;
        END IF;
        IF (OLD.starts_at, OLD.duration_minutes, OLD.format, OLD.attendance, OLD.cancelled_by,
            OLD.left_early, OLD.eft_step, OLD.horsemen, OLD.change_events, OLD.progress_note,
            OLD.withdrawn_at)
           IS NOT DISTINCT FROM
           (NEW.starts_at, NEW.duration_minutes, NEW.format, NEW.attendance, NEW.cancelled_by,
            NEW.left_early, NEW.eft_step, NEW.horsemen, NEW.change_events, NEW.progress_note,
            NEW.withdrawn_at) THEN
            RETURN NEW;
        END IF;
        the_session := OLD.id;
    ELSIF TG_TABLE_NAME = 'ruptures_rupture' THEN
        IF TG_OP = 'UPDATE' AND
           (OLD.session_id, OLD.minute, OLD.rupture_type, OLD.who_moved, OLD.toward,
            OLD.withdrawal_markers, OLD.confrontation_markers, OLD.significance,
            OLD.therapist_contribution, OLD.note, OLD.withdrawn_at)
           IS NOT DISTINCT FROM
           (NEW.session_id, NEW.minute, NEW.rupture_type, NEW.who_moved, NEW.toward,
            NEW.withdrawal_markers, NEW.confrontation_markers, NEW.significance,
            NEW.therapist_contribution, NEW.note, NEW.withdrawn_at) THEN
            RETURN NEW;
        END IF;
        the_session := NEW.session_id;
    ELSE
        the_session := NEW.session_id;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM therapy_sessions_therapysession
        WHERE id = the_session AND signed_at IS NOT NULL
    ) THEN
        RETURN NEW;
    END IF;
    IF EXISTS (
        SELECT 1 FROM therapy_sessions_amendment WHERE session_id = the_session AND applying
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'session % is signed: its record changes only through an amendment',
        the_session;
END;
$$;
"""

LOCKED = {
    "therapy_sessions_therapysession": "BEFORE UPDATE",
    "ruptures_rupture": "BEFORE INSERT OR UPDATE",
    "ruptures_rupturerepair": "BEFORE INSERT OR UPDATE",
}
NEW_CLINICAL_TABLES = ["therapy_sessions_signoffevent", "therapy_sessions_amendment"]


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table, when in LOCKED.items():
        schema_editor.execute(
            f"CREATE TRIGGER {table}_signed_locked {when} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_signed_record_change();"
        )
    for table in NEW_CLINICAL_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_audit_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_clinical_change();"
        )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in NEW_CLINICAL_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_audit_change ON {table};")
    for table in LOCKED:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_signed_locked ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS refuse_signed_record_change();")


class Migration(migrations.Migration):
    dependencies = [
        ("therapy_sessions", "0009_signing"),
        ("ruptures", "0011_acknowledge_once"),
        ("people", "0005_change_triggers"),
    ]

    operations = [migrations.RunPython(forward, backward)]
