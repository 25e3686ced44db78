"""`manage.py setup_db_roles --owner cycles_owner --app cycles_app`: the database's two roles.

An owner of a table can TRUNCATE it, disable or drop its triggers and replace their
functions, so the role that owns the audit tables must not be the role the app runs as
(people/db_roles.py). This command, run once per database by a superuser (or the database's
administrator with CREATEROLE) through DATABASE_URL, makes:

- the owner role (LOGIN): owns every table, sequence and function of the schema, and runs
  `manage.py migrate` from now on;
- the app role (LOGIN): SELECT, INSERT, UPDATE and DELETE on the ordinary tables, USAGE and
  SELECT on the sequences, and only SELECT and INSERT on people_accessevent and
  people_changeevent. The change-trail triggers are SECURITY INVOKER: a clinical write by the
  app inserts its ChangeEvent as the app, which INSERT on people_changeevent covers.

Steps, in one transaction (so a failure changes nothing):
1. Create each role if missing (an existing one keeps its password unless one is given),
   LOGIN and with no superuser, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS; the app role
   loses any membership of the owner role (it could SET ROLE to it).
2. CONNECT on the database for both; USAGE and CREATE on the schema for the owner, USAGE
   only for the app; nobody else may CREATE in it.
3. Every table, view, sequence and function of the schema not owned by the owner is given
   to it (sequences of a column follow their table; extension objects are left alone).
4. The app's rights, set exactly: everything revoked, then granted as above.
5. Default privileges: tables and sequences the owner creates later (its migrations) grant
   the app the same rights, so a new table needs nothing more. A new append-only table
   needs its name in people.db_roles.AUDIT_TABLES and this command run again.
6. The app role is checked with people.db_roles.role_problem, the start-up check itself.

Safe to repeat: a second run changes nothing and says so.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from people.db_roles import AUDIT_NEEDS, AUDIT_TABLES, role_problem

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
ROLE_ATTRIBUTES = {
    "rolcanlogin": ("LOGIN", True),
    "rolsuper": ("NOSUPERUSER", False),
    "rolcreatedb": ("NOCREATEDB", False),
    "rolcreaterole": ("NOCREATEROLE", False),
    "rolreplication": ("NOREPLICATION", False),
    "rolbypassrls": ("NOBYPASSRLS", False),
}
ROLE = "SELECT to_jsonb(r) FROM pg_roles AS r WHERE r.rolname = %s"
APP_TABLE_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
APP_SEQUENCE_RIGHTS = "USAGE, SELECT"
# An ALTER ... OWNER waits for the app's open transactions on the table; while it waits,
# every later query on that table queues behind it. Give up instead of stalling the app.
LOCK_TIMEOUT = "10s"
LOCK_NOT_AVAILABLE = "55P03"

# relkind -> the ALTER statement's object kind. Sequences owned by a column (serial,
# identity: pg_depend 'a', 'i') follow their table; extension members ('e') are left alone.
RELATIONS = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
       c.relname
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND c.relowner <> %(owner)s::regrole
  AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
ORDER BY c.relkind = 'S', c.relname
"""
ROUTINES = """
SELECT p.oid::regprocedure::text
FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND p.proowner <> %(owner)s::regrole
  AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1
"""


class Command(BaseCommand):
    help = (
        "Create the database's owner role (owns the tables, runs migrations) and app role "
        "(may only SELECT and INSERT the audit tables). PostgreSQL only; safe to repeat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--owner", required=True, help="The owner role, e.g. cycles_owner.")
        parser.add_argument("--app", required=True, help="The app's role, e.g. cycles_app.")
        parser.add_argument("--schema", default="public", help="The app's schema (public).")
        for role in ("app", "owner"):
            parser.add_argument(
                f"--{role}-password-env",
                metavar="VARIABLE",
                help=f"Set the {role} role's password from this environment variable.",
            )
            parser.add_argument(
                f"--{role}-password-from-stdin",
                action="store_true",
                help=f"Read the {role} role's password from a line of standard input (the "
                "app's first when both are read).",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "setup_db_roles is for PostgreSQL: the embedded SQLite database has no roles "
                "(its audit tables are append-only by trigger; see docs/security.md)."
            )
        owner, app, schema = options["owner"], options["app"], options["schema"]
        check_names(owner=owner, app=app)
        passwords = {role: read_password(role, options) for role in ("app", "owner")}
        connection.ensure_connection()
        hashed = {"app": scram(app, passwords["app"]), "owner": scram(owner, passwords["owner"])}
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                setup = Setup(cursor, owner=owner, app=app, schema=schema)
                checked = setup.run(hashed)
        except DatabaseError as error:
            raise CommandError(refusal(error)) from None
        for line in setup.done or ["Nothing to change: the roles were already set up."]:
            self.stdout.write(line)
        if checked:
            self.stdout.write(self.style.SUCCESS(f"Checked: {app} can't erase the audit trail."))
        self.stdout.write(
            f"Run migrations as {owner} (DATABASE_URL=postgres://{owner}:...@host/db "
            f"manage.py migrate); the web and the workers connect as {app}."
        )


