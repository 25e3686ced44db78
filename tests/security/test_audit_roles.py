"""The audit trail can't be erased by the app's own database role (issue 15, STACK.md item 7).

`manage.py setup_db_roles` makes an owner role (owns the tables, runs migrations) and an app
role. These tests make both in the test database under names of their own, connect as each
with a separate psycopg connection, and show what the app role can't do to the audit tables
(TRUNCATE, DISABLE TRIGGER, DROP TRIGGER, UPDATE, DELETE, or a way round the guard) while the
owner can, and what the app still does (append to and read the trail; write clinical rows,
whose change trail the triggers keep). The start-up check (people.db_roles) refuses the owner
and accepts the app, in a web and a Celery worker process started for real; a new database
goes the operator's whole way (roles, `migrate` as the owner, the app).

Roles are cluster-wide. Where another connection must see them the test is transactional and
drops its roles at the end, after handing back what they own; elsewhere the roles are made
inside the test's transaction and rolled back with it.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from people.db_roles import AUDIT_TABLES, role_problem
from people.models import AccessEvent, ChangeEvent
from tests.factories import make_couple, make_practice, make_user

REPO = Path(settings.BASE_DIR)
INSUFFICIENT_PRIVILEGE = "42501"
GUARD = {table: f"{table}_append_only" for table in AUDIT_TABLES}
ERASE = [
    "TRUNCATE {table}",
    "ALTER TABLE {table} DISABLE TRIGGER {guard}",
    "ALTER TABLE {table} DISABLE TRIGGER USER",
    "DROP TRIGGER {guard} ON {table}",
    "UPDATE {table} SET id = id",
    "DELETE FROM {table}",
]
# What the guard stops even the owner doing; the rest only the role's rights stop.
GUARDED = ("UPDATE", "DELETE")
# Ways round the guard: a trigger of one's own that drops new rows, a guard function that
# lets everything through, the change trail switched off on clinical tables, the owner's
# rights, a table of one's own, the audit table made one's own.
ROUND_THE_GUARD = [
    "CREATE TRIGGER drop_rows BEFORE INSERT ON people_accessevent FOR EACH ROW "
    "EXECUTE FUNCTION audit_append_only()",
    "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN NULL; END; $$",
    "ALTER TABLE cycles_couple DISABLE TRIGGER cycles_couple_audit_change",
    "ALTER TABLE ruptures_rupturesummary DISABLE TRIGGER USER",
    "SET ROLE {owner}",
    "CREATE TABLE people_accessevent_copy (id bigint)",
    "ALTER TABLE people_changeevent OWNER TO CURRENT_USER",
]
REFUSED_OWNER = (
    "Cycles cannot start: the database role {owner!r} owns people_accessevent, so it could "
    "TRUNCATE it or disable its trigger. Connect as the app role made by "
    "`manage.py setup_db_roles` (docs/security.md, Database roles)."
)


@dataclass
class Roles:
    owner: str
    app: str
    passwords: dict[str, str]
    database: str

    def conninfo(self, role: str) -> dict[str, Any]:
        db = connection.settings_dict
        return {
            "host": db["HOST"] or "127.0.0.1",
            "port": db["PORT"] or 5432,
            "dbname": self.database,
            "user": role,
            "password": self.passwords[role],
        }

    def url(self, role: str) -> str:
        i = self.conninfo(role)
        return f"postgres://{i['user']}:{i['password']}@{i['host']}:{i['port']}/{i['dbname']}"

    def connect(self, role: str) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.conninfo(role), autocommit=True)


def role_names() -> tuple[str, str]:
    run = f"{os.getpid()}_{secrets.token_hex(3)}"
    return f"cycles_test_owner_{run}", f"cycles_test_app_{run}"


def quoted(name: str) -> str:
    return sql.Identifier(name).as_string(connection.connection)


def setup_roles(roles: Roles) -> str:
    """The command, as an operator runs it, with the passwords from environment variables."""
    out = io.StringIO()
    env = {
        "ROLES_TEST_OWNER_PASSWORD": roles.passwords[roles.owner],
        "ROLES_TEST_APP_PASSWORD": roles.passwords[roles.app],
    }
    os.environ.update(env)
    try:
        call_command(
            "setup_db_roles",
            owner=roles.owner,
            app=roles.app,
            owner_password_env="ROLES_TEST_OWNER_PASSWORD",
            app_password_env="ROLES_TEST_APP_PASSWORD",
            stdout=out,
        )
    finally:
        for name in env:
            os.environ.pop(name)
    return out.getvalue()


def drop_roles(*names: str) -> None:
    """Hand whatever the roles own back to the role running the tests, then drop them with
    their rights and default privileges (in this database and on the database itself)."""
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
            if cursor.fetchone() is None:
                continue
            cursor.execute(f"REASSIGN OWNED BY {quoted(name)} TO CURRENT_USER")
            cursor.execute(f"DROP OWNED BY {quoted(name)}")
            cursor.execute(f"DROP ROLE {quoted(name)}")


def make_roles(database: str | None = None) -> Roles:
    owner, app = role_names()
    return Roles(
        owner=owner,
        app=app,
        passwords={owner: secrets.token_urlsafe(16), app: secrets.token_urlsafe(16)},
        database=database or connection.settings_dict["NAME"],
    )


@pytest.fixture
def roles(transactional_db: None) -> Iterator[Roles]:
    """The two roles, set up by the command and committed; dropped at the end, before
    pytest-django empties the tables (this fixture depends on `transactional_db`, so it is
    torn down first)."""
    made = make_roles()
    try:
        setup_roles(made)
        yield made
    finally:
        drop_roles(made.app, made.owner)


@pytest.fixture
def uncommitted_roles(db: None) -> Roles:
    """The two roles inside the test's transaction: rolled back, roles and all, at the end."""
    made = make_roles()
    setup_roles(made)
    return made


