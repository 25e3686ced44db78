"""The audit trail cannot be changed or deleted, not even by the app's own database role.

A BEFORE UPDATE OR DELETE trigger on people_accessevent and people_changeevent raises, on
PostgreSQL (tests, production) and on SQLite (the embedded demo database, RAISE(ABORT)).
So `AccessEvent.objects.update(...)`, `.delete()` and raw SQL all fail.

TRUNCATE is deliberately not guarded: Django's test flush (TransactionTestCase, live_server,
the browser tests) empties every table with one TRUNCATE, and a statement-level guard would
break it. In production TRUNCATE is denied by privilege instead: the app's role gets
`REVOKE TRUNCATE ON people_accessevent, people_changeevent FROM <app role>` (best: the tables
are owned by a separate migration role, the app role holding only SELECT and INSERT on them,
so it can't disable these triggers either).

Lifting the guard deliberately (e.g. a retention purge after the legal period, agreed in
writing): a later migration, reviewed like any other, runs
    ALTER TABLE people_accessevent DISABLE TRIGGER people_accessevent_append_only;
    DELETE FROM people_accessevent WHERE at < ...;
    ALTER TABLE people_accessevent ENABLE TRIGGER people_accessevent_append_only;
inside its own transaction (on SQLite: DROP TRIGGER, the change, then CREATE it again as
below). Nothing in the app disables it at run time.
"""

from __future__ import annotations

from django.db import migrations

AUDIT_TABLES = ["people_accessevent", "people_changeevent"]

POSTGRES_FUNCTION = """
CREATE FUNCTION audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


def postgres_forward() -> list[str]:
    return [POSTGRES_FUNCTION] + [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
        for table in AUDIT_TABLES
    ]


def postgres_backward() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in AUDIT_TABLES] + [
        "DROP FUNCTION IF EXISTS audit_append_only();"
    ]


def sqlite_forward() -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END;"
        for table in AUDIT_TABLES
        for operation in ("UPDATE", "DELETE")
    ]


def sqlite_backward() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_{operation}"
        for table in AUDIT_TABLES
        for operation in ("update", "delete")
    ]


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    run(schema_editor, postgres_forward(), sqlite_forward())


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    run(schema_editor, postgres_backward(), sqlite_backward())


def run(schema_editor, postgres: list[str], sqlite: list[str]) -> None:  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = postgres
    elif vendor == "sqlite":
        statements = sqlite
    else:
        raise NotImplementedError(f"No append-only guard written for {vendor}.")
    for statement in statements:
        schema_editor.execute(statement, params=None)  # no %-placeholders: RAISE uses %


class Migration(migrations.Migration):
    dependencies = [("people", "0005_change_triggers")]

    operations = [migrations.RunPython(forward, backward)]
