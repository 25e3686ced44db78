"""Where the nightly run's time goes: one chunk in this process (no Celery), rolled back.

Each chunk does the same kind of work (the run is chunks and a small finishing step), so one
chunk of the timed size shows where a night's time goes. Run twice: plain, with every SQL
statement timed (execute: the server's work plus psycopg's, the rest is Django and the app in
Python), then under cProfile (cumulative time by function; cProfile roughly doubles the Python
part, so read its figures as shares, not seconds).
"""

from __future__ import annotations

import cProfile
import datetime
import io
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection, transaction

# (file name, function) pairs whose cumulative time the report lists.
WATCHED = {
    ("runs.py", "process_chunk"),
    ("runs.py", "summarise_chunk"),
    ("snapshot.py", "load_chunk"),
    ("snapshot.py", "couple_ids_after"),
    ("measures.py", "derive"),
    ("measures.py", "build_points"),
    ("measures.py", "load_satisfaction"),
    ("summaries.py", "summarize"),
    ("summaries.py", "_summary"),
    ("summaries.py", "next_session_attendance"),
    ("summaries.py", "marker_names"),
    ("summaries.py", "bits"),
    ("flags.py", "desired"),
    ("flags.py", "reconcile"),
    ("flags.py", "unresolved"),
    ("flags.py", "confrontation_then_absence"),
    ("flags.py", "recurring"),
    ("flags.py", "_evidence"),
    ("query.py", "bulk_create"),
    ("query.py", "bulk_update"),
    ("query.py", "__iter__"),
    ("base.py", "__init__"),
    ("compiler.py", "as_sql"),
    ("connection.py", "wait"),
    ("_queries.py", "_split_query"),
}


class StatementTimer:
    """An execute wrapper: seconds, calls and parameters per statement kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, dict[str, float]] = defaultdict(
            lambda: {"calls": 0, "seconds": 0.0, "params": 0}
        )

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = self.by_kind[kind_of(sql)]
            entry["calls"] += 1
            entry["seconds"] += time.perf_counter() - started
            entry["params"] += len(params) if params is not None and not many else 0

    @property
    def total(self) -> float:
        return sum(e["seconds"] for e in self.by_kind.values())


def kind_of(sql: str) -> str:
    """ "SELECT ruptures_flag", "INSERT ruptures_rupturesummary" and so on."""
    words = sql.replace("(", " ").split()
    verb = words[0].upper() if words else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    marker = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}.get(verb)
    table = ""
    if marker and marker in (w.upper() for w in words):
        index = [w.upper() for w in words].index(marker)
        if index + 1 < len(words):
            table = words[index + 1].strip('",')
    return f"{verb} {table}".strip()


@contextmanager
def acting_as(label: str) -> Iterator[None]:
    """people.audit_db.acting_as where the app has it (the change trail's actor settings, as
    the task sets them); nothing otherwise."""
    try:
        from people.audit_db import acting_as as app_acting_as
    except ImportError:
        yield
        return
    with app_acting_as(label):
        yield


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def one_chunk(practice: Any, for_date: datetime.date, size: int) -> None:
    """The first chunk of a new run for the date: what each chunk task does."""
    from django.test.utils import override_settings

    from flags import runs
    from ruptures.models import NightlyRun

    run = NightlyRun.objects.create(practice=practice, for_date=for_date)
    with override_settings(NIGHTLY_CHUNK_SIZE=size), acting_as("nightly"):
        runs.process_chunk(run.pk)  # as flags.tasks.process_run_chunk runs it


def profile(
    practice: Any,
    for_date: datetime.date,
    label: str,
    size: int,
    cprofile: bool = True,
    setup: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """One chunk, against whatever flags and summaries are stored now: SQL timed, then
    (with `cprofile`) under cProfile. Both rolled back, with `setup` run first inside."""
    timer = StatementTimer()
    with rolled_back():
        if setup is not None:
            setup()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            one_chunk(practice, for_date, size)
            plain = time.perf_counter() - started
    statements = dict(sorted(timer.by_kind.items(), key=lambda kv: -kv[1]["seconds"]))
    result: dict[str, Any] = {
        "label": label,
        "for_date": str(for_date),
        "chunk_size": size,
        "plain_s": round(plain, 2),
        "sql_s": round(timer.total, 2),
        "python_s": round(plain - timer.total, 2),
        "statements": {
            k: {"calls": int(v["calls"]), "seconds": round(v["seconds"], 2), "params": v["params"]}
            for k, v in statements.items()
        },
        "profiled_s": None,
    }
    if not cprofile:
        return result
    profiler = cProfile.Profile()
    with rolled_back():
        started = time.perf_counter()
        profiler.enable()
        one_chunk(practice, for_date, size)
        profiler.disable()
        profiled = time.perf_counter() - started
    dump = Path(tempfile.gettempdir()) / f"bench-nightly-{label.split(',')[0]}.pstats"
    profiler.dump_stats(dump)
    functions: dict[str, dict[str, float]] = {}
    stats = pstats.Stats(profiler)
    for (filename, _, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        path = Path(filename)
        if (path.name, name) in WATCHED:
            key = f"{path.parent.name}/{path.name}:{name}"
            entry = functions.setdefault(key, {"calls": 0, "cumulative": 0.0, "own": 0.0})
            entry["calls"] += calls
            entry["cumulative"] += cumulative
            entry["own"] += own
    top = io.StringIO()
    pstats.Stats(profiler, stream=top).sort_stats("tottime").print_stats(20)
    result.update(
        {
            "profiled_s": round(profiled, 2),
            "pstats_file": str(dump),
            "functions": dict(sorted(functions.items(), key=lambda kv: -kv[1]["cumulative"])),
            "top_own_time": top.getvalue(),
        }
    )
    return result