@pytest.fixture
def trail(roles: Roles) -> dict[str, Any]:
    """A clinical write (its ChangeEvent by trigger) and an AccessEvent, committed."""
    practice = make_practice()
    therapist = make_user(practice, therapist=True)
    couple = make_couple(therapist)
    AccessEvent.objects.create(user=therapist, practice=practice, action="read couple")
    assert ChangeEvent.objects.filter(table_name="cycles_couple", row_id=couple.pk).exists()
    return {"couple": couple, "practice": practice, "therapist": therapist}


def counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        found = {}
        for table in AUDIT_TABLES:
            cursor.execute(f"SELECT count(*) FROM {quoted(table)}")  # noqa: S608
            found[table] = cursor.fetchone()[0]
        return found


def guards() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgname = ANY(%s) ORDER BY 1",
            [list(GUARD.values())],
        )
        return cursor.fetchall()


def outcome(conn: psycopg.Connection[Any], statement: str) -> str:
    """'done', or the SQLSTATE PostgreSQL refused the statement with; each statement in a
    transaction rolled back, so a statement that succeeds changes nothing either."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)
    except psycopg.Error as error:
        return error.sqlstate or "?"
    return "done"


def erase_statements() -> list[str]:
    return [
        statement.format(table=table, guard=GUARD[table])
        for table in AUDIT_TABLES
        for statement in ERASE
    ]


# --- what the app role can't do, and the owner can --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_app_role_cannot_erase_either_audit_table(roles, trail):
    before = counts()
    with roles.connect(roles.app) as app:
        outcomes = {statement: outcome(app, statement) for statement in erase_statements()}
    assert outcomes == dict.fromkeys(erase_statements(), INSUFFICIENT_PRIVILEGE)
    assert counts() == before
    assert all(before.values())
    assert guards() == [(name, "O") for name in sorted(GUARD.values())]


@pytest.mark.django_db(transaction=True)
def test_the_app_role_cannot_get_round_the_guard(roles, trail):
    statements = [s.format(owner=quoted(roles.owner)) for s in ROUND_THE_GUARD]
    with roles.connect(roles.app) as app:
        outcomes = {statement: outcome(app, statement) for statement in statements}
    assert outcomes == dict.fromkeys(statements, INSUFFICIENT_PRIVILEGE)


@pytest.mark.django_db(transaction=True)
def test_the_owner_can_what_the_app_cannot(roles, trail):
    """Why the app must not own the tables: the refusals above are the role's doing. As the
    owner each succeeds (rolled back), but UPDATE and DELETE, which the guard refuses anyone."""
    with roles.connect(roles.owner) as owner:
        outcomes = {statement: outcome(owner, statement) for statement in erase_statements()}
    assert outcomes == {
        statement: INSUFFICIENT_PRIVILEGE if statement.startswith(GUARDED) else "done"
        for statement in erase_statements()
    }
    assert all(counts().values())


# --- what the app role still does --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_app_role_appends_to_and_reads_both_audit_tables(roles, trail):
    with roles.connect(roles.app) as app:
        access = app.execute(
            "INSERT INTO people_accessevent (at, action, object_type, object_id, case_code, "
            "detail) VALUES (now(), 'read couple', '', '', '', '') RETURNING id"
        ).fetchone()
        change = app.execute(
            "INSERT INTO people_changeevent (at, table_name, row_id, operation, "
            "changed_columns, case_code, actor_label, db_user) "
            "VALUES (now(), 'cycles_couple', 1, 'UPDATE', '[]', '', 'test', current_user) "
            "RETURNING id"
        ).fetchone()
        assert access is not None
        assert change is not None
        read = app.execute("SELECT action FROM people_accessevent WHERE id = %s", access)
        assert read.fetchone() == ("read couple",)
        read = app.execute("SELECT db_user FROM people_changeevent WHERE id = %s", change)
        assert read.fetchone() == (roles.app,)


@pytest.mark.django_db(transaction=True)
def test_clinical_writes_as_the_app_role_keep_their_change_trail(roles, trail):
    couple = trail["couple"]
    with roles.connect(roles.app) as app:
        app.execute("SELECT set_config('app.actor', 'roles test', false)")
        # A row trigger (people 0005)...
        app.execute(
            "UPDATE cycles_couple SET started_on = started_on - 1 WHERE id = %s", [couple.pk]
        )
        # ...and the statement triggers of a nightly table (people 0007, 0009).
        inserted = app.execute(
            "INSERT INTO ruptures_rupturesummary (couple_id, period, on_date, data, computed_at) "
            "VALUES (%s, 'treatment', current_date, '{}', now()) RETURNING id",
            [couple.pk],
        ).fetchone()
        assert inserted is not None
        summary = inserted[0]
        app.execute(
            "UPDATE ruptures_rupturesummary SET data = '{\"ruptures\": 1}' WHERE id = %s",
            [summary],
        )
        app.execute("DELETE FROM ruptures_rupturesummary WHERE id = %s", [summary])
    written = ChangeEvent.objects.filter(db_user=roles.app, actor_label="roles test")
    assert set(written.values_list("table_name", "row_id", "operation")) == {
        ("cycles_couple", couple.pk, "UPDATE"),
        ("ruptures_rupturesummary", summary, "INSERT"),
        ("ruptures_rupturesummary", summary, "UPDATE"),
        ("ruptures_rupturesummary", summary, "DELETE"),
    }


ORM_AS_THE_APP = """
import json
from django.conf import settings
from django.utils import timezone
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
from people.audit_db import acting_as
from people.models import AccessEvent
from ruptures.models import RuptureSummary
from tests.factories import make_couple, make_practice, make_session, make_user
with acting_as("roles orm"):
    practice = make_practice()
    therapist = make_user(practice, therapist=True)
    couple = make_couple(therapist)
    session = make_session(couple, private_note="a note")
    summary = RuptureSummary.objects.create(
        couple=couple, period="treatment", on_date=timezone.localdate(), data={}
    )
    RuptureSummary.objects.filter(pk=summary.pk).update(data={"ruptures": 1})
    summary.delete()
    AccessEvent.objects.create(user=therapist, practice=practice, action="roles orm")
