"""Steps started at the same moment, each on its own thread and database connection, for the
race tests on real PostgreSQL (pytest.mark.django_db(transaction=True))."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection


def at_once(*steps: Callable[[], Any], refused: type[Exception] = Exception) -> list[Any]:
    """Run the steps together from one barrier; each one's result, or the `refused` exception
    it raised (returned, so a test can say which of the racers lost)."""
    ready = threading.Barrier(len(steps))

    def run(step: Callable[[], Any]) -> Any:
        ready.wait()
        try:
            return step()
        except refused as lost:
            return lost
        finally:
            connection.close()

    with ThreadPoolExecutor(len(steps)) as pool:
        return list(pool.map(run, steps))
