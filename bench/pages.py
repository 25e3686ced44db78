"""Benchmark: every page's weight as a clinic and a treatment grow (issue 17).

    .venv/bin/python -m bench.pages                 # the large practice, about 3 minutes
    .venv/bin/python -m bench.pages --scale 0.05    # a quick try

Drops and recreates the bench database (bench.nightly's: its name must contain "bench"),
migrates it, generates the large practice (bench.practice: 50 therapists, 2,000 couples,
60,000 sessions, 150,000 ruptures), and gives its busiest therapist a 50-session and a
200-session couple (tests.sessions.weight_world: an open rupture in every session). Then, in
this process with DEBUG off, each page is fetched `--reps` times through Django's test client,
interleaved with a trivial signed-in page (the two-factor settings page) fetched in the same
loop, so a change in the machine's load hits both alike. Reported per page: the best time,
its ratio to the trivial page's best, and the bytes. Starting an export is timed the same way
(the job is queued on Redis, which no worker here takes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.nightly import (
    FOR_DATE,
    configure_environment,
    log,
    recreate_database,
)

RATIO_GOAL = 20.0  # every page within 20x the trivial page (issue 17)
LENGTH_GOAL = 1.5  # a 200-session couple's pages within 1.5x a 50-session couple's


@dataclass
class Page:
    name: str
    best_s: float
    ratio: float
    bytes: int
    status: int


@dataclass
class Results:
    baseline_s: float = 0.0
    pages: list[Page] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="data size factor (1 = full)")
    parser.add_argument("--reps", type=int, default=15, help="fetches of each page")
    parser.add_argument(
        "--nights", type=int, default=4, help="nightly runs before measuring (flags, roll-ups)"
    )
    parser.add_argument("--json", type=Path, help="write the raw results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_environment(250)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "localhost,testserver"
    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from bench.practice import Size, generate

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off: the manifest
    size = Size().scaled(args.scale)
    log(f"generating {size.couples} couples, {size.sessions} sessions, {size.ruptures} ruptures")
    generated = generate(size, FOR_DATE)
    results = Results(data={"generated": generated.counts})
    results.data["nights"] = run_nights(generated.practice_id, args.nights)
    pages = page_list(generated.practice_id, results)
    measure(pages, args.reps, results)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(asdict(results), indent=2, default=str))
    return 0


Fetch = Callable[[], Any]


def run_nights(practice_id: int, nights: int) -> dict[str, Any]:
    """The nightly run for the `nights` days up to FOR_DATE, in this process (tasks eager for
    the while), so the pages show the flags and roll-ups a clinic has after a few nights."""
    import datetime

    from celery import current_app

    from flags.runs import start_run
    from people.models import Practice
    from ruptures.models import Flag

    practice = Practice.objects.get(pk=practice_id)
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    started = time.perf_counter()
    try:
        for back in range(nights - 1, -1, -1):
            start_run(practice=practice, for_date=FOR_DATE - datetime.timedelta(days=back))
    finally:
        current_app.conf.task_always_eager = eager
    seconds = time.perf_counter() - started
    log(f"{nights} nightly runs in {seconds:.1f} s")
    return {
        "count": nights,
        "seconds": round(seconds, 1),
        "open_flags": Flag.objects.open().count(),
    }


def page_list(practice_id: int, results: Results) -> list[tuple[str, Fetch]]:
    """The pages, each a fetch by a signed-in person of the practice."""
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from people.models import Supervision, User
    from tests.conftest import force_login_fully
    from tests.sessions.weight_world import long_treatment

    therapist = (
        User.objects.filter(practice_id=practice_id, is_therapist=True)
        .annotate(n=Count("couples"))
        .order_by("-n")
        .first()
    )
    if therapist is None:
        sys.exit("the generated practice has no therapist")
    supervision = Supervision.objects.filter(therapist=therapist).first()
    short, long = long_treatment(50, therapist), long_treatment(200, therapist)
    results.data |= {"therapist_couples": therapist.couples.count()}

    def signed_in(user: Any) -> Client:
        client = Client()
        force_login_fully(client, user)
        return client

    mine = signed_in(therapist)

    def get(client: Client, url: str) -> Fetch:
        return lambda: client.get(url, secure=True)

    pages: list[tuple[str, Fetch]] = [
        ("trivial signed-in page", get(mine, reverse("mfa_index"))),
        ("caseload", get(mine, reverse("cycles:caseload"))),
    ]
    for label, treatment in (("50", short), ("200", long)):
        couple_url = reverse("cycles:detail", args=[treatment.couple.case_code])
        session_url = reverse("therapy_sessions:detail", args=[treatment.latest.pk])
        pages += [
            (f"couple page, {label} sessions", get(mine, couple_url)),
            (f"latest session page, {label} sessions", get(mine, session_url)),
        ]
    pages += [
        (
            "measures page, 200 sessions",
            get(mine, reverse("therapy_sessions:measures", args=[long.latest.pk])),
        ),
        (
            "cycle map editor, 200 sessions",
            get(mine, reverse("cycles:cycle_edit", args=[long.couple.case_code])),
        ),
    ]
    pages += group_and_admin_pages(therapist, long.couple, signed_in)
    if supervision is not None:
        boss = signed_in(supervision.supervisor)
        review = reverse("supervision:review") + "?period=all"  # every supervisee's couples
        pages += [
            ("supervisor review, all couples", get(boss, review)),
            (
                "therapist overview",
                get(boss, reverse("supervision:therapist", args=[therapist.pk])),
            ),
            (
                "start the ruptures CSV export",
                lambda: boss.post(reverse("supervision:ruptures_csv"), secure=True),
            ),
        ]
    return pages + demo_pages(signed_in)


def group_and_admin_pages(
    therapist: Any, long_couple: Any, signed_in: Callable[[Any], Any]
) -> list[tuple[str, Fetch]]:
    """A consultation group of three therapists with 20 of this therapist's couples shared (the
    200-session one among them), and the practice admin's audit page."""
    from django.urls import reverse

    from cycles.models import CaseShare
    from people.models import ConsultationGroup, GroupMembership, User
    from tests.factories import make_user

    colleagues = list(
        User.objects.filter(practice_id=therapist.practice_id, is_therapist=True)
        .exclude(pk=therapist.pk)
        .order_by("pk")[:2]
    )
    group = ConsultationGroup.objects.create(practice_id=therapist.practice_id, name="Bench group")
    for member in [therapist, *colleagues]:
        GroupMembership.objects.create(group=group, user=member)
    shared = [long_couple, *therapist.couples.exclude(pk=long_couple.pk).order_by("pk")[:19]]
    shares = [CaseShare.objects.create(couple=c, group=group, shared_by=therapist) for c in shared]
    member = signed_in(colleagues[0] if colleagues else therapist)
    admin = signed_in(make_user(therapist.practice, "Bench Admin", practice_admin=True))
    return [
        (
            "group dashboard, 20 shared cases",
            lambda: member.get(reverse("consultation:group", args=[group.pk]), secure=True),
        ),
        (
            "shared case, 200 sessions",
            lambda: member.get(
                reverse("consultation:case", args=[group.pk, shares[0].code]), secure=True
            ),
        ),
        ("audit page", lambda: admin.get(reverse("people:audit"), secure=True)),
    ]