print(json.dumps({"couple": couple.pk}))
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_apps_own_code_runs_as_the_app_role(roles):
    """Django's ORM and the services' writes, in a process connected as the app role: each
    works and leaves its trail row."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", ORM_AS_THE_APP],
        cwd=REPO,
        env=os.environ | {"DJANGO_DEBUG": "true", "DATABASE_URL": roles.url(roles.app)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    couple = json.loads(result.stdout.strip().splitlines()[-1])["couple"]
    written = ChangeEvent.objects.filter(db_user=roles.app, actor_label="roles orm")
    assert set(written.values_list("table_name", "operation")) >= {
        ("cycles_couple", "INSERT"),
        ("cycles_partner", "INSERT"),
        ("therapy_sessions_therapysession", "INSERT"),
        ("therapy_sessions_privatenote", "INSERT"),
        ("ruptures_rupturesummary", "INSERT"),
        ("ruptures_rupturesummary", "UPDATE"),
        ("ruptures_rupturesummary", "DELETE"),
    }
    assert written.filter(couple_id=couple).exists()
    assert AccessEvent.objects.filter(action="roles orm").exists()


# --- the command -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_app_may_only_select_and_insert_the_audit_tables_the_owner_owns_all(
    uncommitted_roles,
):
    roles = uncommitted_roles
    rights = "ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']"
    with connection.cursor() as cursor:
        for table in AUDIT_TABLES:
            cursor.execute(
                f"SELECT p FROM unnest({rights}) AS p WHERE has_table_privilege(%s, %s, p)",  # noqa: S608
                [roles.app, table],
            )
            assert [row[0] for row in cursor.fetchall()] == ["SELECT", "INSERT"]
        cursor.execute(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S')"
        )
        assert cursor.fetchall() == [(roles.owner,)]
        cursor.execute(
            "SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_trigger AS t "
            "JOIN pg_proc AS p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal"
        )
        assert cursor.fetchall() == [(roles.owner,)]
        # Stored as the server's hash: the password itself never reached the server.
        cursor.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [roles.app])
        assert cursor.fetchone()[0].startswith("SCRAM-SHA-256$")


@pytest.mark.django_db
def test_the_command_is_safe_to_repeat(uncommitted_roles):
    again = io.StringIO()
    call_command(
        "setup_db_roles", owner=uncommitted_roles.owner, app=uncommitted_roles.app, stdout=again
    )
    assert again.getvalue().splitlines()[:2] == [
        "Nothing to change: the roles were already set up.",
        f"Checked: {uncommitted_roles.app} can't erase the audit trail.",
    ]


@pytest.mark.django_db
def test_the_command_takes_back_rights_given_by_hand(uncommitted_roles):
    owner, app = quoted(uncommitted_roles.owner), quoted(uncommitted_roles.app)
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT ALL ON people_changeevent TO {app}")
        cursor.execute(f"GRANT {owner} TO {app}")
        cursor.execute(f"ALTER ROLE {app} CREATEDB CREATEROLE")
        assert role_problem(cursor, uncommitted_roles.app) is not None
    out = setup_roles(uncommitted_roles)
    assert out.splitlines()[:3] == [
        f"Altered the role {uncommitted_roles.owner}: a new password.",
        f"Altered the role {uncommitted_roles.app}: NOCREATEDB, NOCREATEROLE, a new password.",
        f"{uncommitted_roles.app} is no longer a member of {uncommitted_roles.owner}.",
    ]
    with connection.cursor() as cursor:
        assert role_problem(cursor, uncommitted_roles.app) is None


@pytest.mark.django_db
def test_the_command_refuses_to_run_as_a_role_it_sets_up(uncommitted_roles):
    from django.core.management.base import CommandError

    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {quoted(uncommitted_roles.owner)}")
        with pytest.raises(CommandError, match="not as 'cycles_test_owner_"):
            call_command(
                "setup_db_roles",
                owner=uncommitted_roles.owner,
                app=uncommitted_roles.app,
                stdout=io.StringIO(),
            )


def manage(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_command_refuses_sqlite_in_one_line(tmp_path):
    sqlite = {"DJANGO_DEBUG": "true", "DATABASE_URL": "", "SQLITE_PATH": str(tmp_path / "x.db")}
    result = manage("setup_db_roles", "--owner", "o", "--app", "a", env=os.environ | sqlite)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "CommandError: setup_db_roles is for PostgreSQL: the embedded SQLite database has no "
        "roles (its audit tables are append-only by trigger; see docs/security.md)."
    ]


# --- the start-up check ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_check_refuses_the_owner_a_superuser_and_stray_rights_and_accepts_the_app(
    uncommitted_roles,
):
    roles = uncommitted_roles
    with connection.cursor() as cursor:
        assert role_problem(cursor, roles.app) is None
        assert role_problem(cursor, roles.owner) == (
            f"the database role {roles.owner!r} owns people_accessevent, so it could TRUNCATE "
            "it or disable its trigger"
        )
        cursor.execute("SELECT current_user")
        superuser = cursor.fetchone()[0]
        assert role_problem(cursor, superuser) == (
            f"the database role {superuser!r} is a superuser, so it could erase the audit trail"
        )
        cursor.execute(f"GRANT TRUNCATE ON people_changeevent TO {quoted(roles.app)}")
        assert role_problem(cursor, roles.app) == (
            f"the database role {roles.app!r} may TRUNCATE people_changeevent"
        )
        cursor.execute(f"REVOKE TRUNCATE ON people_changeevent FROM {quoted(roles.app)}")
        cursor.execute(f"ALTER FUNCTION audit_append_only() OWNER TO {quoted(roles.app)}")
        assert role_problem(cursor, roles.app) == (
            f"the database role {roles.app!r} owns the trigger function audit_append_only()"
        )
        cursor.execute(f"ALTER FUNCTION audit_append_only() OWNER TO {quoted(roles.owner)}")
        # A table a migration made as the superuser, not the owner: no rights for the app.
        cursor.execute("CREATE TABLE cycles_made_by_the_wrong_role (id bigint)")
        assert role_problem(cursor, roles.app) == (
            f"the database role {roles.app!r} may not read or add to "
            "cycles_made_by_the_wrong_role (a migration run as another role than the owner? "
            "run setup_db_roles again)"
        )


def production_env(database_url: str) -> dict[str, str]:
    return os.environ | {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "cycles.example.org",
        "PRIVATE_NOTE_KEYS": Fernet.generate_key().decode(),
        "EMAIL_HOST": "smtp.example.org",
        "DATABASE_URL": database_url,
    }


def start_web(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What gunicorn does in each of its workers: import config.wsgi."""
    return subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_web_refuses_the_owner_in_one_line_and_starts_as_the_app(roles):
    refused = start_web(production_env(roles.url(roles.owner)))
    assert refused.returncode == 3  # gunicorn halts, instead of booting another worker
    assert refused.stderr.splitlines() == [REFUSED_OWNER.format(owner=roles.owner)]
    started = start_web(production_env(roles.url(roles.app)))
    assert (started.returncode, started.stderr) == (0, "")


