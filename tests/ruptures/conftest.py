"""Fixtures for the nightly summaries: running them in-process, and a real Celery worker.

Two ways to run the nightly work:

- `run_nightly` runs a practice's run for a date in this process, with Celery eager (the
  settings make it eager whenever REDIS_URL is unset; the fixture makes sure of it) and the
  on-commit callbacks executed, so `delay_on_commit` chains really happen.
- `start_worker` starts `celery -A config worker --pool=solo` as a subprocess, against the
  test database and a Redis database of these tests' own (REDIS_DB, flushed before and after).

How this process is pointed at Redis: config/settings.py reads REDIS_URL once, at import (so
setting the environment variable in a test is too late), and config/celery.py reads the
CELERY_* settings through Django's settings object, live: changing `app.conf` or
`settings.CELERY_BROKER_URL` both change what `app.conf.broker_url` says. That alone is not
enough. The app caches its connection pool and producer pool at the first send, for the broker
URL of that moment, and an eager task is a send too (apply_async acquires a producer even when
it runs the task in-process). After any eager test, a task sent with only the URL changed goes
silently to "memory://" and no worker ever sees it (checked: 0 messages reach Redis). So
`celery_broker` writes broker_url and task_always_eager=False on `app.conf` and drops the
app's cached pools; at teardown it puts the values back and drops the pools again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from django.conf import settings
from django.db import connection, connections, transaction

from config.celery import app as celery_app
from flags import runs
from ruptures.models import NightlyRun, RunStatus
from tests.processes import RedisServer, create_cache_table, running

if TYPE_CHECKING:
    import datetime
    from collections.abc import Callable, Iterator

    from celery import Celery

    from people.models import Practice

# These tests' own Redis database, flushed before and after each use. Two runs at once on one
# machine each set their own (CYCLES_TEST_REDIS_DB), or they flush each other's messages.
REDIS_DB = int(os.environ.get("CYCLES_TEST_REDIS_DB", "9"))
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
BASE_DIR = Path(settings.BASE_DIR)
WORKER_READY_SECONDS = 30


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    poll: float = 0.05,
    explain: Callable[[], str] | None = None,
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds
    (with `explain()`, e.g. the worker's log, in the message)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {timeout} s waiting for {what}"
                + (f"\n{explain()}" if explain else "")
            )
        time.sleep(poll)


def _drop_broker_pools(app: Celery) -> None:
    """Forget the app's handles on the pools made for the previous broker URL.

    Not closed: they live in kombu's process-wide registry (keyed by broker URL), and the
    app gets the same ones back when it returns to that URL.
    """
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextlib.contextmanager
def celery_conf(app: Celery, **values: Any) -> Iterator[None]:
    """Set `app.conf` values for the block; afterwards the app reads them from the Django
    settings again (the values go in, and come out of, the conf's top layer of changes)."""
    changes = app.conf.changes
    missing = object()
    saved = {name: changes.get(name, missing) for name in values}
    app.conf.update(values)
    _drop_broker_pools(app)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                changes.pop(name, None)
            else:
                changes[name] = value
        _drop_broker_pools(app)


@pytest.fixture
def eager_celery() -> Iterator[Celery]:
    """Tasks run in this process when queued (as they do with REDIS_URL unset)."""
    with celery_conf(celery_app, task_always_eager=True, task_eager_propagates=True):
        yield celery_app


@pytest.fixture
def run_nightly(
    eager_celery: Celery, django_capture_on_commit_callbacks: Any
) -> Callable[[Practice, datetime.date], NightlyRun]:
    """Run a practice's nightly run for a date in-process, chunks and digests included."""

    def run(practice: Practice, for_date: datetime.date) -> NightlyRun:
        with django_capture_on_commit_callbacks(execute=True):
            started = runs.start_run(practice=practice, for_date=for_date)
        started.refresh_from_db()
        assert started.status == RunStatus.FINISHED, started.error
        return started

    return run


@dataclass
class Broker:
    app: Celery
    url: str

    def flush(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            client.flushdb()
        finally:
            client.close()

    @contextlib.contextmanager
    def eager(self) -> Iterator[None]:
        """Back to in-process tasks for the block (e.g. a clean run to compare with)."""
        with celery_conf(self.app, task_always_eager=True):
            yield


@pytest.fixture
def broker_url() -> str:
    """The broker of the worker tests: the machine's Redis, in these tests' own database. A
    module overrides it to use a redis-server of its own (`redis_server`), e.g. to stop it."""
    return REDIS_URL


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, on a free port, killed at teardown."""
    with running(RedisServer(tmp_path / "redis.log")) as (server,):
        yield server


@pytest.fixture
def celery_broker(broker_url: str) -> Iterator[Broker]:
    """This process's Celery app sends to `broker_url` instead of running tasks eagerly."""
    broker = Broker(celery_app, broker_url)
    try:
        broker.flush()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not answering at {broker_url} (see STACK.md to start it)")
    with celery_conf(celery_app, broker_url=broker_url, task_always_eager=False):
        yield broker
    with contextlib.suppress(redis.ConnectionError):  # a test that stopped its own Redis
        broker.flush()


@dataclass
class Worker:
    """A `celery worker --pool=solo` subprocess: its main process does the work, so its pid
    is the one to kill."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def children(self) -> list[int]:
        """Pids of the worker's child processes (Linux /proc): none with --pool=solo."""
        found = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [int(pid) for pid in found]

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, nothing committed after this."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: finishes the current task
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def database_url() -> str:
    """The test database (pytest-django's `test_<name>`), as the worker's DATABASE_URL."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def start_worker(
    celery_broker: Broker, transactional_db: None, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    """Start real workers on demand; each is stopped at teardown, before pytest-django
    empties the tables (this fixture depends on `transactional_db`, so it is torn down
    first: a worker still holding a lock would block the TRUNCATE)."""
    assert connection.settings_dict["NAME"].startswith("test_")
    create_cache_table()  # where a worker writes its heartbeat
    started: list[Worker] = []

    def start(chunk_size: int | None = None, **environment: str) -> Worker:
        """`environment` adds to (or overrides) the worker's, e.g. EMAIL_BACKEND."""
        name = f"nightly-{uuid.uuid4().hex[:8]}@tests"
        env = os.environ.copy()
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DJANGO_DEBUG="true",
            DATABASE_URL=database_url(),
            REDIS_URL=celery_broker.url,
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            PYTHONUNBUFFERED="1",
        )
        if chunk_size is not None:
            env["NIGHTLY_CHUNK_SIZE"] = str(chunk_size)
        env.update(environment)
        log_path = tmp_path / f"{name.split('@')[0]}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=solo",
                    "--concurrency=1",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    name,
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(name, process, log_path)
        started.append(worker)

        def answers() -> bool:
            if not worker.alive():
                pytest.fail(f"the worker exited at start-up:\n{worker.log()}")
            return bool(celery_broker.app.control.ping(destination=[name], timeout=0.3))

        wait_until(
            answers,
            timeout=WORKER_READY_SECONDS,
            what="the worker to answer a ping",
            explain=worker.log,
        )
        return worker

    yield start
    for worker in started:
        worker.stop()


class OtherConnection:
    """Another database connection (from a thread): what a second worker would hold.

    Needs a transactional test: the other connection sees only committed data.
    """

    @contextlib.contextmanager
    def hold(self, work: Callable[[], Any]) -> Iterator[Any]:
        """Do `work` in a transaction on the other connection and keep that transaction open
        (its row locks held, its rows uncommitted) until the block ends; then roll it back."""
        ready, release = threading.Event(), threading.Event()
        outcome: dict[str, Any] = {}

        def hold() -> None:
            try:
                with transaction.atomic():
                    outcome["value"] = work()
                    ready.set()
                    release.wait(60)
                    transaction.set_rollback(True)
            except BaseException as error:  # handed to the test below
                outcome["error"] = error
                ready.set()
            finally:
                connections.close_all()

        thread = threading.Thread(target=hold, name="held-transaction")
        thread.start()
        ready.wait(30)
        try:
            if "error" in outcome:
                raise outcome["error"]
            yield outcome.get("value")
        finally:
            release.set()
            thread.join(30)

    @staticmethod
    def lock_waiters() -> int:
        """Connections to the test database now waiting for a lock another one holds."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return int(cursor.fetchone()[0])

    @staticmethod
    def run_unlocked(run_id: int) -> bool:
        """True when no transaction holds the run's row lock (SKIP LOCKED would return it)."""
        with transaction.atomic():
            found = NightlyRun.objects.select_for_update(skip_locked=True).filter(pk=run_id)
            return found.first() is not None


@pytest.fixture
def other_connection(transactional_db: None) -> OtherConnection:
    return OtherConnection()


@pytest.fixture
def poll() -> Callable[..., Any]:
    """`poll(condition, timeout=..., what=..., explain=...)`: short polls, bounded; never a
    fixed sleep."""
    return wait_until
