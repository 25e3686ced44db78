"""Response headers and cookies (checklist item 2).

Signed-in pages with clinical content carry a strict content security policy (no
unsafe-inline, no unsafe-eval, frame-ancestors 'none'), nosniff, a same-origin referrer
policy and `Cache-Control: no-store`. With production settings (a subprocess: the settings
module reads the environment once, at import) the cookies are `__Host-` prefixed, Secure,
HttpOnly and SameSite, and HSTS is sent. `manage.py check --deploy` itself is
tests/test_project_hygiene.py's.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.security import HTMX, build_scene

pytestmark = pytest.mark.django_db

REPO = Path(settings.BASE_DIR)

# Run with production settings: one request to the login page (which sets the CSRF cookie,
# and needs no database) and the session cookie as SessionMiddleware writes it. The
# subprocess has no database, so its sessions are signed cookies, and no collected static
# files, so the plain storage: neither is what is checked here; the cookies' names and
# attributes (the same settings for every engine) and the headers are.
PRODUCTION_SCRIPT = """
import json
import django
from django.conf import settings
django.setup()
settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
settings.STORAGES = settings.STORAGES | {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
}
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import Client, RequestFactory

client = Client()
page = client.get("/accounts/login/", secure=True, headers={"host": "cycles.example.org"})
plain = client.get("/accounts/login/", headers={"host": "cycles.example.org"})
request = RequestFactory().get("/", secure=True, headers={"host": "cycles.example.org"})
middleware = SessionMiddleware(lambda r: HttpResponse())
middleware.process_request(request)
request.session["signed_in_at"] = 1
with_session = middleware.process_response(request, HttpResponse())
print(json.dumps({
    "status": page.status_code,
    "headers": dict(page.headers),
    "cookies": [m.output(header="") for m in page.cookies.values()],
    "session_cookies": [m.output(header="") for m in with_session.cookies.values()],
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location", ""),
}))
"""


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="cycles.example.org",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://cycles.example.org",
        PRIVATE_NOTE_KEYS=Fernet.generate_key().decode(),
        EMAIL_HOST="smtp.example.org",
        DJANGO_HTTPS="",
        DJANGO_SSL_REDIRECT="",
        DJANGO_HSTS_SECONDS="",
        EMAIL_BACKEND="",
        REDIS_URL="",
    )
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def owner_pages() -> dict[str, Any]:
    scene = build_scene()
    client = Client()
    client.force_login(scene.world.owner)
    code = scene.world.couple.case_code
    return {
        "couple page": client.get(reverse("cycles:detail", args=[code])),
        "session page": client.get(
            reverse("therapy_sessions:detail", args=[scene.world.session.pk])
        ),
        "caseload region": client.get(reverse("cycles:caseload"), headers=HTMX),
        "couple pdf": client.get(reverse("cycles:pdf", args=[code])),
    }


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_clinical_pages_carry_a_strict_content_security_policy(owner_pages) -> None:
    for name, response in owner_pages.items():
        assert response.status_code == 200, name
        header = response["Content-Security-Policy"]
        assert "unsafe-inline" not in header, name
        assert "unsafe-eval" not in header, name
        directives = csp_directives(header)
        assert directives["frame-ancestors"] == ["'none'"], name
        assert directives["default-src"] == ["'self'"], name
        assert directives["script-src"] == ["'self'"], name
        assert directives["object-src"] == ["'none'"], name


def test_clinical_pages_are_never_stored_nor_sniffed_nor_referred(owner_pages) -> None:
    for name, response in owner_pages.items():
        assert "no-store" in response["Cache-Control"], name
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["X-Frame-Options"] == "DENY", name


def test_the_csv_export_is_never_stored(owner_pages) -> None:
    scene = build_scene()
    client = Client()
    client.force_login(scene.world.supervisor)
    response = client.get(reverse("supervision:ruptures_csv"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_production_sends_hsts(production) -> None:
    assert production["status"] == 200
    hsts = production["headers"]["Strict-Transport-Security"]
    assert "max-age=31536000" in hsts
    assert "includeSubDomains" in hsts


def test_production_redirects_plain_http_to_https(production) -> None:
    assert production["plain_status"] == 301
    assert production["plain_location"].startswith("https://cycles.example.org/")


def cookie(production: dict[str, Any], key: str) -> SimpleCookie:
    for line in production[key]:
        parsed = SimpleCookie()
        parsed.load(line.strip())
        yield from parsed.values()


def test_production_cookies_are_host_prefixed_secure_httponly_and_samesite(production) -> None:
    csrf = list(cookie(production, "cookies"))
    session = list(cookie(production, "session_cookies"))
    assert [c.key for c in csrf] == ["__Host-csrftoken"]
    assert [c.key for c in session] == ["__Host-sessionid"]
    for morsel in [*csrf, *session]:
        assert morsel["secure"], morsel.key
        assert morsel["httponly"], morsel.key
        assert morsel["samesite"] in ("Lax", "Strict"), morsel.key
        # What the __Host- prefix requires of a cookie, or browsers drop it.
        assert morsel["path"] == "/", morsel.key
        assert not morsel["domain"], morsel.key
    assert csrf[0]["samesite"] == "Strict"