@pytest.mark.slow
def test_local_development_starts_unchecked(tmp_path):
    """DEBUG on (with any role, the superuser here) or the embedded SQLite: as before."""
    db = connection.settings_dict
    superuser = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/x"
    debug = start_web(os.environ | {"DJANGO_DEBUG": "true", "DATABASE_URL": superuser})
    assert (debug.returncode, debug.stderr) == (0, "")
    sqlite = production_env("") | {"SQLITE_PATH": str(tmp_path / "db.sqlite3")}
    started = start_web(sqlite)
    assert (started.returncode, started.stderr) == (0, "")


# The workers' own queue, so they take no one's tasks; kombu keeps its binding in Redis.
WORKER_QUEUE = "cycles-roles-test"


def broker_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                WORKER_QUEUE,
                "-n",
                f"{WORKER_QUEUE}-{secrets.token_hex(4)}@tests",
            ],
            cwd=REPO,
            env=env | {"REDIS_URL": broker_url()},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def forget_worker_queue() -> None:
    client = redis.Redis.from_url(broker_url())
    try:
        client.delete(f"_kombu.binding.{WORKER_QUEUE}", f"_kombu.binding_permanent.{WORKER_QUEUE}")
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_refuses_the_owner_in_one_line_and_starts_as_the_app(roles, tmp_path):
    owner_log, app_log = tmp_path / "owner.log", tmp_path / "app.log"
    refused = start_worker(production_env(roles.url(roles.owner)), owner_log)
    assert refused.wait(timeout=60) == 1
    said = [line for line in owner_log.read_text().splitlines() if "Cycles" in line]
    assert said == [REFUSED_OWNER.format(owner=roles.owner)]
    started = start_worker(production_env(roles.url(roles.app)), app_log)
    try:
        deadline = time.monotonic() + 60
        while " ready." not in app_log.read_text() and time.monotonic() < deadline:
            assert started.poll() is None, app_log.read_text()
            time.sleep(0.1)
        assert " ready." in app_log.read_text(), app_log.read_text()
        assert "Cycles cannot start" not in app_log.read_text()
    finally:
        started.send_signal(signal.SIGTERM)
        started.wait(timeout=30)
        forget_worker_queue()


