"""Redis down is not sign-in down: the app under gunicorn, its broker a redis-server this test
owns and kills (tests/processes.py), the test database as its database.

With the broker gone: sign-in (password, then the authenticator code) works and the sixth
failure for an account is still refused (the throttle's counters live in the database cache);
a save works; "Run now" says plainly that background work is unavailable and leaves no run
behind, and a Run now after the broker is back starts and queues the run; /health/ reports
the broker down, answering 503 only when asked `?strict` (a load balancer keeps the site in
rotation), and 503 whatever is asked when the database is down.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import redis
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cycles.models import Partner
from people.totp import PERIOD_SECONDS, current_code, enrol
from ruptures.models import NightlyRun, RunStatus
from tests.conftest import TEST_TOTP_SECRET
from tests.factories import PASSWORD, make_couple, make_practice, make_user
from tests.processes import (
    Browser,
    RedisServer,
    WebServer,
    create_cache_table,
    free_port,
    running,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from people.models import User

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

THROTTLED = "Too many failed login attempts"
UNAVAILABLE = "Background work is unavailable right now"
# The production hashers: the server checks passwords as production does (the test settings'
# MD5 exists only in this process).
HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]


def database_url(port: int | None = None) -> str:
    db = connection.settings_dict
    where = f"{db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}"
    return f"postgres://{db['USER']}@{where}/{db['NAME']}"


def server_env(redis_url: str, **overrides: str) -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        **overrides,
    }


@pytest.fixture
def users(settings: Any) -> dict[str, User]:
    settings.PASSWORD_HASHERS = HASHERS
    practice = make_practice()
    made = {
        "therapist": make_user(practice, "Sam Therapist", therapist=True),
        "target": make_user(practice, "Tess Target", therapist=True),
        "admin": make_user(practice, "Ada Admin", practice_admin=True),
    }
    for user in made.values():
        enrol(user, TEST_TOTP_SECRET)
    made["therapist"].couple = make_couple(made["therapist"])  # type: ignore[attr-defined]
    create_cache_table()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cycles_cache")  # no counters left by an earlier test
    return made


@pytest.fixture
def app(tmp_path: Path, users: dict[str, User]) -> Iterator[tuple[RedisServer, WebServer]]:
    broker = RedisServer(tmp_path / "redis.log")
    web = WebServer(server_env(broker.url), tmp_path / "gunicorn.log")
    with running(broker, web):
        yield broker, web


def fresh_code() -> str:
    """The current code, unless it expires within 3 s (allauth allows no drift)."""
    left = PERIOD_SECONDS - time.time() % PERIOD_SECONDS
    if left <= 3:
        time.sleep(left + 0.05)
    return current_code(TEST_TOTP_SECRET)


def sign_in(web: WebServer, user: User) -> Browser:
    browser = Browser(web.url)
    step = browser.submit(reverse("account_login"), {"login": user.username, "password": PASSWORD})
    assert (step.status, step.location) == (302, reverse("mfa_authenticate")), step.text[-2000:]
    done = browser.submit(reverse("mfa_authenticate"), {"code": fresh_code()})
    assert (done.status, done.location) == (302, reverse("home")), done.text[-2000:]
    return browser


def health(web: WebServer, query: str = "") -> tuple[int, dict[str, Any]]:
    answer = Browser(web.url).get(reverse("health") + query)
    return answer.status, json.loads(answer.text)


def test_with_redis_down_sign_in_works_and_the_throttle_still_holds(app, users, tmp_path):
    broker, web = app
    broker.stop()

    browser = sign_in(web, users["therapist"])
    assert browser.get(reverse("cycles:caseload")).status == 200

    wrong = Browser(web.url)
    for _ in range(5):
        refused = wrong.submit(
            reverse("account_login"), {"login": users["target"].username, "password": "wrong"}
        )
        assert refused.status == 200
        assert THROTTLED not in refused.text
    sixth = wrong.submit(
        reverse("account_login"), {"login": users["target"].username, "password": PASSWORD}
    )
    assert sixth.status in (200, 429)
    assert THROTTLED in sixth.text
    # Elsewhere, the same account is refused too: the count is the account's, in the database.
    elsewhere = Browser(web.url).submit(
        reverse("account_login"), {"login": users["target"].username, "password": PASSWORD}
    )
    assert THROTTLED in elsewhere.text
    assert "Internal Server Error" not in (tmp_path / "gunicorn.log").read_text()


def test_with_redis_down_a_save_works(app, users):
    broker, web = app
    couple = users["therapist"].couple
    browser = sign_in(web, users["therapist"])
    broker.stop()

    edit = reverse("cycles:edit", args=[couple.case_code])
    saved = browser.submit(edit, {"partner_a_pronouns": "they/them"})

    assert (saved.status, saved.location) == (
        302,
        reverse("cycles:detail", args=[couple.case_code]),
    )
    assert Partner.objects.get(couple=couple, label="A").pronouns == "they/them"


def test_with_redis_down_run_now_says_so_leaves_no_run_and_works_once_it_is_back(app, users):
    broker, web = app
    browser = sign_in(web, users["admin"])
    runs_page = reverse("ruptures:runs")
    assert "Run now for" in browser.get(runs_page).text
    broker.stop()

    refused = browser.submit(runs_page, {}, action=reverse("ruptures:run_start"))
    assert (refused.status, refused.location) == (302, runs_page)
    page = browser.get(runs_page).text
    assert UNAVAILABLE in page  # the message, and the page's own notice
    assert "could not be started" in page
    assert not NightlyRun.objects.exists()

    broker.start()  # the same port, empty, as after a restart
    assert "background-down" not in browser.get(runs_page).text
    started = browser.submit(runs_page, {}, action=reverse("ruptures:run_start"))
    assert started.status == 302
    assert "Started the summaries for" in browser.get(runs_page).text
    run = NightlyRun.objects.get()
    assert run.status == RunStatus.PENDING
    queued = redis.Redis.from_url(broker.url)
    try:
        assert queued.llen("celery") == 1  # its first chunk, waiting for a worker
    finally:
        queued.close()


def test_health_reports_each_dependency_and_the_broker_down(app, users, settings):
    broker, web = app
    # What a worker's watchdog writes each round (tests/ruptures/test_nightly_resume.py has
    # a real worker write it), into the database cache this server reads.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cycles_cache",
        }
    }
    from flags.worker import record_worker_heartbeat

    record_worker_heartbeat()
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    NightlyRun.objects.create(
        practice=users["admin"].practice, for_date=yesterday, status=RunStatus.RUNNING
    )

    status, body = health(web)
    assert status == 200
    assert body["status"] == "ok"
    assert {name: body[name]["status"] for name in ("database", "cache", "broker", "worker")} == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "worker": "ok",
    }
    assert health(web, "?strict")[0] == 200
    (nightly,) = body["nightly"]
    assert nightly["practice"] == users["admin"].practice_id
    assert nightly["last_run"]["for_date"] == yesterday.isoformat()
    assert nightly["last_run"]["status"] == "running"
    text = json.dumps(body)
    for user in users.values():  # nothing identifying: no names, no case codes
        assert user.display_name not in text
    assert users["therapist"].couple.case_code not in text
    assert users["admin"].practice.name not in text

    broker.stop()
    status, body = health(web)
    assert status == 200  # a load balancer keeps serving sign-in
    assert body["status"] == "degraded"
    assert body["broker"] == {"status": "down"}
    assert body["worker"]["status"] == "ok"  # its heartbeat is in the database, not in Redis
    status, body = health(web, "?strict")
    assert status == 503
    assert body["broker"] == {"status": "down"}


def test_health_is_503_when_the_database_is_down(tmp_path):
    """The app pointed at a port where no PostgreSQL answers."""
    web = WebServer(
        server_env("redis://127.0.0.1:1/0", DATABASE_URL=database_url(free_port())),
        tmp_path / "gunicorn.log",
    )
    with running(web):
        status, body = health(web)
    assert status == 503
    assert body["status"] == "down"
    assert body["database"] == {"status": "down"}
    assert body["broker"] == {"status": "down"}
