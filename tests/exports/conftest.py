"""The real-worker fixtures of the nightly tests (tests/ruptures/conftest.py), for the export
jobs' worker tests: a Redis database of these tests' own (CYCLES_TEST_REDIS_DB), `celery worker
--pool=solo` subprocesses, another database connection, bounded polls."""

from __future__ import annotations

from tests.ruptures.conftest import (  # noqa: F401 (fixtures, found by name)
    broker_url,
    celery_broker,
    other_connection,
    poll,
    start_worker,
)
