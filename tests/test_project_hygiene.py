"""What CI holds the whole project to: migrations, ruff, the deploy checks, .env.example."""

from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

REPO = Path(__file__).resolve().parent.parent
# The tools of the virtualenv running the tests (.venv/bin), not whatever is on PATH.
BIN = Path(sys.executable).parent
FIRST_PARTY = (
    "config",
    "core",
    "people",
    "cycles",
    "sessions",
    "ruptures",
    "flags",
    "supervision",
    "consultation",
    "demo",
)
# env_str("NAME", ...) and its siblings from core/env.py, and any direct os.environ read.
ENV_READ = re.compile(
    r"(?:\benv_(?:str|bool|int|list|required)\(|\bos\.(?:environ\.get|getenv)\(|\bos\.environ\[)"
    r"\s*[\"']([A-Z][A-Z0-9_]*)[\"']"
)
ENV_EXAMPLE_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


@pytest.mark.django_db
def test_migrations_are_up_to_date() -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:
        pytest.fail(
            f"makemigrations --check exited {exit_.code}: a model changed without a migration "
            f"(remember: makemigrations therapy_sessions, never sessions):\n{out.getvalue()}"
        )


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / "ruff"
    assert executable.is_file(), f"ruff is not installed beside {sys.executable}"
    return subprocess.run(
        [str(executable), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ruff_check_passes() -> None:
    result = ruff("check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check_passes() -> None:
    result = ruff("format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_bandit_finds_no_medium_or_high_issue_in_the_app() -> None:
    # Migrations are left out: their SQL is built from constant table names only.
    result = subprocess.run(
        [
            str(BIN / "bandit"),
            "-q",
            "-c",
            "pyproject.toml",
            "-r",
            *FIRST_PARTY,
            "--severity-level",
            "medium",
            "-x",
            "*/migrations/*",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_no_type_error_in_the_app() -> None:
    env = dict(os.environ, DJANGO_DEBUG="true")
    result = subprocess.run(
        [str(BIN / "mypy"), *FIRST_PARTY],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_security_rules_are_on() -> None:
    # ruff's S rules are bandit's checks at edit time; make sure nobody drops them.
    config = (REPO / "pyproject.toml").read_text()
    assert re.search(r'select = \[[^\]]*"S"', config)


def test_deploy_checks_pass_with_production_settings() -> None:
    env = dict(os.environ)
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="cycles.example.org",
        # Production sends mail through SMTP; without it Django reports mail.E001.
        EMAIL_HOST="smtp.example.org",
        # Production keeps its own keys for private notes (never the development key).
        PRIVATE_NOTE_KEYS=Fernet.generate_key().decode(),
        # Empty means the production default; this keeps a developer's .env from weakening it.
        DJANGO_HTTPS="",
        DJANGO_SSL_REDIRECT="",
        DJANGO_HSTS_SECONDS="",
        EMAIL_BACKEND="",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def variables_the_settings_read() -> set[str]:
    names: set[str] = set()
    for package in FIRST_PARTY:
        for path in (REPO / package).rglob("*.py"):
            names.update(ENV_READ.findall(path.read_text()))
    return names


def test_env_example_documents_every_variable_the_settings_read() -> None:
    read = variables_the_settings_read()
    assert "DJANGO_SECRET_KEY" in read, "the scan for env_* calls found nothing: fix the test"
    documented = set(ENV_EXAMPLE_LINE.findall((REPO / ".env.example").read_text()))
    assert read - documented == set(), "read by the settings but missing from .env.example"
    assert documented - read == set(), "in .env.example but read by nothing"


@pytest.mark.parametrize(
    ("command", "exit_code"),
    [
        (["manage.py", "migrate", "--check"], 1),
        # gunicorn halts on a worker that exits 3 at boot, instead of booting it again forever
        (["-c", "import config.wsgi"], 3),
        (["-m", "celery", "-A", "config", "report"], 1),
    ],
    ids=["manage.py", "gunicorn's wsgi", "celery"],
)
def test_a_missing_production_variable_stops_start_up_in_one_line(
    command: list[str], exit_code: int
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_DEBUG", "DJANGO_SECRET_KEY"}
    }
    result = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        env=env | {"DJANGO_DEBUG": "false"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == exit_code
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Cycles cannot start: DJANGO_SECRET_KEY is not set: a production deployment needs its "
        "own secret key (or set DJANGO_DEBUG=true locally). See .env.example."
    ]