def demo_pages(signed_in: Callable[[Any], Any]) -> list[tuple[str, Fetch]]:
    """The small demo practice's busiest pages, in the same run: no regression there."""
    from django.test import override_settings
    from django.urls import reverse

    from cycles.models import Couple
    from demo.builder import build_demo
    from people.models import User
    from sessions.models import TherapySession

    with override_settings(DEBUG=True):
        build_demo()
    therapist = User.objects.get(username="therapist1")
    supervisor = User.objects.get(username="supervisor")
    couple = Couple.objects.filter(therapist=therapist).order_by("pk").first()
    if couple is None:
        return []
    latest = TherapySession.objects.filter(couple=couple).order_by("-ordinal").first()
    mine, boss = signed_in(therapist), signed_in(supervisor)
    pages: list[tuple[str, Fetch]] = [
        ("demo: caseload", lambda: mine.get(reverse("cycles:caseload"), secure=True)),
        (
            "demo: couple page",
            lambda: mine.get(reverse("cycles:detail", args=[couple.case_code]), secure=True),
        ),
        (
            "demo: supervisor review",
            lambda: boss.get(reverse("supervision:review") + "?period=all", secure=True),
        ),
    ]
    if latest is not None:
        pages.append(
            (
                "demo: latest session page",
                lambda: mine.get(reverse("therapy_sessions:detail", args=[latest.pk]), secure=True),
            )
        )
    return pages


def measure(pages: list[tuple[str, Fetch]], reps: int, results: Results) -> None:
    """Each page `reps` times, each fetch followed by the trivial page's, best times kept."""
    baseline_fetch = pages[0][1]
    best = {name: float("inf") for name, _ in pages}
    last: dict[str, Any] = {}
    for fetch in (f for _, f in pages):  # warm caches and template loaders once
        fetch()
    for _ in range(reps):
        for name, fetch in pages[1:]:
            for timed_name, timed in ((name, fetch), (pages[0][0], baseline_fetch)):
                started = time.perf_counter()
                response = timed()
                elapsed = time.perf_counter() - started
                best[timed_name] = min(best[timed_name], elapsed)
                last[timed_name] = response
    results.baseline_s = best[pages[0][0]]
    for name, _ in pages:
        response = last[name]
        results.pages.append(
            Page(
                name=name,
                best_s=round(best[name], 4),
                ratio=round(best[name] / results.baseline_s, 1),
                bytes=len(response.content),
                status=response.status_code,
            )
        )


def report(results: Results) -> None:
    print("\n| page | best | x trivial page | bytes | status |")
    print("|---|---:|---:|---:|---:|")
    for page in results.pages:
        print(
            f"| {page.name} | {page.best_s * 1000:.1f} ms | {page.ratio} | "
            f"{page.bytes:,} | {page.status} |"
        )
    by_name = {page.name: page for page in results.pages}
    worst = max(results.pages, key=lambda page: page.ratio)
    print(f"\nworst ratio: {worst.name}, {worst.ratio}x (goal ≤ {RATIO_GOAL:g}x)")
    for kind in ("couple page", "latest session page"):
        short, long = by_name.get(f"{kind}, 50 sessions"), by_name.get(f"{kind}, 200 sessions")
        if short and long:
            print(
                f"{kind}: 200 vs 50 sessions {long.best_s / short.best_s:.2f}x time, "
                f"{long.bytes / short.bytes:.2f}x bytes (goal ≤ {LENGTH_GOAL:g}x)"
            )


if __name__ == "__main__":
    sys.exit(main())
