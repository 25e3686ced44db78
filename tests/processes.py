"""Real processes a test starts, owns and stops: a redis-server on its own port, the app under
gunicorn, and a browser-like HTTP client for it (cookies, CSRF, forms as the page has them).

Never the machine's own Redis or PostgreSQL: a test that needs Redis to die starts its own
here and stops that one.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

if TYPE_CHECKING:
    from collections.abc import Mapping

REPO = Path(__file__).resolve().parent.parent
START_SECONDS = 30
NO_PERSISTENCE = ("--save", "", "--appendonly", "no", "--daemonize", "no")


def create_cache_table() -> None:
    """The database cache table a server or worker started by a test uses (its settings are
    production's: config.settings CACHES), in the test database. The test settings keep this
    process's cache in memory (tests/conftest.py), so neither ruptures 0009 nor pytest-django's
    createcachetable made it. Idempotent, as in the migration."""
    from django.core.management import call_command
    from django.test import override_settings

    from config import settings as configured

    with override_settings(CACHES=configured.CACHES):
        call_command("createcachetable", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: object, *, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not start" + (f":\n{log.read_text()}" if log else ""))
        time.sleep(0.05)


@dataclass
class RedisServer:
    """`redis-server --port N --save "" --appendonly no`: nothing survives a stop."""

    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, *("--port", str(self.port), "--bind", "127.0.0.1"), *NO_PERSISTENCE],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait(self.answers, what=f"redis-server on port {self.port}", log=self.log_path)

    def stop(self) -> None:
        """SIGKILL: the broker is simply gone, as in a crash; its data with it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@dataclass
class WebServer:
    """The app under gunicorn (as in production), with the environment given."""

    env: Mapping[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def start(self) -> None:
        bind = ("--bind", f"127.0.0.1:{self.port}", "--timeout", "60")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "2", *bind],
                cwd=REPO,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait(self.answers, what="gunicorn", log=self.log_path)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class _Forms(HTMLParser):
    """Each <form>'s action and the values a browser would submit as the page stands."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif not self.forms or "name" not in a:
            if tag == "option" and self._select and ("selected" in a):
                self.forms[-1][1][self._select] = a.get("value", "")
            return
        fields = self.forms[-1][1]
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                fields[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self._select = a["name"]
            fields.setdefault(a["name"], "")
        elif tag == "textarea":
            self._textarea = a["name"]
            fields[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1][1][self._textarea] += data


def forms_of(page: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


@dataclass
class Response:
    status: int
    url: str
    location: str
    text: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """Cookies kept, redirects returned (not followed), CSRF from the page's own form."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def _open(self, request: urllib.request.Request) -> Response:
        """Only ever http://127.0.0.1:<port> of a server the test started."""
        try:
            with self.opener.open(request, timeout=30) as answer:
                body = answer.read().decode()
                return Response(answer.status, answer.url, "", body)
        except urllib.error.HTTPError as error:
            body = error.read().decode(errors="replace")
            return Response(error.code, request.full_url, error.headers.get("Location", ""), body)

    def get(self, path: str) -> Response:
        return self._open(urllib.request.Request(self.base + path))  # noqa: S310 (loopback)

    def post(self, path: str, data: Mapping[str, str]) -> Response:
        encoded = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(self.base + path, data=encoded, method="POST")  # noqa: S310
        return self._open(request)

    def submit(self, path: str, changes: Mapping[str, str], *, action: str = "") -> Response:
        """GET the page, then POST its form as it stands, with `changes` applied: hidden
        fields, versions and the CSRF token included. The form is the page's first that posts
        to `action` (by default: to the page itself)."""
        page = self.get(path)
        assert page.status == 200, (path, page.status)
        target = action or path
        found = [f for a, f in forms_of(page.text) if (a or path) == target]
        assert found, f"no form on {path} posts to {target}"
        return self.post(target, {**found[0], **changes})


@contextlib.contextmanager
def running(*servers: RedisServer | WebServer):  # type: ignore[no-untyped-def]
    """Start each in order; stop them all, in reverse, however the block ends."""
    started: list[RedisServer | WebServer] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield servers
    finally:
        for server in reversed(started):
            server.stop()
