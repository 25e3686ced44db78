"""Benchmark: the nightly rupture-resolution summaries on a large practice.

    .venv/bin/python -m bench.nightly                               # about 3 minutes
    .venv/bin/python -m bench.nightly --profile --scaling 100,500   # about 5 minutes
    .venv/bin/python -m bench.nightly --scale 0.05 --reps 1 --nights 1   # a quick try

Drops and recreates the bench database (its name must contain "bench"), migrates it,
generates 50 therapists, 2,000 couples, 60,000 sessions and 150,000 ruptures (plus their
repair log, alliance ratings, post-session reports and CSI-4 questionnaires) with COPY, and
then times, in the same run and against the same data:

1. the floor: one hand-written SQL aggregate of the summaries' core (bench/aggregates.py);
2. the naive loop: one query per couple (the floor's aggregate for that couple alone), on
   every `--naive-step`-th couple, extrapolated linearly; and the floor written as the
   night's summary rows by one set-based `INSERT ... SELECT` (rolled back): what storing
   costs at the least (bench/experiments.py);
3. the nightly run end to end with one real Celery worker (`celery -A config worker
   --concurrency=1`), from `start_run` (which enqueues) until the run's row says finished:
   a first night (nothing stored, every flag new) and the steady night after it (yesterday's
   flags and summaries stored); and, for comparison, the job one couple at a time.

Repetitions interleave them, so a change in the machine's load hits all alike; medians are
reported. The floor, the naive loop and the stored summaries are checked to agree on the
core figures. See bench/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cycles_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
FOR_DATE = datetime.date(2026, 11, 15)  # the first night; the data is laid out around it
TARGETS = {"nightly_over_floor_max": 3.0, "naive_over_nightly_min": 20.0, "nightly_max_s": 30.0}


@dataclass
class Results:
    date: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    chunk_size: int = 250
    queries_per_chunk: dict[str, int] = field(default_factory=dict)
    queries_listed: list[str] = field(default_factory=list)
    queries_at_finish: int = 0
    floor_s: list[float] = field(default_factory=list)
    naive_s: list[float] = field(default_factory=list)  # extrapolated to every couple
    naive_measured_s: list[float] = field(default_factory=list)
    naive_couples: int = 0
    stored_floor_s: list[float] = field(default_factory=list)  # the floor written, set-based
    restored_floor_s: list[float] = field(default_factory=list)  # the same again: all updates
    restored_floor_0007_s: float | None = None  # the same, with people 0007's trail function
    naive_full_s: list[float] = field(default_factory=list)  # extrapolated
    naive_full_measured_s: list[float] = field(default_factory=list)
    naive_full_couples: int = 0
    first_nights: list[dict[str, Any]] = field(default_factory=list)
    nights: list[dict[str, Any]] = field(default_factory=list)  # steady nights
    scaling: dict[str, dict[str, float]] = field(default_factory=dict)
    load: list[tuple[str, float]] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    profiles: list[dict[str, Any]] = field(default_factory=list)

    @property
    def floor(self) -> float:
        return statistics.median(self.floor_s)

    @property
    def naive(self) -> float:
        return statistics.median(self.naive_s)

    @property
    def nightly(self) -> float:
        return statistics.median(n["seconds"] for n in self.nights)

    @property
    def first(self) -> float:
        return statistics.median(n["seconds"] for n in self.first_nights)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.nightly",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", type=float, default=1.0, help="data size factor (1 = full)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of floor and naive loop")
    parser.add_argument(
        "--nights",
        type=int,
        default=3,
        help="repetitions of the nightly pair: a first night, then the steady night after it",
    )
    parser.add_argument("--chunk-size", type=int, default=250, help="NIGHTLY_CHUNK_SIZE timed")
    parser.add_argument(
        "--naive-step",
        type=int,
        default=1,
        help="time the naive loop on every n-th couple and extrapolate (1: all couples)",
    )
    parser.add_argument(
        "--naive-full-step",
        type=int,
        default=20,
        help="time the nightly job one couple at a time on every n-th couple (extrapolated)",
    )
    parser.add_argument(
        "--scaling",
        default="",
        help="other chunk sizes to time (first night and one steady night each), e.g. 100,500",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the bench database if it has this size"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run the nightly job in-process (no Celery, rolled back): SQL timed, then "
        "under cProfile, for a steady night and for a first night",
    )
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument("--seed", type=int, default=20261115)
    return parser.parse_args(argv)


def configure_environment(chunk_size: int) -> dict[str, str]:
    """This process's settings and the worker's: PostgreSQL, Redis db 11, DEBUG off (no query
    log), mail kept in memory (locmem), the chunk size. Set before Django reads settings."""
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    name = urlsplit(database_url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to drop and recreate database {name!r}: its name must contain 'bench'")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "PRIVATE_NOTE_KEYS": fernet_key(),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "LOG_LEVEL": "WARNING",
            "NIGHTLY_CHUNK_SIZE": str(chunk_size),
        }
    )
    return dict(os.environ)


def fernet_key() -> str:
    """A throw-away key: settings want PRIVATE_NOTE_KEYS with DEBUG off; the bench has no
    private notes, so nothing is ever encrypted with it."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _maintenance_url(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/postgres", scheme="postgresql")), parts.path.lstrip("/")