def check_names(*, owner: str, app: str) -> None:
    for name in (owner, app):
        if not ROLE_NAME.fullmatch(name):
            raise CommandError(
                f"{name!r} is not a role name this command makes: lower-case letters, digits "
                "and _, not starting with a digit, at most 63."
            )
    if owner == app:
        raise CommandError("The owner and the app must be two roles: that is the point.")


def read_password(role: str, options: dict[str, Any]) -> str | None:
    variable, from_stdin = options[f"{role}_password_env"], options[f"{role}_password_from_stdin"]
    if variable and from_stdin:
        raise CommandError(f"Give the {role} role's password one way, not both.")
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif variable:
        password = os.environ.get(variable, "")
    else:
        return None
    if not password:
        where = f"${variable}" if variable else "standard input"
        raise CommandError(f"The {role} role's password from {where} is empty.")
    return password


def scram(role: str, password: str | None) -> str | None:
    """The password as the server stores it (its password_encryption, SCRAM by default),
    computed here by libpq: the password itself never reaches the server or its logs."""
    if password is None:
        return None
    pgconn = connection.connection.pgconn
    return bytes(pgconn.encrypt_password(password.encode(), role.encode())).decode()


def refusal(error: DatabaseError) -> str:
    """What PostgreSQL refused, in one line; the transaction rolled back everything."""
    if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        return (
            f"A table stayed locked for {LOCK_TIMEOUT} (the app or a worker is using it): "
            "nothing changed. Run it again when the app is quieter, or stopped."
        )
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return (
        f"PostgreSQL refused: {first_line}. Nothing changed. Run it as a superuser, or as the "
        "database's administrator with CREATEROLE that owns the tables."
    )