# --- a new database, the operator's whole way ------------------------------------------------


@dataclass
class ManagedDatabase:
    """A database as managed PostgreSQL hands it over: owned by an administrator role with
    CREATEROLE but no superuser."""

    name: str
    admin: str
    password: str

    def url(self) -> str:
        db = connection.settings_dict
        host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
        return f"postgres://{self.admin}:{self.password}@{host}:{port}/{self.name}"


@pytest.fixture
def managed_database(transactional_db: None) -> Iterator[ManagedDatabase]:
    made = ManagedDatabase(
        name=f"{connection.settings_dict['NAME']}_new_{secrets.token_hex(3)}",
        admin=f"cycles_test_admin_{os.getpid()}_{secrets.token_hex(3)}",
        password=secrets.token_urlsafe(16),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE ROLE {quoted(made.admin)} LOGIN CREATEROLE PASSWORD %s", [made.password]
        )
        cursor.execute(f"CREATE DATABASE {quoted(made.name)} OWNER {quoted(made.admin)}")
    try:
        yield made
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted(made.name)} WITH (FORCE)")
        drop_roles(made.admin)


@pytest.mark.slow
def test_a_new_database_roles_then_migrate_as_the_owner_then_the_app(managed_database):
    """The operator's whole way on a new database, as its administrator without superuser:
    roles first, `migrate` as the owner (every migration, triggers and functions included,
    runs without superuser), the command again for the audit tables; then the web starts as
    the app role and refuses the owner. Passwords come from standard input this time."""
    roles = make_roles(managed_database.name)
    setup = [
        *("setup_db_roles", "--owner", roles.owner, "--app", roles.app),
        *("--app-password-from-stdin", "--owner-password-from-stdin"),
    ]
    passwords = f"{roles.passwords[roles.app]}\n{roles.passwords[roles.owner]}\n"
    as_admin = os.environ | {"DJANGO_DEBUG": "true", "DATABASE_URL": managed_database.url()}
    try:
        first = manage(*setup, env=as_admin, stdin=passwords)
        assert first.returncode == 0, first.stderr
        assert f"{managed_database.admin} is now a member of {roles.owner}" in first.stdout
        assert "The audit tables don't exist yet" in first.stdout
        as_owner = as_admin | {"DATABASE_URL": roles.url(roles.owner)}
        migrated = manage("migrate", env=as_owner)
        assert migrated.returncode == 0, migrated.stderr
        # Default privileges: the tables the owner's migrations made already serve the app...
        with roles.connect(roles.app) as app:
            assert app.execute("SELECT count(*) FROM cycles_couple").fetchone() == (0,)
        # ...but the audit tables want the second run, and until then the app won't start.
        early = start_web(production_env(roles.url(roles.app)))
        assert early.returncode == 3
        assert "may UPDATE, DELETE people_accessevent" in early.stderr
        second = manage(*setup, env=as_admin, stdin=passwords)
        assert second.returncode == 0, second.stderr
        assert f"Checked: {roles.app} can't erase the audit trail." in second.stdout
        assert start_web(production_env(roles.url(roles.app))).returncode == 0
        assert start_web(production_env(roles.url(roles.owner))).returncode == 3
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted(managed_database.name)} WITH (FORCE)")
        drop_roles(roles.app, roles.owner)
