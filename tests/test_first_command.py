"""The README's first command, `make run`, boots on SQLite with tasks run in-process.

`make run` is `make demo-db` (migrate, seed the demo practice), then the recipe it shares with
`make serve`. This test drives those two targets, with a fresh SQLite file and a free port, so
what the README promises is what runs here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BOOT_SECONDS = 60


def local_environment() -> dict[str, str]:
    """The environment of a newcomer's shell: no database, broker or debug flag configured."""
    env = dict(os.environ)
    # The outer `make test` hands its flags and command-line variables down through these;
    # the inner make must see only what this test gives it.
    for name in ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "DJANGO_DEBUG"):
        env.pop(name, None)
    # Empty counts as unset in config/settings.py, and stops a developer's .env from
    # pointing this run at PostgreSQL or Redis.
    env["DATABASE_URL"] = ""
    env["REDIS_URL"] = ""
    return env


def make_command(target: str, *overrides: str) -> list[str]:
    make = shutil.which("make")
    assert make, "make is not installed; the README's commands need it"
    return [make, "--no-print-directory", target, *overrides]


def run_make(target: str, *overrides: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        make_command(target, *overrides),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make {target} failed ({result.returncode}):\n{output}"
    return output


def seeded_people(sqlite_path: Path) -> int:
    with contextlib.closing(sqlite3.connect(sqlite_path)) as connection:
        return int(connection.execute("SELECT count(*) FROM people_user").fetchone()[0])


def triggers(sqlite_path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(sqlite_path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {name for (name,) in rows}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str) -> tuple[int, dict[str, str], str]:
    """One GET that does not follow redirects."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, dict(response.getheaders()), body
    finally:
        connection.close()


@contextlib.contextmanager
def make_serve(*overrides: str, env: dict[str, str], log_path: Path) -> Iterator[int]:
    """`make serve` on a free port until it answers; yields the port, then stops the server."""
    port = free_port()
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            make_command("serve", *overrides, f"RUN_ADDR=127.0.0.1:{port}"),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: make, runserver and the autoreloader's child stop together.
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while not answers(port):
            if server.poll() is not None:
                pytest.fail(f"the dev server exited ({server.returncode}):\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no answer within {BOOT_SECONDS}s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield port
    finally:
        stop_group(server)


def answers(port: int) -> bool:
    try:
        return get(port, "/health/")[0] == 200
    except OSError:
        return False


def stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite demo database as `make run` builds it: migrated and seeded, once."""
    # A folder that does not exist yet, as var/ does not in a fresh clone.
    sqlite_path = tmp_path_factory.mktemp("first-command") / "var" / "db.sqlite3"
    output = run_make("demo-db", f"SQLITE_PATH={sqlite_path}", env=local_environment())
    assert "seed_demo" in output
    assert sqlite_path.is_file(), "make demo-db did not create the SQLite database"
    return sqlite_path


@pytest.mark.slow
def test_first_command_serves_the_login_page_on_sqlite(tmp_path: Path, demo_db: Path) -> None:
    env = local_environment()
    sqlite_path = demo_db
    overrides = (f"SQLITE_PATH={sqlite_path}",)
    assert seeded_people(sqlite_path) > 0, "seed_demo put nobody into the SQLite database"
    # The rules the database keeps on SQLite too, still there after every table rebuild.
    assert {
        "rupture_repair_integrity_insert",
        "rupture_repair_integrity_update",
        "session_keeps_rupture_integrity",
        "people_accessevent_no_update",
        "people_changeevent_no_delete",
    } <= triggers(sqlite_path)
    # `make run` again on the same database works too: migrate and seed_demo are idempotent.
    run_make("demo-db", *overrides, env=env)

    with make_serve(*overrides, env=env, log_path=tmp_path / "server.log") as port:
        status, _, body = get(port, "/accounts/login/")
        assert status == 200
        assert "Sign in" in body

        status, _, body = get(port, "/health/")
        assert status == 200
        assert '"ok"' in body

        status, headers, _ = get(port, "/")
        assert status == 302
        assert headers["Location"].startswith("/accounts/login/")


@pytest.mark.slow
def test_every_demo_login_can_walk_every_page_it_reaches_on_sqlite(demo_db: Path) -> None:
    """The demo as a newcomer meets it: each login signs in and follows every link it is
    shown (tests/demo_walk.py); no page may fail on the embedded database."""
    env = local_environment() | {"SQLITE_PATH": str(demo_db), "DJANGO_DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.demo_walk"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"admin", "supervisor", "therapist1", "therapist2", "therapist3"}
    for login, walked in report.items():
        assert walked["failures"] == [], f"{login}: {walked['failures']}"
        assert walked["visited"] >= 20, f"{login} reached only {walked['visited']} pages"