def recreate_database(database_url: str) -> None:
    import psycopg

    maintenance, name = _maintenance_url(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(database_url: str) -> bool:
    import psycopg

    maintenance, name = _maintenance_url(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    worker_env = configure_environment(args.chunk_size)
    database_url = os.environ["DATABASE_URL"]
    began = time.perf_counter()

    import django

    try:
        reuse = args.reuse and database_exists(database_url)
        if not reuse:
            recreate_database(database_url)
    except Exception as error:  # psycopg.OperationalError and friends
        sys.exit(f"PostgreSQL is not answering at {database_url}: {error}")
    django.setup()
    check_redis()

    from django.core.management import call_command

    from bench.practice import Size
    from people.models import Practice

    results = Results(date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
    results.chunk_size = args.chunk_size
    log("migrating the bench database")
    call_command("migrate", verbosity=0)
    practice_id = prepare_data(Size().scaled(args.scale), args, reuse, results)
    worker_env = as_app_role(worker_env)
    results.machine = machine_facts()
    practice = Practice.objects.get(pk=practice_id)

    count_queries(practice, results, args.chunk_size)
    measure(practice, args, worker_env, results)
    for size in [int(s) for s in args.scaling.split(",") if s.strip()]:
        measure_chunk_size(practice, size, worker_env, results)
    if args.profile:
        run_profiles(practice, args, results)
    reset_outputs()
    results.checks["bench_seconds"] = round(time.perf_counter() - began)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(asdict(results), indent=2, default=str))
        log(f"raw results written to {args.json}")
    return 0


BENCH_OWNER, BENCH_APP = "cycles_bench_owner", "cycles_bench_app"


def as_app_role(env: dict[str, str]) -> dict[str, str]:
    """The workers' environment, connected as the app's own role, as production runs them: a
    worker with DEBUG off refuses a superuser (people.db_roles). The roles are made (or their
    passwords renewed) by `manage.py setup_db_roles`; this process stays the superuser, for
    the seeding's COPY and the resets between runs."""
    from django.core.management import call_command

    passwords = {"BENCH_APP_PASSWORD": secrets.token_urlsafe(24)}
    passwords["BENCH_OWNER_PASSWORD"] = secrets.token_urlsafe(24)
    os.environ.update(passwords)
    call_command(
        "setup_db_roles",
        owner=BENCH_OWNER,
        app=BENCH_APP,
        app_password_env="BENCH_APP_PASSWORD",  # noqa: S106 (a variable's name, not a password)
        owner_password_env="BENCH_OWNER_PASSWORD",  # noqa: S106
        stdout=io.StringIO(),
    )
    url = urlsplit(env["DATABASE_URL"])
    host = url.hostname or "127.0.0.1"
    netloc = f"{BENCH_APP}:{passwords['BENCH_APP_PASSWORD']}@{host}:{url.port or 5432}"
    log(f"the workers connect as {BENCH_APP}, which can't erase the audit trail")
    return {**env, "DATABASE_URL": url._replace(netloc=netloc).geturl()}


def check_redis() -> None:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as error:
        sys.exit(f"Redis is not answering at {os.environ['REDIS_URL']}: {error}")


def prepare_data(size: Any, args: argparse.Namespace, reuse: bool, results: Results) -> int:
    from bench.practice import PRACTICE_NAME, generate
    from cycles.models import Couple
    from people.models import Practice
    from ruptures.models import Rupture
    from sessions.models import TherapySession

    existing = Practice.objects.filter(name=PRACTICE_NAME).first() if reuse else None
    if existing is not None and (
        Couple.objects.count(),
        TherapySession.objects.count(),
        Rupture.objects.count(),
    ) == (size.couples, size.sessions, size.ruptures):
        log("reusing the generated practice already in the bench database")
        reset_outputs()
        results.data = {"generated_s": None, **data_counts()}
        return existing.pk
    if reuse:
        log("the bench database holds other data: recreating it")
        from django.db import connection

        connection.close()
        recreate_database(os.environ["DATABASE_URL"])
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    log(
        f"generating {size.therapists} therapists, {size.couples} couples, "
        f"{size.sessions} sessions, {size.ruptures} ruptures"
    )
    generated = generate(size, FOR_DATE, seed=args.seed)
    log(f"generated in {generated.seconds:.1f} s: {generated.counts}")
    results.data = {"generated_s": round(generated.seconds, 1), **data_counts()}
    return generated.practice_id


def data_counts() -> dict[str, Any]:
    from django.db.models import Count, Q

    from cycles.models import Couple
    from people.models import User
    from ruptures.models import Rupture
    from sessions.models import AllianceRating, MeasureResponse, PostSessionReport, TherapySession

    ruptures = Rupture.objects.aggregate(
        total=Count("pk"),
        withdrawal=Count("pk", filter=Q(rupture_type="withdrawal")),
        confrontation=Count("pk", filter=Q(rupture_type="confrontation")),
        unresolved=Count("pk", filter=Q(status="unresolved")),
        partly_resolved=Count("pk", filter=Q(status="partly_resolved")),
        resolved=Count("pk", filter=Q(status="resolved")),
        repaired_later=Count("pk", filter=Q(repaired_in__isnull=False)),
        withdrawn=Count("pk", filter=Q(withdrawn_at__isnull=False)),
        contribution_rated=Count("pk", filter=Q(therapist_contribution__isnull=False)),
    )
    sessions = TherapySession.objects.aggregate(
        total=Count("pk"),
        attended=Count("pk", filter=Q(attendance="attended")),
        ended_early=Count("pk", filter=Q(attendance="ended_early")),
        cancelled=Count("pk", filter=Q(attendance="cancelled")),
        no_show=Count("pk", filter=Q(attendance="no_show")),
        withdrawn=Count("pk", filter=Q(withdrawn_at__isnull=False)),
        after_for_date=Count("pk", filter=Q(starts_at__date__gt=FOR_DATE)),
    )
    from ruptures.models import RuptureRepair

    repairs = RuptureRepair.objects.aggregate(
        total=Count("pk"),
        after_first_night=Count("pk", filter=Q(session__starts_at__date__gt=FOR_DATE)),
        second_repairs=Count("pk", filter=Q(repaired_in_before__isnull=False)),
    )
    return {
        "repairs": repairs,
        "therapists": User.objects.filter(is_therapist=True).count(),
        "couples": Couple.objects.count(),
        "sessions": sessions,
        "ruptures": ruptures,
        "alliance_ratings": AllianceRating.objects.count(),
        "post_session_reports": PostSessionReport.objects.count(),
        "questionnaires": MeasureResponse.objects.count(),
        "database_size": database_size(),
    }


def database_size() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        return str(cursor.fetchone()[0])


def machine_facts() -> dict[str, Any]:
    import celery
    import django
    import psycopg
    from django.db import connection

    from config.celery import app

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    with app.connection_for_write() as conn:
        redis_version = conn.default_channel.client.info("server").get("redis_version", "?")
    cpu = "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    return {
        "commit": git_state(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory": memory,
        "postgresql": postgres,
        "redis": redis_version,
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
        "psycopg": psycopg.__version__,
    }


def git_state() -> str:
    """The app's commit, and whether its code had uncommitted changes when measured."""
    import subprocess

    from bench.worker import REPO

    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603 (fixed arguments)
            ["git", *args],  # noqa: S607 (git from PATH)
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "config", "people", "cycles", "sessions", "ruptures")
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted app changes" if dirty else "")


def reset_outputs() -> None:
    """Empty what a nightly run writes, so each timed run does the same (first-night) work:
    summaries, flags, roll-ups, digest log, runs, and the change trail's rows (TRUNCATE is
    allowed on the append-only trail; this is a throw-away database)."""
    from django.db import connection

    from ruptures.models import CaseloadSummary, DigestLog, Flag, NightlyRun, RuptureSummary

    models = [RuptureSummary, Flag, CaseloadSummary, DigestLog, NightlyRun]
    try:
        from people.models import ChangeEvent

        models.append(ChangeEvent)
    except ImportError:  # an app without the change trail
        pass
    tables = ", ".join(m._meta.db_table for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")


def count_queries(practice: Any, results: Results, size: int) -> None:
    """Queries of one chunk and of the finishing step, in-process and rolled back."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext, override_settings

    from bench.profiling import acting_as, kind_of
    from flags import runs
    from ruptures.models import NightlyRun

    with override_settings(NIGHTLY_CHUNK_SIZE=size), transaction.atomic():
        run = NightlyRun.objects.create(practice=practice, for_date=FOR_DATE)
        with CaptureQueriesContext(connection) as chunk, acting_as("nightly"):
            runs.process_chunk(run.pk)  # as flags.tasks.process_run_chunk runs it
        last = max(runs.couple_ids_after(practice.pk, 0, 10**9))[0]
        NightlyRun.objects.filter(pk=run.pk).update(cursor=last)
        with CaptureQueriesContext(connection) as finish, acting_as("nightly"):
            runs.process_chunk(run.pk)
        transaction.set_rollback(True)
    listed = [kind_of(q["sql"]) for q in chunk.captured_queries]
    results.queries_per_chunk[str(size)] = len(listed)
    results.queries_listed = listed
    results.queries_at_finish = len(finish)
    log(f"{len(listed)} queries per chunk of {size}: {', '.join(listed)}; {len(finish)} to finish")


def note_load(results: Results, label: str) -> None:
    results.load.append((label, round(os.getloadavg()[0], 2)))


def measure(practice: Any, args: argparse.Namespace, env: dict[str, str], results: Results) -> None:
    """Per repetition: the floor and the naive loop (--reps), then a first night and the
    steady night after it (--nights), all with the one worker up."""
    from bench.aggregates import floor, floor_core, naive_one_query
    from bench.worker import Worker
    from config.celery import app

    app.control.purge()  # nothing stale in the bench's own queue (its own Redis database)
    worker = Worker({**env, "NIGHTLY_CHUNK_SIZE": str(args.chunk_size)}, "bench-nightly-worker")
    log(f"worker (chunk size {args.chunk_size}) up in {worker.start():.1f} s; log {worker.log}")
    couples = practice_couples(practice)
    steady_date = FOR_DATE + datetime.timedelta(days=1)
    try:
        for rep in range(max(args.reps, args.nights)):
            if rep < args.reps:
                note_load(results, f"floor and naive {rep + 1}")
                seconds, _ = timed(lambda: floor(practice.pk, FOR_DATE, practice.time_zone))
                results.floor_s.append(seconds)
                seconds, rows = timed(
                    lambda: naive_one_query(
                        practice.pk, FOR_DATE, practice.time_zone, step=args.naive_step
                    )
                )
                core = floor_core(rows)
                results.naive_couples = len(core)
                results.naive_measured_s.append(seconds)
                results.naive_s.append(seconds * couples / max(1, len(core)))
                log(
                    f"floor {results.floor_s[-1]:.3f} s; naive {seconds:.2f} s on {len(core)} "
                    f"couples (~{results.naive_s[-1]:.2f} s for {couples})"
                )
                check_naive(practice, FOR_DATE, core, results)
                if rep == 0:
                    results.restored_floor_0007_s = store_floor(practice, before_0009=True)[1]
                    log(f"again, 0007's trail function: {results.restored_floor_0007_s:.3f} s")
                inserted, updated = store_floor(practice)
                results.stored_floor_s.append(inserted)
                results.restored_floor_s.append(updated)
                log(f"the floor stored, set-based: {inserted:.3f} s; again {updated:.3f} s")
            if rep < args.nights:
                reset_outputs()
                note_load(results, f"per-couple job {rep + 1}")
                seconds, sampled = naive_full(practice, FOR_DATE, args.naive_full_step)
                results.naive_full_measured_s.append(seconds)
                results.naive_full_couples = sampled
                results.naive_full_s.append(seconds * couples / max(1, sampled))
                log(
                    f"the nightly job one couple at a time: {seconds:.2f} s on {sampled} couples "
                    f"(~{results.naive_full_s[-1]:.2f} s for {couples})"
                )
                note_load(results, f"first night {rep + 1}")
                results.first_nights.append(one_nightly_run(practice, worker, FOR_DATE))
                log(_night_line("first night", results.first_nights[-1]))
                if rep == 0:
                    check_stored(practice, FOR_DATE, results, "first_night")
                note_load(results, f"steady night {rep + 1}")
                results.nights.append(one_nightly_run(practice, worker, steady_date))
                log(_night_line("steady night", results.nights[-1]))
                if rep == 0:
                    check_stored(practice, steady_date, results, "steady_night")
    finally:
        worker.stop()


def store_floor(practice: Any, before_0009: bool = False) -> tuple[float, float]:
    """Seconds to compute the floor and write it as the night's summary rows in one
    set-based statement, change trail on, rolled back (bench/experiments.py): into a date
    with no summaries (inserts, as every night), then again (every row an update)."""
    from bench.experiments import store_core_set_based, trail_before_0009
    from bench.profiling import acting_as, rolled_back
    from ruptures.models import RuptureSummary

    def store() -> int:
        return store_core_set_based(practice.pk, FOR_DATE, practice.time_zone)

    with rolled_back(), acting_as("nightly"):
        if before_0009:
            trail_before_0009()
        RuptureSummary.objects.filter(on_date=FOR_DATE).delete()  # what a night found stored
        inserted, _ = timed(store)
        updated, _ = timed(store)
    return inserted, updated


def naive_full(practice: Any, for_date: datetime.date, step: int) -> tuple[float, int]:
    """The nightly job's own code one couple at a time (`summarise_chunk` with a chunk of one:
    its 5 reads, the upsert and the flag reconciliation per couple), in-process and rolled
    back, on every `step`-th couple. What one task per couple would do, without Celery."""
    from bench.profiling import acting_as, rolled_back
    from flags import runs
    from ruptures.models import NightlyRun

    couples = runs.couple_ids_after(practice.pk, 0, 10**9)[::step]
    with rolled_back():
        run = NightlyRun.objects.select_related("practice").get(
            pk=NightlyRun.objects.create(practice=practice, for_date=for_date).pk
        )
        started = time.perf_counter()
        with acting_as("nightly"):
            for couple in couples:
                runs.summarise_chunk(run, [couple])
        seconds = time.perf_counter() - started
    return seconds, len(couples)


def measure_chunk_size(practice: Any, size: int, env: dict[str, str], results: Results) -> None:
    from bench.worker import Worker

    reset_outputs()
    worker = Worker({**env, "NIGHTLY_CHUNK_SIZE": str(size)}, f"bench-nightly-chunk{size}")
    worker.start()
    try:
        note_load(results, f"chunk {size}")
        first = one_nightly_run(practice, worker, FOR_DATE)
        steady = one_nightly_run(practice, worker, FOR_DATE + datetime.timedelta(days=1))
    finally:
        worker.stop()
    results.scaling[str(size)] = {
        "first_night_s": round(first["seconds"], 2),
        "steady_night_s": round(steady["seconds"], 2),
        "chunks": steady["chunks"],
    }
    log(
        f"chunk size {size}: first night {first['seconds']:.2f} s, steady {steady['seconds']:.2f} s"
    )


def practice_couples(practice: Any) -> int:
    from cycles.models import Couple

    return Couple.objects.filter(practice=practice).count()


def _night_line(label: str, d: dict[str, Any]) -> str:
    return (
        f"{label} {d['for_date']}: {d['seconds']:.2f} s, {d['chunks']} chunks (chunk tasks "
        f"{sum(t or 0 for t in d['chunk_task_s']):.2f} s), {d['flags_open']} open flags; "
        f"digests {d['digests_s']} s after"
    )


def one_nightly_run(practice: Any, worker: Any, for_date: datetime.date) -> dict[str, Any]:
    """Enqueue the night's run and wait for its row to say finished (the timed part); then
    wait, untimed, for the digests it queues, so that the next measurement starts quiet."""
    from django.utils import timezone

    from flags.runs import start_run
    from ruptures.models import NightlyRun, RunStatus

    chunks_before = len(worker.task_lines("process_run_chunk"))
    digests_before = len(worker.task_lines("send_digests"))
    events_before = change_events()
    wall = timezone.now()
    started = time.perf_counter()
    run = start_run(practice=practice, for_date=for_date)  # queues the first chunk on commit
    while True:
        state = (
            NightlyRun.objects.filter(pk=run.pk)
            .values("status", "finished_at", "started_at", "chunks")
            .get()
        )
        status, finished_at = state["status"], state["finished_at"]
        run_started, chunks = state["started_at"], state["chunks"]
        if status == RunStatus.FINISHED:
            seconds = time.perf_counter() - started
            break
        if status == RunStatus.FAILED or not worker.alive():
            raise RuntimeError(f"the nightly run failed ({status}); see {worker.log}")
        if time.perf_counter() - started > 900:
            raise RuntimeError(f"the nightly run took over 15 minutes; see {worker.log}")
        time.sleep(0.02)
    if finished_at is None or run_started is None:
        raise RuntimeError(f"run {run.pk} says finished without its times")
    digest_lines = wait_for_task(worker, "send_digests", digests_before + 1)
    chunk_lines = worker.task_lines("process_run_chunk")[chunks_before:]
    return {
        "for_date": str(for_date),
        "seconds": seconds,
        "enqueue_to_finished_at_s": round((finished_at - wall).total_seconds(), 3),
        "queue_wait_s": round((run_started - wall).total_seconds(), 3),
        "chunks": chunks,
        "chunk_task_s": [_runtime(line) for line in chunk_lines],
        "digests_s": _runtime(digest_lines[-1]) if digest_lines else None,
        "change_events": change_events() - events_before,
        **output_counts(for_date),
    }


def change_events() -> int:
    """Rows in the change trail (people.ChangeEvent), where the app has one."""
    try:
        from people.models import ChangeEvent
    except ImportError:
        return 0
    return ChangeEvent.objects.count()


def wait_for_task(worker: Any, task: str, count: int, timeout: float = 600) -> list[str]:
    """Wait until the worker's log shows `count` finished `task`s."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout and worker.alive():
        lines = worker.task_lines(task)
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    raise RuntimeError(f"{task} did not finish within {timeout} s; see {worker.log}")


def _runtime(line: str) -> float | None:
    """The seconds in Celery's "Task name[id] succeeded in 1.23s: ..." line."""
    if " succeeded in " not in line:
        return None
    return round(float(line.split(" succeeded in ", 1)[1].split("s:", 1)[0]), 3)


def output_counts(for_date: datetime.date) -> dict[str, int]:
    from ruptures.models import CaseloadSummary, DigestLog, Flag, RuptureSummary

    return {
        "summaries": RuptureSummary.objects.filter(on_date=for_date).count(),
        "flags_open": Flag.objects.open().count(),
        "flags_opened": Flag.objects.filter(opened_on=for_date).count(),
        "flags_closed": Flag.objects.filter(closed_on=for_date).count(),
        "caseload_summaries": CaseloadSummary.objects.filter(on_date=for_date).count(),
        "digests": DigestLog.objects.filter(for_date=for_date).count(),
    }


def check_stored(practice: Any, for_date: datetime.date, results: Results, label: str) -> None:
    from bench.aggregates import differences, floor, floor_core, stored_core

    expected = floor_core(floor(practice.pk, for_date, practice.time_zone))
    count, examples = differences(expected, stored_core(practice.pk, for_date))
    results.checks[f"{label}_stored_vs_floor_differences"] = count
    if count:
        results.checks[f"{label}_stored_vs_floor_examples"] = examples
        log(f"the stored summaries differ from the floor in {count} places: {examples}")
    if label == "first_night":
        results.checks["floor_totals_first_night"] = {
            "ruptures": sum(c["treatment"]["ruptures"] for c in expected.values()),
            "sessions_held": sum(c["treatment"]["sessions_held"] for c in expected.values()),
            "ruptures_on_the_day": sum(c["day"]["ruptures"] for c in expected.values()),
        }


def check_naive(practice: Any, night: datetime.date, core: Any, results: Results) -> None:
    from bench.aggregates import differences, floor, floor_core

    expected = floor_core(floor(practice.pk, night, practice.time_zone))
    count, examples = differences(expected, core, only_found=True)
    key = "naive_vs_floor_differences"
    results.checks[key] = results.checks.get(key, 0) + count
    if count:
        results.checks["naive_vs_floor_examples"] = examples


def run_profiles(practice: Any, args: argparse.Namespace, results: Results) -> None:
    """One chunk of a steady night (on the last timed night's outputs) and one of a first
    night (nothing stored), each as it is and without the change trail's triggers on the
    tables the nightly job writes (bench/experiments.py)."""
    from bench.experiments import change_trail_off
    from bench.profiling import profile

    steady = FOR_DATE + datetime.timedelta(days=2)
    for night, label in ((steady, "steady"), (FOR_DATE, "first")):
        if label == "first":
            reset_outputs()
        log(f"profiling one chunk of a {label} night ({night}) in-process")
        results.profiles.append(profile(practice, night, label, args.chunk_size))
        log("the same chunk without the change trail's triggers on the nightly's own tables")
        results.profiles.append(
            profile(
                practice,
                night,
                f"{label}, no change trail on derived tables",
                args.chunk_size,
                cprofile=False,
                setup=change_trail_off,
            )
        )


def report(r: Results) -> None:
    floor, nightly, naive, first = r.floor, r.nightly, r.naive, r.first
    d, m = r.data, r.machine
    lines = [
        "",
        f"## Results of {r.date} (nights from {FOR_DATE})",
        "",
        f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('memory')}; PostgreSQL "
        f"{m.get('postgresql')}, Redis {m.get('redis')}; Python {m.get('python')}, Django "
        f"{m.get('django')}, Celery {m.get('celery')}, psycopg {m.get('psycopg')}; app at "
        f"{m.get('commit')}. "
        f"1-minute load average at each step: {r.load}.",
        f"Data: {d.get('therapists')} therapists, {d.get('couples')} couples, "
        f"{d['sessions']['total']} sessions, {d['ruptures']['total']} ruptures "
        f"({d['repairs']['total']} repairs logged), {d.get('alliance_ratings')} alliance "
        f"ratings, {d.get('post_session_reports')} "
        f"post-session reports, {d.get('questionnaires')} questionnaires (database "
        f"{d.get('database_size')}; generated in {d.get('generated_s')} s).",
        "",
        "| measurement | median (s) | runs (s) |",
        "|---|---:|---|",
        f"| floor: one SQL aggregate of the core, all couples | {floor:.3f} | {_runs(r.floor_s)} |",
        f"| nightly run, steady night, 1 worker, chunk {r.chunk_size} | {nightly:.2f} | "
        f"{_runs([n['seconds'] for n in r.nights])} |",
        f"| nightly run, first night (every flag new), same worker | {first:.2f} | "
        f"{_runs([n['seconds'] for n in r.first_nights])} |",
        f"| the floor written as the night's {3 * d.get('couples', 0)} summary rows, one "
        f"set-based INSERT ... SELECT (change trail on, rolled back) | "
        f"{statistics.median(r.stored_floor_s):.3f} | {_runs(r.stored_floor_s)} |",
        f"| the same statement again, every row now an update (trail on, rolled back) | "
        f"{statistics.median(r.restored_floor_s):.3f} | {_runs(r.restored_floor_s)} |",
        f"| the same, with people 0007's trail function (before 0009), once | "
        f"{r.restored_floor_0007_s or 0:.3f} | |",
        f"| naive loop, one query per couple, extrapolated from {r.naive_couples} to "
        f"{d.get('couples')} couples | {naive:.2f} | {_runs(r.naive_s)} "
        f"(measured {_runs(r.naive_measured_s)}) |",
        f"| for comparison: the nightly job one couple at a time (chunk of 1, no Celery), "
        f"first night, extrapolated from {r.naive_full_couples} couples | "
        f"{statistics.median(r.naive_full_s):.2f} | {_runs(r.naive_full_s)} (measured "
        f"{_runs(r.naive_full_measured_s)}) |",
        "",
        "| ratio | steady night | first night | target |",
        "|---|---:|---:|---|",
        f"| nightly / floor | {nightly / floor:.1f}x {_met(nightly / floor <= 3)} "
        f"| {first / floor:.1f}x {_met(first / floor <= 3)} | at most 3x |",
        f"| naive / nightly | {naive / nightly:.2f}x {_met(naive / nightly >= 20)} "
        f"| {naive / first:.2f}x {_met(naive / first >= 20)} | at least 20x |",
        f"| nightly, seconds | {nightly:.2f} {_met(nightly < 30)} | {first:.2f} "
        f"{_met(first < 30)} | under 30 s |",
        f"| floor written set-based / floor | {statistics.median(r.stored_floor_s) / floor:.2f}x "
        f"| | (no target) |",
        f"| naive / floor | {naive / floor:.1f}x | | (no target) |",
        f"| job one couple at a time / nightly | "
        f"{statistics.median(r.naive_full_s) / nightly:.2f}x | "
        f"{statistics.median(r.naive_full_s) / first:.2f}x | (no target) |",
        "",
        f"Queries per chunk: {r.queries_per_chunk} (chunk size: queries), namely "
        f"{', '.join(r.queries_listed)}; {r.queries_at_finish} for the finishing step.",
        *[f"First night {n['for_date']}: {_counts(n)}." for n in r.first_nights],
        *[f"Steady night {n['for_date']}: {_counts(n)}." for n in r.nights],
    ]
    if r.scaling:
        lines += [
            "",
            "| chunk size | chunks | first night (s) | steady night (s) |",
            "|---:|---:|---:|---:|",
            f"| {r.chunk_size} | {r.nights[0]['chunks']} | {first:.2f} "
            f"| {r.nights[0]['seconds']:.2f} |",
            *[
                f"| {k} | {v['chunks']} | {v['first_night_s']:.2f} | {v['steady_night_s']:.2f} |"
                for k, v in r.scaling.items()
            ],
        ]
    lines.append(f"Checks: {r.checks}")
    for p in r.profiles:
        lines += [
            "",
            f"### One chunk of {p['chunk_size']} couples, {p['label']} night ({p['for_date']}), "
            f"in-process: {p['plain_s']} s, of which SQL execute {p['sql_s']} s, "
            f"the rest {p['python_s']} s",
            "",
            "| statement | calls | seconds | parameters |",
            "|---|---:|---:|---:|",
            *[
                f"| {k} | {v['calls']} | {v['seconds']:.2f} | {v['params']} |"
                for k, v in p["statements"].items()
            ],
        ]
        if p.get("profiled_s") is not None:
            lines += [
                "",
                f"Under cProfile: {p['profiled_s']} s ({p['pstats_file']}).",
                "",
                "| function | calls | cumulative (s) | own (s) |",
                "|---|---:|---:|---:|",
                *[
                    f"| {k} | {v['calls']} | {v['cumulative']:.2f} | {v['own']:.2f} |"
                    for k, v in p["functions"].items()
                ],
                "",
                "```",
                p["top_own_time"].strip(),
                "```",
            ]
    print("\n".join(lines), flush=True)


def _counts(n: dict[str, Any]) -> str:
    return (
        f"{n['seconds']:.2f} s, {n['chunks']} chunks, chunk tasks {n['chunk_task_s']} s, "
        f"queue wait {n['queue_wait_s']} s, {n['summaries']} summaries, {n['flags_open']} open "
        f"flags ({n['flags_opened']} opened, {n['flags_closed']} closed), "
        f"{n['caseload_summaries']} roll-ups, {n['change_events']} change-trail rows, "
        f"{n['digests']} digests taking {n['digests_s']} s after the run (not in the figure)"
    )


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" if v < 1 else f"{v:.2f}" for v in values)


def _met(ok: bool) -> str:
    return "(met)" if ok else "(**not met**)"


if __name__ == "__main__":
    raise SystemExit(main())
