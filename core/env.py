"""Reading settings from the environment, failing loudly where production needs a value."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


class ImproperlyConfiguredEnv(RuntimeError):
    """Raised at start-up when a required environment variable is missing or malformed."""


def load_dotenv(path: Path) -> None:
    """Read KEY=value lines from a `.env` file into os.environ, never overriding what is set."""
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfiguredEnv(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_required(name: str, why: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfiguredEnv(f"{name} is not set: {why} See .env.example.")
    return value


def database_from_url(url: str) -> dict[str, object]:
    """Turn `postgres://user:pass@host:port/name?sslmode=require` into a DATABASES entry.

    Connections are persistent (CONN_MAX_AGE): a new connection per request measured ~5x
    slower on our machines (../shared/STACK.md).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfiguredEnv(
            f"DATABASE_URL must start with postgres://, not {parts.scheme}://."
        )
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 600),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


def settings_or_exit(exit_code: int = 1) -> None:
    """Load the settings now, so a missing or malformed variable stops start-up in one line.

    Called first by manage.py, config/wsgi.py and config/celery.py: without it the error
    surfaces later as a 30-line traceback from deep inside Django. config/wsgi.py passes 3,
    the code on which gunicorn halts instead of booting refusing workers forever.
    """
    from django.conf import settings

    try:
        _ = settings.INSTALLED_APPS
    except ImproperlyConfiguredEnv as error:
        sys.stderr.write(f"Cycles cannot start: {error}\n")
        raise SystemExit(exit_code) from None
