from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

# A fixed authenticator secret for test users (base32); never used outside the test suite.
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

_django_force_login = Client.force_login


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    from django.core.cache import cache

    cache.clear()


def force_login_fully(self: Client, user: Any, backend: str | None = None) -> None:
    """`client.force_login(user)` stands for a complete sign-in: password and authenticator.

    It enrols the user's authenticator (RequireMFAMiddleware sends anyone without one to
    enrolment) and records both steps in the session the way allauth does at sign-in, so
    views that ask for a recent check (exports, sharing) see one. Tests of the sign-in itself
    post to the real login and MFA pages instead.
    """
    from people.middleware import remember_practice_zone
    from people.totp import enrol

    enrol(user, TEST_TOTP_SECRET)
    _django_force_login(self, user, backend)
    session = self.session
    now = time.time()
    session["account_authentication_methods_user"] = str(user.pk)
    session["account_authentication_methods"] = [
        {"method": "password", "at": now, "username": user.username},
        {"method": "mfa", "at": now, "type": "totp"},
    ]
    # What people.signals and the middleware would have stored at this sign-in.
    session["signed_in_at"] = session["last_activity"] = now
    session["mfa_enrolled"] = user.pk
    if user.practice_id is not None:
        remember_practice_zone(session, user.practice_id)
    session.save()


def pytest_configure(config: Any) -> None:
    from django.conf import settings

    # Fast by construction: MD5 for the many users the tests make (never in production).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tasks run in this process unless a test asks for the real broker and worker
    # (tests/ruptures/conftest.py: celery_broker, start_worker), whether or not REDIS_URL is
    # set: `make test` sets it, a developer's run may not, and the results must not differ.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    # Each test starts with an empty cache (sign-in throttle counters live there), in memory
    # rather than in a Redis shared with other runs.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Installed for the whole run, so module- and class-scoped clients get it too.
    Client.force_login = force_login_fully  # type: ignore[method-assign]


@pytest.fixture
def sink(tmp_path: Any, settings: Any) -> Any:
    """A real SMTP server process (tests/smtp_sink.py), and the app's mail sent to it over
    SMTP with Django's own backend (the live server runs in this process, so the settings
    override reaches it too)."""
    from tests.smtp_sink import SmtpSink

    server = SmtpSink(out=tmp_path / "mail")
    server.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": server.port, "use_tls": False},
        }
    }
    try:
        yield server
    finally:
        server.stop()