class Setup:
    """The statements of one run, on the command's cursor, in its transaction."""

    def __init__(self, cursor: Any, *, owner: str, app: str, schema: str) -> None:
        self.cursor, self.owner, self.app, self.schema = cursor, owner, app, schema
        self.done: list[str] = []

    def execute(self, statement: sql.Composable, params: Any = None) -> None:
        raw = connection.connection
        self.cursor.execute(statement.as_string(raw), params)

    def fetch(self, query: str, params: Any) -> list[tuple[Any, ...]]:
        self.cursor.execute(query, params)
        return list(self.cursor.fetchall())

    def run(self, passwords: dict[str, str | None]) -> bool:
        """Steps 1-6; True when the app role was checked (the audit tables exist)."""
        self.cursor.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        me, superuser = self.cursor.fetchone()
        if me in (self.owner, self.app):
            raise CommandError(
                f"Run this as a superuser or the database's administrator (DATABASE_URL), not "
                f"as {me!r}, one of the roles it sets up."
            )
        if not self.fetch("SELECT 1 FROM pg_namespace WHERE nspname = %s", [self.schema]):
            raise CommandError(f"There is no schema {self.schema!r} in this database.")
        self.role(self.owner, passwords["owner"], "owns the tables and runs migrations")
        self.role(self.app, passwords["app"], "the web and the workers connect as it")
        self.separate_app_from_owner()
        if not superuser:
            self.become_member_of_owner(me)
        self.database_and_schema()
        self.reassign()
        audit_tables = self.audit_tables_exist()
        self.grant(audit_tables=audit_tables)
        self.default_privileges()
        if not audit_tables:
            self.done.append(
                f"The audit tables don't exist yet: run migrate as {self.owner}, then this "
                f"command again to leave {self.app} only SELECT and INSERT on them (until then "
                "the app refuses to start)."
            )
            return False
        if problem := role_problem(self.cursor, self.app):
            raise CommandError(f"After setting up, {problem}: nothing changed.")
        return True

    def audit_tables_exist(self) -> bool:
        """False in a database not migrated yet (the roles may come first)."""
        found = self.fetch(
            "SELECT count(*) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind IN ('r', 'p')",
            [self.schema, list(AUDIT_TABLES)],
        )
        return bool(found[0][0] == len(AUDIT_TABLES))

    def role(self, name: str, password: str | None, purpose: str) -> None:
        """1. The role, LOGIN and without any power beyond its grants. `password` is
        already hashed (`scram`)."""
        found = self.fetch(ROLE, [name])
        role = sql.Identifier(name)
        secret: sql.Composable = sql.SQL("")
        if password is not None:
            secret = sql.SQL(" PASSWORD {}").format(sql.Literal(password))
        if not found:
            attributes = " ".join(keyword for keyword, _ in ROLE_ATTRIBUTES.values())
            self.execute(sql.SQL("CREATE ROLE {} " + attributes).format(role) + secret)
            self.done.append(f"Created the role {name} ({purpose}).")
            return
        attributes_now = json.loads(found[0][0])  # Django's cursors read jsonb as text
        wrong = [
            keyword
            for column, (keyword, wanted) in ROLE_ATTRIBUTES.items()
            if attributes_now[column] != wanted
        ]
        if wrong or password is not None:
            self.execute(sql.SQL("ALTER ROLE {} " + " ".join(wrong)).format(role) + secret)
            changed = wrong + (["a new password"] if password is not None else [])
            self.done.append(f"Altered the role {name}: {', '.join(changed)}.")

    def separate_app_from_owner(self) -> None:
        if self.fetch(
            "SELECT 1 FROM pg_auth_members WHERE roleid = %s::regrole AND member = %s::regrole",
            [self.owner, self.app],
        ):
            self.execute(
                sql.SQL("REVOKE {} FROM {}").format(
                    sql.Identifier(self.owner), sql.Identifier(self.app)
                )
            )
            self.done.append(f"{self.app} is no longer a member of {self.owner}.")

    def become_member_of_owner(self, me: str) -> None:
        """Without superuser, giving objects to the owner (and setting its default
        privileges) needs membership of it."""
        if not self.fetch("SELECT pg_has_role(current_user, %s, 'MEMBER')", [self.owner])[0][0]:
            self.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(self.owner), sql.Identifier(me))
            )
            self.done.append(f"{me} is now a member of {self.owner} (to hand it the tables).")

    def database_and_schema(self) -> None:
        """2. Connect, use the schema; only the owner creates in it."""
        database = sql.Identifier(self.fetch("SELECT current_database()", None)[0][0])
        owner, app, schema = (sql.Identifier(n) for n in (self.owner, self.app, self.schema))
        for statement in (
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(database, owner, app),
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(schema, owner),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, app),
            sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC, {}").format(schema, app),
        ):
            self.execute(statement)

    def reassign(self) -> None:
        """3. The owner owns everything in the schema."""
        params = {"schema": self.schema, "owner": self.owner}
        owner = sql.Identifier(self.owner)
        relations = self.fetch(RELATIONS, params)
        for kind, name in relations:
            self.execute(
                sql.SQL("ALTER " + kind + " {} OWNER TO {}").format(
                    sql.Identifier(self.schema, name), owner
                )
            )
        # regprocedure's text is already quoted and qualified where needed.
        routines = self.fetch(ROUTINES, params)
        for (signature,) in routines:
            self.execute(sql.SQL("ALTER ROUTINE " + signature + " OWNER TO {}").format(owner))
        if relations or routines:
            self.done.append(
                f"Gave {self.owner} {len(relations)} tables, views and sequences and "
                f"{len(routines)} functions."
            )

    def grant(self, *, audit_tables: bool) -> None:
        """4. Exactly the app's rights: revoke everything, grant what it needs."""
        app, schema = sql.Identifier(self.app), sql.Identifier(self.schema)
        audit = sql.SQL(", ").join(sql.Identifier(self.schema, t) for t in AUDIT_TABLES)
        before = self.privileges()
        statements = [
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(schema, app),
            sql.SQL("GRANT " + APP_TABLE_RIGHTS + " ON ALL TABLES IN SCHEMA {} TO {}").format(
                schema, app
            ),
            sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(schema, app),
            sql.SQL("GRANT " + APP_SEQUENCE_RIGHTS + " ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                schema, app
            ),
        ]
        if audit_tables:
            statements += [
                sql.SQL("REVOKE ALL ON {} FROM PUBLIC, {}").format(audit, app),
                sql.SQL("GRANT " + ", ".join(AUDIT_NEEDS) + " ON {} TO {}").format(audit, app),
            ]
        for statement in statements:
            self.execute(statement)
        if self.privileges() != before:
            self.done.append(
                f"Granted {self.app} {APP_TABLE_RIGHTS} on the tables, {APP_SEQUENCE_RIGHTS} "
                f"on the sequences, and only {' and '.join(AUDIT_NEEDS)} on "
                f"{' and '.join(AUDIT_TABLES)}."
            )

    def privileges(self) -> list[tuple[Any, ...]]:
        return self.fetch(
            "SELECT c.relname, c.relacl::text FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') ORDER BY 1",
            [self.schema],
        )

    def default_privileges(self) -> None:
        """5. What the owner's later migrations create grants the app the same rights."""
        before = self.fetch("SELECT defaclacl::text FROM pg_default_acl ORDER BY 1", None)
        owner, app, schema = (sql.Identifier(n) for n in (self.owner, self.app, self.schema))
        for objects, rights in (("TABLES", APP_TABLE_RIGHTS), ("SEQUENCES", APP_SEQUENCE_RIGHTS)):
            self.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT "
                    + rights
                    + " ON "
                    + objects
                    + " TO {}"
                ).format(owner, schema, app)
            )
        if self.fetch("SELECT defaclacl::text FROM pg_default_acl ORDER BY 1", None) != before:
            self.done.append(
                f"Tables and sequences {self.owner} creates later grant {self.app} the same."
            )
