"""Which database role may the app run as: one that can't erase the audit trail.

The audit tables refuse UPDATE and DELETE by trigger (people migration 0006), and every
clinical table writes its change trail by trigger (0005, 0007). A trigger only binds roles
that don't own the table: an owner (or a superuser, or a member of the owning role) can
TRUNCATE, `ALTER TABLE ... DISABLE TRIGGER`, `DROP TRIGGER`, or `CREATE OR REPLACE` the
trigger's function. So in production the tables and functions belong to an owner role that
runs the migrations, and the app connects as a role holding only SELECT and INSERT on the
audit tables (`manage.py setup_db_roles` makes both).

`role_problem` says why a role could erase or bypass the trail, or None. The web
(config/wsgi.py) and the Celery worker (config/celery.py, on `worker_init`) call
`refuse_unsafe_database_role` at start-up; `setup_db_roles` checks the app role it set up
with the same function. Local development (DEBUG on, or SQLite) is never checked.
"""

from __future__ import annotations

import sys
from typing import Any

# The append-only tables of people migration 0006.
AUDIT_TABLES = ("people_accessevent", "people_changeevent")
# What the app needs on the audit tables, and the only rights it may hold there.
AUDIT_NEEDS = ("SELECT", "INSERT")
# Rights that would let a role change or empty them (TRIGGER: a BEFORE INSERT trigger of its
# own returning NULL would drop new rows silently).
AUDIT_FORBIDDEN = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")

SUPERUSER = "SELECT rolsuper FROM pg_roles WHERE rolname = %s"

AUDIT_RIGHTS = """
SELECT t.name, c.oid IS NOT NULL,
       c.oid IS NOT NULL AND pg_has_role(%(role)s, c.relowner, 'MEMBER'),
       ARRAY(SELECT p FROM unnest(%(needs)s::text[]) AS p
             WHERE c.oid IS NULL OR NOT has_table_privilege(%(role)s, c.oid, p)),
       ARRAY(SELECT p FROM unnest(%(forbidden)s::text[]) AS p
             WHERE c.oid IS NOT NULL AND has_table_privilege(%(role)s, c.oid, p))
FROM unnest(%(tables)s::text[]) WITH ORDINALITY AS t(name, n)
LEFT JOIN pg_class AS c ON c.oid = to_regclass(t.name)
ORDER BY t.n
"""

# Tables carrying a trigger (the change trail, the append-only guard, the repair integrity
# rules) that the role owns, so could disable; and the trigger functions it could replace.
OWNED_TRIGGER_TABLES = """
SELECT DISTINCT c.relname FROM pg_trigger AS t
JOIN pg_class AS c ON c.oid = t.tgrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND n.nspname = ANY(current_schemas(false))
  AND pg_has_role(%s, c.relowner, 'MEMBER')
ORDER BY c.relname
"""
OWNED_TRIGGER_FUNCTIONS = """
SELECT DISTINCT p.proname FROM pg_trigger AS t
JOIN pg_proc AS p ON p.oid = t.tgfoid JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE NOT t.tgisinternal AND n.nspname = ANY(current_schemas(false))
  AND pg_has_role(%s, p.proowner, 'MEMBER')
ORDER BY p.proname
"""
# Tables the role can't read or add to, e.g. made by a migration run as another role than the
# owner (its default privileges grant the app nothing then); extension tables aside.
UNUSABLE_TABLES = """
SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(current_schemas(false)) AND c.relkind IN ('r', 'p')
  AND NOT (has_table_privilege(%(role)s, c.oid, 'SELECT')
           AND has_table_privilege(%(role)s, c.oid, 'INSERT'))
  AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY c.relname
"""


def role_problem(cursor: Any, role: str) -> str | None:
    """Why `role` could erase or bypass the audit trail (or lacks what it needs), or None.

    `cursor` is any PostgreSQL DB-API cursor (Django's or psycopg's). Checked in order:
    1. a superuser bypasses every privilege and trigger;
    2. each audit table exists, is not owned by the role (nor a role it belongs to), grants
       it SELECT and INSERT, and nothing in AUDIT_FORBIDDEN;
    3. no table with a trigger in the search path is the role's (it could disable the trigger);
    4. no trigger function is the role's (it could replace it with one that does nothing);
    5. it can read and add to every table (not a trail matter, but a migration run as the
       wrong role would otherwise surface as errors in use rather than at start-up).
    """
    cursor.execute(SUPERUSER, [role])
    found = cursor.fetchone()
    if found is None:
        return f"the database role {role!r} does not exist"
    if found[0]:
        return f"the database role {role!r} is a superuser, so it could erase the audit trail"
    cursor.execute(
        AUDIT_RIGHTS,
        {
            "role": role,
            "tables": list(AUDIT_TABLES),
            "needs": list(AUDIT_NEEDS),
            "forbidden": list(AUDIT_FORBIDDEN),
        },
    )
    for table, exists, owns, missing, forbidden in cursor.fetchall():
        if not exists:
            return f"the audit table {table} does not exist (run migrate as the owner role)"
        if owns:
            return (
                f"the database role {role!r} owns {table}, so it could TRUNCATE it or "
                "disable its trigger"
            )
        if forbidden:
            return f"the database role {role!r} may {', '.join(forbidden)} {table}"
        if missing:
            return f"the database role {role!r} may not {', '.join(missing)} {table}"
    cursor.execute(OWNED_TRIGGER_TABLES, [role])
    if tables := [row[0] for row in cursor.fetchall()]:
        return (
            f"the database role {role!r} owns {tables[0]}"
            + (f" and {len(tables) - 1} more tables" if len(tables) > 1 else "")
            + ", so it could disable the audit triggers"
        )
    cursor.execute(OWNED_TRIGGER_FUNCTIONS, [role])
    if functions := [row[0] for row in cursor.fetchall()]:
        return f"the database role {role!r} owns the trigger function {functions[0]}()"
    cursor.execute(UNUSABLE_TABLES, {"role": role})
    if tables := [row[0] for row in cursor.fetchall()]:
        return (
            f"the database role {role!r} may not read or add to {tables[0]}"
            + (f" and {len(tables) - 1} more tables" if len(tables) > 1 else "")
            + " (a migration run as another role than the owner? run setup_db_roles again)"
        )
    return None


def refuse_unsafe_database_role(*, exit_code: int = 1) -> None:
    """Stop start-up in one line when the app's database role could erase the audit trail.

    Production only (DEBUG off, PostgreSQL). `exit_code` is for a role that fails the check
    (config/wsgi.py asks for the code that halts gunicorn: another worker would refuse too).
    A database that can't be reached exits 1, so a process manager, or gunicorn booting the
    next worker, tries again: the check is never skipped. The connection is closed after, so
    a process that forks next (gunicorn --preload, Celery's prefork pool) shares no socket.
    """
    from django.conf import settings
    from django.db import DatabaseError, connection

    if settings.DEBUG or connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            problem = role_problem(cursor, cursor.fetchone()[0])
    except DatabaseError as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        _stop(f"could not check the database role: {first_line}", 1)
    finally:
        connection.close()
    if problem is not None:
        _stop(
            f"{problem}. Connect as the app role made by `manage.py setup_db_roles` "
            "(docs/security.md, Database roles)",
            exit_code,
        )


def _stop(reason: str, exit_code: int) -> None:
    sys.stderr.write(f"Cycles cannot start: {reason}.\n")
    raise SystemExit(exit_code)
